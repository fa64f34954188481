"""Test set-up: 4 virtual CPU devices (for the sharding tests) and the real-MNIST fixture."""

import os
import pathlib

# Must happen before jax is imported anywhere.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# XLA's persistent compilation cache, shared by every process of the suite (pytest-xdist's
# workers, the binaries the tests start) and kept between runs: a program compiled once
# (the smoke model, the tiny configs of tests/fakes.py) is read back, not compiled again.
# The key holds the program, the options and the jax version, so nothing but time changes;
# `.ci/newest` on the same versions finds the first suite's programs. A few hundred MB; no
# size cap (jax's cap needs the filelock package, which icvae does not otherwise need).
# ICVAE_TEST_COMPILATION_CACHE moves it; JAX_COMPILATION_CACHE_DIR overrides it.
_CACHE_ROOT = pathlib.Path(os.environ.get('ICVAE_CACHE_DIR',
                                          pathlib.Path.home() / '.cache' / 'icvae'))
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.environ.get(
    'ICVAE_TEST_COMPILATION_CACHE', str(_CACHE_ROOT / 'jax-compilation-tests')))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')

import gzip

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
