r"""Training speed of the recurrent model of Table 3 (examples/s), per estimator and model.

  python -m benchmarks.gru_step [--batch_size=128] [--steps=20] [--repeats=3]

Times whole jitted epochs (`train.make_train_epoch`) of `--steps` steps on random (B, 28, 28)
sequences, after one warm-up epoch that compiles, for the GRU CatVAE and InfoCatVAE with the
'expected' and 'soft_code' estimators (hidden 128, betas 10/10/100, Adam 1e-3, sigma 0.2);
prints the best of `--repeats` epochs.
"""

import time

from absl import app
from absl import flags
import jax
import numpy as np
import optax

import icvae
from icvae import likelihoods
from icvae import models
from icvae import train

flags.DEFINE_integer('batch_size', 128, 'Batch size.')
flags.DEFINE_integer('steps', 20, 'Steps per timed epoch.')
flags.DEFINE_integer('repeats', 3, 'Timed epochs per configuration (the best is kept).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  mesh = train.data_mesh()
  images = np.random.default_rng(0).random(
      (FLAGS.batch_size * FLAGS.steps, 28, 28)).astype(np.float32)
  images = train.replicate(images, mesh)
  print(f'| estimator | model | ms/step | examples/s |  (batch {FLAGS.batch_size}, '
        f'{jax.devices()[0].platform})')
  print('|---|---|---|---|')
  for reconstruction in ('soft_code', 'expected'):
    for name, beta_info in (('CatVAE', 0.0), ('InfoCatVAE', 100.0)):
      optimizer = optax.adam(1e-3)
      config = icvae.InfoCatVAE(10.0, 10.0, beta_info, reconstruction=reconstruction,
                                likelihood=likelihoods.Gaussian(0.2))
      graphdef, state = icvae.create_train_state(models.gru_catvae(hidden_features=128),
                                                 optimizer)
      state = train.replicate(state, mesh)
      epoch = train.make_train_epoch(graphdef, optimizer, config, FLAGS.batch_size, mesh)
      key = jax.random.key(0)
      state, metrics = epoch(state, images, key, 0)
      jax.block_until_ready(metrics)
      best = float('inf')
      for index in range(1, FLAGS.repeats + 1):
        started = time.perf_counter()
        state, metrics = epoch(state, images, key, index)
        jax.block_until_ready(metrics)
        best = min(best, time.perf_counter() - started)
      per_step = best / FLAGS.steps
      print(f'| {reconstruction} | {name} | {1000 * per_step:.1f} | '
            f'{FLAGS.batch_size / per_step:,.0f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
