"""IDX loader: round trip on files written here, every corrupt-file case, source order,
download checksums (offline, urlopen faked)."""

import gzip
import hashlib
import importlib.util
import io
import pathlib
import subprocess
import sys
import urllib.error
import urllib.request

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


@pytest.mark.slow
def test_processes_preparing_the_same_copy_at_once_both_load_it(tmp_path):
  # Two processes started together on an empty cache (two trainings, pytest -n 2): TFDS
  # renames its finished copy into place, which fails for the second without the lock.
  arrays = _write_dataset(tmp_path / 'src', n_train=200, n_test=50)
  script = ('import sys, numpy as np; from icvae import data; '
            f'd = data.load("mnist", data_dir="{tmp_path / "src"}", '
            f'cache_dir="{tmp_path / "cache"}", allow_download=False); '
            'np.save(sys.argv[1], d.train_labels)')
  processes = [subprocess.Popen([sys.executable, '-c', script, str(tmp_path / f'{i}.npy')],
                                stderr=subprocess.PIPE, text=True) for i in range(3)]
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
  for i in range(3):
    np.testing.assert_array_equal(np.load(tmp_path / f'{i}.npy'), arrays['train'][1])


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


# Downloads: checked against DOWNLOAD_CHECKSUMS, without the internet (urlopen is faked).

def _serve(monkeypatch, files):
  """Replaces urlopen by one serving `files` (URL -> bytes); other URLs fail as offline.

  Returns the list of URLs asked for.
  """
  asked = []

  def urlopen(url, timeout=None):
    del timeout
    asked.append(url)
    if url not in files:
      raise urllib.error.URLError('offline (test)')
    return io.BytesIO(files[url])

  monkeypatch.setattr(urllib.request, 'urlopen', urlopen)
  return asked


@pytest.fixture
def canonical_mnist(mnist_dir, monkeypatch):
  """{filename: bytes} of the four MNIST gz files, with the table made to record them.

  The copy in ../shared/data/mnist holds the same data as the canonical files but under a
  different gzip header (no file name, zero time stamp), so its bytes are recorded here in
  place of the upstream ones; the table itself is checked against TFDS separately.
  """
  files = {name: (mnist_dir / name).read_bytes() for name in data.DOWNLOAD_CHECKSUMS['mnist']}
  monkeypatch.setitem(data.DOWNLOAD_CHECKSUMS, 'mnist', {
      name: (len(raw), hashlib.sha256(raw).hexdigest()) for name, raw in files.items()})
  return files


def _urls(files):
  return {data.DOWNLOAD_URLS['mnist'] + name: raw for name, raw in files.items()}


def test_checksums_match_tensorflow_datasets():
  spec = importlib.util.find_spec('tensorflow_datasets')
  folder = pathlib.Path(spec.submodule_search_locations[0]) / 'url_checksums'
  for name in data.IDX_DATASETS:
    recorded = {}
    for line in (folder / f'{name}.txt').read_text().splitlines():
      url, size, sha256 = line.split('\t')[:3]
      recorded[url] = (int(size), sha256)
    ours = {data.DOWNLOAD_URLS[name] + f: v for f, v in data.DOWNLOAD_CHECKSUMS[name].items()}
    assert ours == recorded
    assert sorted(data.DOWNLOAD_CHECKSUMS[name]) == sorted(
        s + '.gz' for stems in data.SPLIT_FILES.values() for s in stems)


def test_download_with_matching_checksums_is_used(canonical_mnist, tmp_path, monkeypatch):
  asked = _serve(monkeypatch, _urls(canonical_mnist))
  source = data.find_source('mnist', cache_dir=tmp_path)
  assert source == tmp_path / 'downloads' / 'mnist'
  assert sorted(p.name for p in source.iterdir()) == sorted(canonical_mnist)  # no .part left
  assert len(asked) == 4
  for name, raw in canonical_mnist.items():
    assert (source / name).read_bytes() == raw
  images, labels = data.read_split(source, 'test')
  assert images.shape == (10000, 28, 28) and np.bincount(labels)[0] == 980
  # The next run reads the cache (checked again) without asking the network.
  assert data.find_source('mnist', cache_dir=tmp_path, allow_download=False) == source
  assert len(asked) == 4


