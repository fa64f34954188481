"""A user's own data (`icvae.files`, --dataset=custom): every format read back against the
arrays written here, the held-out split, the cache, every refusal, the shape recorded and
checked, standardisation, and codes of new data (`LoadedModel.codes`) against the networks
called by hand. Data are drawn in the test; nothing is downloaded."""

import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

import icvae
from icvae import checkpoints
from icvae import data
from icvae import files
from icvae import loop
from icvae.settings import DataError
from icvae.settings import SettingError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path / 'cache'))


def _write_pngs(folder, images, labels=None, names=('a', 'b', 'c')):
  folder = pathlib.Path(folder)
  for i, image in enumerate(images):
    where = folder if labels is None else folder / names[labels[i]]
    where.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(where / f'{i:04d}.png')
  return folder


# --- reading ------------------------------------------------------------------------------


def test_npz_round_trip_keeps_colour_bytes_and_splits(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, size=(30, 6, 5, 3), dtype=np.uint8)
  y = rng.integers(0, 4, size=30)
  np.savez(tmp_path / 'd.npz', x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
  dataset = files.read(tmp_path / 'd.npz')
  np.testing.assert_array_equal(dataset.train_images, x[:20])
  np.testing.assert_array_equal(dataset.test_images, x[20:])
  np.testing.assert_array_equal(dataset.train_labels, y[:20])
  assert dataset.train_images.dtype == np.uint8 and dataset.example_shape == (6, 5, 3)
  assert dataset.labelled and dataset.num_classes == y.max() + 1


def test_grey_channel_axis_is_dropped_and_floats_kept(tmp_path):
  x = np.random.default_rng(1).uniform(size=(12, 4, 4, 1)).astype(np.float32)
  np.savez(tmp_path / 'd.npz', x_train=x)
  dataset = files.read(tmp_path / 'd.npz', test_fraction=0.25)
  assert dataset.example_shape == (4, 4) and not dataset.labelled
  together = np.concatenate([dataset.train_images, dataset.test_images])
  np.testing.assert_array_equal(np.sort(together.reshape(12, -1), axis=0),
                                np.sort(x.reshape(12, -1), axis=0))


def test_held_out_split_is_fixed_disjoint_and_of_the_asked_size(tmp_path):
  x = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
  np.save(tmp_path / 'x.npy', x)
  first = files.read(tmp_path / 'x.npy', test_fraction=0.25)
  again = files.read(tmp_path / 'x.npy', test_fraction=0.25, cache_dir=tmp_path / 'other')
  assert len(first.test_images) == 10 and len(first.train_images) == 30
  rows = lambda a: {tuple(r) for r in a.tolist()}
  assert rows(first.train_images).isdisjoint(rows(first.test_images))
  assert rows(first.train_images) | rows(first.test_images) == rows(x)
  np.testing.assert_array_equal(first.test_images, again.test_images)
  # Kept in the files' order within each split.
  assert np.all(np.diff(first.train_images[:, 0]) > 0)


def test_image_folder_with_class_subfolders(tmp_path):
  rng = np.random.default_rng(2)
  images = rng.integers(0, 256, size=(9, 7, 6), dtype=np.uint8)
  labels = np.array([0, 1, 2] * 3)
  folder = _write_pngs(tmp_path / 'imgs', images, labels, names=('cat', 'ant', 'bee'))
  x, y, names, _ = files.read_examples(folder)
  assert names == ('ant', 'bee', 'cat')  # sorted folder names are the classes
  expected_label = {0: 2, 1: 0, 2: 1}  # cat -> 2, ant -> 0, bee -> 1
  # Files are read class folder by class folder, each sorted by name.
  order = sorted(range(9), key=lambda i: (expected_label[labels[i]], i))
  np.testing.assert_array_equal(x, images[order])
  np.testing.assert_array_equal(y, [expected_label[labels[i]] for i in order])


def test_flat_folder_is_unlabelled_and_grey_joins_colour(tmp_path):
  rng = np.random.default_rng(3)
  grey = rng.integers(0, 256, size=(4, 5), dtype=np.uint8)
  colour = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
  folder = tmp_path / 'flat'
  folder.mkdir()
  Image.fromarray(grey).save(folder / 'a.png')
  Image.fromarray(colour).save(folder / 'b.png')
  (folder / '.DS_Store').write_bytes(b'junk')  # hidden files are skipped
  x, y, _, _ = files.read_examples(folder)
  assert y is None and x.shape == (2, 4, 5, 3)
  np.testing.assert_array_equal(x[0], np.repeat(grey[..., None], 3, axis=-1))
  np.testing.assert_array_equal(x[1], colour)


def test_mixed_sizes_name_the_first_that_differs_and_image_size_resizes(tmp_path):
  folder = tmp_path / 'sizes'
  folder.mkdir()
  images = [np.full((8, 8), 10, np.uint8), np.full((8, 8), 20, np.uint8),
            np.linspace(0, 255, 60).astype(np.uint8).reshape(6, 10)]
  for i, image in enumerate(images):
    Image.fromarray(image).save(folder / f'{i}.png')
  with pytest.raises(DataError, match=r'2\.png: 6x10 pixels, but .*0\.png has 8x8.*--image_size'):
    files.read_examples(folder)
  x, _, _, _ = files.read_examples(folder, image_size=(4, 5))
  expected = np.asarray(Image.fromarray(images[2]).resize((5, 4), Image.Resampling.BILINEAR))
  assert x.shape == (3, 4, 5)
  np.testing.assert_array_equal(x[2], expected)


@pytest.mark.parametrize('case,match', [
    ('not_an_image', r'broken\.png: not a readable image'),
    ('empty', 'no images'),
    ('mixed_layout', 'both images .* and subfolders'),
])
def test_folder_refusals_name_the_file(tmp_path, case, match):
  folder = tmp_path / 'f'
  folder.mkdir()
  if case == 'not_an_image':
    _write_pngs(folder, np.zeros((2, 3, 3), np.uint8))
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
  elif case == 'mixed_layout':
    _write_pngs(folder, np.zeros((2, 3, 3), np.uint8), [0, 1])
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(folder / 'loose.png')
  with pytest.raises(DataError, match=match):
    files.read(folder)


def _npz(tmp_path, **arrays):
  np.savez(tmp_path / 'd.npz', **arrays)
  return tmp_path / 'd.npz'


@pytest.mark.parametrize('arrays,match', [
    (dict(images=np.zeros((4, 3))), r'no x_train array; it holds images'),
    (dict(x_train=np.array([[np.nan, 1.0], [0, 0]])), r'value nan at index \(0, 0\) is not a '
     'finite number'),
    (dict(x_train=np.array([[1e39, 1.0], [0, 0]])), r'value 1e\+39 at index \(0, 0\) is beyond '
     'float32'),
    (dict(x_train=np.zeros((3, 1, 4, 5))), r'channels-first .*x\.transpose\(0, 2, 3, 1\)'),
    (dict(x_train=np.full((3, 2, 2), 4000, np.int32)), 'int32 array, whose type does not say '
     'their scale; pass uint8 .* or uint16'),
    (dict(x_train=np.full((3, 2, 2), 1.5)), r'pixel values from 1\.5 to 1\.5.*\[0, 1\]'),
    (dict(x_train=np.full((3, 2, 2), 300)), 'integer pixel values from 300'),
    (dict(x_train=np.zeros((3, 2)), y_train=np.array([0.0, 1.5, 2.0])), 'label 1.5 .*not an '
     'integer'),
    (dict(x_train=np.zeros((3, 2)), y_train=np.array([0, np.inf, 2])), 'label inf .*not an '
     'integer'),
    (dict(x_train=np.zeros((3, 2)), y_train=np.array([0, 1])), r'\(2,\) labels for 3'),
    (dict(x_train=np.zeros((3, 2, 2, 2))), 'expected \\(N, features\\)'),
    (dict(x_train=np.zeros((3, 2)), y_test=np.zeros(2)), 'y_test without x_test'),
    (dict(x_train=np.zeros((3, 2)), x_test=np.zeros((2, 3))), 'must agree'),
])
def test_npz_refusals(tmp_path, arrays, match):
  with pytest.raises(DataError, match=match):
    files.read(_npz(tmp_path, **arrays))
  assert not list((tmp_path / 'cache').rglob('*.npz'))  # nothing cached


def test_object_arrays_are_refused_never_unpickled(tmp_path):
  ragged = np.empty(2, dtype=object)
  ragged[0], ragged[1] = np.zeros(3), np.zeros(4)
  np.savez(tmp_path / 'd.npz', x_train=ragged)  # numpy pickles object arrays
  with pytest.raises(DataError, match='object array.*never unpickles'):
    files.read(tmp_path / 'd.npz')
  np.save(tmp_path / 'o.npy', ragged)
  with pytest.raises(DataError, match='object array'):
    files.read(tmp_path / 'o.npy')


def _write_csv(path, rows, header):
  with open(path, 'w') as f:
    f.write(','.join(header) + '\n')
    for row in rows:
      f.write(','.join(str(v) for v in row) + '\n')
  return path


def test_csv_features_and_named_labels(tmp_path):
  rng = np.random.default_rng(4)
  features = rng.normal(size=(20, 3))
  species = rng.choice(['setosa', 'virginica', 'versicolor'], size=20)
  path = _write_csv(tmp_path / 't.csv',
                    [[*(repr(float(v)) for v in f), s] for f, s in zip(features, species)],
                    ['a', 'b', 'c', 'species'])
  x, y, names, _ = files.read_examples(path, label_column='species')
  assert names == ('setosa', 'versicolor', 'virginica')
  np.testing.assert_allclose(x, features.astype(np.float32))
  np.testing.assert_array_equal(np.asarray(names)[y], species)
  with pytest.raises(DataError, match=r"line 2, column 'species' is 'virginica', not a number.*"
                                      r'--label_column=species'):
    files.read(path)
  with pytest.raises(DataError, match='no such column; its columns are a, b, c, species'):
    files.read(path, label_column='kind')


def test_csv_empty_cell_names_row_and_column(tmp_path):
  path = _write_csv(tmp_path / 't.csv', [[1, 2], [3, '']], ['u', 'v'])
  with pytest.raises(DataError, match="line 3, column 'v' is empty"):
    files.read(path)


def test_parquet_matches_csv(tmp_path):
  parquet = pytest.importorskip('pyarrow.parquet')
  import pyarrow
  rng = np.random.default_rng(5)
  features = rng.normal(size=(10, 2)).astype(np.float32)
  labels = np.arange(10) % 3
  table = pyarrow.table({'f0': features[:, 0], 'f1': features[:, 1], 'y': labels})
  parquet.write_table(table, tmp_path / 't.parquet')
  x, y, _, _ = files.read_examples(tmp_path / 't.parquet', label_column='y')
  np.testing.assert_array_equal(x, features)
  np.testing.assert_array_equal(y, labels)


def test_cache_is_used_and_an_edited_file_is_read_again(tmp_path, monkeypatch):
  folder = _write_pngs(tmp_path / 'imgs', np.zeros((3, 4, 4), np.uint8))
  first = files.read_examples(folder)[0]

  def refuse(*args, **kwargs):
    raise AssertionError('read the folder again')
  monkeypatch.setattr(Image, 'open', refuse)  # a read from the cache opens no image
  np.testing.assert_array_equal(files.read_examples(folder)[0], first)
  Image.fromarray(np.full((4, 4), 9, np.uint8)).save(folder / '0001.png')
  with pytest.raises(AssertionError, match='again'):
    files.read_examples(folder)


def test_standardisation_against_numpy():
  rng = np.random.default_rng(6)
  x = np.concatenate([rng.normal(3, 2, size=(50, 2)), np.full((50, 1), 7.0)], axis=1)
  stats = files.statistics(x)
  np.testing.assert_allclose(stats['mean'], x.mean(0))
  np.testing.assert_allclose(stats['std'][:2], x[:, :2].std(0))
  assert stats['std'][2] == 1.0  # a constant feature is centred, not divided by 0
  z = files.standardize(x, stats)
  np.testing.assert_allclose(z[:, :2].mean(0), 0, atol=1e-6)
  np.testing.assert_allclose(z[:, :2].std(0), 1, atol=1e-5)
  np.testing.assert_array_equal(z[:, 2], 0)
  with pytest.raises(DataError, match='not the data the model was trained on'):
    files.standardize(x[:, :2], stats)


# --- configuration ------------------------------------------------------------------------


def test_config_of_files_and_refusals():
  config = icvae.RunConfig(model='imae', data='some.npz', batch_size=8)
  assert config.dataset == 'custom'
  with pytest.raises(SettingError, match='known once the data are read'):
    config.image_shape  # pylint: disable=pointless-statement
  features = config.replace(data_shape='5')
  assert features.likelihood_name == 'gaussian' and features.standardized
  images = config.replace(data_shape='8,8,3')
  assert images.likelihood_name == 'bernoulli' and not images.standardized
  assert icvae.RunConfig(model='imae').likelihood_name == 'bernoulli'
  assert icvae.RunConfig(model='catvae', network='gru').likelihood_name == 'squared_error'
  with pytest.raises(SettingError, match='--data=x.npz: only --dataset=custom reads files'):
    icvae.RunConfig(model='imae', dataset='mnist', data='x.npz')
  with pytest.raises(SettingError, match='--data_shape=8,8: --dataset=mnist has .*28, 28'):
    icvae.RunConfig(model='imae', data_shape='8,8')
  with pytest.raises(SettingError, match='--network=gru reads images'):
    icvae.RunConfig(model='catvae', data='t.csv', network='gru', data_shape='4')
  with pytest.raises(SettingError, match='--observation_scale=0.5: the likelihood is '
                                         'Bernoulli'):
    icvae.RunConfig(model='imae', observation_scale=0.5)
  with pytest.raises(SettingError, match='--image_size=32: expected H,W'):
    icvae.RunConfig(model='imae', data='d', image_size='32')
  with pytest.raises(SettingError, match='--dataset=cells: must be one of mnist'):
    icvae.RunConfig(model='imae', dataset='cells')


def test_a_registered_dataset_of_another_shape_is_refused_before_anything_is_written(
    tmp_path):
  rng = np.random.default_rng(7)
  own = data.Dataset(rng.uniform(size=(64, 8, 8)).astype(np.float32), np.zeros(64, np.int32),
                     rng.uniform(size=(16, 8, 8)).astype(np.float32), np.zeros(16, np.int32))
  config = icvae.RunConfig(model='imae', batch_size=16, num_epochs=1,
                           workdir=str(tmp_path / 'w'))
  with pytest.raises(loop.ExperimentError,
                     match=r'shape \(8, 8\), but --dataset=mnist has \(28, 28\): use '
                           '--dataset=custom'):
    icvae.train_and_evaluate(config, own)
  assert not (tmp_path / 'w').exists()


def test_registering_a_dataset_makes_it_a_choice(tmp_path):
  rng = np.random.default_rng(8)
  made = data.Dataset(rng.uniform(size=(40, 3, 3)).astype(np.float32), None,
                      rng.uniform(size=(8, 3, 3)).astype(np.float32), None)
  source = data.register(data.DataSource(name='tiny_squares', description='test',
                                         load=lambda options: made, shape=(3, 3),
                                         train_size=40, test_size=8))
  try:
    config = icvae.RunConfig(model='imae', dataset='tiny_squares', batch_size=8)
    assert config.image_shape == (3, 3) and config.steps_per_epoch == 5
    with pytest.raises(SettingError, match='--batch_size=64: must be at most the 40'):
      config.replace(batch_size=64)
    assert data.load_for(config) is made
  finally:
    data.unregister(source.name)
  assert 'tiny_squares' not in data.sources()


# --- training and codes ------------------------------------------------------------------


def _features_npz(tmp_path, n=96, seed=9):
  rng = np.random.default_rng(seed)
  centres = np.array([[5.0, 0, 0, 100], [-5.0, 0, 0, 100]])
  y = np.arange(n) % 2
  x = centres[y] + rng.normal(size=(n, 4)) * np.array([1, 1, 1, 10])
  path = tmp_path / 'features.npz'
  np.savez(path, x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:])
  return path, x, y


