"""A user's own data, with no code: arrays, a folder of images or a table, as a `Dataset`.

`read(path, ...)` reads
- an `.npz` with `x_train` and optionally `y_train`, `x_test`, `y_test`;
- an `.npy` holding one array of examples (unlabelled);
- a folder of images (PNG, JPEG, TIFF, ... through Pillow): one subfolder per class gives
  labels (the subfolders' names, sorted, are the classes), a flat folder is unlabelled;
- a `.csv` or `.parquet` table of numeric features, labels from `label_column`
  (`icvae.tables`: delimiters, headers, index columns, missing cells).

What icvae does with your files (the guide's "What icvae does with your files" lists the
same rules):
- Examples and labels follow `icvae.examples`' one rule, as arrays passed to `load_model` or
  the estimators do: integer images are scaled by their type's range (8-bit by 255, 16-bit
  by 65,535), float images must be in [0, 1], NaN, infinities and values beyond float32 are
  refused; labels of any kind (numbers, names) are re-indexed 0..C-1 with their names kept
  (`Dataset.class_names`).
- Image files: only files with an image extension (`IMAGE_SUFFIXES`, as torchvision's
  ImageFolder) are read; others (Thumbs.db, README.md, a labels.csv) are skipped and counted
  in the log, hidden files and folders ignored, and class subfolders without images skipped.
  16-bit images (PNG mode I;16, TIFF) are scaled by 65,535 and float TIFFs (mode F) kept in
  [0, 1], never clipped to 8 bits; 32-bit integer TIFFs (mode I) follow the array rule
  (0..255 read as 8-bit, otherwise refused). Transparency (RGBA, LA, a palette's or a grey
  image's transparent colour, 16-bit included) is composited on a white background (as a
  page shows it), never dropped. Palette images are read as colour unless their every pixel
  is grey. If any image has colour, grey ones are
  repeated to three channels; every image the same size, or `image_size=(H, W)` resizes them
  all (bilinear).
- Without a test split, a fixed fraction of the examples, drawn once with seed 0 (the same
  for every run and seed), is held out, stratified by class when there are labels: each
  class keeps `test_fraction` of its examples in the test split (at least one of a class with
  two or more), so a rare class cannot vanish from it.

Everything read is checked before anything is trained or written, and a problem names the
file and what to do.

Read once, the arrays are cached under <cache>/user-data keyed by the SHA-256 of the files'
bytes (and names, for a folder) and the reading options, so an edited file is read again.
The cache keeps the most recently used entries within `ICVAE_USER_DATA_CACHE_GB` (default 5
GB); `icvae cache clear` empties it (`clear_cache`).
"""

import hashlib
import json
import logging
import os
import pathlib
import shutil
import sys
from typing import NamedTuple, Optional

import numpy as np

from icvae import data as data_lib
from icvae import examples as examples_lib
from icvae import tables
from icvae.settings import DataError
from icvae.settings import default_cache_dir

log = logging.getLogger('icvae')

TABLE_SUFFIXES = ('.csv', '.parquet', '.pq')
ARRAY_SUFFIXES = ('.npz', '.npy')
NPZ_KEYS = ('x_train', 'y_train', 'x_test', 'y_test')
# The files of a folder that are read as images (any case); others are skipped.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff', '.webp', '.ppm',
                  '.pgm', '.pbm', '.pnm')
# Bumped when what `read` makes of the same files changes: older cache entries are not used.
CACHE_VERSION = 2
CACHE_LIMIT_VARIABLE = 'ICVAE_USER_DATA_CACHE_GB'
DEFAULT_CACHE_LIMIT_GB = 5.0
# Pillow modes of 16-bit grey images, read as uint16 and scaled by 65,535.
_SIXTEEN_BIT_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N')
_WHITE = 255


class Examples(NamedTuple):
  """Every example of some files, in the files' order (`read_examples`).

  Attributes:
    x: (N, *example shape), uint8 or float32 as `examples.checked_examples` gives them.
    labels: int32 (N,) indices into `class_names`, or None.
    class_names: the classes' names (the labels' sorted distinct values, as strings).
    feature_names: a table's feature columns, in order (() for images and arrays).
  """
  x: np.ndarray
  labels: Optional[np.ndarray]
  class_names: tuple
  feature_names: tuple = ()


