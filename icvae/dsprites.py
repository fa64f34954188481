"""dSprites, drawn here: 737,280 binary 64x64 images of a square, an ellipse or a heart.

dSprites (Matthey et al. 2017, github.com/deepmind/dsprites-dataset, Apache-2.0) is the full
grid of five independent factors: shape (3), scale (6), orientation (40), and the x and y
position (32 each). Its arrays are not reachable from here, so this module draws them again,
deterministically, from a model fitted to the 320 native 64x64 frames of the dataset's
`dsprites.gif` (research notes of issue 14, section 1; `tests/test_dsprites.py` checks the
drawing against 24 of those frames, kept in `tests/data/dsprites_reference.npz`).

Factor grid (the dataset's `latents_possible_values`, without its constant colour):

- shape: 0 square, 1 ellipse, 2 heart (the dataset stores 1., 2., 3.);
- scale: `linspace(0.5, 1, 6)`;
- orientation: `linspace(0, 2 pi, 40)` radians, inclusive of 2 pi, so indices 0 and 39 draw
  the same image, as in the real data (dsprites-dataset issue 7; the GIF's frames of
  orientation 0 and 39 are bit-identical). Angles are taken modulo 2 pi before drawing, which
  makes that equality exact here too;
- pos_x, pos_y: `linspace(0, 1, 32)`.

Index order: C order over (shape, scale, orientation, pos_x, pos_y), pos_y fastest: the real
`latents_classes` order without the colour column (`latents_bases` ... 1024, 32, 1: index 1 is
pos_y 1, index 32 is pos_x 1).

Drawing model (pixel (row r, column c) covers [c, c+1] x [r, r+1] in image coordinates, x to
the right, y down):

- A pixel is on iff its centre (c + 0.5, r + 0.5) is inside the shape: binary, no
  anti-aliasing (the author rasterised at 64x64 without supersampling, dsprites-dataset
  issue 3; this rule reproduces the GIF's frames to a few pixels, see below).
- The shape's anchor is x_c = 16 + 32 pos_x (columns), y_c = 16 + 32 pos_y (rows), so the
  positions span the central half of the image and pos_y = 0 is the top (the GIF's sweep
  starts at the top left; the dataset's notebook ties pos_x to the columns).
- In local coordinates with y up, u = x - x_c, v = -(y - y_c), a point is inside iff
  R(-orientation) (u, v) / scale is inside the scale-1 shape, R the counter-clockwise
  rotation: a positive orientation turns the shape counter-clockwise as displayed (the heart's
  tip moves from the bottom to the right). The opposite sign multiplies the mismatch with the
  GIF by 20 to 400.
- Scale-1 shapes, in pixels (mismatch: pixels differing from the GIF's frames of that shape):
  square |u|, |v| < 9.6: side 19.2 = 0.3 of the image (8 pixels over 64 frames, 20,488 on);
  ellipse (u / 12.76)^2 + (v / 7.22)^2 < 1, major axis horizontal at orientation 0: the free
  fit of the research notes, chosen over the round 0.2 and 0.1125 of the image (12.8, 7.2)
  because it reproduces the GIF's on-pixel counts exactly (the round radii give 72 and 292
  instead of 76 and 288) and its frames to 16 pixels over 64 (the round ones to 80);
  heart: the classic curve x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t (tip
  down), stretched to a box 19.2 px wide and 19.1 px tall whose centre is 0.2 px below the
  anchor, as fitted in the research notes (section 1.4; 240 pixels over 192 frames, 40,858
  on, at most 6 in a frame; its best free fit would save 40 of them; the real vertex list was
  never published). The heart's inside test is exact up to the linear interpolation of its
  boundary between 2^17 samples of the curve (under 1e-6 px), not a coarse polygon.
- Nothing is clipped: the largest extent (the square's half-diagonal at scale 1, 13.6 px) is
  under the 16 px margin.

On-pixels at orientation 0, scales 0.5 ... 1, at an anchor on a pixel corner (position 0,
0.5 or 1): square 100, 144, 196, 256, 324, 400 and ellipse 76, 104, 144, 184, 228, 288, as in
the GIF; heart 58, 82, 108, 142, 180, 222 (the GIF: 58, 84, 108, 140, 182, 222). About 4.24 %
of all pixels are on.

The drawing is float64 arithmetic without randomness: the same machine and libraries give the
same bits on every run. Another platform's sine and cosine (Python's `math` for the rotations,
numpy's for the heart's boundary samples) could only move a pixel centre lying within about
1e-12 px of an edge, which is why the cache records its own checksum, not a constant.

Cache (`load_packed`): `<cache_dir>/dsprites/v<GENERATOR_VERSION>/images.npy`, the packed
images (`generate`) as a .npy file, and `manifest.json` beside it (generator version, shape,
dtype, size in bytes and SHA-256 of images.npy). Both are written to a temporary name in the
same folder, flushed to disk and renamed, the manifest last, so a manifest vouches for a
complete file. Before every use the manifest, the file's size, its .npy header and its
SHA-256 are checked; a cache failing any check is logged as a warning naming the file, deleted
and generated again, never used. Changing the drawing must bump `GENERATOR_VERSION`.
"""

