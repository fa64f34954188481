"""Files as people really have them (issue 30): each case builds its file as a user would
(Pillow's 16-bit PNG and float TIFF, pandas' and R's CSV layouts written byte for byte,
`np.savetxt`, ...) and checks what icvae reads against the values written, or that it is
refused naming the file and column. Before issue 30, each of these read silently wrong."""

import json
import logging
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import icvae
from icvae import examples
from icvae import files
from icvae import loop
from icvae import tables
from icvae.settings import DataError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path / 'cache'))


def _write(path, text):
  path = pathlib.Path(path)
  path.write_text(text)
  return path


# --- 1. 16-bit and float images -----------------------------------------------------------


def test_16_bit_png_is_scaled_by_65535_not_clipped(tmp_path):
  values = np.array([[0, 4000], [8000, 65535]], np.uint16)
  folder = tmp_path / 'deep'
  folder.mkdir()
  for i in range(3):
    image = Image.fromarray(values)
    assert image.mode == 'I;16'  # as Pillow writes and reads a 16-bit grey PNG
    image.save(folder / f'{i}.png')
  x = files.read_examples(folder).x
  assert x.dtype == np.float32
  np.testing.assert_allclose(x[0], values / 65535, rtol=1e-6)  # 4000 -> 0.061, not 255


def test_float_tiff_keeps_its_values_and_outside_the_unit_interval_is_refused(tmp_path):
  values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
  folder = tmp_path / 'float'
  folder.mkdir()
  for i in range(2):
    Image.fromarray(values, 'F').save(folder / f'{i}.tif')
  np.testing.assert_array_equal(files.read_examples(folder).x[1], values)
  Image.fromarray(values * 3, 'F').save(folder / '2.tif')
  with pytest.raises(DataError, match=r'2\.tif: not a readable image \(float pixels from 0 to 3'):
    files.read_examples(folder)


def test_uint16_arrays_follow_the_same_rule_as_16_bit_files(tmp_path):
  values = np.array([[[0, 4000], [8000, 65535]]] * 3, np.uint16)
  np.save(tmp_path / 'deep.npy', values)
  np.testing.assert_allclose(files.read_examples(tmp_path / 'deep.npy').x, values / 65535,
                             rtol=1e-6)
  np.save(tmp_path / 'float.npy', values / 65535.0)
  np.testing.assert_allclose(files.read_examples(tmp_path / 'float.npy').x, values / 65535,
                             rtol=1e-6)


def test_16_bit_images_resize_as_floats(tmp_path):
  folder = tmp_path / 'deep'
  folder.mkdir()
  ramp = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000)
  Image.fromarray(ramp).save(folder / 'a.png')
  x = files.read_examples(folder, image_size=(2, 2)).x
  expected = np.asarray(Image.fromarray((ramp / 65535).astype(np.float32), 'F').resize(
      (2, 2), Image.Resampling.BILINEAR))
  np.testing.assert_allclose(x[0], expected, rtol=1e-6)


# --- 2. unnamed CSV columns -----------------------------------------------------------------


def _features(count=30, seed=0):
  return np.random.default_rng(seed).normal(size=(count, 2))


def test_pandas_index_column_is_dropped_and_never_the_labels(tmp_path):
  x = _features()
  # What pandas' DataFrame.to_csv writes: an index column with an empty header.
  path = _write(tmp_path / 'pandas.csv', ',a,b,kind\n' + ''.join(
      f'{i},{u:.17g},{v:.17g},{"cat" if i % 3 else "dog"}\n' for i, (u, v) in enumerate(x)))
  read = files.read_examples(path, label_column='kind')
  assert read.feature_names == ('a', 'b')
  np.testing.assert_allclose(read.x, x.astype(np.float32))
  assert read.class_names == ('cat', 'dog')
  numeric = _write(tmp_path / 'numeric.csv', ',a,b,kind\n' + ''.join(
      f'{i},{u:.17g},{v:.17g},{i % 3}\n' for i, (u, v) in enumerate(x)))
  unlabelled = files.read(numeric, label_column='')  # '' is no label column, not the index
  assert unlabelled.train_labels is None and unlabelled.feature_names == ('a', 'b', 'kind')