def read(path, *, image_size=None, label_column='', test_fraction=0.1, table_header='auto',
         cache_dir=None, progress=None):
  """The `data.Dataset` of the files at `path` (module docstring), from the cache if read
  before.

  Args:
    path: an .npz, .npy, .csv, .parquet file or a folder of images.
    image_size: (H, W) to resize every image to; None: keep their size (all must agree).
    label_column: the table column that holds the labels ('' : unlabelled).
    test_fraction: the share of examples held out as the test split when the files have
      none, in (0, 1).
    table_header: a CSV's header row: 'auto', 'yes', 'no' (`icvae.tables`).
    cache_dir: where the arrays are cached (default `settings.default_cache_dir()`).
    progress: show a progress bar while reading a folder; None: when stderr is a terminal.

  Raises:
    DataError: the path is missing or of an unknown kind, or a file's content is refused
      (module docstring); nothing is cached then.
  """
  if not 0 < test_fraction < 1:
    raise DataError(f'--test_fraction={test_fraction}: must be in (0, 1).')
  arrays = _arrays(path, image_size, label_column, table_header, True, cache_dir, progress)
  return _as_dataset(arrays, test_fraction, path)


def read_examples(path, *, image_size=None, label_column='', table_header='auto',
                  cache_dir=None, progress=None, only_applicable=False):
  """`Examples` of every example at `path` in the files' order (an .npz's x_train then
  x_test), with no split: what `icvae encode` encodes. A table without `label_column` is
  read unlabelled (new data need no labels).

  Args:
    only_applicable: ignore the options that do not apply to this kind of file (a run's
      --label_column for an .npz, its --image_size for a table: `icvae encode` reads any
      kind under any run) instead of refusing them.

  Raises:
    DataError: as `read`.
  """
  if only_applicable:
    form = kind(path) if pathlib.Path(path).exists() else None
    image_size = image_size if form == 'folder' else None
    label_column = label_column if form == 'table' else ''
  arrays = _arrays(path, image_size, label_column, table_header, False, cache_dir, progress)
  x, y = arrays['x_train'], arrays['y_train']
  if arrays['x_test'] is not None:
    x = np.concatenate([x, arrays['x_test']])
    y = None if y is None else np.concatenate([y, arrays['y_test']])
  return Examples(x, y, arrays['class_names'], arrays['feature_names'])


def _arrays(path, image_size, label_column, table_header, labels_required, cache_dir,
            progress):
  """The checked arrays of `path` {x_train, y_train, x_test, y_test, class_names,
  feature_names}, through the cache."""
  path = pathlib.Path(path)
  if not path.exists():
    raise DataError(f'--data={path}: no such file or folder.')
  if image_size is not None:
    image_size = tuple(int(n) for n in image_size)
    if len(image_size) != 2 or min(image_size) < 1:
      raise DataError(f'--image_size={image_size}: expected H,W (two positive integers).')
  form = kind(path)
  if image_size is not None and form != 'folder':
    raise DataError(f'--image_size: only a folder of images is resized; {path} is an '
                    f'{path.suffix} file: drop the flag (or resize the arrays yourself).')
  if label_column and form != 'table':
    raise DataError(f'--label_column={label_column}: only a CSV or Parquet table has columns; '
                    f'{path} is not one: drop the flag.')
  files = _image_files(path) if form == 'folder' else [path]
  options = {'version': CACHE_VERSION, 'form': form, 'image_size': image_size,
             'label_column': label_column, 'table_header': table_header,
             'labels_required': labels_required}
  cache_root = pathlib.Path(cache_dir or default_cache_dir()) / 'user-data'
  cache = cache_root / f'{_digest(path, files, options)}.npz'
  arrays = _read_cache(cache)
  if arrays is not None:
    log.info('%s: read from the cache %s', path, cache)
    return arrays
  if form == 'folder':
    arrays = _read_folder(path, files, image_size, progress)
  elif form == 'table':
    x, feature_names, labels = tables.read_table(path, label_column, table_header,
                                                 labels_required)
    arrays = {'x_train': x, 'y_train': labels, 'feature_names': feature_names}
  elif path.suffix == '.npz':
    arrays = _read_npz(path)
  else:
    arrays = {'x_train': _load_array(path)}
  arrays = _checked(arrays, path)
  _write_cache(cache, arrays)
  _prune_cache(cache_root, keep=cache)
  return arrays


