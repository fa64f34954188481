"""MNIST and Fashion-MNIST as the four standard IDX files: where they are found, how a
download is checked, and how a file is read and validated (`icvae.data.load` prepares them
for tensorflow-datasets). Sources, tried in this order:

1. `data_dir`: a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
   t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (uncompressed files also work);
2. the Debian package's folder (Fashion-MNIST: `apt-get install -y dataset-fashion-mnist`
   installs /usr/share/datasets/fashion-mnist; its gzip headers differ from upstream, the data
   do not);
3. a copy downloaded earlier into the cache, or the canonical download when online.

Downloads (source 3) are verified against the SHA-256 and size recorded in
`DOWNLOAD_CHECKSUMS`, which matters all the more as Fashion-MNIST is served over plain http. A
download is written to `<file>.part` and renamed only once it matches; a file already in the
download cache (from an earlier run: perhaps truncated, corrupt or altered) is checked again
before every use. On a mismatch the file is deleted and a `DataError` names it, the expected
and the actual SHA-256, and what to do.

Files from `data_dir` or the Debian folder (sources 1 and 2) are deliberately not held to
those checksums: they are the user's or the distribution's choice, and equal data often come
in different bytes (the Debian package recompresses the gz files with other headers, and
uncompressed files are accepted), so a checksum of the file would reject good data.

Every file, from any source, is validated (magic number, element type, dimensions, length,
image/label counts, label range); a bad file gives a `DataError` naming the file and the
problem. The prepared array_record copy lives under the cache keyed by the SHA-256 of the
source files (`fingerprint`), so different sources never mix.
"""

import gzip
import hashlib
import http.client
import logging
import pathlib
import urllib.request

import numpy as np

from icvae.settings import DataError
from icvae.settings import default_cache_dir

log = logging.getLogger('icvae')

SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
IDX_DATASETS = ('mnist', 'fashion_mnist')  # read from IDX files

