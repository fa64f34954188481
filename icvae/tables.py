"""Feature tables as people have them: CSV (any of the usual dialects) and Parquet.

`read_table(path, label_column, header)` gives the numeric features, their column names and
the raw label cells. What it does with a file, each a choice stated here and tested:

- **Delimiter**: comma, semicolon, tab or '|', whichever splits the first lines into the
  same number (more than one) of fields, in that order of preference; else runs of spaces
  (`np.savetxt`'s default); quoted cells ("a","b", as R writes) are read. Every row must
  have one value per column (a longer row, the mark of an unquoted delimiter in a cell, is
  refused with its line: numpy's reader would drop its extra values).
- **Header**: `header='auto'` takes the first row for column names unless every cell of it is
  a number (a row mixing numbers and text is refused, asking for 'yes' or 'no'); then the
  file has none (`np.savetxt` writes none), its first row is an example,
  and the columns are named 0, 1, ... (logged). A first row of exactly 0, 1, ..., F-1 is
  the header pandas writes for a DataFrame of an array, and is read as names. `'yes'` /
  `'no'` say it outright (a header of other numbers, e.g. wavelengths, needs 'yes').
- **Columns without a name** are never the labels. The first column is dropped, with a
  logged line, when it has no name and holds a row index (distinct non-negative integers:
  0..N-1, 1..N, or a split or shuffled index, as pandas' `to_csv` and R's `write.csv` write
  it) or row names (distinct strings); a column without
  a name and without values (a trailing comma) is dropped too. Any other unnamed column is
  refused, naming its position.
- **Duplicate column names** are refused, naming them (which one would new data match?).
- **Cells**: numbers; `True` / `False` (any case) read as 1 / 0; an empty cell, `NA`, `NaN`,
  `null` or any other text in a feature column is refused, naming its line and column.
- **Size**: the numbers are parsed by numpy's C reader (`np.loadtxt`) into float64 columns,
  never held as Python strings: 1 M rows of 50 features take seconds and about the array's
  own memory (BENCHMARKS.md).
- **Parquet**: pyarrow's columns; pandas' saved index (`__index_level_0__`) is dropped
  (logged); nulls are refused like empty cells.

`align_columns` matches the columns of new data to a trained run's by name, as
scikit-learn's `feature_names_in_`.
"""

import csv
import logging
import re

import numpy as np

from icvae import examples as examples_lib
from icvae.settings import DataError

log = logging.getLogger('icvae')

DELIMITERS = (',', ';', '\t', '|', ' ')  # ' ': any run of whitespace
HEADER_CHOICES = ('auto', 'yes', 'no')
# pyarrow before 14.0.1 deserialises untrusted Parquet metadata (CVE-2023-47248).
PYARROW_REQUIREMENT = 'pyarrow>=14.0.1'
_SAMPLE_LINES = 200
_TRUE, _FALSE = 'true', 'false'
_INDEX_COLUMN = re.compile(r'__index_level_\d+__')