def _checked(arrays, path):
  """Every array through `icvae.examples`' rule; labels of both splits indexed together."""
  checked = {'x_train': None, 'y_train': None, 'x_test': None, 'y_test': None,
             'class_names': tuple(arrays.get('class_names', ())),
             'feature_names': tuple(arrays.get('feature_names', ()))}
  where = (lambda key: f'{path} [{key}]') if path.suffix == '.npz' else (lambda key: str(path))
  for split in ('train', 'test'):
    if arrays.get(f'x_{split}') is not None:
      checked[f'x_{split}'] = examples_lib.checked_examples(arrays[f'x_{split}'],
                                                            where(f'x_{split}'))
  if checked['x_test'] is not None and checked['x_train'].shape[1:] != checked['x_test'].shape[1:]:
    raise DataError(f'{path}: x_train examples have shape {checked["x_train"].shape[1:]}, '
                    f'x_test ones {checked["x_test"].shape[1:]}; they must agree.')
  labels = [(split, arrays.get(f'y_{split}')) for split in ('train', 'test')
            if arrays.get(f'y_{split}') is not None]
  if not labels or checked['class_names']:  # a folder's labels are indices of its classes
    checked.update({f'y_{split}': y for split, y in labels})
    return checked
  for split, y in labels:
    y = np.asarray(y)
    count = len(checked[f'x_{split}'])
    if y.ndim != 1 or len(y) != count:
      raise DataError(f'{where(f"y_{split}")}: {y.shape} labels for {count} examples; expected '
                      'one label per example.')
  values = np.concatenate([np.asarray(y) for _, y in labels]) if len(labels) > 1 else (
      np.asarray(labels[0][1]))
  source = where('y_train, y_test' if len(labels) > 1 else f'y_{labels[0][0]}')
  indices, names = examples_lib.label_classes(values, source)
  checked['class_names'] = names
  start = 0
  for split, y in labels:
    checked[f'y_{split}'] = indices[start:start + len(y)]
    start += len(y)
  return checked


def kind(path):
  """'folder', 'table' or 'arrays': how `read` reads `path` (by its type and suffix).

  Raises:
    DataError: a file of an unknown kind.
  """
  path = pathlib.Path(path)
  if path.is_dir():
    return 'folder'
  suffix = path.suffix.lower()
  if suffix in TABLE_SUFFIXES:
    return 'table'
  if suffix in ARRAY_SUFFIXES:
    return 'arrays'
  raise DataError(f'--data={path}: unknown kind of file {suffix or "(no suffix)"}; expected a '
                  f'folder of images or one of {", ".join(ARRAY_SUFFIXES + TABLE_SUFFIXES)}.')


def _digest(path, files, options):
  """SHA-256 (16 hex digits) of the reading options and the files' names and bytes."""
  digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
  for file in files:
    digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
    with open(file, 'rb') as f:
      for chunk in iter(lambda: f.read(1 << 20), b''):
        digest.update(chunk)
  return digest.hexdigest()[:16]


def _read_cache(cache):
  if not cache.is_file():
    return None
  try:
    with np.load(cache, allow_pickle=False) as saved:
      loaded = {key: saved[key] for key in saved.files}
    arrays = {key: loaded.get(key) for key in NPZ_KEYS}
    if arrays['x_train'] is None:
      raise KeyError('x_train')
    for key in ('class_names', 'feature_names'):
      arrays[key] = tuple(str(n) for n in loaded.get(key, ()))
    os.utime(cache)  # most recently used: kept longest by `_prune_cache`
    return arrays
  except (OSError, ValueError, KeyError) as e:
    log.warning('%s: unreadable cache entry (%s); reading the files again', cache, e)
    return None


def _write_cache(cache, arrays):
  saved = {key: value for key, value in arrays.items()
           if key in NPZ_KEYS and value is not None}
  for key in ('class_names', 'feature_names'):
    if arrays[key]:
      saved[key] = np.asarray(arrays[key], dtype=str)
  try:
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f'{cache.stem}.{os.getpid()}.tmp.npz')
    np.savez(partial, **saved)
    os.replace(partial, cache)
  except OSError as e:
    log.warning('could not cache the arrays in %s (%s); they will be read again next time',
                cache.parent, e)


def cache_limit_bytes():
  """The user-data cache's size limit: $ICVAE_USER_DATA_CACHE_GB gigabytes (default 5)."""
  text = os.environ.get(CACHE_LIMIT_VARIABLE, '')
  try:
    limit = float(text) if text else DEFAULT_CACHE_LIMIT_GB
  except ValueError:
    raise DataError(f'${CACHE_LIMIT_VARIABLE}={text}: expected a number of gigabytes.') from None
  return int(limit * 1e9)


