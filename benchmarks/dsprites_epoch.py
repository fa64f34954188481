r"""Training speed on dSprites with the IMAE paper's Table 2 networks, per model.

  python -m benchmarks.dsprites_epoch --steps=20

For each model's flagfile (`experiments/flags/dsprites_<model>.flags`: batch 2048, VAT on),
times `--steps` optimiser steps as one jitted epoch over the first steps x batch images of
the grid (uint8 on the device, converted batch by batch as in training), after a first call
that compiles, and projects the time of a full epoch (737,280 images, 360 steps). The data
come from the dSprites cache (generated on first use).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags

from benchmarks import timing
from icvae import checkpoints
from icvae import config as config_lib
from icvae import data
from icvae import train

flags.DEFINE_integer('steps', 20, 'Optimiser steps timed per model.')
flags.DEFINE_list('models', ['imae', 'beta_vae', 'info_vae', 'joint_vae'], 'Models to time.')
flags.DEFINE_integer('batch_size', 0, 'Batch size (0: the flagfiles\', 2048).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  started = time.perf_counter()
  dataset = data.load('dsprites')
  print(f'dSprites loaded (cache or generation) in {time.perf_counter() - started:.1f} s: '
        f'{dataset.train_images.shape} {dataset.train_images.dtype}')
  mesh = train.data_mesh()
  print(f'devices: {mesh.size} x {jax.devices()[0].platform}')
  print('| model | batch | s/step | examples/s | projected s/epoch (737,280 images) |\n'
        '|---|---|---|---|---|')
  for model in FLAGS.models:
    overrides = {'batch_size': FLAGS.batch_size} if FLAGS.batch_size else {}
    config = config_lib.RunConfig.from_flagfile(
        f'experiments/flags/dsprites_{model}.flags', 'dsprites', **overrides)
    count = FLAGS.steps * config.batch_size
    images = train.replicate(jnp.asarray(config.view(dataset.train_images[:count])), mesh)
    objective = config.build_objective()
    graphdef, state, optimizer = checkpoints.new_state(config)
    state = train.replicate(state, mesh)
    epoch = train.make_train_epoch(graphdef, optimizer, objective, config.batch_size, mesh)
    key = train.replicate(jax.random.key(0), mesh)
    state, _, _ = timing.timed_epoch(epoch, state, images, key, train.replicate(np.int32(0), mesh))
    state, metrics, seconds = timing.timed_epoch(epoch, state, images, key,
                                                 train.replicate(np.int32(1), mesh))
    per_step = seconds / FLAGS.steps
    full = per_step * (data.get_source('dsprites').train_size // config.batch_size)
    print(f'| {model} | {config.batch_size} | {per_step:.3f} | {count / seconds:,.0f} | '
          f'{full:.0f} |  (loss {float(metrics["loss"]):.1f})', flush=True)


if __name__ == '__main__':
  app.run(main)