def read_table(path, label_column='', header='auto', labels_required=True):
  """The features and labels of a CSV or Parquet table (module docstring).

  Args:
    path: a `pathlib.Path` ending in .csv, .parquet or .pq.
    label_column: the name of the column of labels; '' : none.
    header: 'auto', 'yes' or 'no' (module docstring).
    labels_required: refuse a table without `label_column` (False: new data to encode,
      which need no labels).

  Returns:
    (features float32 (N, F), feature names, raw labels (N,) or None).

  Raises:
    DataError: naming the file, line and column of what is refused.
  """
  if header not in HEADER_CHOICES:
    raise DataError(f'--table_header={header}: must be one of {", ".join(HEADER_CHOICES)}.')
  if path.suffix.lower() == '.csv':
    names, read_columns, line_of = _csv(path, header)
  else:
    names, read_columns, line_of = _parquet(path)
  duplicates = sorted({n for n in names if n and names.count(n) > 1})
  if duplicates:
    raise DataError(f'{path}: the columns {", ".join(map(repr, duplicates))} appear more than '
                    'once; give every column its own name.')
  keep = _named_columns(path, names, read_columns)
  if label_column and label_column not in names:
    if labels_required:
      raise DataError(f'--label_column={label_column}: {path} has no such column; its columns '
                      f'are {", ".join(n for n in names if n)}.')
    log.info('%s: no label column %r: encoding unlabelled rows', path, label_column)
  labels = None
  if label_column and label_column in names:  # '' (no labels) never matches an unnamed column
    labels = read_columns([names.index(label_column)], str)[0]
    keep = [i for i in keep if names[i] != label_column]
  if not keep:
    raise DataError(f'{path}: no feature columns (only the label column {label_column!r}).')
  feature_names = tuple(names[i] for i in keep)
  x = read_columns(keep, float)
  if len(x) == 0:
    raise DataError(f'{path}: no rows of values.')
  bad = examples_lib.unrepresentable(x)
  if bad.any():
    row, column = (int(i) for i in np.argwhere(bad)[0])
    raise DataError(f'{path}: {line_of(row)}, column {feature_names[column]!r}: '
                    f'{x[row, column]} is {"not finite" if not np.isfinite(x[row, column]) else "beyond float32 range (|x| <= 3.4e38)"}; '
                    'remove, impute or rescale it.')
  return x.astype(np.float32), feature_names, labels


def _named_columns(path, names, read_columns):
  """The positions of the named columns; unnamed ones dropped (index, empty) or refused."""
  keep = []
  for position, name in enumerate(names):
    if name:
      keep.append(position)
      continue
    values = np.asarray(read_columns([position], str)[0]).astype(str)
    if not np.any(np.char.strip(values) != ''):
      log.info('%s: column %d has no name and no values (a trailing delimiter): ignored',
               path, position + 1)
    elif position == 0 and _is_row_index(values):
      log.info('%s: the first column has no name and holds a row index or row names (as '
               'pandas\' to_csv and R\'s write.csv write them): dropped', path)
    else:
      raise DataError(f'{path}: column {position + 1} has no name in the header and is not a '
                      'row index; name it in the header (or delete it).')
  return keep


def _is_row_index(values):
  """Whether cells are distinct non-negative integers (0..N-1 or 1..N, or a subset after a
  split or a shuffle, as pandas writes an index) or distinct non-numeric names."""
  values = np.char.strip(values)
  try:
    numbers = values.astype(np.float64)
  except ValueError:
    return len(np.unique(values)) == len(values)
  return bool(np.all(numbers >= 0) and np.all(numbers == np.round(numbers))
              and len(np.unique(numbers)) == len(numbers))


def _sample(path):
  """[(line number, text)] of the first non-blank lines (up to `_SAMPLE_LINES` lines read)."""
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      lines = [(number, line) for number, line in zip(range(1, _SAMPLE_LINES + 1), f)]
  except UnicodeDecodeError as e:
    raise DataError(f'{path}: not UTF-8 text ({e}); save the table as UTF-8.') from None
  except OSError as e:
    raise DataError(f'{path}: not a readable CSV file ({e}).') from None
  lines = [(number, line) for number, line in lines if line.strip()]
  if not lines:
    raise DataError(f'{path}: empty file; expected one row per example (after a header row '
                    'of column names).')
  return lines


def _rows(lines, delimiter):
  """The cells of lines (iterable of str) split at `delimiter` (' ': runs of whitespace)."""
  if delimiter == ' ':
    return (line.split() for line in lines)
  return csv.reader(lines, delimiter=delimiter)


def _delimiter(lines):
  """The delimiter that splits the sample lines into a constant number (> 1) of fields
  (the most fields wins, the earlier of `DELIMITERS` on a tie); whitespace only when no
  other delimiter splits them (a cell may hold spaces); ',' for a one-column file."""
  best, best_fields = ',', 1
  for delimiter in DELIMITERS:
    if delimiter == ' ' and best_fields > 1:
      break
    counts = {len(row) for row in _rows(lines[1:] or lines, delimiter)}
    fields = counts.pop() if len(counts) == 1 else 0
    if fields > best_fields:
      best, best_fields = delimiter, fields
  return best