def _prune_cache(root, keep):
  """Deletes the least recently used entries of the user-data cache beyond its limit (never
  `keep`, the entry just written)."""
  entries = sorted((p for p in root.glob('*.npz') if p != keep),
                   key=lambda p: p.stat().st_mtime, reverse=True)
  total = keep.stat().st_size if keep.exists() else 0
  limit = cache_limit_bytes()
  for entry in entries:
    total += entry.stat().st_size
    if total > limit:
      log.info('user-data cache over %.1f GB: removing %s (least recently used)', limit / 1e9,
               entry)
      entry.unlink(missing_ok=True)


def clear_cache(cache_dir=None):
  """Empties the user-data cache; returns (entries removed, bytes freed)."""
  root = pathlib.Path(cache_dir or default_cache_dir()) / 'user-data'
  if not root.is_dir():
    return 0, 0
  entries = [p for p in root.iterdir() if p.is_file()]
  freed = sum(p.stat().st_size for p in entries)
  shutil.rmtree(root)
  return len(entries), freed


def _load_array(path, key=None):
  """np.load without pickles; object arrays and unreadable files are refused by name."""
  try:
    loaded = np.load(path, allow_pickle=False)
    if key is not None:
      loaded = loaded[key]
    return loaded
  except ValueError as e:
    if 'allow_pickle' in str(e) or 'Object arrays' in str(e):
      raise DataError(f'{path}{f" [{key}]" if key else ""}: holds Python objects (an object '
                      'array), which icvae never unpickles; save numeric arrays '
                      '(np.asarray(x, np.float32) or uint8 images) and numbers or strings '
                      'as labels.') from None
    raise DataError(f'{path}: not a readable numpy file ({e}).') from None
  except (OSError, EOFError) as e:
    raise DataError(f'{path}: not a readable numpy file ({e}).') from None


def _read_npz(path):
  try:
    archive = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError) as e:
    raise DataError(f'{path}: not a readable .npz file ({e}).') from None
  with archive:
    keys = list(archive.files)
    if 'x_train' not in keys:
      raise DataError(f'{path}: no x_train array; it holds {", ".join(keys) or "nothing"}. '
                      f'Save the examples as x_train (and optionally {", ".join(NPZ_KEYS[1:])}'
                      ').')
    unknown = sorted(set(keys) - set(NPZ_KEYS))
    if unknown:
      log.warning('%s: ignoring the arrays %s (icvae reads %s)', path, unknown,
                  ', '.join(NPZ_KEYS))
    if 'y_test' in keys and 'x_test' not in keys:
      raise DataError(f'{path}: y_test without x_test; save the test examples as x_test, or '
                      'drop y_test.')
    arrays = {key: _load_array(path, key) if key in keys else None for key in NPZ_KEYS}
  if arrays['x_test'] is not None and (arrays['y_train'] is None) != (arrays['y_test'] is None):
    raise DataError(f'{path}: labels for one split only (y_train and y_test go together when '
                    'x_test is given); save both or neither.')
  return arrays


def _image_files(folder):
  """The image files of a folder, sorted: its own (flat) or its class subfolders' (any
  depth). Hidden files and folders are ignored, files without an image extension skipped
  (counted in the log), subfolders without images skipped."""
  entries = [e for e in sorted(folder.iterdir()) if not e.name.startswith('.')]
  subfolders = [e for e in entries if e.is_dir()]
  files = [e for e in entries if e.is_file()]
  images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
  skipped = len(files) - len(images)
  if subfolders and images:
    raise DataError(f'{folder}: holds both images ({images[0].name}, ...) and subfolders '
                    f'({subfolders[0].name}, ...); put every image in a class subfolder, or '
                    'none.')
  if subfolders:
    empty = []
    for sub in subfolders:
      found = sorted(f for f in sub.rglob('*') if f.is_file() and
                     not any(p.startswith('.') for p in f.relative_to(folder).parts))
      inside = [f for f in found if f.suffix.lower() in IMAGE_SUFFIXES]
      skipped += len(found) - len(inside)
      if not inside:
        empty.append(sub.name)
      images += inside
    if empty:
      log.info('%s: subfolders without images skipped (not classes): %s', folder,
               ', '.join(empty))
  if skipped:
    log.info('%s: %d files without an image extension (%s) skipped', folder, skipped,
             ' '.join(IMAGE_SUFFIXES))
  if not images:
    raise DataError(f'{folder}: no images in it (or its class subfolders); icvae reads files '
                    f'ending in {" ".join(IMAGE_SUFFIXES)}.')
  return images