@pytest.mark.parametrize('damage', ['flipped_byte', 'truncated', 'empty'])
def test_corrupt_download_is_deleted_and_named(canonical_mnist, tmp_path, monkeypatch, damage):
  bad_name = 't10k-images-idx3-ubyte.gz'
  good = canonical_mnist[bad_name]
  bad = {'flipped_byte': good[:1000] + bytes([good[1000] ^ 1]) + good[1001:],
         'truncated': good[:-5000], 'empty': b''}[damage]
  _serve(monkeypatch, _urls({**canonical_mnist, bad_name: bad}))
  with pytest.raises(data.DataError) as error:
    data.find_source('mnist', cache_dir=tmp_path)
  message = str(error.value)
  assert bad_name in message and 'checksum mismatch' in message
  assert data.DOWNLOAD_CHECKSUMS['mnist'][bad_name][1] in message  # expected
  assert hashlib.sha256(bad).hexdigest() in message  # got
  assert 'deleted' in message and 'Re-run online' in message and '--data_dir' in message
  folder = tmp_path / 'downloads' / 'mnist'
  assert not any(p.name.startswith(bad_name) for p in folder.iterdir())  # no file, no .part
  assert not list(folder.glob('*.part'))


def test_corrupt_file_in_download_cache_is_deleted(canonical_mnist, tmp_path, monkeypatch):
  folder = tmp_path / 'downloads' / 'mnist'
  folder.mkdir(parents=True)
  for name, raw in canonical_mnist.items():
    (folder / name).write_bytes(raw)
  bad_name = 'train-labels-idx1-ubyte.gz'
  (folder / bad_name).write_bytes(canonical_mnist[bad_name][:1000])  # an interrupted copy
  asked = _serve(monkeypatch, _urls(canonical_mnist))
  with pytest.raises(data.DataError, match='checksum mismatch') as error:
    data.find_source('mnist', cache_dir=tmp_path)  # online too: no silent use, no silent fix
  assert str(folder / bad_name) in str(error.value) and 'deleted' in str(error.value)
  assert not (folder / bad_name).exists() and not asked
  assert sorted(p.name for p in folder.iterdir()) == sorted(set(canonical_mnist) - {bad_name})
  # Following the advice (run again online) fetches just that file afresh.
  assert data.find_source('mnist', cache_dir=tmp_path) == folder
  assert asked == [data.DOWNLOAD_URLS['mnist'] + bad_name]
  assert (folder / bad_name).read_bytes() == canonical_mnist[bad_name]


def test_cached_file_is_checked_even_offline(canonical_mnist, tmp_path):
  folder = tmp_path / 'downloads' / 'mnist'
  folder.mkdir(parents=True)
  for name, raw in canonical_mnist.items():
    (folder / name).write_bytes(raw)
  (folder / 't10k-labels-idx1-ubyte.gz').write_bytes(b'not the labels')
  with pytest.raises(data.DataError, match='t10k-labels-idx1-ubyte.gz: checksum mismatch'):
    data.find_source('mnist', cache_dir=tmp_path, allow_download=False)
  assert not (folder / 't10k-labels-idx1-ubyte.gz').exists()


def test_failed_transfer_leaves_no_part_file(tmp_path, monkeypatch):
  class Broken(io.BytesIO):
    def read(self, *args):
      raise ConnectionResetError('reset (test)')

  monkeypatch.setattr(urllib.request, 'urlopen', lambda url, timeout=None: Broken())
  monkeypatch.setitem(data.DEBIAN_DIRS, 'fashion_mnist', str(tmp_path / 'nothing'))
  with pytest.raises(data.DataError, match='no internet'):
    data.find_source('fashion_mnist', cache_dir=tmp_path)
  assert not list((tmp_path / 'downloads' / 'fashion_mnist').iterdir())


def test_data_dir_files_are_not_held_to_the_checksums(tmp_path, monkeypatch):
  _write_dataset(tmp_path / 'mine')  # valid IDX files, but not the canonical bytes
  _serve(monkeypatch, {})
  assert data.find_source('mnist', data_dir=tmp_path / 'mine', cache_dir=tmp_path) == (
      tmp_path / 'mine')
