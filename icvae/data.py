"""The datasets: a registry of named sources (`DataSource`, `register`, `get_source`), with
MNIST and Fashion-MNIST read through tensorflow-datasets, without TensorFlow, offline, and
dSprites drawn by `icvae.dsprites` (see `load`); a user's own files register as 'custom'
(`icvae.files`).

Every example has a shape of its own (`Dataset.example_shape`): (rows, columns) for grey
images, (rows, columns, channels) for colour ones, (features,) for a table. Everything that
needs a shape takes it from there or from the source's `DataSource.shape`, never from a name.

A custom TFDS `GeneratorBasedBuilder` reads the four standard IDX gz files of MNIST and
Fashion-MNIST, found by `icvae.idx` (a --data_dir, the Debian package's folder, or a checked
download), prepares them once as array_record (about 5 s for 70k images) and reads them back
with `as_data_source()`. The prepared copy lives under the cache keyed by the SHA-256 of the
source files, so different sources never mix.
"""

import contextlib
import dataclasses
import logging
import pathlib
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from icvae import dsprites
from icvae import idx
# The IDX files' names, sources and checksums (`icvae.idx`), named here too.
from icvae.idx import DEBIAN_DIRS  # pylint: disable=unused-import
from icvae.idx import DOWNLOAD_CHECKSUMS  # pylint: disable=unused-import
from icvae.idx import DOWNLOAD_URLS  # pylint: disable=unused-import
from icvae.idx import IDX_DATASETS  # pylint: disable=unused-import
from icvae.idx import SPLIT_FILES  # pylint: disable=unused-import
from icvae.idx import find_source  # pylint: disable=unused-import
from icvae.idx import read_idx  # pylint: disable=unused-import
from icvae.idx import read_split  # pylint: disable=unused-import
from icvae.settings import DataError
from icvae.settings import default_cache_dir

log = logging.getLogger('icvae')


SPLIT_SIZES = {'train': 60000, 'test': 10000}
# How a run splits the data (`--protocol`): 'heldout' trains on the training split and
# reports the test split; 'all' trains on both splits and reports on all of them, the
# protocol of the clustering literature (IMSAT, Hu et al. 2017: all 70,000 MNIST images).
PROTOCOLS = ('heldout', 'all')
# dSprites has no split: it trains on all 737,280 images, and its "test" set is this many of
# them drawn once with a fixed seed (the images the per-epoch test metrics, the clustering of
# y against shape and the figures use; the disentanglement metrics use the whole grid).
DSPRITES_TEST_EXAMPLES = 10000
DSPRITES_TEST_SEED = 0




class Dataset(NamedTuple):
  """A dataset in memory.

  Examples are (N, *example_shape): grey images (N, rows, columns), colour images (N, rows,
  columns, channels) or feature vectors (N, features); images float32 in [0, 1], or uint8
  pixel intensities 0..255 (dSprites: 737,280 images are 3 GB as uint8, 12 GB as float32),
  which the training loop converts batch by batch (`as_float`). Labels are int32 (N,)
  classes (dSprites: the shape), or None for unlabelled data (then both splits have none).
  Datasets with known generative factors also hold them: int32 (N, F) classes, with each
  factor's name and number of values (empty otherwise). `class_names` names the labels'
  classes where they came from files (class folders, a table's label column, an .npz's
  labels: `icvae.examples.label_classes`), `feature_names` a table's feature columns.
  """
  train_images: np.ndarray
  train_labels: Optional[np.ndarray]
  test_images: np.ndarray
  test_labels: Optional[np.ndarray]
  train_factors: Optional[np.ndarray] = None
  test_factors: Optional[np.ndarray] = None
  factor_names: tuple = ()
  factor_sizes: tuple = ()
  class_names: tuple = ()
  feature_names: tuple = ()

  @property
  def num_classes(self):
    """The number of classes: one more than the largest label of either split (0 without
    labels)."""
    if not self.labelled:
      return 0
    return int(max(self.train_labels.max(initial=0), self.test_labels.max(initial=0))) + 1

  @property
  def labelled(self):
    """Whether the examples have labels (accuracy, NMI and ARI need them)."""
    return self.train_labels is not None and self.test_labels is not None

  @property
  def example_shape(self):
    """One example's shape: (rows, columns), (rows, columns, channels) or (features,)."""
    return tuple(int(n) for n in self.train_images.shape[1:])