def test_r_write_csv_row_names_are_dropped(tmp_path):
  x = _features()
  # R's write.csv: quoted header with an empty first name, quoted row names "1".."N".
  path = _write(tmp_path / 'r.csv', '"","a","b","kind"\n' + ''.join(
      f'"{i + 1}",{u:.17g},{v:.17g},"k{i % 2}"\n' for i, (u, v) in enumerate(x)))
  read = files.read_examples(path, label_column='kind')
  assert read.feature_names == ('a', 'b') and read.class_names == ('k0', 'k1')
  np.testing.assert_allclose(read.x, x.astype(np.float32))


def test_trailing_comma_and_other_unnamed_columns(tmp_path):
  x = _features()
  path = _write(tmp_path / 'trailing.csv', 'a,b,kind,\n' + ''.join(
      f'{u:.17g},{v:.17g},{i % 2},\n' for i, (u, v) in enumerate(x)))
  read = files.read_examples(path, label_column='kind')
  assert read.feature_names == ('a', 'b') and read.class_names == ('0', '1')
  header_only = _write(tmp_path / 'header_only.csv', 'a,b,\n' + ''.join(
      f'{u:.17g},{v:.17g}\n' for u, v in x))
  assert files.read_examples(header_only).feature_names == ('a', 'b')
  unnamed = _write(tmp_path / 'unnamed.csv', 'a,,b\n' + ''.join(
      f'{u:.17g},{i * 7 % 5},{v:.17g}\n' for i, (u, v) in enumerate(x)))
  with pytest.raises(DataError, match='column 2 has no name in the header and is not a row '
                                      'index'):
    files.read_examples(unnamed)


# --- 3. headerless CSV --------------------------------------------------------------------


@pytest.mark.parametrize('delimiter', [' ', ',', ';', '\t'])
def test_np_savetxt_keeps_every_row(tmp_path, delimiter):
  x = _features(25)
  np.savetxt(tmp_path / 'x.csv', x, delimiter=delimiter)
  read = files.read_examples(tmp_path / 'x.csv')
  assert read.x.shape == (25, 2)  # the first row is an example, not column names
  np.testing.assert_allclose(read.x, x.astype(np.float32))
  assert read.feature_names == ('0', '1')
  labelled = np.concatenate([x, np.arange(25)[:, None] % 2], axis=1)
  np.savetxt(tmp_path / 'y.csv', labelled, delimiter=delimiter)
  read = files.read_examples(tmp_path / 'y.csv', label_column='2')
  assert read.class_names == ('0', '1') and len(read.labels) == 25


def test_pandas_default_column_names_are_a_header(tmp_path):
  x = _features(5)
  # pd.DataFrame(x).to_csv(index=False): the header is the column names 0 and 1
  path = _write(tmp_path / 'df.csv', '0,1\n' + ''.join(f'{u:.17g},{v:.17g}\n' for u, v in x))
  read = files.read_examples(path)
  assert read.x.shape == (5, 2) and read.feature_names == ('0', '1')
  np.testing.assert_allclose(read.x, x.astype(np.float32))
  # ... and with its index: ',0,1'
  path = _write(tmp_path / 'dfi.csv', ',0,1\n' + ''.join(
      f'{i},{u:.17g},{v:.17g}\n' for i, (u, v) in enumerate(x)))
  assert files.read_examples(path).x.shape == (5, 2)