def _default_names(cells):
  """Whether cells are 0, 1, ..., n-1: the column names pandas gives a DataFrame of an
  array (`pd.DataFrame(x).to_csv(index=False)` writes them as the header)."""
  return [cell.strip() for cell in cells] == [str(i) for i in range(len(cells))]


def _is_number(text):
  try:
    float(text)
  except ValueError:
    return False
  return True


def _first_row_is_header(path, first):
  """`header='auto'`'s reading of the first row (module docstring): names unless every
  cell is a number; numbers are names too when they are pandas' default names (0..F-1,
  after an empty index name or not); a row mixing numbers and text is refused."""
  filled = [cell for cell in first if cell]
  numbers = [cell for cell in filled if _is_number(cell)]
  if not numbers:
    return True
  if len(numbers) == len(filled):
    return _default_names(filled) or (len(filled) < len(first) and not first[0])
  text = next(cell for cell in filled if not _is_number(cell))
  raise DataError(f'{path}: the first row mixes numbers ({numbers[0]!r}) and text ({text!r}), '
                  'so it could be column names or an example: pass --table_header=yes if it '
                  'names the columns, --table_header=no if it is an example.')


def _csv(path, header):
  """(column names, read(positions, kind) -> arrays, line_of(row) -> file line) of a CSV."""
  lines = _sample(path)
  delimiter = _delimiter([line for _, line in lines])
  header_line, first_text = lines[0]
  first = [cell.strip() for cell in next(_rows([first_text], delimiter))]
  has_header = header == 'yes' or (header == 'auto' and _first_row_is_header(path, first))
  data_lines = lines[1:] if has_header else lines
  width = len(next(_rows([data_lines[0][1]], delimiter))) if data_lines else len(first)
  if has_header:
    names = first
    if len(names) == width + 1 and not names[-1]:
      names = names[:-1]  # a trailing delimiter on the header line only
    if len(names) != width:
      raise DataError(f'{path}: the header has {len(names)} columns, line '
                      f'{data_lines[0][0]} has {width} values; every row must have one value '
                      'per column.')
  else:
    names = [str(i) for i in range(len(first))]
    if header == 'auto':
      log.info('%s: the first row is numbers, so the file has no header row: it is read as an '
               'example, and the columns are named 0..%d (--table_header=yes if those numbers '
               'are column names)', path, len(first) - 1)
  skip = header_line if has_header else header_line - 1  # raw lines before the data
  blank = _check_widths(path, delimiter, skip, len(names))
  # The line in the file of data row r: blank lines are skipped by the reader, so a message
  # names the line only where there are none (the usual case) and the row otherwise.
  line_of = (lambda row: f'line {row + skip + 1}') if not blank else (
      lambda row: f'data row {row + 1}')
  booleans = _boolean_columns([line for _, line in data_lines], delimiter, len(names))

  def read_columns(positions, kind):
    """The columns `positions`: a list of str arrays, or one float64 array (N, len)."""
    if kind is str:
      return list(_loadtxt(path, delimiter, skip, positions, str, {}, names).T)
    converters = {p: _boolean for p in positions if p in booleans}
    return _loadtxt(path, delimiter, skip, positions, np.float64, converters, names)

  return names, read_columns, line_of


def _check_widths(path, delimiter, skip, width):
  """Whether the data lines (after `skip` raw lines) hold blank lines; every other data line
  must have `width` fields (numpy's reader would drop the extra ones of a longer row, the
  mark of an unquoted delimiter in a cell).

  Raises:
    DataError: naming the first line of another width.
  """
  blank, bad = _widths_of_bytes(path, delimiter, skip, width)
  if bad is None and blank is None:  # quotes, or whitespace: the csv module's reading
    blank, bad = _widths_of_text(path, delimiter, skip, width)
  if bad is not None:
    line, fields = bad
    raise DataError(f'{path}: line {line} has {fields} values, the header {width}; every row '
                    'must have one value per column (a delimiter inside a cell must be '
                    'quoted: "Smith, J").')
  return blank