def _pixels(image, image_size):
  """An opened Pillow image as an array: uint8 (8-bit grey (H, W) or RGB (H, W, 3)) or
  float32 in [0, 1] (16-bit and float images), resized to `image_size` if given (module
  docstring: transparency composited on white)."""
  from PIL import Image  # pillow is a dependency; imported only to read images
  mode = image.mode
  deep = mode in _SIXTEEN_BIT_MODES or mode == 'I'
  if deep:  # 16-bit grey (or 32-bit 'I'): composited at full depth, never through 8 bits
    array = np.asarray(image)
    if 'transparency' in image.info:
      array = np.where(array == image.info['transparency'], 65535, array)
    if mode != 'I' or image.format == 'PNG':  # a PNG's 'I' is 16-bit grey, as 'I;16'
      low, high = int(array.min()), int(array.max())
      if low < 0 or high > 65535:
        raise ValueError(f'integer pixels from {low} to {high}: icvae reads 8- and 16-bit '
                         'intensities; save 16-bit images, or floats in [0, 1]')
      array = array.astype(np.uint16)
    array = examples_lib.checked_examples(array[None], 'the image')[0]  # the array rule
    return _resized_floats(data_lib.as_float(array), image_size)
  if mode in ('RGBA', 'LA', 'PA', 'La', 'RGBa') or 'transparency' in image.info:
    grey = mode in ('LA', 'La', 'L', '1')
    rgba = image.convert('RGBA')
    background = Image.new('RGBA', rgba.size, (_WHITE, _WHITE, _WHITE, 255))
    image = Image.alpha_composite(background, rgba).convert('L' if grey else 'RGB')
    if mode in ('P', 'PA') and _all_grey(image):
      image = image.convert('L')
  elif mode == 'P':
    image = image.convert('RGB')
    if _all_grey(image):
      image = image.convert('L')
  elif mode == '1':
    image = image.convert('L')
  elif mode not in ('L', 'RGB', 'F'):
    image = image.convert('RGB')  # CMYK, YCbCr, LAB, HSV
  if image.mode in ('L', 'RGB'):
    if image_size is not None and image.size != (image_size[1], image_size[0]):
      image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
    return np.asarray(image, np.uint8)
  array = np.asarray(image, np.float32)  # mode 'F': a float image, kept as it is
  if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
    raise ValueError(f'float pixels from {float(np.nanmin(array)):g} to '
                     f'{float(np.nanmax(array)):g}; float images must be in [0, 1]')
  return _resized_floats(array, image_size)


def _all_grey(image):
  """Whether an RGB Pillow image has only grey pixels (its three channels equal)."""
  array = np.asarray(image)
  return bool(np.all(array[..., :1] == array))


def _resized_floats(array, image_size):
  """A float32 grey image in [0, 1], resized (bilinear, Pillow's mode F) if asked."""
  from PIL import Image  # pillow is a dependency; imported only to read images
  if image_size is not None and array.shape != tuple(image_size):
    resized = Image.fromarray(array.astype(np.float32), 'F').resize(
        (image_size[1], image_size[0]), Image.Resampling.BILINEAR)
    array = np.clip(np.asarray(resized, np.float32), 0, 1)
  return array.astype(np.float32)


def _read_folder(folder, files, image_size, progress):
  """{'x_train': images, 'y_train': labels or None, 'class_names'} of a folder of images."""
  from PIL import Image  # pillow is a dependency; imported only to read images
  classes = sorted({f.relative_to(folder).parts[0] for f in files
                    if len(f.relative_to(folder).parts) > 1})
  pixels, first = [], None
  show = sys.stderr.isatty() if progress is None else progress
  iterator = files
  if show and len(files) > 1000:
    import tqdm
    iterator = tqdm.tqdm(files, desc=f'reading {folder}', unit='image')
  for file in iterator:
    try:
      with Image.open(file) as image:
        image.load()
        array = _pixels(image, image_size)
    except (OSError, ValueError, SyntaxError, DataError, Image.DecompressionBombError) as e:
      raise DataError(f'{file}: not a readable image ({e}); remove it from {folder}.') from None
    if first is None:
      first = (file, array.shape[:2])
    elif array.shape[:2] != first[1]:
      raise DataError(f'{file}: {array.shape[0]}x{array.shape[1]} pixels, but {first[0]} has '
                      f'{first[1][0]}x{first[1][1]}; every image must have the same size: '
                      'pass --image_size=H,W to resize them all.')
    pixels.append(array)
  if any(p.dtype != np.uint8 for p in pixels):  # 16-bit or float images: all as floats
    pixels = [data_lib.as_float(p) for p in pixels]
  if any(p.ndim == 3 for p in pixels):
    pixels = [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=-1) for p in pixels]
  images = np.stack(pixels)
  labels = None
  if classes:
    index = {name: i for i, name in enumerate(classes)}
    labels = np.asarray([index[f.relative_to(folder).parts[0]] for f in files], np.int32)
  log.info('%s: %d images of %s pixels (%s), %s', folder, len(images),
           'x'.join(map(str, images.shape[1:])),
           '8-bit' if images.dtype == np.uint8 else 'scaled to [0, 1] from 16-bit or float',
           f'{len(classes)} classes' if classes else 'unlabelled (a flat folder)')
  return {'x_train': images, 'y_train': labels, 'class_names': tuple(classes)}