def is_image_shape(shape):
  """Whether examples of `shape` are images (2 axes, or 3 with 1 or 3 channels) rather than
  feature vectors (1 axis)."""
  return len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3))


def shape_text(shape):
  """A shape as the flags write it: '28,28', '32,32,3', '16'."""
  return ','.join(str(int(n)) for n in shape)


def parse_shape(text):
  """The tuple of a `shape_text`; raises ValueError for anything else."""
  parts = [p.strip() for p in str(text).split(',')]
  if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
    raise ValueError(f'{text!r}: expected positive integers separated by commas, e.g. 28,28')
  return tuple(int(p) for p in parts)



def _builder_class():
  """The TFDS builder, defined lazily so that importing icvae does not import TFDS."""
  import tensorflow_datasets as tfds

  class IcvaeIdxImages(tfds.core.GeneratorBasedBuilder):
    """28x28 grey images with labels, read from IDX files (MNIST, Fashion-MNIST)."""
    VERSION = tfds.core.Version('1.0.0')

    def __init__(self, *, source_dir, **kwargs):
      self._source_dir = source_dir
      super().__init__(**kwargs)

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self,
          features=tfds.features.FeaturesDict({
              'image': tfds.features.Tensor(shape=(28, 28), dtype=np.uint8),
              'label': tfds.features.Tensor(shape=(), dtype=np.int64),
          }),
          supervised_keys=('image', 'label'),
          disable_shuffling=True)  # keep the files' order (TFDS shuffles by key otherwise)

    def _split_generators(self, dl_manager):
      del dl_manager  # the files are local; find_source did any download
      return {split: self._generate_examples(idx.read_split(self._source_dir, split))
              for split in idx.SPLIT_FILES}

    def _generate_examples(self, arrays):
      images, labels = arrays
      for i in range(len(images)):
        yield i, {'image': images[i], 'label': int(labels[i])}

  return IcvaeIdxImages


_BUILDER = None


def load(name, data_dir=None, cache_dir=None, allow_download=True):
  """Loads `name` ('mnist', 'fashion_mnist' or 'dsprites') into memory as a `Dataset`.

  Args:
    name: dataset name.
    data_dir: optional folder with the four IDX files (takes precedence); for dSprites, the
      folder that holds the generated images (instead of the cache).
    cache_dir: where downloads and the prepared TFDS copy go (default ~/.cache/icvae or
      $ICVAE_CACHE_DIR).
    allow_download: try the canonical download when no local source exists.

  Raises:
    DataError: see `find_source` and `read_idx`.
  """
  global _BUILDER
  if name == 'dsprites':
    return load_dsprites(data_dir or cache_dir)
  source = idx.find_source(name, data_dir, cache_dir, allow_download)
  # Validate before TFDS sees the files, so errors name the file and are not wrapped.
  for split in idx.SPLIT_FILES:
    idx.read_split(source, split)
  if _BUILDER is None:
    _BUILDER = _builder_class()
  prepared = (pathlib.Path(cache_dir or default_cache_dir()) / 'tfds-v2' / name
              / idx.fingerprint(source))
  from tensorflow_datasets.core.utils import tqdm_utils
  shown = getattr(tqdm_utils, '_active', True)  # TFDS keeps no public getter
  tqdm_utils.display_progress_bar(False)  # TFDS's bars would bury our one log line
  try:
    # Two runs started together prepare it once: the builder reads the folder's state when
    # it is made, so it is made under the lock too.
    with _preparation_lock(prepared):
      builder = _BUILDER(source_dir=source, data_dir=str(prepared),
                         file_format='array_record')
      if not builder.is_prepared():
        log.info('preparing %s from %s into %s (once, about 5 s)', name, source, prepared)
      builder.download_and_prepare()
  finally:
    tqdm_utils.display_progress_bar(shown)
  sources = builder.as_data_source()

  def arrays(split):
    records = sources[split].__getitems__(range(len(sources[split])))
    images = np.stack([r['image'] for r in records]).astype(np.float32) / 255.0
    return images, np.asarray([r['label'] for r in records], np.int32)

  return Dataset(*arrays('train'), *arrays('test'))