def _widths_of_bytes(path, delimiter, skip, width, block_size=1 << 26):
  """(blank lines?, first (line, fields) of another width or None) counted on the bytes in
  numpy, block by block; (None, None) when the file has quotes or the delimiter is
  whitespace (then `_widths_of_text` reads it)."""
  if delimiter == ' ':
    return None, None
  separator, newline, carriage = ord(delimiter), ord('\n'), ord('\r')
  blank, first_line, carry = False, 1, b''
  with open(path, 'rb') as f:
    while True:
      block = f.read(block_size)
      data = carry + block
      cut = len(data) if not block else data.rfind(b'\n') + 1
      if not block and not data:
        break
      if cut == 0:
        carry = data
        continue
      part = np.frombuffer(data[:cut], np.uint8)
      carry = data[cut:]
      if np.any(part == ord('"')):
        return None, None
      ends = np.flatnonzero(part == newline)
      if not len(ends) or ends[-1] != len(part) - 1:
        ends = np.append(ends, len(part))  # the last line of the file, without a newline
      starts = np.concatenate([[0], ends[:-1] + 1])
      fields = np.diff(np.concatenate([[0], np.searchsorted(
          np.flatnonzero(part == separator), ends)])) + 1
      lengths = ends - starts
      empty = (lengths == 0) | ((lengths == 1) & (part[np.minimum(starts, len(part) - 1)]
                                                  == carriage))
      numbers = first_line + np.arange(len(ends))
      data_lines = numbers > skip
      blank |= bool(np.any(empty & data_lines))
      wrong = np.flatnonzero(data_lines & ~empty & (fields != width))
      if len(wrong):
        return blank, (int(numbers[wrong[0]]), int(fields[wrong[0]]))
      first_line += len(ends)
      if not block:
        break
  return blank, None


def _widths_of_text(path, delimiter, skip, width):
  """`_widths_of_bytes`' answer read line by line with the csv module (quoted cells, runs of
  whitespace)."""
  blank = False
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      for number, line in enumerate(f, start=1):
        if number <= skip:
          continue
        if not line.strip():
          blank = True
          continue
        fields = len(next(_rows([line], delimiter)))
        if fields != width:
          return blank, (number, fields)
  except UnicodeDecodeError as e:
    raise DataError(f'{path}: not UTF-8 text ({e}); save the table as UTF-8.') from None
  return blank, None


def _boolean_columns(lines, delimiter, width):
  """Positions whose sampled cells are all true/false (any case)."""
  rows = [row for row in _rows(lines, delimiter) if len(row) == width]
  return {p for p in range(width)
          if rows and all(row[p].strip().lower() in (_TRUE, _FALSE) for row in rows)}


def _boolean(text):
  word = text.strip().lower()
  if word == _TRUE:
    return 1.0
  if word == _FALSE:
    return 0.0
  raise ValueError(f'could not convert string {text!r} to a boolean')


def _loadtxt(path, delimiter, skip, positions, dtype, converters, names):
  """numpy's C reader on the columns `positions`; a failure is located and named by
  `_first_bad_cell`."""
  try:
    return np.loadtxt(path, delimiter=None if delimiter == ' ' else delimiter,
                      skiprows=skip, usecols=positions,
                      dtype=dtype, converters=converters or None, quotechar='"',
                      comments=None, ndmin=2, encoding='utf-8-sig')
  except UnicodeDecodeError:
    raise DataError(f'{path}: not UTF-8 text (line {_first_non_utf8_line(path)}); save the '
                    'table as UTF-8.') from None
  except (ValueError, TypeError) as e:
    if dtype is str:
      raise DataError(f'{path}: not a readable CSV table ({e}).') from None
    raise _first_bad_cell(path, delimiter, skip, positions, names, converters, e) from None


