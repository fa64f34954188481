"""Data augmentation on the device: random geometric transforms of a batch of images, drawn
from a key, inside jit.

`Augmentation(...)(key, images)` transforms each image of a batch (B, H, W) or
(B, H, W, C), values in [0, 1], by its own random draw of

- a translation of up to `translate` pixels along each axis (uniform);
- a rotation of up to `rotate` degrees either way (uniform);
- a scaling by a factor in [1 - `scale`, 1 + `scale`] (uniform);
- an elastic distortion (Simard et al. 2003, "Best practices for convolutional neural
  networks applied to visual document analysis", section 2): a displacement field of
  uniform(-1, 1) noise per pixel and axis, smoothed by a Gaussian of `elastic_sigma` pixels
  and scaled by `elastic` pixels;
- a horizontal flip with probability 1/2 when `flip` (only where the flip keeps the class:
  clothes, not digits).

Each output pixel is read back from the input at its inverse-transformed position by
bilinear interpolation (`jax.scipy.ndimage.map_coordinates`, order 1), the pixels outside the
image being 0 (the background of MNIST and Fashion-MNIST), so the values stay in [0, 1]. The
transforms compose as: flip, then scale and rotate about the image centre, then translate,
then the elastic displacement. With every setting at its default the call returns its input
unchanged, bit for bit (the same array), so a run without augmentation computes what it
did before the setting existed. Draws are a function of the key only: the loop passes
fold_in(step key, step), so a resumed run draws the same transforms.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """The random transforms of the module docstring; every default leaves images as they are.

  Attributes:
    translate: the largest shift along each axis, in pixels (>= 0).
    rotate: the largest rotation either way, in degrees (>= 0).
    scale: the largest relative change of size, in [0, 1).
    elastic: the scale of the elastic displacement, in pixels (>= 0; Simard's alpha).
    elastic_sigma: the width of its Gaussian smoothing, in pixels (> 0; Simard: 4).
    flip: flip each image left-right with probability 1/2.
  """
  translate: float = 0.0
  rotate: float = 0.0
  scale: float = 0.0
  elastic: float = 0.0
  elastic_sigma: float = 4.0
  flip: bool = False

  def __post_init__(self):
    for name in ('translate', 'rotate', 'elastic'):
      if not getattr(self, name) >= 0:
        raise ValueError(f'{name}={getattr(self, name)}: must be >= 0.')
    if not 0 <= self.scale < 1:
      raise ValueError(f'scale={self.scale}: must be in [0, 1).')
    if not self.elastic_sigma > 0:
      raise ValueError(f'elastic_sigma={self.elastic_sigma}: must be > 0.')

  @property
  def active(self):
    """Whether any transform is on."""
    return bool(self.translate or self.rotate or self.scale or self.elastic or self.flip)

  def __call__(self, key, images):
    """(B, H, W[, C]) images in [0, 1], each transformed by its own draw from `key`."""
    if not self.active:
      return images
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(self.transform_one)(keys, images)

  def draw(self, key):
    """One image's random parameters: (angle in radians, scale factor, (row, column) shift,
    flip as 0. or 1.)."""
    angle_key, scale_key, shift_key, flip_key = jax.random.split(key, 4)
    angle = jnp.deg2rad(self.rotate) * jax.random.uniform(angle_key, (), minval=-1, maxval=1)
    factor = 1 + self.scale * jax.random.uniform(scale_key, (), minval=-1, maxval=1)
    shift = self.translate * jax.random.uniform(shift_key, (2,), minval=-1, maxval=1)
    flip = (jax.random.bernoulli(flip_key) if self.flip else False)
    return angle, factor, shift, jnp.asarray(flip, jnp.float32)

  def transform_one(self, key, image):
    """One image (H, W[, C]) under its draw from `key` (`draw`, and the elastic field)."""
    draw_key, elastic_key = jax.random.split(key)
    angle, factor, shift, flip = self.draw(draw_key)
    displacement = None
    if self.elastic:
      displacement = elastic_displacement(elastic_key, image.shape[:2], self.elastic,
                                          self.elastic_sigma)
    return warp(image, angle, factor, shift, flip, displacement)


def source_coordinates(shape, angle, factor, shift, flip, displacement=None):
  """(rows, columns), each (H, W): where each output pixel reads the input (module
  docstring: the inverse of flip, then scale-rotate about the centre, then shift, then the
  displacement)."""
  height, width = shape
  centre_row, centre_column = (height - 1) / 2, (width - 1) / 2
  rows, columns = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                               jnp.arange(width, dtype=jnp.float32), indexing='ij')
  if displacement is not None:
    rows, columns = rows - displacement[0], columns - displacement[1]
  rows, columns = rows - shift[0] - centre_row, columns - shift[1] - centre_column
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  source_rows = (cos * rows - sin * columns) / factor
  source_columns = (sin * rows + cos * columns) / factor
  source_columns = jnp.where(flip > 0, -source_columns, source_columns)
  return source_rows + centre_row, source_columns + centre_column


def warp(image, angle, factor, shift, flip, displacement=None):
  """`image` (H, W[, C]) resampled at `source_coordinates` (bilinear, 0 outside)."""
  rows, columns = source_coordinates(image.shape[:2], angle, factor, shift, flip,
                                     displacement)
  sample = lambda plane: jax.scipy.ndimage.map_coordinates(plane, [rows, columns], order=1,
                                                           mode='constant', cval=0.0)
  if image.ndim == 2:
    return sample(image).astype(image.dtype)
  return jnp.stack([sample(image[..., c]) for c in range(image.shape[-1])],
                   axis=-1).astype(image.dtype)


def gaussian_kernel(sigma):
  """A normalised 1-D Gaussian of width `sigma`, truncated at 3 sigma (odd length)."""
  radius = max(1, int(math.ceil(3 * sigma)))
  offsets = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  kernel = jnp.exp(-0.5 * (offsets / sigma) ** 2)
  return kernel / jnp.sum(kernel)


def elastic_displacement(key, shape, alpha, sigma):
  """(2, H, W) displacements in pixels: uniform(-1, 1) noise, smoothed by a separable
  Gaussian of `sigma` pixels (zero-padded), times `alpha` (Simard et al. 2003)."""
  noise = jax.random.uniform(key, (2, *shape), minval=-1, maxval=1)
  kernel = gaussian_kernel(sigma)
  radius = (len(kernel) - 1) // 2

  def smooth_rows(field):  # each row convolved, zero beyond the ends, its length kept
    full = jax.vmap(lambda row: jnp.convolve(row, kernel, mode='full'))(field)
    return full[:, radius:radius + field.shape[1]]

  fields = jax.vmap(lambda field: smooth_rows(smooth_rows(field).T).T)(noise)
  return alpha * fields