@contextlib.contextmanager
def _preparation_lock(prepared):
  """Holds an exclusive lock on `<prepared>.lock` (POSIX `flock`; no lock where there is
  none): TFDS renames its finished copy into place, and a second process preparing the same
  copy at the same time would fail on that rename. The second waits, then finds it
  prepared."""
  try:
    import fcntl  # pylint: disable=g-import-not-at-top
  except ImportError:  # Windows
    yield
    return
  prepared.parent.mkdir(parents=True, exist_ok=True)
  with open(prepared.with_name(prepared.name + '.lock'), 'a') as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def load_dsprites(cache_dir=None):
  """dSprites as a `Dataset` (`icvae.dsprites`; generated and cached on first use).

  Training images are the whole grid in its index order, uint8 (0 or 255); the test images
  are `DSPRITES_TEST_EXAMPLES` of them drawn once with `DSPRITES_TEST_SEED` (sorted), so
  every run of every model sees the same ones; labels are the shape (0 square, 1 ellipse,
  2 heart); factors are the five classes (shape, scale, orientation, pos_x, pos_y).
  """
  packed = dsprites.load_packed(cache_dir)
  factors = dsprites.factor_classes(np.arange(dsprites.NUM_IMAGES))
  test = dsprites_test_indices()
  return Dataset(dsprites.unpack(packed), factors[:, 0].copy(), dsprites.unpack(packed, test),
                 factors[test, 0].copy(), factors, factors[test], dsprites.FACTOR_NAMES,
                 dsprites.FACTOR_SIZES)


def dsprites_test_indices():
  """The sorted indices of dSprites' fixed test images (`load_dsprites`)."""
  rng = np.random.default_rng(DSPRITES_TEST_SEED)
  return np.sort(rng.choice(dsprites.NUM_IMAGES, DSPRITES_TEST_EXAMPLES, replace=False))


def as_float(images):
  """Images as float32 in [0, 1]: uint8 intensities divided by 255, floats kept as they are
  (numpy or jax arrays; inside jit too).

  The division is a lookup in a table computed by numpy as `load` computes MNIST's floats:
  XLA compiles a division by a constant into a multiplication by its reciprocal, which
  differs in the last bit for half the bytes, so training on bytes would not repeat training
  on the loader's floats exactly.
  """
  if images.dtype != np.uint8:
    return images
  if isinstance(images, np.ndarray):
    return _BYTE_VALUES[images]
  import jax.numpy as jnp  # only for jax arrays: this module does not need jax otherwise
  return jnp.asarray(_BYTE_VALUES)[images]


_BYTE_VALUES = np.arange(256, dtype=np.float32) / np.float32(255)


def train_subset(dataset, count):
  """`dataset` with only `count` training examples, drawn once without replacement with a
  fixed seed (0, not the run's: every run and seed of a sweep trains on the same ones),
  kept in their order; `count` 0 keeps them all.

  Raises:
    DataError: `count` exceeds the training examples.
  """
  total = len(dataset.train_images)
  if not count or count == total:
    return dataset
  if count > total:
    raise DataError(f'--train_examples={count}: the training set has only {total} examples; '
                    'lower it (0 trains on all).')
  keep = np.sort(np.random.default_rng(0).choice(total, count, replace=False))
  factors = dataset.train_factors
  return dataset._replace(train_images=dataset.train_images[keep],
                          train_labels=dataset.train_labels[keep],
                          train_factors=None if factors is None else factors[keep])


def with_protocol(dataset, protocol, name=''):
  """`dataset` as `--protocol` splits it (`PROTOCOLS`): unchanged for 'heldout'; for 'all',
  training and test sets are both the training examples followed by the test examples
  (images, labels and factors), the same arrays.

  Raises:
    DataError: an unknown protocol, or 'all' on a dataset (`name`) whose test examples are
      already among its training ones (dSprites, `DataSource.test_in_train`).
  """
  if protocol == 'heldout':
    return dataset
  if protocol != 'all':
    raise DataError(f'--protocol={protocol}: must be one of {", ".join(PROTOCOLS)}.')
  if name in _SOURCES and _SOURCES[name].test_in_train:
    raise DataError(f'--protocol=all: --dataset={name} trains on every example already (its '
                    'test examples are among them); drop the flag.')

  def joined(train, test):
    return None if train is None else np.concatenate([train, test])

  images = joined(dataset.train_images, dataset.test_images)
  labels = joined(dataset.train_labels, dataset.test_labels)
  factors = joined(dataset.train_factors, dataset.test_factors)
  return dataset._replace(train_images=images, train_labels=labels, train_factors=factors,
                          test_images=images, test_labels=labels, test_factors=factors)


