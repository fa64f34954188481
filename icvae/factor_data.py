"""Datasets with ground-truth factors, as the disentanglement metrics sample them
(`icvae.disentanglement.suite.FactorSource`): a registry of `FactorDataset`s.

A `FactorDataset` has its factors' names and sizes, `images(factors)` (the clean observations
of (n, F) factor classes, float32 in [0, 1], (n, rows, columns, channels)), and an optional
nuisance drawn per observation. Sampling follows disentanglement_lib's ground-truth data:
`sample_factors` draws each factor uniformly, factor by factor, with
`random_state.randint(size, size=n)`; `observe` renders the factors and draws the nuisance.

Registered here, all drawn by `icvae.dsprites` (nothing downloaded):
- 'dsprites': the sprite, white on black (64, 64, 1);
- 'color_dsprites': the sprite in a colour drawn per image, each channel uniform in [0.5, 1]
  (64, 64, 3);
- 'noisy_dsprites': the sprite white on a background of uniform noise per pixel and channel,
  min(sprite + noise, 1) (64, 64, 3);
- 'scream_dsprites': the sprite cut out of a 64 x 64 patch of a background texture, the patch
  shifted half-way to a colour drawn per image ((patch + colour) / 2) and inverted on the
  sprite's pixels (64, 64, 3). disentanglement_lib's background is a photograph of Munch's
  The Scream; here it is `scream_texture`, a deterministic swirl texture of the thumbnail's
  size (274 x 220), generated, so the variant's statistics (a coloured, textured background
  that changes per image) are kept without a download.
"""

import dataclasses
from typing import Any, Callable, Optional

import numpy as np

from icvae import dsprites
from icvae import plugins

ENTRY_POINT_GROUP = 'icvae.factor_datasets'


@dataclasses.dataclass(frozen=True)
class FactorDataset:
  """A dataset with ground-truth factors (see the module docstring).

  Attributes:
    name: the registry's name.
    description: one line.
    factor_names: the factors, in order.
    factor_sizes: how many values each factor takes.
    observation_shape: (rows, columns, channels) of one observation.
    images: (n, F) int factor classes -> (n, *observation_shape) float32 in [0, 1].
    nuisance: (observations, random_state) -> observations with the per-image draws of the
      variant, or None.
  """
  name: str
  description: str
  factor_names: tuple
  factor_sizes: tuple
  observation_shape: tuple
  images: Callable[[np.ndarray], np.ndarray]
  nuisance: Optional[Callable[[np.ndarray, Any], np.ndarray]] = None

  def sample_factors(self, num, random_state):
    """(num, F) int64 classes, factor by factor `random_state.randint(size, size=num)`."""
    factors = np.zeros((num, len(self.factor_sizes)), np.int64)
    for column, size in enumerate(self.factor_sizes):
      factors[:, column] = random_state.randint(size, size=num)
    return factors

  def observe(self, factors, random_state):
    """The observations of `factors` (n, F), with the variant's nuisance drawn."""
    observations = self.images(np.asarray(factors))
    return observations if self.nuisance is None else self.nuisance(observations, random_state)


_DATASETS = plugins.Registry('factor dataset', ENTRY_POINT_GROUP)


def register(dataset):
  """Adds `dataset` (a `FactorDataset`) and returns it; ValueError if the name is taken."""
  if not isinstance(dataset, FactorDataset):
    raise TypeError(f'register takes an icvae.factor_data.FactorDataset, got {type(dataset)}.')
  return _DATASETS.add(dataset.name, dataset)


def unregister(name):
  """Removes the factor dataset called `name` (KeyError if none)."""
  _DATASETS.remove(name)


def names():
  """The registered factor datasets' names, in registration order."""
  return list(_DATASETS.entries())


def get(name):
  """The `FactorDataset` called `name`; ValueError listing the registered ones."""
  datasets = _DATASETS.entries()
  if name not in datasets:
    raise ValueError(f'unknown factor dataset {name!r}; registered: {", ".join(datasets)}.')
  return datasets[name]