def test_a_header_of_numbers_is_read_with_table_header_yes(tmp_path):
  path = _write(tmp_path / 'spectra.csv', '400,410,420\n0.1,0.2,0.3\n0.4,0.5,0.6\n')
  assert files.read_examples(path).x.shape == (3, 3)  # auto: numbers are data
  read = files.read_examples(path, table_header='yes')
  assert read.feature_names == ('400', '410', '420') and read.x.shape == (2, 3)
  with pytest.raises(DataError, match="line 1, column '0' is 'a', not a number"):
    files.read_examples(_write(tmp_path / 'named.csv', 'a,b\n1,2\n'), table_header='no')


# --- 5, 6. columns by name; new rows without labels ---------------------------------------


def test_align_columns_by_name_and_refusals():
  x = np.arange(6.0).reshape(2, 3)
  np.testing.assert_array_equal(
      tables.align_columns(x, ('c', 'a', 'b'), ('a', 'b', 'c'), 'new.csv'), x[:, [1, 2, 0]])
  with pytest.raises(DataError, match="missing 'c'; not trained on 'd'"):
    tables.align_columns(x, ('a', 'b', 'd'), ('a', 'b', 'c'), 'new.csv')
  with pytest.raises(DataError, match="not trained on 'd'"):
    tables.align_columns(np.zeros((2, 4)), ('a', 'b', 'c', 'd'), ('a', 'b', 'c'), 'new.csv')


# --- 7, 10. one label rule ------------------------------------------------------------------


def test_labels_are_reindexed_with_their_names_kept():
  indices, names = examples.label_classes(np.array([20240101, 20240301, 20240101]), 'y')
  np.testing.assert_array_equal(indices, [0, 1, 0])
  assert names == ('20240101', '20240301')  # 2 classes, not 20 million
  indices, names = examples.label_classes(np.array(['1', '1.0', '2', ' 2 ']), 'y')
  np.testing.assert_array_equal(indices, [0, 0, 1, 1])
  assert names == ('1', '2')
  indices, names = examples.label_classes(np.array(['b', 'a', 'b']), 'y')
  np.testing.assert_array_equal(indices, [1, 0, 1])
  indices, names = examples.label_classes(np.array([-1, 3, 3]), 'y')
  assert names == ('-1', '3')
  indices, names = examples.label_classes(np.array([True, False]), 'y')
  assert names == ('False', 'True') and list(indices) == [1, 0]
  with pytest.raises(DataError, match=r'label 0\.5 \(example 1\) is not an integer'):
    examples.label_classes(np.array([1.0, 0.5]), 'y')
  with pytest.raises(DataError, match='example 1 has no label'):
    examples.label_classes(np.array(['a', '']), 'y')


def test_one_and_one_point_zero_in_a_column_are_one_class(tmp_path):
  path = _write(tmp_path / 't.csv', 'a,label\n0.1,1\n0.2,1.0\n0.3,2\n0.4,2.0\n')
  read = files.read_examples(path, label_column='label')
  assert read.class_names == ('1', '2')
  np.testing.assert_array_equal(read.labels, [0, 0, 1, 1])


def test_npz_string_labels_read_as_csv_strings_are(tmp_path):
  x = _features(6)
  species = np.array(['setosa', 'virginica', 'setosa', 'versicolor', 'virginica', 'setosa'])
  np.savez(tmp_path / 'd.npz', x_train=x[:4], y_train=species[:4], x_test=x[4:],
           y_test=species[4:])
  dataset = files.read(tmp_path / 'd.npz')
  assert dataset.class_names == ('setosa', 'versicolor', 'virginica')
  np.testing.assert_array_equal(np.asarray(dataset.class_names)[dataset.train_labels],
                                species[:4])
  np.testing.assert_array_equal(np.asarray(dataset.class_names)[dataset.test_labels],
                                species[4:])  # one index for both splits
  csv = _write(tmp_path / 't.csv', 'a,b,species\n' + ''.join(
      f'{u:.17g},{v:.17g},{s}\n' for (u, v), s in zip(x, species)))
  assert files.read(csv, label_column='species').class_names == dataset.class_names


