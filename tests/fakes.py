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


def tiny_dsprites(position_stride=8, orientation_stride=8, n_test=64):
  """A small dSprites `Dataset` drawn by `icvae.dsprites`: the full shape and scale grid, every
  `orientation_stride`-th orientation and every `position_stride`-th x and y position (classes
  renumbered 0, 1, ...), uint8 images (0 or 255) as `data.load_dsprites` gives them."""
  from icvae import dsprites
  classes = dsprites.factor_classes(np.arange(dsprites.NUM_IMAGES))
  keep = ((classes[:, 2] % orientation_stride == 0) & (classes[:, 3] % position_stride == 0)
          & (classes[:, 4] % position_stride == 0))
  indices = np.flatnonzero(keep)
  images = dsprites.render_indices(indices).astype(np.uint8) * np.uint8(255)
  factors = classes[indices] // np.array([1, 1, orientation_stride, position_stride,
                                          position_stride])
  sizes = (3, 6, -(-40 // orientation_stride), -(-32 // position_stride),
           -(-32 // position_stride))
  test = np.random.default_rng(0).choice(len(indices), n_test, replace=False)
  return data.Dataset(images, factors[:, 0].astype(np.int32), images[test],
                      factors[test, 0].astype(np.int32), factors.astype(np.int32),
                      factors[test].astype(np.int32), dsprites.FACTOR_NAMES, sizes)