def _as_dataset(arrays, test_fraction, path):
  """A `Dataset` of checked arrays; without x_test, a seeded `test_fraction` held out,
  stratified by class (`held_out_split`)."""
  x, y = arrays['x_train'], arrays.get('y_train')
  names = dict(class_names=tuple(arrays.get('class_names', ())),
               feature_names=tuple(arrays.get('feature_names', ())))
  if arrays.get('x_test') is not None:
    return data_lib.Dataset(x, y, arrays['x_test'], arrays.get('y_test'), **names)
  train, test = held_out_split(len(x), test_fraction, y, path)
  return data_lib.Dataset(x[train], None if y is None else y[train], x[test],
                          None if y is None else y[test], **names)


def held_out_split(count, test_fraction, labels=None, where=''):
  """(train indices, test indices), each sorted: a fixed draw (seed 0) of `test_fraction`.

  Without labels, round(count * fraction) examples (at least one) are held out. With
  labels, the draw is stratified: each class holds out round(n_c * fraction) of its n_c
  examples, at least one when n_c >= 2 (a class of one example stays in training), so every
  class with two or more examples is in both splits.

  Raises:
    DataError: too few examples to leave any for training.
  """
  rng = np.random.default_rng(0)
  if labels is None:
    held_out = max(1, int(round(count * test_fraction)))
    order = rng.permutation(count)
    test = order[:held_out]
  else:
    test = []
    for label in np.unique(labels):
      members = np.flatnonzero(labels == label)
      share = int(round(len(members) * test_fraction))
      if len(members) >= 2:
        share = min(max(share, 1), len(members) - 1)
      test.append(rng.permutation(members)[:share])
    test = np.concatenate(test)
    if not len(test):  # every class has one example: nothing to stratify
      test = rng.permutation(count)[:max(1, int(round(count * test_fraction)))]
  if count - len(test) < 1:
    raise DataError(f'{where}: {count} examples, too few to hold out a test split '
                    f'(--test_fraction={test_fraction}); add examples or save x_test.')
  in_test = np.zeros(count, bool)
  in_test[test] = True
  return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def statistics(features):
  """{'mean', 'std'} per feature of training features (N, F), float64 lists; a constant
  feature gets std 1 (standardised to 0 rather than divided by 0)."""
  features = np.asarray(features, np.float64)
  std = features.std(axis=0)
  return {'mean': features.mean(axis=0).tolist(),
          'std': np.where(std > 1e-12, std, 1.0).tolist()}


def standardize(features, stats):
  """(features - mean) / std with saved `statistics`, as float32."""
  mean = np.asarray(stats['mean'], np.float64)
  std = np.asarray(stats['std'], np.float64)
  features = np.asarray(features)
  if features.shape[1:] != mean.shape:
    raise DataError(f'features of shape {features.shape[1:]}, but the saved standardisation '
                    f'is for {mean.shape}: these are not the data the model was trained on.')
  return ((features - mean) / std).astype(np.float32)


def load(options):
  """`DataSource.load` of --dataset=custom: `read` with the run's data settings."""
  if not options.data:
    raise DataError('--dataset=custom: pass --data=PATH (an .npz, .npy, .csv, .parquet or a '
                    'folder of images), or give the Dataset to train_and_evaluate.')
  image_size = data_lib.parse_shape(options.image_size) if options.image_size else None
  return read(options.data, image_size=image_size, label_column=options.label_column,
              test_fraction=options.test_fraction, table_header=options.table_header,
              progress=getattr(options, 'progress', None))


SOURCE = data_lib.register(data_lib.DataSource(
    name='custom', description="your own data: --data=PATH (.npz, .npy, .csv, .parquet, a "
                               "folder of images); shapes read from the data",
    load=load, reads_files=True))