def test_duplicate_headers_are_refused_naming_them(tmp_path):
  path = _write(tmp_path / 't.csv', 'a,b,a,label\n1,2,3,0\n4,5,6,1\n')
  with pytest.raises(DataError, match=r"t\.csv: the columns 'a' appear more than once"):
    files.read(path, label_column='label')


# --- 8. values beyond float32 ---------------------------------------------------------------


def test_values_that_overflow_float32_are_refused(tmp_path):
  with pytest.raises(DataError, match=r'line 3, column .b.: 1e\+39 is beyond float32'):
    files.read(_write(tmp_path / 't.csv', 'a,b\n1,2\n3,1e39\n4,5\n'))
  np.savez(tmp_path / 'd.npz', x_train=np.array([[1.0, -1e39], [0.0, 0.0]]))
  with pytest.raises(DataError, match=r'\[x_train\]: value -1e\+39 at index \(0, 1\) is beyond'):
    files.read(tmp_path / 'd.npz')
  assert examples.checked_examples(np.array([[3e38, 0.0]]), 'x').dtype == np.float32


# --- 9. the held-out split is stratified --------------------------------------------------


def test_held_out_split_is_stratified_so_a_rare_class_stays_in_both():
  labels = np.array([0] * 97 + [1] * 3)
  train, test = files.held_out_split(100, 0.1, labels)
  assert set(labels[test]) == {0, 1} and set(labels[train]) == {0, 1}
  assert len(test) == 10 + 1  # round(97 * 0.1) = 10 of class 0, max(round(0.3), 1) = 1
  assert sorted(np.concatenate([train, test])) == list(range(100))
  # a class of one example stays in training
  train, test = files.held_out_split(11, 0.1, np.array([0] * 10 + [1]))
  assert 10 in train and len(test) == 1
  # Unlabelled: as before, round(N * fraction), a fixed draw.
  first = files.held_out_split(50, 0.2)
  np.testing.assert_array_equal(first[1], files.held_out_split(50, 0.2)[1])
  assert len(first[1]) == 10


# --- Files as people have them ----------------------------------------------------------


def test_non_image_files_beside_the_images_are_skipped_and_counted(tmp_path, caplog):
  folder = tmp_path / 'photos'
  for label in ('cat', 'dog'):
    (folder / label).mkdir(parents=True)
    for i in range(2):
      Image.fromarray(np.full((3, 3), 40 * i, np.uint8)).save(folder / label / f'{i}.PNG')
    (folder / label / 'Thumbs.db').write_bytes(b'\x00\x01')
  (folder / 'dog' / '.DS_Store').write_bytes(b'\x00')
  (folder / 'README.md').write_text('my photos')
  (folder / 'labels.csv').write_text('file,label\n')
  (folder / 'empty').mkdir()
  with caplog.at_level(logging.INFO, logger='icvae'):
    read = files.read_examples(folder)
  assert read.x.shape == (4, 3, 3) and read.class_names == ('cat', 'dog')
  assert '4 files without an image extension' in caplog.text  # 2 Thumbs.db, README, labels
  assert 'subfolders without images skipped (not classes): empty' in caplog.text


def test_transparency_is_composited_on_white(tmp_path):
  folder = tmp_path / 'icons'
  folder.mkdir()
  rgba = np.zeros((2, 2, 4), np.uint8)
  rgba[0, 0] = (255, 0, 0, 255)   # opaque red
  rgba[0, 1] = (0, 0, 255, 128)   # half-transparent blue
  rgba[1] = (0, 0, 0, 0)          # fully transparent (black underneath)
  Image.fromarray(rgba, 'RGBA').save(folder / 'a.png')
  grey = np.zeros((2, 2, 2), np.uint8)
  grey[..., 0] = 10
  grey[0, 0, 1] = 255
  Image.fromarray(grey, 'LA').save(folder / 'b.png')
  x = files.read_examples(folder).x
  np.testing.assert_array_equal(x[0, 0, 0], [255, 0, 0])
  np.testing.assert_allclose(x[0, 0, 1], [127, 127, 255], atol=1)  # alpha 128 over white
  np.testing.assert_array_equal(x[0, 1], [[255, 255, 255]] * 2)  # transparent: white
  np.testing.assert_array_equal(x[1, 0, 0], [10, 10, 10])  # grey (repeated to RGB), opaque
  np.testing.assert_array_equal(x[1, 1, 1], [255, 255, 255])


