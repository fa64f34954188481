"""A user's own data, with no code: arrays, a folder of images or a table, as a `Dataset`.

`read(path, ...)` reads
- an `.npz` with `x_train` and optionally `y_train`, `x_test`, `y_test`;
- an `.npy` holding one array of examples (unlabelled);
- a folder of images (PNG, JPEG, ... through Pillow): one subfolder per class gives labels
  (the subfolders' names, sorted, are the classes), a flat folder is unlabelled; grey or
  colour (if any image has colour, grey ones are repeated to three channels); every image the
  same size, or `image_size=(H, W)` to resize them all (bilinear);
- a `.csv` (a header row, then one example per row) or `.parquet` table of numeric features,
  labels from `label_column` (integers, or names: sorted, they are the classes).

Arrays: (N, F) are feature vectors, (N, H, W) grey images, (N, H, W, 1) grey and
(N, H, W, 3) colour images. Images are uint8 intensities 0..255 (kept as bytes, like
dSprites) or floats in [0, 1]; feature tables hold any finite numbers (the Gaussian
likelihood standardises them, `standardize`). Without a test split, a fixed fraction of the
examples, drawn once with seed 0 (the same for every run and seed), is held out.

Everything read is checked before anything is trained or written, and a problem names the
file and what to do: mixed image sizes (the first that differs), a file that is not an image,
an `.npz` without `x_train` (its keys listed), object arrays (refused: never unpickled),
NaN or infinite values, pixel values outside [0, 1] or 0..255, non-integer or negative
labels, an empty folder.

Read once, the arrays are cached under <cache>/user-data keyed by the SHA-256 of the files'
bytes (and names, for a folder) and the reading options, so an edited file is read again.
"""

import csv
import hashlib
import json
import logging
import os
import pathlib
import sys

import numpy as np

from icvae import data as data_lib
from icvae.settings import DataError
from icvae.settings import default_cache_dir

log = logging.getLogger('icvae')

TABLE_SUFFIXES = ('.csv', '.parquet', '.pq')
ARRAY_SUFFIXES = ('.npz', '.npy')
NPZ_KEYS = ('x_train', 'y_train', 'x_test', 'y_test')
# Bumped when what `read` makes of the same files changes: older cache entries are not used.
CACHE_VERSION = 1
# Pillow modes read as grey (one channel); every other mode is read as RGB.
_GREY_MODES = ('1', 'L', 'LA', 'I', 'I;16', 'I;16B', 'I;16L', 'F')


def read(path, *, image_size=None, label_column='', test_fraction=0.1, cache_dir=None,
         progress=None):
  """The `data.Dataset` of the files at `path` (module docstring), from the cache if read
  before.

  Args:
    path: an .npz, .npy, .csv, .parquet file or a folder of images.
    image_size: (H, W) to resize every image to; None: keep their size (all must agree).
    label_column: the table column that holds the labels ('' : unlabelled).
    test_fraction: the share of examples held out as the test split when the files have
      none, in (0, 1).
    cache_dir: where the arrays are cached (default `settings.default_cache_dir()`).
    progress: show a progress bar while reading a folder; None: when stderr is a terminal.

  Raises:
    DataError: the path is missing or of an unknown kind, or a file's content is refused
      (module docstring); nothing is cached then.
  """
  if not 0 < test_fraction < 1:
    raise DataError(f'--test_fraction={test_fraction}: must be in (0, 1).')
  arrays = _arrays(path, image_size, label_column, cache_dir, progress)
  return _as_dataset(arrays, test_fraction, path)


def read_examples(path, *, image_size=None, label_column='', cache_dir=None, progress=None):
  """(examples, labels or None, class names) of every example at `path` in the files' order
  (an .npz's x_train then x_test), with no split: what `experiments.encode` encodes.

  Raises:
    DataError: as `read`.
  """
  arrays = _arrays(path, image_size, label_column, cache_dir, progress)
  x, y = arrays['x_train'], arrays['y_train']
  if arrays['x_test'] is not None:
    x = np.concatenate([x, arrays['x_test']])
    y = None if y is None else np.concatenate([y, arrays['y_test']])
  return x, y, arrays['class_names']


