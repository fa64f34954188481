"""Factor datasets (`icvae.factor_data`): sampling in disentanglement_lib's order, dSprites'
observations equal to `icvae.dsprites.render`, and each variant's nuisance as its definition
says (the colour multiplies the sprite; the noise fills the background; the texture patch is
averaged with a colour and inverted on the sprite)."""

import numpy as np
import pytest

from icvae import dsprites
from icvae import factor_data


@pytest.fixture(scope='module')
def images():
  """`DspritesImages` over packed rows of the first 2,048 grid images (shape 0, scale 0,
  orientations 0 and 1)."""
  rendered = dsprites.render_indices(np.arange(2048)).reshape(2048, -1)
  return factor_data.DspritesImages(packed=np.packbits(rendered, axis=1))


def _factors(random_state, n=20):
  factors = np.zeros((n, 5), np.int64)
  factors[:, 2] = random_state.randint(2, size=n)
  factors[:, 3:] = random_state.randint(32, size=(n, 2))
  return factors


def test_the_registry():
  assert factor_data.names()[:4] == ['dsprites', 'color_dsprites', 'noisy_dsprites',
                                     'scream_dsprites']
  dataset = factor_data.get('color_dsprites')
  assert dataset.factor_sizes == (3, 6, 40, 32, 32) and dataset.observation_shape == (64, 64, 3)
  with pytest.raises(ValueError, match="unknown factor dataset 'shapes'; registered: dsprites"):
    factor_data.get('shapes')


def test_sampling_draws_factor_by_factor_as_the_reference():
  dataset = factor_data.get('dsprites')
  factors = dataset.sample_factors(7, np.random.RandomState(5))
  random_state = np.random.RandomState(5)
  expected = np.stack([random_state.randint(size, size=7) for size in (3, 6, 40, 32, 32)], 1)
  np.testing.assert_array_equal(factors, expected)
  assert factors.dtype == np.int64


def test_dsprites_observations_are_the_drawn_sprites(images):
  factors = _factors(np.random.RandomState(0))
  observed = images(factors)
  assert observed.shape == (20, 64, 64, 1) and observed.dtype == np.float32
  for row, classes in zip(observed, factors):
    values = dsprites.factor_values(classes[None])[0]
    np.testing.assert_array_equal(row[..., 0], dsprites.render(int(values[0]), *values[1:]))


def test_the_variants_nuisances(images):
  sprite = images(_factors(np.random.RandomState(1)))
  on = sprite[..., 0] == 1
  coloured = factor_data.color_nuisance(sprite, np.random.RandomState(2))
  colours = np.random.RandomState(2).uniform(0.5, 1, [20, 1, 1, 3])
  np.testing.assert_allclose(coloured, sprite * colours)  # (n, 64, 64, 1) x (n, 1, 1, 3)
  noisy = factor_data.noise_nuisance(sprite, np.random.RandomState(3))
  noise = np.random.RandomState(3).uniform(0, 1, [20, 64, 64, 3])
  np.testing.assert_array_equal(noisy[on], 1.0)
  np.testing.assert_allclose(noisy[~on], noise[~on])
  texture = factor_data.scream_texture()
  assert texture.shape == (274, 220, 3) and 0 <= texture.min() and texture.max() <= 1
  screamed = factor_data.scream_nuisance(texture)(sprite, np.random.RandomState(4))
  random_state = np.random.RandomState(4)
  for i in range(3):
    row, column = random_state.randint(0, 274 - 64), random_state.randint(0, 220 - 64)
    background = (texture[row:row + 64, column:column + 64]
                  + random_state.uniform(0, 1, size=3)) / 2
    np.testing.assert_allclose(screamed[i][~on[i]], background[~on[i]], rtol=1e-6)
    np.testing.assert_allclose(screamed[i][on[i]], 1 - background[on[i]], rtol=1e-6)