def test_semicolon_tab_booleans_and_missing_cells(tmp_path):
  semicolon = _write(tmp_path / 'eu.csv', 'a;b;flag;label\n1.5;2;True;x\n3;4;false;y\n')
  read = files.read_examples(semicolon, label_column='label')
  np.testing.assert_array_equal(read.x, [[1.5, 2, 1], [3, 4, 0]])
  tab = _write(tmp_path / 't.tsv.csv', 'a\tb\n1\t2\n3\t4\n')
  np.testing.assert_array_equal(files.read_examples(tab).x, [[1, 2], [3, 4]])
  for cell, what in (('NA', "is 'NA', not a number \\(a missing value\\)"), ('', 'is empty')):
    path = _write(tmp_path / f'm{len(cell)}.csv', f'a,b\n1,2\n3,{cell}\n')
    with pytest.raises(DataError, match=f"line 3, column 'b' {what}"):
      files.read(path)


def test_parquet_index_nulls_and_duplicates(tmp_path):
  pyarrow = pytest.importorskip('pyarrow')
  parquet = pytest.importorskip('pyarrow.parquet')
  table = pyarrow.table({'__index_level_0__': [10, 11, 12], 'a': [0.5, 1.5, 2.5],
                         'flag': [True, False, True], 'kind': ['x', 'y', 'x']})
  parquet.write_table(table, tmp_path / 't.parquet')
  read = files.read_examples(tmp_path / 't.parquet', label_column='kind')
  assert read.feature_names == ('a', 'flag') and read.class_names == ('x', 'y')
  np.testing.assert_array_equal(read.x, [[0.5, 1], [1.5, 0], [2.5, 1]])
  parquet.write_table(pyarrow.table({'a': [1.0, None]}), tmp_path / 'n.parquet')
  with pytest.raises(DataError, match=r"row 2, column 'a' is empty \(null\)"):
    files.read(tmp_path / 'n.parquet')


def test_pyarrow_requirement_is_above_the_cve():
  assert tables.PYARROW_REQUIREMENT == 'pyarrow>=14.0.1'
  setup = (pathlib.Path(__file__).resolve().parents[1] / 'setup.cfg').read_text()
  assert 'pyarrow>=14.0.1' in setup


def test_cache_limit_and_clear(tmp_path, monkeypatch):
  cache = tmp_path / 'cache'
  for i in range(3):
    np.save(tmp_path / f'{i}.npy', np.full((200, 100), i, np.float32))  # 80 kB each
  monkeypatch.setenv(files.CACHE_LIMIT_VARIABLE, '0.0002')  # 200 kB: two entries fit
  for i in range(3):
    files.read_examples(tmp_path / f'{i}.npy', cache_dir=cache)
  entries = list((cache / 'user-data').glob('*.npz'))
  assert len(entries) == 2  # the least recently used was removed
  size = sum(p.stat().st_size for p in entries)
  assert files.clear_cache(cache) == (2, size)
  assert not (cache / 'user-data').exists()
  assert files.clear_cache(cache) == (0, 0)


# --- 5, 6, 7 through a trained run: columns by name, unlabelled rows, the run's classes ----


def _encode(tmp_path, workdir, data, output):
  env = {'ICVAE_CACHE_DIR': str(tmp_path / 'cache'), 'JAX_PLATFORMS': 'cpu',
         'PATH': '/usr/bin:/bin'}
  return subprocess.run([sys.executable, '-m', 'icvae', 'encode', f'--workdir={workdir}',
                         f'--data={data}', f'--output={output}'], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)