def test_feature_table_trains_standardised_and_codes_match_the_networks(tmp_path):
  path, x, _ = _features_npz(tmp_path)
  workdir = tmp_path / 'run'
  config = icvae.RunConfig(model='imae', data=str(path), batch_size=16, num_epochs=1,
                           hidden_features=16, workdir=str(workdir), progress=False)
  icvae.train_and_evaluate(config)
  saved = json.loads((workdir / 'config.json').read_text())
  assert saved['data_shape'] == '4' and saved['dataset'] == 'custom'
  stats = json.loads((workdir / checkpoints.STATISTICS_FILE).read_text())
  np.testing.assert_allclose(stats['mean'], x[:64].mean(0), rtol=1e-6)
  np.testing.assert_allclose(stats['std'], x[:64].std(0), rtol=1e-6)
  loaded = icvae.load_model(workdir)
  assert loaded.config.likelihood_name == 'gaussian'
  codes = loaded.codes(x, batch_size=40)  # batches of 40, 40 and 16
  standardised = ((x - x[:64].mean(0)) / x[:64].std(0)).astype(np.float32)
  posterior = loaded.model.encode(standardised)
  np.testing.assert_allclose(codes['probabilities'],
                             jax.nn.softmax(loaded.model.classify(standardised)), atol=1e-5)
  np.testing.assert_allclose(codes['z_mean'], posterior.mean, atol=1e-5)
  np.testing.assert_allclose(codes['z_logvar'], posterior.logvar, atol=1e-5)
  np.testing.assert_array_equal(codes['cluster'], codes['probabilities'].argmax(-1))
  np.testing.assert_array_equal(loaded.predict(x), codes['cluster'])
  np.testing.assert_allclose(loaded.encode(x), codes['z_mean'], atol=1e-5)
  with pytest.raises(ValueError, match=r'shape \(3,\), but the model was trained on \(4,\)'):
    loaded.predict(x[:, :3])
  # The same workdir with data of another shape is refused, naming both shapes.
  other = tmp_path / 'other.npz'
  np.savez(other, x_train=np.zeros((64, 5)))
  with pytest.raises(loop.ExperimentError, match="--data_shape: workdir has '4', flags say "
                                                  "'5'"):
    icvae.train_and_evaluate(config.replace(data=str(other), num_epochs=2))


