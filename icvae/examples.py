"""One rule for the examples and labels people bring, at every entry point.

`icvae train --data`, `icvae encode`, `load_model(...).codes/predict/encode` and the
scikit-learn estimators all pass what they are given through `checked_examples` (and
labels through `label_classes`), so a file and an array holding the same values are read
the same way, in training and in prediction:

- Examples are (N, F) feature vectors, (N, H, W) grey images, (N, H, W, 1) grey or
  (N, H, W, 3) colour images. (N, 1 or 3, H, W) is refused as channels-first, with the
  transpose that fixes it, and (N, H, W, 4) as RGBA. An in-memory object array of numbers
  (what pandas gives for mixed column types) is read as numbers.
- Integer images are intensities scaled by their type's range: uint8 by 255 (kept as bytes,
  converted batch by batch), uint16 by 65,535 (to float32). Another integer type (int64 from
  `np.array` of Python ints, say) is read as 8-bit when its values are in 0..255, and refused
  otherwise, asking for uint16 (16-bit) or floats: its range says nothing about the scale.
- Float images must lie in [0, 1] (values outside are refused, never clipped); booleans
  are 0 and 1.
- Feature vectors are any finite numbers that float32 holds (|x| <= 3.4e38): a float64
  1e39 would become inf, and is refused instead.
- NaN and infinite values are refused, naming the first one's index.
- Labels (`label_classes`) are numbers, booleans or names. Whatever they are, the sorted
  distinct values are the classes, indexed 0..C-1, and their names are kept: 1 and 1.0 (or
  '1' and '1.0' in a table) are one class, 20240101 is one class (not 20 million), and
  strings in an .npz are read as strings in a CSV are. Non-integer numbers (0.5) are refused
  as labels (a regression target is not a class).

Every refusal is a `settings.DataError` whose message names where the values came from and
what to do.
"""

import logging

import numpy as np

from icvae.settings import DataError

log = logging.getLogger('icvae')

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Cells that stand for a missing value (lower case; R writes NA): refused as features and
# as labels, never taken for a class.
MISSING = ('', 'na', 'nan', 'null', 'none', 'n/a', '?', '-', '#n/a')
# The largest value of the integer image types with a fixed scale: 8 and 16 bits.
INTEGER_IMAGE_RANGES = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def is_channels_first(shape):
  """Whether a 4-axis array shape looks like (N, C, H, W) with C = 1 or 3 rather than
  (N, H, W, C)."""
  return len(shape) == 4 and shape[1] in (1, 3) and shape[-1] not in (1, 3)


def checked_examples(x, where):
  """Examples as icvae computes on them (module docstring), or a DataError naming `where`.

  Args:
    x: array-like (N, F), (N, H, W) or (N, H, W, 1 or 3); numbers or booleans.
    where: the source, for messages ('data.npz [x_train]', 'examples').

  Returns:
    uint8 images (8-bit intensities), or float32: images in [0, 1], features as given. A
    grey image's channel axis of 1 is dropped.
  """
  x = np.asarray(x)
  if x.dtype == object:  # in memory only (files are never unpickled): numbers in objects
    try:
      x = x.astype(np.float64)
    except (TypeError, ValueError):
      raise DataError(f'{where}: values of type object that are not all numbers; expected '
                      'numbers (floats, or uint8 / uint16 pixel intensities).') from None
  if x.dtype.kind not in 'biuf':
    raise DataError(f'{where}: values of type {x.dtype}; expected numbers (floats, or uint8 / '
                    'uint16 pixel intensities).')
  if x.ndim == 4 and x.shape[-1] == 4:
    raise DataError(f'{where}: shape {x.shape}: 4 channels (RGBA?); icvae reads grey or RGB '
                    'images: composite the alpha on a background (or drop it) first.')
  if is_channels_first(x.shape):
    raise DataError(f'{where}: shape {x.shape} looks channels-first (N, C, H, W); icvae reads '
                    f'images as (N, H, W, C): pass x.transpose(0, 2, 3, 1) (shape '
                    f'{(x.shape[0], x.shape[2], x.shape[3], x.shape[1])}).')
  if x.ndim < 2 or x.ndim > 4 or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
    raise DataError(f'{where}: shape {x.shape}; expected (N, features), (N, H, W) grey '
                    'images or (N, H, W, 1 or 3) images.')
  if len(x) == 0:
    raise DataError(f'{where}: no examples.')
  if x.ndim == 4 and x.shape[-1] == 1:
    x = x[..., 0]
  images = x.ndim > 2
  if x.dtype.kind == 'b':
    return x.astype(np.uint8) * np.uint8(255) if images else x.astype(np.float32)
  if x.dtype.kind == 'f':
    _check_finite(x, where)
    if images:
      low, high = float(x.min()), float(x.max())
      if low < 0 or high > 1:
        raise DataError(f'{where}: float pixel values from {low:g} to {high:g}; images must be '
                        'in [0, 1] (divide 0..255 intensities by 255, or pass them as uint8).')
    return x.astype(np.float32, copy=False)
  if not images:
    x = x.astype(np.float64)
    _check_finite(x, where)
    return x.astype(np.float32)
  return _scaled_integer_images(x, where)


def unrepresentable(x):
  """The mask of float values icvae refuses: NaN, infinities, and |x| beyond float32's range
  (boolean operations only: no float temporaries of a large table)."""
  bad = ~np.isfinite(x)
  if x.dtype.itemsize > 4:
    bad |= x > FLOAT32_MAX
    bad |= x < -FLOAT32_MAX
  return bad