def as_flat(images):
  """(N, rows, columns) -> (N, rows * columns): the view the MLPs read."""
  return images.reshape(images.shape[0], -1)


def as_sequences(images):
  """(N, 28, 28) -> (N, 28 time steps, 28 features): image rows as a sequence (section 11).

  For 28x28 images this is the same array; the function names the convention (rows are
  time steps, columns are features) that the recurrent model relies on.
  """
  return images.reshape(images.shape[0], images.shape[1], -1)


@dataclasses.dataclass(frozen=True)
class DataSource:
  """A dataset by name (`--dataset`), the way model families are registered.

  Attributes:
    name: the `--dataset` value.
    description: one line for `--help`.
    load: load(options) -> `Dataset`; `options` has the run's data settings as attributes
      (a `RunConfig`: data_dir, data, image_size, label_column, test_fraction).
    shape: one example's shape, (rows, columns[, channels]) or (features,); None: read from
      the data (the run records it as --data_shape).
    train_size, test_size: examples per split (None: read from the data).
    test_in_train: the test examples are among the training ones (dSprites): --protocol=all
      is refused.
    reads_files: the source reads --data and its options (`icvae.files`).
    likelihood: the default observation model ('bernoulli' for images in [0, 1]); None:
      chosen from the data's shape (`RunConfig.likelihood`).
    paper_networks: which of a paper's per-dataset networks the families build for it with
      --network=mlp: '' (their defaults; IMAE's Table 1) or 'imae_table2' (IMAE's dSprites
      networks, `models.mlp_joint_code_dsprites`).
  """
  name: str
  description: str
  load: Callable[[Any], Dataset]
  shape: Optional[tuple] = None
  train_size: Optional[int] = None
  test_size: Optional[int] = None
  test_in_train: bool = False
  reads_files: bool = False
  likelihood: Optional[str] = None
  paper_networks: str = ''


_SOURCES = {}


def register(source):
  """Adds a `DataSource` (or replaces one of the same name); returns it."""
  if not isinstance(source, DataSource):
    raise TypeError(f'register takes a DataSource, got {type(source).__name__}.')
  _SOURCES[source.name] = source
  return source


def unregister(name):
  """Removes the registered dataset `name` (e.g. one a test or notebook added)."""
  _SOURCES.pop(name, None)


def sources():
  """{name: DataSource} of every registered dataset."""
  return dict(_SOURCES)


def get_source(name):
  """The registered `DataSource` called `name`.

  Raises:
    DataError: no such dataset, listing the registered ones.
  """
  if name not in _SOURCES:
    raise DataError(f'--dataset={name}: must be one of {", ".join(_SOURCES)} (or register a '
                    'DataSource with icvae.data.register).')
  return _SOURCES[name]


def load_for(options):
  """The `Dataset` of a run: its source's loader on its data settings (`options` has
  `dataset` and the data settings as attributes, e.g. a `RunConfig`)."""
  return get_source(options.dataset).load(options)


def _idx_source(name, description):
  return DataSource(
      name=name, description=description,
      load=lambda options: load(name, getattr(options, 'data_dir', '') or None),
      shape=(28, 28), train_size=SPLIT_SIZES['train'], test_size=SPLIT_SIZES['test'],
      likelihood='bernoulli')


register(_idx_source('mnist', 'MNIST digits, 28x28 grey (IDX files; --data_dir)'))
register(_idx_source('fashion_mnist', 'Fashion-MNIST, 28x28 grey (IDX files; the Debian '
                     'package or --data_dir)'))
register(DataSource(
    name='dsprites', description='dSprites, 64x64 binary, drawn by icvae.dsprites',
    load=lambda options: load_dsprites(getattr(options, 'data_dir', '') or None),
    shape=(64, 64), train_size=dsprites.NUM_IMAGES, test_size=DSPRITES_TEST_EXAMPLES,
    test_in_train=True, likelihood='bernoulli', paper_networks='imae_table2'))