def test_bernoulli_refuses_features_outside_the_unit_interval(tmp_path):
  path, _, _ = _features_npz(tmp_path)
  config = icvae.RunConfig(model='imae', data=str(path), batch_size=16, num_epochs=1,
                           likelihood='bernoulli', workdir=str(tmp_path / 'w'))
  with pytest.raises(loop.ExperimentError, match='--likelihood=bernoulli models values in '
                                                 r'\[0, 1\]'):
    icvae.train_and_evaluate(config)
  assert not (tmp_path / 'w').exists()


def test_unlabelled_images_train_and_report_without_accuracy(tmp_path):
  rng = np.random.default_rng(10)
  np.save(tmp_path / 'x.npy', rng.integers(0, 256, size=(80, 6, 6), dtype=np.uint8))
  workdir = tmp_path / 'run'
  config = icvae.RunConfig(model='imae', data=str(tmp_path / 'x.npy'), batch_size=16,
                           num_epochs=1, hidden_features=16, workdir=str(workdir),
                           progress=False)
  icvae.train_and_evaluate(config)
  record = json.loads((workdir / 'metrics.jsonl').read_text().splitlines()[-1])
  assert 'test/clustering_accuracy' not in record and 'test/loss' in record
  report = icvae.evaluate_run(workdir, options=icvae.EvalOptions(iwae_samples=2))
  assert 'accuracy' not in report['clustering']['test']
  assert sum(report['clustering']['test']['cluster_usage']) == pytest.approx(1.0)
  assert 'labels' in report['clustering']['note']
  assert (workdir / 'eval' / 'reconstructions.png').exists()