def _check_finite(x, where):
  """Refuses NaN, infinities and values float32 cannot hold, naming the first."""
  bad = unrepresentable(x)
  if bad.any():
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    value = x[index]
    what = ('beyond float32\'s range (|x| <= 3.4e38)' if np.isfinite(value)
            else 'not a finite number')
    raise DataError(f'{where}: value {value} at index {index} is {what}; remove, impute or '
                    'rescale it.')


def _scaled_integer_images(x, where):
  """Integer images as uint8 (8-bit) or float32 in [0, 1] (16-bit), module docstring."""
  scale = INTEGER_IMAGE_RANGES.get(x.dtype)
  if scale == 255:
    return x
  if scale == 65535:
    return (x.astype(np.float64) / 65535).astype(np.float32)
  low, high = int(x.min()), int(x.max())
  if 0 <= low and high <= 255:
    return x.astype(np.uint8)
  raise DataError(f'{where}: integer pixel values from {low} to {high} in a {x.dtype} array, '
                  'whose type does not say their scale; pass uint8 (0..255) or uint16 '
                  '(0..65535, scaled by 65,535) intensities, or floats in [0, 1].')


def check_likelihood_range(x, likelihood, where):
  """Refuses values a likelihood cannot model: Bernoulli's are in [0, 1] (uint8 bytes are
  scaled there); the Gaussian ones take any finite value.

  Raises:
    DataError: naming the range found and the likelihood to use instead.
  """
  if likelihood != 'bernoulli' or x.dtype == np.uint8 or not len(x):
    return
  low, high = float(x.min()), float(x.max())
  if low < 0 or high > 1:
    raise DataError(f'{where}: values from {low:g} to {high:g}, but --likelihood=bernoulli '
                    'models values in [0, 1]: use --likelihood=gaussian (the default for '
                    'feature tables), or scale the data to [0, 1].')


def label_classes(values, where):
  """(int32 indices (N,), class names) of labels: the sorted distinct values, indexed
  0..C-1 (module docstring).

  Args:
    values: (N,) numbers, booleans or strings (numpy unicode or bytes; a table's cells).
    where: the source, for messages.

  Returns:
    indices into `names`; names as strings ('0', '7', 'cat', 'True'), numbers sorted by
    value, strings alphabetically.

  Raises:
    DataError: not one label per example, an empty or non-finite label, a non-integer
      number, or Python objects.
  """
  values = np.asarray(values)
  if values.ndim != 1:
    raise DataError(f'{where}: labels of shape {values.shape}; expected one label per example '
                    '(N,).')
  if values.dtype == object:
    raise DataError(f'{where}: labels are Python objects (an object array), which icvae never '
                    'unpickles; save numbers or strings (np.asarray(y, str)).')
  if values.dtype.kind == 'S':
    values = np.char.decode(values, 'utf-8')
  if values.dtype.kind == 'U':
    values = _canonical_names(np.char.strip(values), where)
    numbers = _as_numbers(values)
    if numbers is None:
      names, indices = np.unique(values, return_inverse=True)
      return indices.astype(np.int32).reshape(-1), tuple(str(n) for n in names)
    values = numbers
  if values.dtype.kind == 'b':
    names, indices = np.unique(values, return_inverse=True)
    return indices.astype(np.int32).reshape(-1), tuple(str(bool(n)) for n in names)
  if values.dtype.kind not in 'iuf':
    raise DataError(f'{where}: labels of type {values.dtype}; expected integers or names.')
  if values.dtype.kind == 'f':
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
      first = int(np.flatnonzero(bad)[0])
      raise DataError(f'{where}: label {values[first]} (example {first}) is not an integer; '
                      'labels are classes: integers or names.')
  names, indices = np.unique(values, return_inverse=True)
  return indices.astype(np.int32).reshape(-1), tuple(str(int(n)) for n in names)


def _canonical_names(strings, where):
  """Label strings with one spelling per class: a missing value refused, integers written
  as integers ('1.0' -> '1', so '1' and '1.0' are one class), true/false as 'True' / 'False'
  when every label is one of them; a non-integer number refused."""
  lower = np.char.lower(strings)
  missing = np.isin(lower, MISSING)
  if missing.any():
    first = int(np.flatnonzero(missing)[0])
    raise DataError(f'{where}: example {first} has no label ({str(strings[first])!r}, a missing '
                    'value); give every example one, or drop the example.')
  if np.all(np.isin(lower, ('true', 'false'))):
    return np.where(lower == 'true', 'True', 'False')
  distinct, inverse = np.unique(strings, return_inverse=True)
  canonical = []
  for name in distinct:
    try:
      number = float(name)
    except ValueError:
      canonical.append(str(name))
      continue
    if not np.isfinite(number) or number != round(number):
      raise DataError(f'{where}: label {name!r} is not an integer; labels are classes: '
                      'integers or names.')
    canonical.append(str(int(number)))
  return np.asarray(canonical, dtype=str)[inverse.reshape(-1)]


def _as_numbers(strings):
  """float64 of strings that all read as numbers, else None."""
  try:
    return strings.astype(np.float64)
  except ValueError:
    return None


def class_indices(names, classes, where):
  """Indices of label names into a trained run's `classes` (-1 for a name it never saw).

  Labels are names whatever their type ('7', 'cat'), as `label_classes` gives them, so new
  data with only some of the classes keep the run's indices."""
  index = {name: i for i, name in enumerate(classes)}
  indices = np.asarray([index.get(str(name), -1) for name in names], np.int32)
  unseen = sorted({str(n) for n, i in zip(names, indices) if i < 0})
  if unseen and classes:
    log.warning(
        '%s: %d labels name classes the run was not trained on (%s%s): their index is -1',
        where, int(np.sum(indices < 0)), ', '.join(unseen[:5]), ', ...' if len(unseen) > 5
        else '')
  return indices