def _arrays(path, image_size, label_column, cache_dir, progress):
  """The checked arrays of `path` {x_train, y_train, x_test, y_test, class_names}, through
  the cache."""
  path = pathlib.Path(path)
  if not path.exists():
    raise DataError(f'--data={path}: no such file or folder.')
  if image_size is not None:
    image_size = tuple(int(n) for n in image_size)
    if len(image_size) != 2 or min(image_size) < 1:
      raise DataError(f'--image_size={image_size}: expected H,W (two positive integers).')
  kind = _kind(path)
  if image_size is not None and kind != 'folder':
    raise DataError(f'--image_size: only a folder of images is resized; {path} is an '
                    f'{path.suffix} file: drop the flag (or resize the arrays yourself).')
  if label_column and kind != 'table':
    raise DataError(f'--label_column={label_column}: only a CSV or Parquet table has columns; '
                    f'{path} is not one: drop the flag.')
  files = _image_files(path) if kind == 'folder' else [path]
  options = {'version': CACHE_VERSION, 'kind': kind, 'image_size': image_size,
             'label_column': label_column}
  cache = (pathlib.Path(cache_dir or default_cache_dir()) / 'user-data'
           / f'{_digest(path, files, options)}.npz')
  arrays = _read_cache(cache)
  if arrays is not None:
    log.info('%s: read from the cache %s', path, cache)
    return arrays
  if kind == 'folder':
    arrays = _read_folder(path, files, image_size, progress)
  elif kind == 'table':
    arrays = _read_table(path, label_column)
  elif path.suffix == '.npz':
    arrays = _read_npz(path)
  else:
    arrays = {'x_train': _checked_examples(_load_array(path), path)}
  arrays = {key: arrays.get(key) for key in NPZ_KEYS} | {
      'class_names': tuple(arrays.get('class_names', ()))}
  _write_cache(cache, arrays)
  return arrays


def _kind(path):
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
    arrays['class_names'] = tuple(str(n) for n in loaded.get('class_names', ()))
    return arrays
  except (OSError, ValueError, KeyError) as e:
    log.warning('%s: unreadable cache entry (%s); reading the files again', cache, e)
    return None


def _write_cache(cache, arrays):
  saved = {key: value for key, value in arrays.items()
           if key in NPZ_KEYS and value is not None}
  if arrays['class_names']:
    saved['class_names'] = np.asarray(arrays['class_names'], dtype=str)
  try:
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f'{cache.stem}.{os.getpid()}.tmp.npz')
    np.savez(partial, **saved)
    os.replace(partial, cache)
  except OSError as e:
    log.warning('could not cache the arrays in %s (%s); they will be read again next time',
                cache.parent, e)


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
                      '(np.asarray(x, np.float32) or uint8 images).') from None
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
  for split in ('train', 'test'):
    x, y = arrays[f'x_{split}'], arrays[f'y_{split}']
    if x is None:
      continue
    arrays[f'x_{split}'] = _checked_examples(x, f'{path} [x_{split}]')
    if y is not None:
      arrays[f'y_{split}'] = _checked_labels(y, len(x), f'{path} [y_{split}]')
  if arrays['x_test'] is not None:
    train_shape, test_shape = arrays['x_train'].shape[1:], arrays['x_test'].shape[1:]
    if train_shape != test_shape:
      raise DataError(f'{path}: x_train examples have shape {train_shape}, x_test ones '
                      f'{test_shape}; they must agree.')
  return arrays


def _checked_examples(x, where):
  """Examples as the loop reads them (module docstring), or a DataError naming `where`."""
  x = np.asarray(x)
  if x.dtype == object or x.dtype.kind not in 'biuf':
    raise DataError(f'{where}: values of type {x.dtype}; expected numbers (floats, or uint8 '
                    'pixel intensities).')
  if x.ndim < 2 or x.ndim > 4 or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
    raise DataError(f'{where}: shape {x.shape}; expected (N, features), (N, H, W) grey '
                    'images or (N, H, W, 1 or 3) images.')
  if len(x) == 0:
    raise DataError(f'{where}: no examples.')
  if x.ndim == 4 and x.shape[-1] == 1:
    x = x[..., 0]
  if x.dtype.kind == 'b':
    x = x.astype(np.uint8) * np.uint8(255) if x.ndim > 2 else x.astype(np.float32)
  if x.dtype.kind == 'f':
    if not np.all(np.isfinite(x)):
      index = np.argwhere(~np.isfinite(x))[0]
      raise DataError(f'{where}: non-finite value {x[tuple(index)]} at index '
                      f'{tuple(int(i) for i in index)}; remove or impute it.')
    if x.ndim > 2:
      low, high = float(x.min()), float(x.max())
      if low < 0 or high > 1:
        raise DataError(f'{where}: float pixel values from {low:g} to {high:g}; images must be '
                        'in [0, 1] (divide 0..255 intensities by 255, or save them as uint8).')
    return x.astype(np.float32)
  if x.ndim > 2:  # integer images: intensities 0..255, kept as bytes
    low, high = int(x.min()), int(x.max())
    if low < 0 or high > 255:
      raise DataError(f'{where}: integer pixel values from {low} to {high}; expected 0..255 '
                      '(or floats in [0, 1]).')
    return x.astype(np.uint8)
  return x.astype(np.float32)