def _table(path, columns, x, kinds=None):
  header = ','.join(columns + (['kind'] if kinds is not None else []))
  rows = [','.join(f'{v:.17g}' for v in row) + (f',{kinds[i]}' if kinds is not None else '')
          for i, row in enumerate(x)]
  return _write(path, header + '\n' + '\n'.join(rows) + '\n')


def test_a_table_run_encodes_reordered_unlabelled_rows_by_column_name(tmp_path):
  rng = np.random.default_rng(5)
  x = rng.normal(size=(48, 3)) * [1.0, 10.0, 100.0]  # scales that differ: order matters
  kinds = np.array(['low', 'high'])[np.arange(48) % 2]
  path = _table(tmp_path / 'train.csv', ['a', 'b', 'c'], x, kinds)
  workdir = tmp_path / 'run'
  config = icvae.RunConfig(model='imae', data=str(path), label_column='kind', batch_size=16,
                           num_epochs=1, hidden_features=16, workdir=str(workdir),
                           progress=False)
  loop.train_and_evaluate(config)
  saved = json.loads((workdir / 'data.json').read_text())
  assert saved == {'class_names': ['high', 'low'], 'feature_names': ['a', 'b', 'c']}
  expected = icvae.load_model(workdir).codes(files.read_examples(path, label_column='kind').x)
  # New rows: the columns in another order and no label column (case 5 and 6).
  new = _table(tmp_path / 'new.csv', ['c', 'a', 'b'], x[:, [2, 0, 1]])
  done = _encode(tmp_path, workdir, new, tmp_path / 'codes.npz')
  assert done.returncode == 0, done.stderr[-2000:]
  with np.load(tmp_path / 'codes.npz') as codes:
    np.testing.assert_allclose(codes['z_mean'], expected['z_mean'], atol=1e-5)
    assert 'label' not in codes.files
  # Resuming on a reordered file matches its columns to the run's too (prepare_data).
  shuffled = _table(tmp_path / 'shuffled.csv', ['b', 'c', 'a'], x[:, [1, 2, 0]], kinds)
  _, original, _ = loop.prepare_data(config, workdir=workdir)
  _, resumed, _ = loop.prepare_data(config.replace(data=str(shuffled)), workdir=workdir)
  np.testing.assert_array_equal(resumed.train_images, original.train_images)
  missing = _table(tmp_path / 'missing.csv', ['a', 'b'], x[:, :2])
  done = _encode(tmp_path, workdir, missing, tmp_path / 'codes2.npz')
  assert done.returncode == 1 and "missing 'c'" in done.stderr


def test_encode_keeps_the_runs_class_indices_for_a_subset_of_the_classes(tmp_path):
  rng = np.random.default_rng(6)
  folder = tmp_path / 'train'
  names = ('ant', 'bee', 'cat')
  for i in range(36):
    (folder / names[i % 3]).mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(
        folder / names[i % 3] / f'{i}.png')
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(icvae.RunConfig(model='imae', data=str(folder), batch_size=16,
                                          num_epochs=1, hidden_features=16,
                                          workdir=str(workdir), progress=False))
  assert icvae.load_model(workdir).class_names == names
  subset = tmp_path / 'new'
  for name in ('bee', 'cat', 'dog'):  # no ant; a dog the run never saw
    (subset / name).mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(subset / name / '0.png')
  for suffix in ('npz', 'csv'):
    done = _encode(tmp_path, workdir, subset, tmp_path / f'codes.{suffix}')
    assert done.returncode == 0, done.stderr[-2000:]
  with np.load(tmp_path / 'codes.npz') as codes:
    np.testing.assert_array_equal(codes['label'], [1, 2, -1])  # the run's bee and cat
    np.testing.assert_array_equal(codes['label_name'], ['bee', 'cat', 'dog'])
    np.testing.assert_array_equal(codes['class_names'], names)
  lines = (tmp_path / 'codes.csv').read_text().splitlines()
  assert lines[0].startswith('cluster,label,p_0')
  assert [line.split(',')[1] for line in lines[1:]] == ['bee', 'cat', 'dog']


