"""Reading your own data (`icvae.files`): a folder of 60,000 PNGs read the first time and
re-read from the cache, and the same images as an .npz.

  python -m benchmarks.own_data_read --data_dir=../shared/data/mnist [--count=60000]

Writes MNIST's first `count` training images as PNG files in ten class subfolders (and as
an .npz) under a temporary folder, then times `files.read` of each: first read (decoding
every PNG, hashing every file, writing the cache) and second read (hashing the files, reading
the cached arrays). The cache lives in a temporary folder too. Prints one line per timing.
"""

import pathlib
import tempfile
import time

import numpy as np
from absl import app
from absl import flags
from PIL import Image

from icvae import data
from icvae import files

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('count', 60000, 'How many images to write and read.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  mnist = data.load('mnist', FLAGS.data_dir)
  images = np.round(mnist.train_images[:FLAGS.count] * 255).astype(np.uint8)
  labels = mnist.train_labels[:FLAGS.count]
  with tempfile.TemporaryDirectory() as root:
    root = pathlib.Path(root)
    started = time.perf_counter()
    for i, (image, label) in enumerate(zip(images, labels)):
      folder = root / 'images' / str(label)
      folder.mkdir(parents=True, exist_ok=True)
      Image.fromarray(image).save(folder / f'{i:05d}.png')
    print(f'wrote {len(images)} PNGs in {time.perf_counter() - started:.1f} s')
    np.savez(root / 'images.npz', x_train=images, y_train=labels)
    for name in ('images', 'images.npz'):
      cache = root / f'cache_{name}'
      for attempt in ('first read', 'cached re-read'):
        started = time.perf_counter()
        dataset = files.read(root / name, cache_dir=cache, progress=False)
        seconds = time.perf_counter() - started
        assert len(dataset.train_images) + len(dataset.test_images) == len(images)
        print(f'{name}: {attempt} {seconds:.2f} s ({len(images) / seconds:,.0f} images/s)')


if __name__ == '__main__':
  app.run(main)
