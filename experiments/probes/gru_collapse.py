r"""Probe: does the recurrent CatVAE (Table 3) keep information in z, per likelihood scale?

  python -m experiments.probes.gru_collapse --data_dir=../shared/data/mnist [--epochs=40]

Trains the GRU CatVAE (beta_cont = beta_cat = 10, --beta_info, --reconstruction, Adam
--learning_rate, hidden 128) on the first 12,800 MNIST training images with appendix C's
literal loss ('squared_error', N(x; mean, 14 I)), a unit-variance Gaussian ('gaussian',
-0.5 * SSE) or a Gaussian of any fixed scale (a number, e.g. 0.1: -50 * SSE), then prints the
test KL of z (0 means posterior collapse), the reconstruction and the clustering accuracy on
2,000 test images. A diagnostic for issue 6, not a result.
"""

import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

import icvae
from icvae import data
from icvae import likelihoods
from icvae import metrics
from icvae import models
from icvae import train

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('epochs', 40, 'Epochs over the 12,800 images.')
flags.DEFINE_float('beta_info', 0.0, 'Information weight (0: CatVAE, 100: InfoCatVAE).')
flags.DEFINE_list('likelihoods', ['gaussian', 'squared_error'], 'Likelihoods to probe: '
                  'names, or numbers for a Gaussian of that fixed scale (sigma).')
flags.DEFINE_enum('reconstruction', 'soft_code', ['soft_code', 'expected'],
                  'Reconstruction estimator.')
flags.DEFINE_float('learning_rate', 1e-3, 'Adam learning rate.')
FLAGS = flags.FLAGS


def main(_):
  dataset = data.load('mnist', FLAGS.data_dir)
  mesh = train.data_mesh()
  train_x = train.replicate(jnp.asarray(data.as_sequences(dataset.train_images[:12800])), mesh)
  test_x = train.replicate(jnp.asarray(data.as_sequences(dataset.test_images[:2000])), mesh)
  for name in FLAGS.likelihoods:
    try:
      likelihood = likelihoods.Gaussian(float(name))
    except ValueError:
      likelihood = likelihoods.get(name)
    optimizer = optax.adam(FLAGS.learning_rate)
    config = icvae.InfoCatVAE(10.0, 10.0, FLAGS.beta_info,
                              reconstruction=FLAGS.reconstruction, likelihood=likelihood)
    graphdef, state = icvae.create_train_state(models.gru_catvae(hidden_features=128),
                                               optimizer)
    state = train.replicate(state, mesh)
    epoch = train.make_train_epoch(graphdef, optimizer, config, 128, mesh)
    evaluate = train.make_evaluate(graphdef, config, 1000, mesh)
    started = time.time()
    for e in range(FLAGS.epochs):
      state, _ = epoch(state, train_x, jax.random.key(0), e)
    test, clusters = evaluate(state, test_x, jax.random.key(1))
    accuracy = metrics.clustering_accuracy(np.asarray(clusters), dataset.test_labels[:2000],
                                           10, 10)
    print(f'{name}: {time.time() - started:.0f}s, test KL_z '
          f'{float(test["kl_continuous"]):.3f}, KL_c {float(test["kl_categorical"]):.3f}, '
          f'reconstruction {float(test["reconstruction"]):.1f}, accuracy {accuracy:.3f}',
          flush=True)


if __name__ == '__main__':
  app.run(main)