def test_icvae_cache_shows_and_clears(tmp_path):
  cache = tmp_path / 'cache'
  np.save(tmp_path / 'x.npy', np.zeros((4, 3), np.float32))
  files.read_examples(tmp_path / 'x.npy', cache_dir=cache)
  env = {'ICVAE_CACHE_DIR': str(cache), 'JAX_PLATFORMS': 'cpu', 'PATH': '/usr/bin:/bin'}
  shown = subprocess.run([sys.executable, '-m', 'icvae', 'cache'], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
  assert shown.returncode == 0 and f'{cache / "user-data"}: 1 entries' in shown.stdout
  cleared = subprocess.run([sys.executable, '-m', 'icvae', 'cache', 'clear'], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
  assert cleared.returncode == 0 and 'removed 1 entries' in cleared.stdout
  assert not (cache / 'user-data').exists()


# --- what a review of the first version found (each read silently wrong or crashed) ------


def test_a_row_longer_than_the_header_is_refused_not_cut(tmp_path):
  with pytest.raises(DataError, match='line 3 has 4 values, the header 3.*quoted'):
    files.read(_write(tmp_path / 'a.csv', 'a,b,c\n1,2,3\n4,5,6,7\n'))
  with pytest.raises(DataError, match='line 3 has 4 values'):
    files.read(_write(tmp_path / 'b.csv', 'a,b,label\n1,2,x\n3,4,Smith, J\n'),
               label_column='label')
  quoted = files.read_examples(_write(tmp_path / 'q.csv',
                                      'a,b,label\n1,2,x\n3,4,"Smith, J"\n'), label_column='label')
  assert quoted.class_names == ('Smith, J', 'x')


def test_a_blank_first_line_and_crlf_line_ends(tmp_path):
  read = files.read_examples(_write(tmp_path / 'a.csv', '\na,b\n1,2\n3,4\n'))
  np.testing.assert_array_equal(read.x, [[1, 2], [3, 4]])
  (tmp_path / 'w.csv').write_bytes(b'a,b\r\n1,2\r\n3,4\r\n')
  np.testing.assert_array_equal(files.read_examples(tmp_path / 'w.csv').x, [[1, 2], [3, 4]])


def test_a_first_row_mixing_numbers_and_text_asks_which_it_is(tmp_path):
  path = _write(tmp_path / 'h.csv', '1.5,2.5,cat\n3.5,4.5,dog\n5.5,6.5,cat\n')
  with pytest.raises(DataError, match='mixes numbers .* --table_header=yes .* --table_header=no'):
    files.read(path, label_column='2')
  read = files.read_examples(path, label_column='2', table_header='no')
  assert len(read.labels) == 3 and read.class_names == ('cat', 'dog')


def test_tab_separated_cells_with_spaces(tmp_path):
  path = _write(tmp_path / 'iris.tsv.csv', 'sepal_length\tsepal_width\tspecies\n'
                '5.1\t3.5\tIris setosa\n7.0\t3.2\tIris versicolor\n')
  read = files.read_examples(path, label_column='species')
  assert read.class_names == ('Iris setosa', 'Iris versicolor')
  one_column = _write(tmp_path / 'c.csv', 'a,label\n1,very big cat\n2,a small dog\n')
  assert files.read_examples(one_column, label_column='label').x.shape == (2, 1)


def test_missing_and_differently_spelt_labels(tmp_path):
  with pytest.raises(DataError, match="example 1 has no label \\('NA', a missing value\\)"):
    files.read(_write(tmp_path / 'na.csv', 'a,label\n1,1\n2,NA\n3,2\n'), label_column='label')
  mixed = files.read_examples(_write(tmp_path / 'm.csv', 'a,label\n1,1\n2,1.0\n3,cat\n'),
                              label_column='label')
  assert mixed.class_names == ('1', 'cat') and list(mixed.labels) == [0, 0, 1]
  flags = files.read_examples(_write(tmp_path / 'b.csv', 'a,label\n1,True\n2,TRUE\n3,false\n'),
                              label_column='label')
  assert flags.class_names == ('False', 'True') and list(flags.labels) == [1, 1, 0]


def test_a_table_that_is_not_utf8_is_named(tmp_path):
  (tmp_path / 'latin.csv').write_bytes(b'a,label\n' + b'1,x\n' * 5000 + b'5,caf\xe9\n')
  with pytest.raises(DataError, match='not UTF-8 text .*line 5002'):
    files.read(tmp_path / 'latin.csv', label_column='label')


def test_a_shuffled_pandas_index_is_an_index(tmp_path):
  path = _write(tmp_path / 's.csv', ',a\n3,0.5\n0,1.5\n10,2.5\n')
  read = files.read_examples(path)
  assert read.feature_names == ('a',) and read.x.shape == (3, 1)


def test_16_bit_grey_with_a_transparent_value_is_composited_at_16_bits(tmp_path):
  folder = tmp_path / 'g'
  folder.mkdir()
  values = np.array([[30000, 0], [65535, 1000]], np.uint16)
  Image.fromarray(values).save(folder / 'a.png', transparency=0)
  x = files.read_examples(folder).x[0]
  np.testing.assert_allclose(x, [[30000 / 65535, 1.0], [1.0, 1000 / 65535]], rtol=1e-6)


def test_a_grey_palette_image_with_transparency_stays_grey(tmp_path):
  folder = tmp_path / 'p'
  folder.mkdir()
  palette = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), 'P')
  palette.putpalette([0, 0, 0, 128, 128, 128] + [0] * 762)
  palette.save(folder / 'a.png', transparency=0)
  Image.fromarray(np.full((2, 2), 7, np.uint8)).save(folder / 'b.png')
  x = files.read_examples(folder).x
  assert x.shape == (2, 2, 2)  # grey: one channel, not three
  np.testing.assert_array_equal(x[0], [[255, 128], [128, 255]])  # transparent black -> white


