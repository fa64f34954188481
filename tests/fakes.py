"""Small random datasets and run configurations shared by the loop and experiment tests."""

import numpy as np

import icvae
from icvae import data


def tiny_dataset(n_train=256, n_test=100, seed=0):
  """Uniform-noise 28x28 images with random labels 0..9 (shapes as MNIST's)."""
  rng = np.random.default_rng(seed)
  return data.Dataset(rng.uniform(size=(n_train, 28, 28)).astype(np.float32),
                      rng.integers(0, 10, n_train).astype(np.int32),
                      rng.uniform(size=(n_test, 28, 28)).astype(np.float32),
                      rng.integers(0, 10, n_test).astype(np.int32))


def tiny_config(workdir, **overrides):
  """A RunConfig of a small fast model (hidden 16, batch 64, 2 epochs) in `workdir`."""
  values = dict(hidden_features=16, num_epochs=2, batch_size=64, learning_rate=1e-3,
                checkpoint_every=1, eval_batch_size=50, workdir=str(workdir), progress=False)
  values.update(overrides)
  return icvae.RunConfig(**values)