import functools
import hashlib
import io
import json
import logging
import math
import os
import pathlib
import tempfile
import time

import numpy as np

from icvae.settings import DataError
from icvae.settings import default_cache_dir

log = logging.getLogger('icvae')

FACTOR_NAMES = ('shape', 'scale', 'orientation', 'pos_x', 'pos_y')
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPES = ('square', 'ellipse', 'heart')
NUM_IMAGES = 737280
IMAGE_SHAPE = (64, 64)
PACKED_BYTES = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] // 8
# The version of the drawing: bump it whenever an image could change (it names the cache).
GENERATOR_VERSION = 1

SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)

# Anchor in pixels: ANCHOR_OFFSET + ANCHOR_SPAN * position, for columns (x) and rows (y).
ANCHOR_OFFSET = 16.0
ANCHOR_SPAN = 32.0
SQUARE_HALF_SIDE = 9.6
ELLIPSE_RADII = (12.76, 7.22)  # (horizontal, vertical) at orientation 0
HEART_BOX = (19.2, 19.1)  # (width, height)
HEART_BOX_CENTRE = -0.2  # the box centre's height above the anchor (y up)

POSITIONS_PER_BLOCK = FACTOR_SIZES[3] * FACTOR_SIZES[4]
# Side of the square window, around each anchor, that `render_block` evaluates: it holds
# every shape (largest distance from the anchor 13.6 px; the window reaches 14.5 px or more).
_WINDOW = 32
_HEART_SAMPLES = 1 << 17
_CACHE_FILE = 'images.npy'
_MANIFEST_FILE = 'manifest.json'
_MANIFEST_FORMAT = 'icvae-dsprites-cache'
_STALE_TEMP_SECONDS = 600


def factor_values(classes):
  """The factors' real values of factor classes.

  Args:
    classes: int (n, 5) classes in `FACTOR_NAMES` order.

  Returns:
    float64 (n, 5): shape as 0., 1., 2.; scale; orientation in radians; pos_x, pos_y in [0, 1].

  Raises:
    ValueError: a class is out of its factor's range.
  """
  classes = _checked_classes(classes)
  grids = (np.arange(FACTOR_SIZES[0], dtype=np.float64), SCALES, ORIENTATIONS, POSITIONS,
           POSITIONS)
  return np.stack([grid[classes[:, k]] for k, grid in enumerate(grids)], axis=1)


def factor_classes(indices):
  """int32 (n, 5) factor classes of flat image indices (C order over `FACTOR_SIZES`)."""
  return np.stack(np.unravel_index(np.asarray(indices, np.int64), FACTOR_SIZES),
                  axis=-1).astype(np.int32)