def _checked_labels(y, count, where):
  """int32 labels (count,), or a DataError: non-integer, negative or miscounted labels."""
  y = np.asarray(y)
  if y.ndim != 1 or len(y) != count:
    raise DataError(f'{where}: {y.shape} labels for {count} examples; expected one integer '
                    'label per example.')
  if y.dtype.kind in 'US':
    raise DataError(f'{where}: labels are strings; save integer classes (0, 1, ...).')
  if y.dtype == object or y.dtype.kind not in 'biuf':
    raise DataError(f'{where}: labels of type {y.dtype}; expected integers.')
  if y.dtype.kind == 'f':
    bad = ~np.isfinite(y) | (y != np.round(y))
    if bad.any():
      first = int(np.flatnonzero(bad)[0])
      raise DataError(f'{where}: label {y[first]} (example {first}) is not an integer; labels '
                      'must be classes 0, 1, ...')
  if y.min(initial=0) < 0:
    first = int(np.flatnonzero(y < 0)[0])
    raise DataError(f'{where}: negative label {y[first]} (example {first}); labels must be '
                    'classes 0, 1, ...')
  return y.astype(np.int32)


def _image_files(folder):
  """The image files of a folder, sorted: its own (flat) or its class subfolders' (any
  depth); hidden files are skipped, every other file must be an image."""
  entries = [e for e in sorted(folder.iterdir()) if not e.name.startswith('.')]
  subfolders = [e for e in entries if e.is_dir()]
  files = [e for e in entries if e.is_file()]
  if subfolders and files:
    raise DataError(f'{folder}: holds both files ({files[0].name}, ...) and subfolders '
                    f'({subfolders[0].name}, ...); put every image in a class subfolder, or '
                    'none.')
  if subfolders:
    files = []
    for sub in subfolders:
      files += sorted(f for f in sub.rglob('*') if f.is_file() and
                      not any(p.startswith('.') for p in f.relative_to(folder).parts))
  if not files:
    raise DataError(f'{folder}: no images in it (or its class subfolders).')
  return files


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
        grey = image.mode in _GREY_MODES
        if image_size is not None and image.size != (image_size[1], image_size[0]):
          image = image.convert('L' if grey else 'RGB')
          image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
        array = np.asarray(image.convert('L' if grey else 'RGB'), np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
      raise DataError(f'{file}: not a readable image ({e}); remove it from {folder} (only '
                      'images may be there).') from None
    if first is None:
      first = (file, array.shape[:2])
    elif array.shape[:2] != first[1]:
      raise DataError(f'{file}: {array.shape[0]}x{array.shape[1]} pixels, but {first[0]} has '
                      f'{first[1][0]}x{first[1][1]}; every image must have the same size: '
                      'pass --image_size=H,W to resize them all.')
    pixels.append(array)
  if any(p.ndim == 3 for p in pixels):
    pixels = [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=-1) for p in pixels]
  images = np.stack(pixels)
  labels = None
  if classes:
    index = {name: i for i, name in enumerate(classes)}
    labels = np.asarray([index[f.relative_to(folder).parts[0]] for f in files], np.int32)
  log.info('%s: %d images of %s pixels, %s', folder, len(images),
           'x'.join(map(str, images.shape[1:])),
           f'{len(classes)} classes' if classes else 'unlabelled (a flat folder)')
  return {'x_train': images, 'y_train': labels, 'class_names': tuple(classes)}