def _first_non_utf8_line(path):
  with open(path, 'rb') as f:
    for number, line in enumerate(f, start=1):
      try:
        line.decode('utf-8')
      except UnicodeDecodeError:
        return number
  return '?'


def _first_bad_cell(path, delimiter, skip, positions, names, converters, error):
  """A DataError naming the first cell numpy could not read as a number (a pass in Python,
  only after numpy failed)."""
  with open(path, newline='', encoding='utf-8-sig') as f:
    for line, row in enumerate(_rows(f, delimiter), start=1):
      if line <= skip or not row:
        continue
      for position in positions:
        cell = row[position].strip()
        convert = converters.get(position, float)
        try:
          convert(cell)
        except ValueError:
          what = ('is empty' if not cell else f'is {cell!r}, not a number'
                  + (' (a missing value)' if cell.lower() in examples_lib.MISSING else ''))
          return DataError(f'{path}: line {line}, column {names[position]!r} {what}; features '
                           'must be numbers: remove or impute it. If the column holds the '
                           f'labels, pass --label_column={names[position]}.')
  return DataError(f'{path}: not a readable CSV table ({error}).')


def _parquet(path):
  """(column names, read(positions, kind), line_of) of a Parquet file; read gives a list of
  str arrays, or one float64 array (N, len(positions))."""
  try:
    import pyarrow.parquet as parquet
  except ImportError:
    raise DataError(f'{path}: reading Parquet needs pyarrow: pip install "{PYARROW_REQUIREMENT}"'
                    ' (or save the table as CSV).') from None
  try:
    table = parquet.read_table(path)
  except Exception as e:  # pyarrow raises its own error types for corrupt files
    raise DataError(f'{path}: not a readable Parquet file ({e}).') from None
  index = [n for n in table.column_names if _INDEX_COLUMN.fullmatch(str(n))]
  if index:
    log.info('%s: pandas\' saved index %s dropped', path, ', '.join(index))
    table = table.select([n for n in table.column_names if n not in index])
  names = [str(n) for n in table.column_names]

  def read_columns(positions, kind):
    columns = []
    for position in positions:
      column = table.column(position)
      if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f'{path}: row {row + 1}, column {names[position]!r} is empty (null); '
                        'remove or impute it.')
      values = column.to_numpy(zero_copy_only=False)
      if kind is str:
        columns.append(values.astype(str) if values.dtype == object else values)
        continue
      if values.dtype.kind not in 'biuf':
        first = values[0] if len(values) else ''
        raise DataError(f'{path}: column {names[position]!r} holds non-numeric values (e.g. '
                        f'{first!r}); features must be numbers. If it holds the labels, pass '
                        f'--label_column={names[position]}.')
      columns.append(values.astype(np.float64))
    return columns if kind is str else np.stack(columns, axis=1)

  return names, read_columns, lambda row: f'row {row + 1}'


def align_columns(x, names, expected, where):
  """`x` (N, F) with its columns named `names` reordered to `expected`, a trained run's.

  Raises:
    DataError: a column missing from `x` or one the run was not trained on, named.
  """
  names, expected = tuple(names), tuple(expected)
  if not expected or names == expected:
    return x
  missing = [n for n in expected if n not in names]
  extra = [n for n in names if n not in expected]
  if missing or extra:
    parts = ([f'missing {", ".join(map(repr, missing))}'] if missing else []) + (
        [f'not trained on {", ".join(map(repr, extra))}'] if extra else [])
    raise DataError(f'{where}: its columns differ from those the run was trained on '
                    f'({"; ".join(parts)}); give the columns {", ".join(expected)}.')
  log.info('%s: columns matched to the run\'s by name (they were in another order)', where)
  order = [names.index(n) for n in expected]
  return np.asarray(x)[:, order]
