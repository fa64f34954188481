"""Test set-up: 4 virtual CPU devices (for the sharding tests) and the real-MNIST fixture."""

import os

# Must happen before jax is imported anywhere.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import gzip
import pathlib

import numpy as np
import pytest

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist'
MNIST_DIR = pathlib.Path(os.environ.get('ICVAE_MNIST_DIR', SHARED_MNIST))


def _read_idx(path):
  """Minimal IDX reader, independent of icvae's loader (test-side truth)."""
  with gzip.open(path, 'rb') as f:
    raw = f.read()
  ndim = raw[3]
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
  return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.fixture(scope='session')
def mnist_dir():
  """Folder with the four MNIST IDX gz files (../shared/data/mnist, or $ICVAE_MNIST_DIR).

  Missing data skip the test, unless ICVAE_REQUIRE_DATA=1 (CI sets it), where they fail.
  """
  if not (MNIST_DIR / 'train-images-idx3-ubyte.gz').exists():
    message = (f'real MNIST not found in {MNIST_DIR}: set ICVAE_MNIST_DIR to a folder with '
               'the four IDX gz files')
    if os.environ.get('ICVAE_REQUIRE_DATA') == '1':
      pytest.fail(message)
    pytest.skip(message)
  return MNIST_DIR


@pytest.fixture(scope='session')
def mnist_arrays(mnist_dir):
  """(train_x, train_y, test_x, test_y): float32 images in [0, 1] flattened to 784."""
  def images(name):
    return (_read_idx(mnist_dir / name).reshape(-1, 784) / 255.0).astype(np.float32)
  def labels(name):
    return _read_idx(mnist_dir / name).astype(np.int32)
  return (images('train-images-idx3-ubyte.gz'), labels('train-labels-idx1-ubyte.gz'),
          images('t10k-images-idx3-ubyte.gz'), labels('t10k-labels-idx1-ubyte.gz'))
