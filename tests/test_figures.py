"""icvae.figures.tile and image_grid (the grid drawn as one image), and `icvae figure5`."""

from absl import app
import numpy as np
from PIL import Image
import pytest

import fakes
from icvae import figures
from icvae import loop
from icvae.cli import figure5


def test_tile_places_each_image_and_leaves_the_gaps_white():
  rows, columns, height, width = 2, 3, 4, 5
  images = np.arange(rows * columns, dtype=np.float32).reshape(rows, columns, 1, 1) / 10
  images = np.broadcast_to(images, (rows, columns, height, width))
  canvas = figures.tile(images)
  gap = figures.GAP
  assert canvas.shape == (rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap)
  for r in range(rows):
    for c in range(columns):
      top, left = r * (height + gap), c * (width + gap)
      np.testing.assert_array_equal(canvas[top:top + height, left:left + width],
                                    images[r, c])
      assert canvas[top, left] == np.float32(r * columns + c) / 10
  assert np.all(canvas[height:height + gap] == 1.0)           # between the rows
  assert np.all(canvas[:, width:width + gap] == 1.0)          # between the columns


def test_tile_keeps_colour_channels():
  images = np.zeros((1, 2, 3, 3, 3), np.float32)
  images[0, 1, ..., 0] = 1.0  # the second image red
  canvas = figures.tile(images, background=0.5)
  assert canvas.shape == (3, 3 + figures.GAP + 3, 3)
  np.testing.assert_array_equal(canvas[:, -3:, 0], 1.0)
  np.testing.assert_array_equal(canvas[:, -3:, 1:], 0.0)
  np.testing.assert_array_equal(canvas[:, 3], 0.5)


def test_image_grid_writes_a_png_with_labels(tmp_path):
  images = np.random.default_rng(0).uniform(size=(3, 4, 28 * 28))
  path = tmp_path / 'grid.png'
  figures.image_grid(path, images, 'title', row_labels=['a', 'b', 'c'],
                     column_labels=list('wxyz'))
  width, height = Image.open(path).size
  assert width > height > 100


def test_figure5_samples_each_category_of_a_catvae_run_and_refuses_a_run_without_p_z_given_c(
    tmp_path):
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'catvae', model='catvae', num_epochs=1),
                          dataset)
  panel = figure5.category_samples(tmp_path / 'catvae', samples=3, seed=0)
  assert panel.shape == (10, 3, *dataset.test_images.shape[1:])
  assert panel.min() >= 0 and panel.max() <= 1      # Bernoulli means
  assert not np.allclose(panel[:, 0], panel[:, 1])  # distinct draws of z ~ p(z|c)
  loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'imae', model='imae', num_epochs=1),
                          dataset)
  with pytest.raises(app.UsageError, match='imae run, which has no prior p.z.c.'):
    figure5.category_samples(tmp_path / 'imae', samples=3, seed=0)