# --- the binaries -------------------------------------------------------------------------


def _formats(tmp_path):
  rng = np.random.default_rng(11)
  images = rng.integers(0, 256, size=(48, 10, 10), dtype=np.uint8)
  labels = np.arange(48) % 2
  folder = _write_pngs(tmp_path / 'folder', images, labels, names=('odd', 'even'))
  npz = tmp_path / 'colour.npz'
  np.savez(npz, x_train=np.repeat(images[..., None], 3, -1), y_train=labels)
  csv = _write_csv(tmp_path / 'table.csv',
                   [[*rng.normal(size=3).round(4), 'ab'[i % 2]] for i in range(48)],
                   ['p', 'q', 'r', 'kind'])
  return [(folder, []), (npz, []), (csv, ['--label_column=kind'])]


@pytest.mark.slow
def test_each_format_trains_through_the_binary_and_encodes_as_the_library(tmp_path):
  env = {'ICVAE_CACHE_DIR': str(tmp_path / 'cache'), 'JAX_PLATFORMS': 'cpu',
         'PATH': '/usr/bin:/bin'}
  for index, (path, extra) in enumerate(_formats(tmp_path)):
    workdir = tmp_path / f'run_{path.stem}'
    evaluate = index == 0  # the evaluation of one format is enough here (it is slow)
    trained = subprocess.run(
        [sys.executable, '-m', 'experiments.train', f'--data={path}', *extra, '--model=imae',
         '--num_epochs=1', '--batch_size=16', '--hidden_features=16', f'--workdir={workdir}',
         '--iwae_samples=2', '--progress=false', f'--final_eval={str(evaluate).lower()}'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert ('final evaluation: test accuracy' in trained.stderr) == evaluate
    for suffix in ('npz', 'csv'):
      output = tmp_path / f'codes_{path.stem}.{suffix}'
      encoded = subprocess.run(
          [sys.executable, '-m', 'experiments.encode', f'--workdir={workdir}', f'--data={path}',
           f'--output={output}'], cwd=ROOT, env=env, capture_output=True, text=True,
          timeout=300)
      assert encoded.returncode == 0, encoded.stderr[-3000:]
    x, labels, _, _ = files.read_examples(path, label_column=extra[0].split('=')[1] if extra
                                       else '', cache_dir=tmp_path / 'cache')
    expected = icvae.load_model(workdir).codes(x)
    with np.load(tmp_path / f'codes_{path.stem}.npz') as written:
      for key, values in expected.items():
        np.testing.assert_allclose(written[key], values, atol=1e-6, err_msg=key)
      np.testing.assert_array_equal(written['label'], labels)
    table = np.genfromtxt(tmp_path / f'codes_{path.stem}.csv', delimiter=',', names=True)
    np.testing.assert_array_equal(table['cluster'], expected['cluster'])
    np.testing.assert_allclose(table['p_1'], expected['probabilities'][:, 1], atol=1e-6)
    np.testing.assert_allclose(table['z_mean_0'], expected['z_mean'][:, 0], atol=1e-6)


@pytest.mark.parametrize('model', ['imae', 'catvae'])
def test_colour_images_train_with_the_conv_networks(tmp_path, model):
  rng = np.random.default_rng(12)
  np.savez(tmp_path / 'c.npz', x_train=rng.integers(0, 256, (48, 10, 12, 3), dtype=np.uint8),
           y_train=np.arange(48) % 2)
  config = icvae.RunConfig(model=model, data=str(tmp_path / 'c.npz'), network='conv',
                           batch_size=16, num_epochs=1, workdir=str(tmp_path / 'run'),
                           progress=False)
  icvae.train_and_evaluate(config)
  loaded = icvae.load_model(tmp_path / 'run')
  assert loaded.config.data_shape == '10,12,3'
  codes = loaded.codes(rng.integers(0, 256, (5, 10, 12, 3), dtype=np.uint8))
  assert codes['probabilities'].shape == (5, loaded.config.num_categories)
  assert np.all(np.isfinite(codes['z_mean']))