def test_parquet_unnamed_numeric_column_and_object_arrays_in_memory(tmp_path):
  pyarrow = pytest.importorskip('pyarrow')
  parquet = pytest.importorskip('pyarrow.parquet')
  parquet.write_table(pyarrow.table({'': [0.5, 0.7], 'a': [1.0, 2.0]}), tmp_path / 'e.parquet')
  with pytest.raises(DataError, match='column 1 has no name'):  # numbers, not an index
    files.read(tmp_path / 'e.parquet')
  parquet.write_table(pyarrow.table({'': [1, 0], 'a': [1.0, 2.0]}), tmp_path / 'i.parquet')
  assert files.read_examples(tmp_path / 'i.parquet').feature_names == ('a',)
  mixed = np.array([[1.0, True], [2.5, False]], dtype=object)  # pandas' .values of mixed types
  np.testing.assert_array_equal(examples.checked_examples(mixed, 'x'), [[1, 1], [2.5, 0]])
  with pytest.raises(DataError, match='4 channels \\(RGBA\\?\\)'):
    examples.checked_examples(np.zeros((2, 3, 3, 4)), 'x')


def test_new_data_of_another_kind_than_the_runs_ignore_its_file_options(tmp_path):
  np.savez(tmp_path / 'new.npz', x_train=np.zeros((3, 2), np.float32))
  # what `icvae encode` reads under a table run with --label_column (or a folder run with
  # --image_size): the options that do not apply to an .npz are ignored, not refused
  read = files.read_examples(tmp_path / 'new.npz', label_column='kind', image_size=(4, 4),
                             only_applicable=True)
  assert read.x.shape == (3, 2)
  with pytest.raises(DataError, match='--label_column=kind: only a CSV or Parquet table'):
    files.read_examples(tmp_path / 'new.npz', label_column='kind')