DEBIAN_DIRS = {'fashion_mnist': '/usr/share/datasets/fashion-mnist'}
DOWNLOAD_URLS = {
    'mnist': 'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'fashion_mnist': 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
}
# Size in bytes and SHA-256 of the canonical files at DOWNLOAD_URLS. Source: the url checksum
# files of tensorflow-datasets 4.9.10 (tensorflow_datasets/url_checksums/mnist.txt and
# fashion_mnist.txt, which list URL, size and sha256 for these same URLs).
DOWNLOAD_CHECKSUMS = {
    'mnist': {
        'train-images-idx3-ubyte.gz':
            (9912422, '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609'),
        'train-labels-idx1-ubyte.gz':
            (28881, '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c'),
        't10k-images-idx3-ubyte.gz':
            (1648877, '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6'),
        't10k-labels-idx1-ubyte.gz':
            (4542, 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6'),
    },
    'fashion_mnist': {
        'train-images-idx3-ubyte.gz':
            (26421880, '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84'),
        'train-labels-idx1-ubyte.gz':
            (29515, 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845'),
        't10k-images-idx3-ubyte.gz':
            (4422102, '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073'),
        't10k-labels-idx1-ubyte.gz':
            (5148, '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5'),
    },
}
INSTALL_HINTS = {
    'mnist': 'pass --data_dir=DIR with the four MNIST IDX gz files (e.g. from '
             'https://storage.googleapis.com/cvdf-datasets/mnist/), or run once online',
    'fashion_mnist': 'run `apt-get update && apt-get install -y dataset-fashion-mnist`, or pass '
                     '--data_dir=DIR with the four Fashion-MNIST IDX gz files, or run once '
                     'online',
}
_IDX_UBYTE = 0x08


def _find_file(folder, stem):
  for name in (stem + '.gz', stem):
    path = pathlib.Path(folder) / name
    if path.is_file():
      return path
  return None


def read_idx(path, expected_ndim):
  """Reads an IDX file (gzip or raw) of unsigned bytes into a numpy array, validating it.

  Raises:
    DataError: naming the file, for an unreadable gzip stream, a wrong magic number, a wrong
      element type or number of dimensions, or a length that disagrees with the header.
  """
  path = pathlib.Path(path)
  try:
    with open(path, 'rb') as f:
      raw = f.read()
    if raw[:2] == b'\x1f\x8b':
      raw = gzip.decompress(raw)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise DataError(f'{path}: cannot read or decompress ({e}); download it again.') from e
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise DataError(f'{path}: bad magic number {raw[:4].hex() or "(empty file)"}: not an IDX '
                    'file; download it again.')
  if raw[2] != _IDX_UBYTE:
    raise DataError(f'{path}: element type 0x{raw[2]:02x}, expected 0x08 (unsigned byte): '
                    'not the MNIST format; download it again.')
  ndim = raw[3]
  if ndim != expected_ndim:
    raise DataError(f'{path}: {ndim} dimensions in the header, expected {expected_ndim} '
                    f'({"images" if expected_ndim == 3 else "labels"}): an images file and a '
                    'labels file swapped, or corrupt; download it again.')
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise DataError(f'{path}: truncated inside the header; download it again.')
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
  expected_bytes = int(np.prod(shape))
  if len(raw) - header != expected_bytes:
    raise DataError(f'{path}: header says shape {shape} ({expected_bytes} bytes of data), file '
                    f'has {len(raw) - header}: truncated or corrupt; download it again.')
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def read_split(folder, split):
  """(images uint8 (N, 28, 28), labels uint8 (N,)) of one split from IDX files in `folder`."""
  image_stem, label_stem = SPLIT_FILES[split]
  paths = [_find_file(folder, image_stem), _find_file(folder, label_stem)]
  if None in paths:
    raise DataError(f'{folder}: missing {image_stem}.gz or {label_stem}.gz; copy the four '
                    'IDX files there, or drop --data_dir to use the cache or the download.')
  images, labels = read_idx(paths[0], 3), read_idx(paths[1], 1)
  if images.shape[1:] != (28, 28):
    raise DataError(f'{paths[0]}: images of shape {images.shape[1:]}, expected (28, 28): '
                    'not MNIST or Fashion-MNIST; for other images use --dataset=custom '
                    '--data=PATH.')
  if len(images) != len(labels):
    raise DataError(f'{paths[0]} holds {len(images)} images but {paths[1]} holds '
                    f'{len(labels)} labels: one of them is from another dataset or truncated.')
  if labels.max(initial=0) > 9:
    raise DataError(f'{paths[1]}: label {labels.max()} out of range 0..9: not MNIST\'s labels; '
                    'download it again.')
  return images, labels


def _has_all_files(folder):
  return all(_find_file(folder, stem) for stems in SPLIT_FILES.values() for stem in stems)


def _sha256_of(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _check_download(name, filename, path, size, sha256):
  """Deletes `path` and raises unless (`size`, `sha256`) are the recorded ones of `filename`.

  Raises:
    DataError: naming the file, the expected and the actual SHA-256, and what to do.
  """
  expected_size, expected_sha256 = DOWNLOAD_CHECKSUMS[name][filename]
  if (size, sha256) == (expected_size, expected_sha256):
    return
  path.unlink(missing_ok=True)
  raise DataError(
      f'{path}: checksum mismatch for {DOWNLOAD_URLS[name] + filename}: expected sha256 '
      f'{expected_sha256} ({expected_size} bytes), got sha256 {sha256} ({size} bytes); the '
      'file is truncated, corrupt or not the canonical one, and has been deleted. Re-run '
      'online to download it again (if it fails again, the network or the server is serving '
      'other bytes), or pass --data_dir=DIR with the four IDX gz files from a source you '
      'trust.')


def _download(name, target, filenames):
  """Downloads `filenames` of `name` into `target`, checking each before it is used.

  Each file goes to `<file>.part` first and becomes `<file>` only when its size and SHA-256
  match `DOWNLOAD_CHECKSUMS`.

  Returns:
    True when all were downloaded; False (no exception) when offline or the transfer failed.

  Raises:
    DataError: a downloaded file does not match its checksum (nothing of it is kept).
  """
  target.mkdir(parents=True, exist_ok=True)
  for filename in filenames:
    destination = target / filename
    part = target / (filename + '.part')
    digest, size = hashlib.sha256(), 0
    try:
      with urllib.request.urlopen(DOWNLOAD_URLS[name] + filename, timeout=20) as response, \
          open(part, 'wb') as f:
        for chunk in iter(lambda: response.read(1 << 20), b''):
          f.write(chunk)
          digest.update(chunk)
          size += len(chunk)
    except (OSError, http.client.HTTPException):
      part.unlink(missing_ok=True)
      return False
    _check_download(name, filename, part, size, digest.hexdigest())
    part.rename(destination)
  return True


def _verified_downloads(name, target, allow_download):
  """Whether `target` holds the four verified downloads of `name`, fetching missing ones.

  Files already in `target` (from an earlier run) are checked against `DOWNLOAD_CHECKSUMS`
  before use, as fresh downloads are.

  Returns:
    True when all four files are there and match; False when some are missing and cannot be
    downloaded (offline, or `allow_download` is False).

  Raises:
    DataError: a cached or downloaded file does not match its checksum (it is deleted).
  """
  missing = []
  for filename in DOWNLOAD_CHECKSUMS[name]:
    path = target / filename
    if path.is_file():
      _check_download(name, filename, path, path.stat().st_size, _sha256_of(path))
    else:
      missing.append(filename)
  if not missing:
    return True
  return allow_download and _download(name, target, missing)


def find_source(name, data_dir=None, cache_dir=None, allow_download=True):
  """The folder the IDX files of `name` will be read from (see the module docstring).

  Downloaded files are checked against `DOWNLOAD_CHECKSUMS`; `data_dir` and the Debian folder
  are not (see the module docstring).

  Raises:
    DataError: if `data_dir` lacks the files, no source is available, or a downloaded file
      (new or cached) fails its checksum (it is then deleted); the message says what to do.
  """
  if name not in IDX_DATASETS:
    raise DataError(f'unknown dataset {name!r} of IDX files; expected one of {IDX_DATASETS}.')
  if data_dir:
    if not _has_all_files(data_dir):
      raise DataError(f'--data_dir={data_dir} does not hold the four IDX files '
                      f'({", ".join(s + ".gz" for v in SPLIT_FILES.values() for s in v)}): '
                      'copy them there, or drop --data_dir to use the cache or the download.')
    return pathlib.Path(data_dir)
  debian = DEBIAN_DIRS.get(name)
  if debian and _has_all_files(debian):
    return pathlib.Path(debian)
  downloaded = pathlib.Path(cache_dir or default_cache_dir()) / 'downloads' / name
  if _verified_downloads(name, downloaded, allow_download):
    return downloaded
  raise DataError(f'no {name} files found and no internet to download them: '
                  f'{INSTALL_HINTS[name]}.')


def fingerprint(folder):
  """A short SHA-256 of the four IDX files in `folder` (the prepared copy's cache key)."""
  digest = hashlib.sha256()
  for stems in SPLIT_FILES.values():
    for stem in stems:
      digest.update(_find_file(folder, stem).read_bytes())
  return digest.hexdigest()[:16]
