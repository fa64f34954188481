r"""Time to draw all 737,280 dSprites images (`icvae.dsprites.generate`).

  python -m benchmarks.dsprites_generate [--repeats=1]

Runs the full generation `--repeats` times in this process (numpy only, one thread for the
drawing) and prints the best time, the images per second and the size of the packed array
(what `load_packed` caches, plus a 128-byte .npy header).
"""

import time

from absl import app
from absl import flags

from icvae import dsprites

flags.DEFINE_integer('repeats', 1, 'Full generations to time (the best is kept).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  best = float('inf')
  for _ in range(FLAGS.repeats):
    started = time.perf_counter()
    packed = dsprites.generate()
    best = min(best, time.perf_counter() - started)
  print(f'dSprites generation: {best:.1f} s for {dsprites.NUM_IMAGES:,} images, '
        f'{dsprites.NUM_IMAGES / best:,.0f} images/s; packed {packed.nbytes / 2**20:.1f} MiB '
        f'({packed.shape[0]:,} x {packed.shape[1]} uint8)')


if __name__ == '__main__':
  app.run(main)