def _read_table(path, label_column):
  """{'x_train': features (N, F), 'y_train', 'class_names'} of a CSV or Parquet table."""
  if path.suffix.lower() == '.csv':
    header, columns = _csv_columns(path)
  else:
    try:
      import pyarrow.parquet as parquet
    except ImportError:
      raise DataError(f'{path}: reading Parquet needs pyarrow: pip install pyarrow (or save '
                      'the table as CSV).') from None
    try:
      table = parquet.read_table(path)
    except Exception as e:  # pyarrow raises its own error types for corrupt files
      raise DataError(f'{path}: not a readable Parquet file ({e}).') from None
    header = list(table.column_names)
    columns = [table.column(name).to_numpy(zero_copy_only=False) for name in header]
  if label_column and label_column not in header:
    raise DataError(f'--label_column={label_column}: {path} has no such column; its columns '
                    f'are {", ".join(header)}.')
  labels, names = None, ()
  features = []
  for name, column in zip(header, columns):
    if name == label_column:
      labels, names = _table_labels(column, path, name)
      continue
    values = _numeric(column)
    if values is None:
      raise DataError(f'{path}: column {name!r} holds non-numeric values (e.g. '
                      f'{_first_non_numeric(column)!r}); features must be numbers. If it '
                      f'holds the labels, pass --label_column={name}.')
    features.append(values)
  if not features:
    raise DataError(f'{path}: no feature columns (only the label column {label_column!r}).')
  x = np.stack(features, axis=1)
  if len(x) == 0:
    raise DataError(f'{path}: no rows after the header.')
  bad = ~np.isfinite(x)
  if bad.any():
    row, column = (int(i) for i in np.argwhere(bad)[0])
    raise DataError(f'{path}: row {row + 1} column {_feature_names(header, label_column)[column]!r}'
                    f' is {x[row, column]} (empty or not finite); remove or impute it.')
  return {'x_train': x.astype(np.float32), 'y_train': labels, 'class_names': names}


def _feature_names(header, label_column):
  """The feature columns' names: `header` without the label column."""
  return [h for h in header if h != label_column]


def _csv_columns(path):
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      rows = list(csv.reader(f))
  except (OSError, UnicodeDecodeError, csv.Error) as e:
    raise DataError(f'{path}: not a readable CSV file ({e}).') from None
  rows = [r for r in rows if r]
  if not rows:
    raise DataError(f'{path}: empty file; expected a header row and one row per example.')
  header = [h.strip() for h in rows[0]]
  for number, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise DataError(f'{path}: line {number} has {len(row)} values, the header '
                      f'{len(header)}.')
  columns = [np.asarray([r[i].strip() for r in rows[1:]], dtype=str) for i in range(len(header))]
  return header, columns


def _numeric(column):
  """float64 values of a column (empty cells NaN), or None if one is not a number."""
  column = np.asarray(column)
  if column.dtype.kind in 'biuf':
    return column.astype(np.float64)
  try:
    return column.astype(np.float64)  # vectorised; fails on empty or non-numeric cells
  except (TypeError, ValueError):
    pass
  try:
    return np.asarray([float(v) if v not in ('', None) else np.nan for v in column], np.float64)
  except (TypeError, ValueError):
    return None


def _first_non_numeric(column):
  for value in column:
    try:
      float(value)
    except (TypeError, ValueError):
      return str(value)
  return None


def _table_labels(column, path, name):
  """(int32 labels, class names) of a label column: integers as they are, names sorted."""
  values = _numeric(column)
  where = f'{path} [column {name}]'
  if values is not None:
    return _checked_labels(values, len(values), where), ()
  column = np.asarray(column).astype(str)
  if np.any(column == ''):
    raise DataError(f'{where}: row {int(np.flatnonzero(column == "")[0]) + 1} has no label.')
  names, labels = np.unique(column, return_inverse=True)
  return labels.astype(np.int32), tuple(str(n) for n in names)


def _as_dataset(arrays, test_fraction, path):
  """A `Dataset` of checked arrays; without x_test, a seeded `test_fraction` held out."""
  x, y = arrays['x_train'], arrays.get('y_train')
  names = tuple(arrays.get('class_names', ()))
  if arrays.get('x_test') is not None:
    return data_lib.Dataset(x, y, arrays['x_test'], arrays.get('y_test'), class_names=names)
  count = len(x)
  held_out = max(1, int(round(count * test_fraction)))
  if count - held_out < 1:
    raise DataError(f'{path}: {count} examples, too few to hold out a test split '
                    f'(--test_fraction={test_fraction}); add examples or save x_test.')
  order = np.random.default_rng(0).permutation(count)
  test, train = np.sort(order[:held_out]), np.sort(order[held_out:])
  return data_lib.Dataset(x[train], None if y is None else y[train], x[test],
                          None if y is None else y[test], class_names=names)


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
              test_fraction=options.test_fraction,
              progress=getattr(options, 'progress', None))


SOURCE = data_lib.register(data_lib.DataSource(
    name='custom', description="your own data: --data=PATH (.npz, .npy, .csv, .parquet, a "
                               "folder of images); shapes read from the data",
    load=load, reads_files=True))
