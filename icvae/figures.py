"""PNG figures of a trained model (matplotlib, no display needed).

Every function takes numpy images already decoded (so it works for any model) and writes one
PNG with a title and row labels, readable without the paper.
"""

import json
import pathlib

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np


def image_grid(path, images, title, row_labels=None, column_labels=None, image_shape=(28, 28)):
  """Writes a (rows, columns) grid of grey images to `path`.

  Args:
    path: output PNG.
    images: (rows, columns, H * W) or (rows, columns, H, W) values in [0, 1].
    title: figure title.
    row_labels: one string per row (left of the row), or None.
    column_labels: one string per column (above the first row), or None.
  """
  images = np.asarray(images)
  rows, columns = images.shape[:2]
  images = images.reshape(rows, columns, *image_shape)
  figure, axes = plt.subplots(rows, columns, figsize=(0.8 * columns + 1.2, 0.8 * rows + 0.8),
                              squeeze=False)
  for r in range(rows):
    for c in range(columns):
      axis = axes[r, c]
      axis.imshow(np.clip(images[r, c], 0, 1), cmap='gray', vmin=0, vmax=1)
      axis.set_xticks([])
      axis.set_yticks([])
      if c == 0 and row_labels is not None:
        axis.set_ylabel(row_labels[r], rotation=0, ha='right', va='center', fontsize=8)
      if r == 0 and column_labels is not None:
        axis.set_title(column_labels[c], fontsize=8)
  figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  figure.savefig(path, dpi=80)
  plt.close(figure)


def training_curves(path, metrics_path, title):
  """Plots every train/* and test/* scalar of metrics.jsonl against the epoch."""
  records = [json.loads(line) for line in pathlib.Path(metrics_path).read_text().splitlines()
             if line.strip()]
  names = ['train/loss', 'train/reconstruction', 'train/kl_continuous',
           'train/kl_categorical', 'train/information', 'test/elbo',
           'test/clustering_accuracy', 'test/information']
  names = [n for n in names if any(n in r for r in records)]
  columns = 4
  rows = -(-len(names) // columns)
  figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.5 * rows),
                              squeeze=False)
  for axis, name in zip(axes.flat, names):
    points = [(r['epoch'], r[name]) for r in records if name in r]
    axis.plot(*zip(*points), marker='.' if len(points) < 30 else None)
    axis.set_title(name, fontsize=9)
    axis.set_xlabel('epoch', fontsize=8)
  for axis in list(axes.flat)[len(names):]:
    axis.axis('off')
  figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  figure.savefig(path, dpi=80)
  plt.close(figure)