def position_subgrid(factors, sizes=FACTOR_SIZES, stride=1):
  """The rows of a factor grid with every `stride`-th x and y position (columns 3 and 4 of
  `FACTOR_NAMES`), as (row indices, classes with x and y renumbered 0, 1, ..., sizes);
  stride 1 keeps every row.

  Args:
    factors: (N, 5) int classes (e.g. `factor_classes` of the grid, or of a smaller grid
      with `sizes`).
    sizes: the number of values of each factor.
    stride: keep x and y positions 0, stride, 2 stride, ...
  """
  factors = np.asarray(factors)
  sizes = list(sizes)
  if stride == 1:
    return np.arange(len(factors)), factors, tuple(sizes)
  keep = (factors[:, 3] % stride == 0) & (factors[:, 4] % stride == 0)
  rows = np.flatnonzero(keep)
  classes = factors[rows].copy()
  classes[:, 3:5] //= stride
  sizes[3:5] = [-(-size // stride) for size in sizes[3:5]]
  return rows, classes, tuple(sizes)


def flat_indices(classes):
  """int64 (n,) flat image indices of int (n, 5) factor classes (inverse of factor_classes)."""
  return np.ravel_multi_index(tuple(_checked_classes(classes).T), FACTOR_SIZES).astype(np.int64)


def _checked_classes(classes):
  classes = np.asarray(classes)
  if classes.ndim != 2 or classes.shape[1] != len(FACTOR_SIZES):
    raise ValueError(f'factor classes of shape {classes.shape}: expected (n, 5) in the order '
                     f'{FACTOR_NAMES}.')
  classes = classes.astype(np.int64)
  for k, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
    column = classes[:, k]
    if column.size and (column.min() < 0 or column.max() >= size):
      raise ValueError(f'{name} class {column.min()}..{column.max()} out of range 0..'
                       f'{size - 1}.')
  return classes


def anchor(position):
  """The anchor (in pixels) of a position in [0, 1]: a column for pos_x, a row for pos_y."""
  return ANCHOR_OFFSET + ANCHOR_SPAN * position


def square_contains(u, v):
  """Whether points (u, v) (pixels, y up, orientation 0) are inside the scale-1 square."""
  return (np.abs(u) < SQUARE_HALF_SIDE) & (np.abs(v) < SQUARE_HALF_SIDE)


def ellipse_contains(u, v):
  """Whether points (u, v) (pixels, y up, orientation 0) are inside the scale-1 ellipse."""
  horizontal, vertical = ELLIPSE_RADII
  return (u / horizontal) ** 2 + (v / vertical) ** 2 < 1.0


@functools.cache
def _heart_boundary():
  """The classic heart curve's right half, split where its height peaks.

  Returns:
    (inner_y, inner_x, outer_y, outer_x, y_min, y_max): the boundary |x| as two functions of
    y with increasing y samples: `inner` from the notch (x = 0, y = 5) to the top of the lobe,
    `outer` from the tip (x = 0, y = -17) to the top of the lobe.
  """
  t = np.linspace(0.0, np.pi, _HEART_SAMPLES + 1)
  x = 16 * np.sin(t) ** 3
  y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
  top = int(np.argmax(y))
  return y[:top + 1], x[:top + 1], y[top:][::-1], x[top:][::-1], float(y[-1]), float(y[top])


def heart_contains(u, v):
  """Whether points (u, v) (pixels, y up, orientation 0) are inside the scale-1 heart.

  The classic curve (x in [-16, 16], y in [-17, 11.92]) is stretched to `HEART_BOX`, centred
  `HEART_BOX_CENTRE` above the anchor. Below the notch a point is inside iff |x| is under the
  outer boundary; above it, iff |x| is also beyond the inner one (the notch between the lobes).
  """
  inner_y, inner_x, outer_y, outer_x, y_min, y_max = _heart_boundary()
  width, height = HEART_BOX
  x = np.abs(u) * (32.0 / width)
  y = (v - HEART_BOX_CENTRE) * ((y_max - y_min) / height) + (y_max + y_min) / 2
  x, y = np.broadcast_arrays(x, y)
  inside = (y > y_min) & (y < y_max) & (x < 16.0)  # the curve's box; few points are in it
  x, y = x[inside], y[inside]
  inside[inside] = (x < np.interp(y, outer_y, outer_x)) & (
      (y <= inner_y[0]) | (x > np.interp(y, inner_y, inner_x)))
  return inside


_CONTAINS = (square_contains, ellipse_contains, heart_contains)


def _inverse_rotation(scale, orientation):
  """(cos, sin) / scale of the map from local coordinates to scale-1 shape coordinates."""
  angle = math.fmod(float(orientation), 2 * math.pi)  # 2 pi draws exactly what 0 draws
  return math.cos(angle) / scale, math.sin(angle) / scale


def _check_shape(shape):
  if shape not in range(len(SHAPES)):
    raise ValueError(f'shape class {shape!r}: expected 0 (square), 1 (ellipse) or 2 (heart).')


def render(shape, scale, orientation, pos_x, pos_y):
  """One image from continuous factor values, evaluated at every pixel.

  Args:
    shape: 0 square, 1 ellipse, 2 heart.
    scale: size relative to the largest (the grid has 0.5 ... 1).
    orientation: radians, counter-clockwise as displayed.
    pos_x, pos_y: position in [0, 1]; pos_y = 0 is the top.

  Returns:
    bool (64, 64): the pixels whose centre is inside the shape.
  """
  _check_shape(shape)
  cos, sin = _inverse_rotation(scale, orientation)
  u = np.arange(IMAGE_SHAPE[1]) + 0.5 - anchor(pos_x)
  v = anchor(pos_y) - (np.arange(IMAGE_SHAPE[0]) + 0.5)
  u, v = u[None, :], v[:, None]
  return _CONTAINS[shape](cos * u + sin * v, cos * v - sin * u)


def render_indices(indices):
  """bool (n, 64, 64) images of flat indices, drawn one by one with `render` (for subsets)."""
  values = factor_values(factor_classes(np.atleast_1d(indices)))
  images = np.zeros((len(values),) + IMAGE_SHAPE, bool)
  for row, (shape, scale, orientation, pos_x, pos_y) in zip(images, values):
    row[...] = render(int(shape), scale, orientation, pos_x, pos_y)
  return images


@functools.cache
def _window_layout():
  """Where each position's window lies: (window pixel offsets from the anchors, flat indices).

  Returns:
    u: (32 pos_x, 32) horizontal offsets of the window's pixel centres from the anchor;
    v: (32 pos_y, 32) vertical offsets (y up), row by row;
    targets: int64 (32 pos_x, 32 pos_y, 32 rows, 32 columns), the index of each window pixel
      in a (1024, 64 * 64) block of images in index order.
  """
  anchors = anchor(POSITIONS)
  first = np.floor(anchors).astype(np.int64) - _WINDOW // 2  # 0 ... 32
  pixels = first[:, None] + np.arange(_WINDOW)  # (32 positions, 32) pixel indices
  u = pixels + 0.5 - anchors[:, None]
  v = anchors[:, None] - (pixels + 0.5)
  image = np.arange(POSITIONS_PER_BLOCK).reshape(FACTOR_SIZES[3], FACTOR_SIZES[4])
  targets = ((image[:, :, None, None] * IMAGE_SHAPE[0] + pixels[None, :, :, None])
             * IMAGE_SHAPE[1] + pixels[:, None, None, :])
  return u, v, targets


def render_block(shape, scale, orientation):
  """The 1024 images of one (shape, scale, orientation) class, all positions at once.

  Each image is evaluated only in the 32 x 32 window around its anchor (the rest is empty).

  Args:
    shape, scale, orientation: classes (0..2, 0..5, 0..39).

  Returns:
    bool (1024, 64, 64) in index order (pos_x, then pos_y fastest).
  """
  _check_shape(shape)
  cos, sin = _inverse_rotation(SCALES[scale], ORIENTATIONS[orientation])
  u, v, targets = _window_layout()
  # (pos_x, pos_y, row, column): u varies with pos_x and the column, v with pos_y and the row.
  u, v = u[:, None, None, :], v[None, :, :, None]
  inside = _CONTAINS[shape](cos * u + sin * v, cos * v - sin * u)
  images = np.zeros(POSITIONS_PER_BLOCK * IMAGE_SHAPE[0] * IMAGE_SHAPE[1], bool)
  images[targets.ravel()] = inside.ravel()
  return images.reshape((POSITIONS_PER_BLOCK,) + IMAGE_SHAPE)


def pack(images):
  """uint8 (n, 512): bool (n, 64, 64) images as bits, row-major, first pixel in the high bit."""
  return np.packbits(np.asarray(images, bool).reshape(len(images), -1), axis=1)


def unpack(packed, indices=None):
  """uint8 (n, 64, 64) images with pixel intensities 0 and 255 from packed rows.

  Args:
    packed: uint8 (N, 512), as from `generate` or `load_packed`.
    indices: optional rows to unpack (default all).
  """
  rows = packed if indices is None else packed[np.asarray(indices)]
  pixels = np.unpackbits(rows, axis=1, count=IMAGE_SHAPE[0] * IMAGE_SHAPE[1])
  np.multiply(pixels, 255, out=pixels)
  return pixels.reshape((len(pixels),) + IMAGE_SHAPE)


def generate(progress=None):
  """All dSprites images, packed (see `pack`), in index order.

  Args:
    progress: optional callable(done, total), called with the images drawn so far after each
      block of 1024.

  Returns:
    uint8 (NUM_IMAGES, 512).
  """
  packed = np.empty((NUM_IMAGES, PACKED_BYTES), np.uint8)
  blocks = np.ndindex(*FACTOR_SIZES[:3])
  for number, (shape, scale, orientation) in enumerate(blocks):
    start = number * POSITIONS_PER_BLOCK
    packed[start:start + POSITIONS_PER_BLOCK] = pack(render_block(shape, scale, orientation))
    if progress is not None:
      progress(start + POSITIONS_PER_BLOCK, NUM_IMAGES)
  return packed


def cache_folder(cache_dir=None):
  """`<cache_dir>/dsprites/v<GENERATOR_VERSION>`; cache_dir defaults to `default_cache_dir()`."""
  root = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
  return root / 'dsprites' / f'v{GENERATOR_VERSION}'


def load_packed(cache_dir=None, progress=None):
  """All images packed, uint8 (NUM_IMAGES, 512), from the cache or generated into it.

  Args:
    cache_dir: the cache's root (default `icvae.settings.default_cache_dir()`).
    progress: passed to `generate` when the images must be drawn.

  Raises:
    DataError: the cache folder cannot be written.
  """
  return load_or_produce(cache_folder(cache_dir), lambda: generate(progress),
                         (NUM_IMAGES, PACKED_BYTES))


def load_or_produce(folder, produce, shape):
  """The uint8 array cached in `folder`, or `produce()`'s, written there first.

  A cache failing a check (see the module docstring) is logged, deleted and produced again.

  Args:
    folder: holds images.npy and manifest.json.
    produce: () -> uint8 array of `shape`.
    shape: the array's shape.

  Raises:
    DataError: the folder cannot be written.
  """
  folder = pathlib.Path(folder)
  path = folder / _CACHE_FILE
  if path.exists() or (folder / _MANIFEST_FILE).exists():
    array, problem = _read_checked(folder, shape)
    if problem is None:
      return array
    log.warning('%s: %s; deleting it and generating the images again', path, problem)
    _remove_cache(folder)
  started = time.perf_counter()
  array = produce()
  if array.shape != tuple(shape) or array.dtype != np.uint8:
    raise ValueError(f'produced {array.dtype} {array.shape}, expected uint8 {tuple(shape)}.')
  log.info('generated the dSprites images (uint8 %s) in %.1f s; caching them in %s',
           array.shape, time.perf_counter() - started, folder)
  _write_cache(folder, array)
  return array


def _read_checked(folder, shape):
  """(array, None) from a cache passing every check, else (None, what is wrong)."""
  path = folder / _CACHE_FILE
  try:
    manifest = json.loads((folder / _MANIFEST_FILE).read_text())
  except FileNotFoundError:
    return None, 'no manifest.json (an interrupted write)'
  except (OSError, ValueError) as e:
    return None, f'unreadable manifest.json ({e})'
  expected = {'format': _MANIFEST_FORMAT, 'generator_version': GENERATOR_VERSION,
              'file': _CACHE_FILE, 'shape': list(shape), 'dtype': 'uint8'}
  if not isinstance(manifest, dict):
    return None, 'manifest.json is not a JSON object'
  for key, value in expected.items():
    if manifest.get(key) != value:
      return None, f'manifest.json has {key} {manifest.get(key)!r}, expected {value!r}'
  try:
    size = path.stat().st_size
  except FileNotFoundError:
    return None, 'missing, though manifest.json lists it'
  if size != manifest.get('bytes'):
    return None, f'{size} bytes, manifest.json says {manifest.get("bytes")} (truncated?)'
  buffer = np.empty(size, np.uint8)
  with open(path, 'rb') as f:
    if f.readinto(memoryview(buffer)) != size:
      return None, 'shorter than its size while reading'
  sha256 = hashlib.sha256(buffer).hexdigest()
  if sha256 != manifest.get('sha256'):
    return None, f'sha256 {sha256}, manifest.json says {manifest.get("sha256")} (corrupt)'
  header = _npy_header(shape)
  if buffer[:len(header)].tobytes() != header:
    return None, 'unexpected .npy header'
  return buffer[len(header):].reshape(shape), None


def _npy_header(shape):
  """The .npy header (format 1.0) of a C-ordered uint8 array of `shape`."""
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(
      header, {'descr': '|u1', 'fortran_order': False, 'shape': tuple(shape)})
  return header.getvalue()


def _remove_cache(folder):
  for name in (_MANIFEST_FILE, _CACHE_FILE):
    (folder / name).unlink(missing_ok=True)


def _write_cache(folder, array):
  """Writes images.npy, then manifest.json, each atomically (temporary name, fsync, rename).

  Raises:
    DataError: the folder cannot be created or written.
  """
  header = _npy_header(array.shape)
  data = np.ascontiguousarray(array)
  try:
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    digest = hashlib.sha256(header)
    digest.update(data)
    _write_atomically(folder / _CACHE_FILE, (header, memoryview(data).cast('B')))
    manifest = {'format': _MANIFEST_FORMAT, 'generator_version': GENERATOR_VERSION,
                'file': _CACHE_FILE, 'shape': list(array.shape), 'dtype': 'uint8',
                'bytes': len(header) + data.nbytes, 'sha256': digest.hexdigest()}
    _write_atomically(folder / _MANIFEST_FILE, (json.dumps(manifest, indent=1).encode(),))
  except OSError as e:
    raise DataError(f'cannot write the dSprites cache in {folder} ({e}): make that folder '
                    'writable, or set $ICVAE_CACHE_DIR (or pass cache_dir) to a writable '
                    'folder.') from e


def _write_atomically(path, chunks):
  handle, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
  try:
    with os.fdopen(handle, 'wb') as f:
      for chunk in chunks:
        f.write(chunk)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException:
    pathlib.Path(temporary).unlink(missing_ok=True)
    raise
  _fsync_folder(path.parent)


def _fsync_folder(folder):
  """Makes a rename durable where the platform allows it (POSIX; a no-op elsewhere)."""
  try:
    handle = os.open(folder, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(handle)
  except OSError:
    pass
  finally:
    os.close(handle)


def _remove_stale_temporaries(folder):
  """Deletes temporary files left by a writer killed mid-write (older than 10 minutes, so a
  concurrent writer's, which lives a second or two, is never touched)."""
  for temporary in folder.glob('.*.tmp'):
    try:
      if time.time() - temporary.stat().st_mtime > _STALE_TEMP_SECONDS:
        temporary.unlink()
    except OSError:
      pass
