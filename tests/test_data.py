"""IDX loader: round trip on files written here, every corrupt-file case, source order."""

import gzip
import pathlib

import numpy as np
import pytest

from icvae import data


def _idx_bytes(array, magic_type=0x08):
  header = bytes([0, 0, magic_type, array.ndim])
  header += b''.join(int(n).to_bytes(4, 'big') for n in array.shape)
  return header + array.astype(np.uint8).tobytes()


def _write_dataset(folder, n_train=12, n_test=6, seed=0):
  rng = np.random.default_rng(seed)
  folder = pathlib.Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  arrays = {}
  for split, n in (('train', n_train), ('test', n_test)):
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    image_stem, label_stem = data.SPLIT_FILES[split]
    (folder / f'{image_stem}.gz').write_bytes(gzip.compress(_idx_bytes(images)))
    (folder / f'{label_stem}.gz').write_bytes(gzip.compress(_idx_bytes(labels)))
    arrays[split] = (images, labels)
  return arrays


def test_round_trip_through_tfds(tmp_path):
  arrays = _write_dataset(tmp_path / 'src')
  dataset = data.load('mnist', data_dir=tmp_path / 'src', cache_dir=tmp_path / 'cache',
                      allow_download=False)
  np.testing.assert_allclose(dataset.train_images, arrays['train'][0] / 255.0, rtol=1e-6)
  np.testing.assert_array_equal(dataset.train_labels, arrays['train'][1])
  np.testing.assert_allclose(dataset.test_images, arrays['test'][0] / 255.0, rtol=1e-6)
  np.testing.assert_array_equal(dataset.test_labels, arrays['test'][1])
  assert dataset.train_images.dtype == np.float32
  assert 0.0 <= dataset.train_images.min() and dataset.train_images.max() <= 1.0
  assert data.as_flat(dataset.train_images).shape == (12, 784)
  seq = data.as_sequences(dataset.train_images)
  np.testing.assert_array_equal(seq[:, 3], dataset.train_images[:, 3, :])  # step 3 = row 3
  # A second load reads the prepared copy; other files get their own copy.
  again = data.load('mnist', data_dir=tmp_path / 'src', cache_dir=tmp_path / 'cache',
                    allow_download=False)
  np.testing.assert_array_equal(again.train_labels, dataset.train_labels)
  other = _write_dataset(tmp_path / 'src2', seed=1)
  third = data.load('mnist', data_dir=tmp_path / 'src2', cache_dir=tmp_path / 'cache',
                    allow_download=False)
  np.testing.assert_array_equal(third.train_labels, other['train'][1])


def _corrupt(folder, stem, payload):
  (pathlib.Path(folder) / f'{stem}.gz').write_bytes(payload)


@pytest.mark.parametrize('case,stem,match', [
    ('magic', 'train-images-idx3-ubyte', 'bad magic'),
    ('type', 'train-images-idx3-ubyte', 'element type'),
    ('truncated', 'train-images-idx3-ubyte', 'truncated'),
    ('ndim', 'train-labels-idx1-ubyte', 'dimensions'),
    ('count', 't10k-labels-idx1-ubyte', 'labels'),
    ('gzip', 't10k-images-idx3-ubyte', 'decompress'),
    ('label_range', 'train-labels-idx1-ubyte', 'out of range'),
    ('empty', 'train-labels-idx1-ubyte', 'empty'),
])
def test_corrupt_files_name_the_file_and_the_problem(tmp_path, case, stem, match):
  _write_dataset(tmp_path)
  images = np.zeros((12, 28, 28), np.uint8)
  payloads = {
      'magic': gzip.compress(b'\x08\x03\x00\x00' + _idx_bytes(images)[4:]),
      'type': gzip.compress(_idx_bytes(images, magic_type=0x0D)),
      'truncated': gzip.compress(_idx_bytes(images)[:-100]),
      'ndim': gzip.compress(_idx_bytes(np.zeros((12, 2), np.uint8))),
      'count': gzip.compress(_idx_bytes(np.zeros(5, np.uint8))),
      'gzip': gzip.compress(_idx_bytes(images))[:50],
      'label_range': gzip.compress(_idx_bytes(np.full(12, 11, np.uint8))),
      'empty': gzip.compress(b''),
  }
  _corrupt(tmp_path, stem, payloads[case])
  with pytest.raises(data.DataError, match=match) as error:
    data.load('mnist', data_dir=tmp_path, cache_dir=tmp_path / 'cache', allow_download=False)
  assert 'idx' in str(error.value)  # names the file


def test_missing_sources_say_what_to_do(tmp_path, monkeypatch):
  with pytest.raises(data.DataError, match='does not hold'):
    data.load('mnist', data_dir=tmp_path, cache_dir=tmp_path / 'c', allow_download=False)
  monkeypatch.setitem(data.DEBIAN_DIRS, 'fashion_mnist', str(tmp_path / 'nothing'))
  with pytest.raises(data.DataError, match='apt-get install -y dataset-fashion-mnist'):
    data.load('fashion_mnist', cache_dir=tmp_path / 'c', allow_download=False)
  with pytest.raises(data.DataError, match='unknown dataset'):
    data.find_source('cifar10')


def test_debian_folder_is_used_when_no_data_dir(tmp_path, monkeypatch):
  arrays = _write_dataset(tmp_path / 'debian', n_train=4, n_test=2)
  monkeypatch.setitem(data.DEBIAN_DIRS, 'fashion_mnist', str(tmp_path / 'debian'))
  dataset = data.load('fashion_mnist', cache_dir=tmp_path / 'c', allow_download=False)
  np.testing.assert_array_equal(dataset.train_labels, arrays['train'][1])


def test_real_mnist_label_counts(mnist_dir, tmp_path):
  images, labels = data.read_split(mnist_dir, 'test')
  assert images.shape == (10000, 28, 28)
  np.testing.assert_array_equal(np.bincount(labels),
                                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
