"""How long a scikit-learn estimator fit takes, first and again (`icvae.sklearn`).

  python -m benchmarks.estimator_fit

Fits `IMAEClustering` (K = 3, d = 2, hidden width 8, 1 epoch, batch 16) on 30 x 3 random
examples, then on 25 of them (a new data shape: the epoch is compiled again), then on the 30
again (the same shape: `loop._programs` reuses the traced and compiled programs), printing
each fit's seconds and the seconds XLA spent compiling in it. No persistent compilation
cache is set, so the first fit compiles everything.
"""

import time

import numpy as np
from jax._src import compiler  # pylint: disable=g-bad-import-order

_compile_seconds = []
_backend_compile = compiler.backend_compile_and_load


def _timed_compile(*args, **kwargs):
  started = time.perf_counter()
  try:
    return _backend_compile(*args, **kwargs)
  finally:
    _compile_seconds.append(time.perf_counter() - started)


def main():
  compiler.backend_compile_and_load = _timed_compile
  from icvae.sklearn import IMAEClustering  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(0).normal(size=(30, 3))
  for name, data in (('first fit, 30 x 3', x), ('new shape, 25 x 3', x[:25]),
                     ('same shape again, 30 x 3', x)):
    _compile_seconds.clear()
    started = time.perf_counter()
    IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=1, batch_size=16,
                   hidden_features=8).fit(data)
    print(f'{name}: {time.perf_counter() - started:.2f} s (compiling {sum(_compile_seconds):.2f} '
          's)')


if __name__ == '__main__':
  main()