class DspritesImages:
  """dSprites observations of factor classes: float32 (n, 64, 64, 1) in {0, 1}, read from
  `packed` rows (uint8 (N, 512), `icvae.dsprites.load_packed`'s layout), by default the
  packed cache (drawn into it on first use), loaded once."""

  def __init__(self, cache_dir=None, packed=None):
    self._cache_dir = cache_dir
    self._packed = packed

  def __call__(self, factors):
    if self._packed is None:
      self._packed = dsprites.load_packed(self._cache_dir)
    images = dsprites.unpack(self._packed, dsprites.flat_indices(factors))
    return (images[..., None] / np.float32(255)).astype(np.float32)


def color_nuisance(observations, random_state):
  """The sprite in a colour per image, each channel uniform in [0.5, 1] (ColorDSprites)."""
  observations = np.repeat(observations, 3, axis=3)
  colour = random_state.uniform(0.5, 1, [observations.shape[0], 1, 1, 3])
  return observations * np.broadcast_to(colour, observations.shape)


def noise_nuisance(observations, random_state):
  """min(sprite + uniform noise per pixel and channel, 1) (NoisyDSprites)."""
  observations = np.repeat(observations, 3, axis=3)
  noise = random_state.uniform(0, 1, [observations.shape[0], *observations.shape[1:3], 3])
  return np.minimum(observations + noise, 1.0)


def scream_texture(shape=(274, 220), seed=0):
  """A deterministic colour texture of swirling bands, float (rows, columns, 3) in [0, 1]:
  the stand-in for ScreamDSprites' photograph (see the module docstring)."""
  rng = np.random.default_rng(seed)
  rows, columns = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]),
                              indexing='ij')
  phase = np.zeros(shape)
  for _ in range(6):
    frequency, angle, offset = rng.uniform(1, 6), rng.uniform(0, np.pi), rng.uniform(0, 6.3)
    phase += np.sin(2 * np.pi * frequency * (np.cos(angle) * rows + np.sin(angle) * columns)
                    + offset)
  swirl = 3 * np.hypot(rows - 0.5, columns - 0.4) + 0.6 * phase
  shifts = np.array([0.0, 2.1, 4.2])  # warm and cool bands out of phase per channel
  return 0.5 + 0.5 * np.sin(swirl[..., None] * np.pi + shifts)


def scream_nuisance(texture):
  """The ScreamDSprites background of `texture`: per image, a random 64 x 64 patch, averaged
  with a random colour, inverted on the sprite's pixels (the reference's draw order: the
  patch's row and column, then the colour)."""

  def nuisance(observations, random_state):
    observations = np.repeat(observations, 3, axis=3).astype(np.float64)
    size = observations.shape[1]
    for i in range(observations.shape[0]):
      row = random_state.randint(0, texture.shape[0] - size)
      column = random_state.randint(0, texture.shape[1] - size)
      background = (texture[row:row + size, column:column + size]
                    + random_state.uniform(0, 1, size=3)) / 2.0
      mask = observations[i] == 1
      background[mask] = 1 - background[mask]
      observations[i] = background
    return observations.astype(np.float32)

  return nuisance


def _register_dsprites():
  images = DspritesImages()
  common = dict(factor_names=dsprites.FACTOR_NAMES, factor_sizes=dsprites.FACTOR_SIZES,
                images=images)
  register(FactorDataset('dsprites', 'dSprites: the sprite, white on black',
                         observation_shape=dsprites.IMAGE_SHAPE + (1,), **common))
  colour = dsprites.IMAGE_SHAPE + (3,)
  register(FactorDataset('color_dsprites', 'dSprites in a random colour per image',
                         observation_shape=colour, nuisance=color_nuisance, **common))
  register(FactorDataset('noisy_dsprites', 'dSprites on uniform noise',
                         observation_shape=colour, nuisance=noise_nuisance, **common))
  register(FactorDataset('scream_dsprites', 'dSprites cut out of a coloured texture '
                         '(generated in place of The Scream)', observation_shape=colour,
                         nuisance=scream_nuisance(scream_texture()), **common))


_register_dsprites()
