"""What the augmentation-consistency and neighbour terms cost per epoch (issue 31), side by
side.

  python -m benchmarks.augment_cost --data_dir=../shared/data/mnist [--rounds=2]

Times an epoch of IMAE's best recipe (`mnist_imae.flags`: its own 1200-wide classifier,
VAT at IMSAT's radius) on MNIST's 60,000 training images, batch 128, without either, with
`--consistency_weight=1 --augment_rotate=10 --augment_translate=2` (the consistency pass adds
a transform of the batch and one more pass of the classifier) and with
`--neighbour_weight=90 --neighbours=5` (one more pass of the classifier, on a neighbour of each
image, gathered from the 5 held per image), alternating them for `rounds` rounds after a
first epoch of each that compiles. Prints seconds per epoch.
"""

import time

import jax
import jax.numpy as jnp
from absl import app
from absl import flags

import icvae
from icvae import checkpoints
from icvae import data
from icvae import train
from icvae.cli import configs

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('rounds', 2, 'Timed epochs of each setting, alternating.')
FLAGS = flags.FLAGS

SETTINGS = {'off': {},
            'consistency': dict(consistency_weight=1.0, augment_rotate=10.0,
                                augment_translate=2.0),
            'neighbours': dict(neighbour_weight=90.0, neighbours=5)}


def main(_):
  dataset = data.load('mnist', FLAGS.data_dir)
  mesh = train.data_mesh()
  epochs = {}
  for name, overrides in SETTINGS.items():
    config = icvae.RunConfig.from_flagfile(configs.path('mnist_imae'), workdir='',
                                           **overrides)
    steps = len(dataset.train_images) // config.batch_size
    graphdef, state, optimizer = checkpoints.new_state(config, steps)
    objective = config.build_objective()
    images = train.replicate(objective.training_data(jnp.asarray(
        config.view(dataset.train_images))), mesh)
    epoch = train.make_train_epoch(graphdef, optimizer, objective, config.batch_size, mesh,
                                   donate=False)
    state = train.replicate(state, mesh)
    key = jax.random.key(0)
    state, metrics = epoch(state, images, key, jnp.int32(0))  # compiles
    jax.block_until_ready(metrics)
    epochs[name] = (epoch, state, images, key)
  print(f'devices: {mesh.size} x {jax.devices()[0].platform}, batch 128, 60,000 images')
  print('| round | term | s/epoch |\n|---|---|---|')
  for round_index in range(1, FLAGS.rounds + 1):
    for name, (epoch, state, images, key) in epochs.items():
      started = time.perf_counter()
      _, metrics = epoch(state, images, key, jnp.int32(round_index))
      jax.block_until_ready(metrics)
      print(f'| {round_index} | {name} | {time.perf_counter() - started:.2f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
