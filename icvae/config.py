"""The configuration of a run: general settings, the chosen model's, and config.json.

`RunConfig(**values)` is the one place a configuration is checked: each value against its
`Setting` (type, range), unknown names and settings the chosen `--model` does not read
refused, then the model family's own cross-setting checks. The command-line flags are made
from the same `Setting`s (`icvae.cli.common`), and `config.json` is `RunConfig.to_saved()`.
"""

import pathlib
import types

from icvae import data as data_lib
from icvae import likelihoods
from icvae import networks as networks_lib
from icvae import objectives
from icvae import settings as settings_lib
from icvae.settings import Setting
from icvae.settings import SettingError

FORMAT_VERSION = 2
"""The format of config.json and of the config saved in each checkpoint (their
`format_version` key). 1: icvae 0.3.0, which wrote no key. 2: icvae 0.4.0 (the settings of
issues 20 and 21: `data`, `data_shape`, `likelihood`, `protocol`, `optimizer`, ...; the key
written). Bump it when a saved config would be read differently. A workdir of an older
format resumes and evaluates (`RunConfig.from_saved`: settings added since take their
defaults, which keep the older behaviour); one of a newer format is refused
(`NewerFormatError`), saying to upgrade icvae."""
FORMAT_KEY = 'format_version'


class NewerFormatError(SettingError):
  """A saved config written by a newer icvae than this one: upgrade icvae to read it."""

OPTIMIZERS = ('adam', 'momentum')


def _decay_factor(value):
  return None if 0 < value <= 1 else 'must be in (0, 1].'


LIKELIHOODS = ('auto', 'bernoulli', 'gaussian')
# The settings only a source that reads files (--dataset=custom, `icvae.files`) takes.
FILE_SETTINGS = ('data', 'image_size', 'label_column', 'table_header', 'test_fraction')


def _registered_dataset(value):
  names = data_lib.sources()
  return None if value in names else f'must be one of {", ".join(names)}.'


def _shape_or_empty(value):
  if not value:
    return None
  try:
    data_lib.parse_shape(value)
  except ValueError as e:
    return str(e)
  return None


def _image_size(value):
  problem = _shape_or_empty(value)
  if problem is None and value and len(data_lib.parse_shape(value)) != 2:
    problem = 'expected H,W (two positive integers).'
  return problem


def _open_fraction(value):
  return None if 0 < value < 1 else 'must be in (0, 1).'


GENERAL_SETTINGS = (
    Setting('dataset', 'mnist', 'The data: a registered dataset (icvae.data.sources(): mnist, '
            'fashion_mnist, dsprites), or custom for your own files (--data).',
            check=_registered_dataset, architecture=True),
    Setting('data', '', 'Your own data (--dataset=custom, the default when this is given): an '
            '.npz (x_train, optional y_train, x_test, y_test), an .npy, a .csv or .parquet '
            'table of numeric features, or a folder of images (class subfolders give labels; '
            'files without an image extension skipped). Integer images are scaled by their '
            'type (8-bit by 255, 16-bit by 65535), float images must be in [0, 1], '
            'transparency is composited on white; NaN, infinities and values beyond float32 '
            'are refused; (N, C, H, W) arrays are refused as channels-first. Without a test '
            'split, --test_fraction is held out, stratified by class. The guide\'s "What icvae '
            'does with your files" has every rule.', resumable=True),
    Setting('image_size', '', 'A folder of images: resize every image to H,W (e.g. 32,32); '
            'empty: all must have the same size.', check=_image_size),
    Setting('label_column', '', 'A table: the column holding the labels (numbers or names; '
            'the sorted distinct values are the classes, 1 and 1.0 one class); empty: '
            'unlabelled (a column without a name is never the labels; a first column without '
            'a name holding a row index or row names is dropped). New data to encode need '
            'not have it.'),
    Setting('table_header', 'auto', 'A CSV table: whether its first row names the columns. '
            'auto: yes unless every cell of it is a number (then the columns are named 0, 1, '
            '...); yes; no.', choices=('auto', 'yes', 'no')),
    Setting('test_fraction', 0.1, 'Your own data without a test split: the share of examples '
            'held out as one (a fixed draw, the same for every run and seed).',
            check=_open_fraction),
    Setting('data_shape', '', "One example's shape (rows,columns[,channels] or features), "
            'recorded from the data (--dataset=custom); a run refuses data of another shape.',
            check=_shape_or_empty, architecture=True),
    Setting('likelihood', 'auto', 'p(x|z): bernoulli (pixels in [0, 1]); gaussian (N(x, '
            'sigma^2) with sigma --observation_scale, default 1; a feature table is '
            'standardised with statistics saved in the workdir); auto: bernoulli for images, '
            'gaussian for feature tables, appendix C\'s squared error for --network=gru.',
            choices=LIKELIHOODS),
    Setting('model', 'infocatvae', 'The model family (see README: the registry).',
            architecture=True),
    Setting('network', 'mlp', 'The networks: ' + '; '.join(
        f'{name}: {text}' for name, text in networks_lib.descriptions().items())
            + "; or your own, package.module:attribute (a Network or a trunk builder, "
            'imported as your code runs: icvae.networks).',
            check=networks_lib.check_name, architecture=True),
    Setting('hidden_features', 400, 'Hidden width of the networks.',
            check=settings_lib.at_least(1), architecture=True),
    Setting('dropout_rate', 0.25, 'Dropout during training (never at evaluation).',
            check=settings_lib.fraction),
    Setting('compute_dtype', 'float32', "Arithmetic of the four large matmuls: float32 (the "
            "paper's) or bfloat16 (mixed precision: float32 parameters and losses; several "
            "times faster on CPUs with AMX and on TPUs).", choices=('float32', 'bfloat16')),
    Setting('observation_scale', 0.0, 'A Gaussian p(x|z) = N(mean, sigma^2 I): sigma (the '
            'loss is SSE / (2 sigma^2)). 0: 1 for --likelihood=gaussian; for --network=gru, '
            'appendix C read literally (sum over steps of the per-step MSE, sigma = '
            'sqrt(F / 2)).', check=settings_lib.non_negative),
    Setting('optimizer', 'adam', "adam: optax's Adam (b1 0.9, b2 0.999); momentum: SGD with "
            "heavy-ball momentum --momentum (the IMAE paper's for MNIST and Fashion-MNIST).",
            choices=OPTIMIZERS),
    Setting('learning_rate', 1e-4, 'Learning rate (the first epoch\'s, with '
            '--learning_rate_decay).', check=settings_lib.positive),
    Setting('momentum', 0.9, 'With --optimizer=momentum: the momentum coefficient (the IMAE '
            'paper gives none; 0.9 is the usual one).', check=settings_lib.fraction),
    Setting('learning_rate_decay', 1.0, 'Multiply the learning rate by this after every epoch '
            '(the IMAE paper: 0.98); 1: constant.', check=_decay_factor),
    Setting('batch_size', 128, 'Training batch size (split over all devices).',
            check=settings_lib.at_least(1)),
    Setting('num_epochs', 600, 'Epochs to train (the paper: 600).',
            check=settings_lib.at_least(1), resumable=True),
    Setting('seed', 0, 'Seed of the initialisation and of every random draw.'),
    Setting('workdir', '', 'Where checkpoints, metrics and config go; default '
            'runs/<dataset>_<model> (relative to the current folder).', resumable=True),
    Setting('data_dir', '', 'Folder with the four IDX gz files (optional); for dSprites, the '
            'folder for its generated images (default: the cache).', resumable=True),
    Setting('protocol', 'heldout', 'heldout: train on the training split, report the test '
            'split; all: train on both splits and report on all of them (the clustering '
            "literature's protocol, IMSAT's: all 70,000 MNIST images).",
            choices=data_lib.PROTOCOLS),
    Setting('train_examples', 0, 'Train on this many training examples, a fixed random '
            'subset (the same for every run and seed); 0: all of them. For dSprites at the '
            'size a CPU allows.', check=settings_lib.at_least(0)),
    Setting('eval_every', 1, 'Evaluate on the test set every this many epochs, and after '
            'the last; 0: never while training (the scikit-learn estimators, whose test set '
            'is the training set).', check=settings_lib.at_least(0), resumable=True),
    Setting('eval_batch_size', 1000, 'Batch size of the evaluation.',
            check=settings_lib.at_least(1), resumable=True),
    Setting('checkpoint_every', 10, 'Save a checkpoint every this many epochs.',
            check=settings_lib.at_least(1), resumable=True),
    Setting('restore_from', '', 'Start from the latest checkpoint of this checkpoints folder '
            '(a fresh run; parameters and optimiser state).', resumable=True),
    Setting('progress', True, 'Show a progress bar when stderr is a terminal.',
            resumable=True),
)
# The general settings' defaults, by name (read where a value is compared with its default).
_DEFAULTS = {setting.name: setting.default for setting in GENERAL_SETTINGS}


# Names a model family's settings may not take: the general settings, and the flags of the
# binaries that are not settings (evaluation sizes, --final_eval; see icvae.cli.common).
RESERVED_NAMES = frozenset(s.name for s in GENERAL_SETTINGS) | {
    'iwae_samples', 'iwae_examples', 'num_generated', 'kde_train_examples', 'kde_folds',
    'mig_samples', 'mig_points', 'mig_position_stride',
    'final_eval', 'flagfile', 'seeds', 'sweep', 'coordinator_address', 'num_processes',
    'process_id', 'distributed'}


def _family_settings(family):
  clashes = sorted(RESERVED_NAMES & {s.name for s in family.settings})
  if clashes:
    raise SettingError(f'model {family.name!r} defines settings named {clashes}, which are '
                       'general settings or flags of every model: rename them.')
  return {s.name: s for s in family.settings}


def settings_of(model):
  """{name: Setting} of the general settings and those of `--model=model`."""
  return {**{s.name: s for s in GENERAL_SETTINGS}, **_family_settings(objectives.get(model))}


def all_settings():
  """{name: Setting} over the general settings and every registered family's."""
  result = {s.name: s for s in GENERAL_SETTINGS}
  for family in objectives.families().values():
    result.update(_family_settings(family))
  return result


class RunConfig:
  """A checked, immutable run configuration; settings read as attributes (`config.seed`).

  Args:
    **values: settings by name; missing ones take their defaults. A name that is not a
      setting of any model, or a setting the chosen model does not read (unless it has the
      setting's `inert` value, e.g. beta_info=0 for CatVAE), is refused.

  Raises:
    SettingError: naming the flag (`--name=value: ...`) and what to do.
  """

  def __init__(self, **values):
    if values.get('data') and 'dataset' not in values:
      values = {**values, 'dataset': 'custom'}
    model = values.get('model', _DEFAULTS['model'])
    family = objectives.get(model)
    own = settings_of(model)
    known = all_settings()
    resolved = {}
    for name, value in values.items():
      if name not in known:
        raise SettingError(f'--{name}: not a setting of any model '
                           f'({", ".join(sorted(known))}).')
      if name not in own:
        setting = known[name]
        if setting.inert is not None and setting.validate(value) == setting.inert:
          continue
        raise SettingError(f'--{name}={value}: --model={model} does not use it; drop it '
                           f'(models that do: {", ".join(_models_reading(name))}).')
      resolved[name] = own[name].validate(value)
    for name, setting in own.items():
      resolved.setdefault(name, setting.default)
    # The default workdir: runs/<dataset>_<model>; for --data, the file or folder's name.
    name = pathlib.Path(resolved['data']).stem if resolved.get('data') else resolved['dataset']
    resolved['workdir'] = resolved['workdir'] or f'runs/{name}_{model}'
    _check_network(model, family, resolved['network'])
    _check_data(resolved)
    available = _training_examples(resolved)
    if available is not None and resolved['train_examples'] > available:
      raise SettingError(f'--train_examples={resolved["train_examples"]}: {resolved["dataset"]} '
                         f'has {available} training examples; lower it (0: all).')
    examples = resolved['train_examples'] or available
    if resolved['optimizer'] != 'momentum' and resolved['momentum'] != _DEFAULTS['momentum']:
      raise SettingError(f'--momentum={resolved["momentum"]}: only --optimizer=momentum reads '
                         f'it (this run: --optimizer={resolved["optimizer"]}); drop it.')
    if examples is not None and resolved['batch_size'] > examples:
      raise SettingError(f'--batch_size={resolved["batch_size"]}: must be at most the '
                         f'{examples} training examples.')
    if family.validate is not None:
      resolved = family.validate(dict(resolved))
    self._values = types.MappingProxyType(resolved)
    self.family = family

  def __getattr__(self, name):
    values = self.__dict__.get('_values')
    if values is None or name not in values:
      model = values['model'] if values is not None else '?'
      raise AttributeError(f'{name!r}: not a setting of --model={model}.')
    return values[name]

  def __reduce__(self):  # copy and pickle rebuild it from its values (checked again)
    return (_rebuild, (self.to_dict(),))

  def get(self, name, default=None):
    return self._values.get(name, default)

  def __eq__(self, other):
    return isinstance(other, RunConfig) and dict(self._values) == dict(other._values)

  def __hash__(self):
    return hash(tuple(sorted(self._values.items())))

  def __repr__(self):
    return f'RunConfig({", ".join(f"{k}={v!r}" for k, v in self._values.items())})'

  def to_dict(self):
    """{name: value} of every setting."""
    return dict(self._values)

  def to_saved(self):
    """What config.json (and a checkpoint's metadata) holds: `to_dict()` and
    `format_version` (`FORMAT_VERSION`)."""
    return {FORMAT_KEY: FORMAT_VERSION, **self._values}

  def replace(self, **changes):
    """A new RunConfig with `changes` applied (checked again)."""
    return RunConfig(**{**self._values, **changes})

  @classmethod
  def from_saved(cls, saved):
    """The RunConfig of a config.json, including one written by an earlier icvae.

    Earlier versions saved every setting for every model; settings that the saved model
    does not read had no effect and are dropped. Settings added since take their defaults,
    which keep the earlier behaviour.

    Raises:
      NewerFormatError: `saved` has a `format_version` above `FORMAT_VERSION`.
      SettingError: a setting no model knows, or a value refused.
    """
    saved = dict(saved)
    version = saved.pop(FORMAT_KEY, 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
      raise SettingError(f'{FORMAT_KEY}={version!r} is not a config format: this config.json '
                         'was not written by icvae, or was edited; use another --workdir.')
    if version > FORMAT_VERSION:
      raise NewerFormatError(
          f'written by a newer icvae (config format {version}; this icvae reads formats 1 to '
          f'{FORMAT_VERSION}). Upgrade icvae (pip install -U icvae) to resume or evaluate it, '
          'or use another --workdir.')
    model = saved.get('model', _DEFAULTS['model'])
    own = settings_of(model)
    known = all_settings()
    unknown = set(saved) - set(known)
    if unknown:
      raise SettingError(f'unknown settings {sorted(unknown)}: written by a model family that is '
                         'not registered here. Install the package that registers it (an '
                         '`icvae.models` entry point), or use another --workdir.')
    return cls(**{k: v for k, v in saved.items() if k in own})

  @classmethod
  def from_flagfile(cls, path, dataset=None, **overrides):
    """The RunConfig of a flagfile (`--name=value` lines, `#` comments; the shipped ones are
    `icvae.cli.configs.path(name)`), with `overrides` applied. The dataset is `dataset` when
    given, else the flagfile's --dataset. The programs' flags that are not settings
    (evaluation sizes, --final_eval, ...) are skipped.

    Raises:
      SettingError: naming the flag, as on the command line; or when neither the flagfile nor
        `dataset` names the dataset.
    """
    values = {}
    known = all_settings()
    for line in open(path).read().splitlines():
      line = line.strip()
      if not line or line.startswith('#'):
        continue
      name, _, text = line.lstrip('-').partition('=')
      if name in RESERVED_NAMES and name not in known:
        continue
      if name not in known:
        raise SettingError(f'{path}: --{name}: not a setting of any model.')
      values[name] = _parse(known[name], text)
    if dataset is not None:
      values['dataset'] = dataset
    if 'dataset' not in values and 'dataset' not in overrides:
      raise SettingError(f'{path} names no --dataset: add a --dataset= line, or pass '
                         'dataset=.')
    values.update(overrides)
    return cls(**values)

  @property
  def likelihood_name(self):
    """--likelihood with 'auto' resolved: the source's, else 'gaussian' for feature tables,
    'squared_error' (appendix C) for the GRU, 'bernoulli' for images (appendix B)."""
    return _likelihood_name(self._values)

  @property
  def likelihood(self):
    """The observation model (`icvae.likelihoods`) of `likelihood_name`.

    A Gaussian has sigma --observation_scale (0: 1); for the GRU's squared error,
    observation_scale = 0 reads appendix C literally (`SquaredError`: the sum over steps of
    the per-step MSE, i.e. sigma = sqrt(F / 2)) and a positive value is that sigma instead.
    """
    name = self.likelihood_name
    if name == 'bernoulli':
      return likelihoods.Bernoulli()
    if name == 'squared_error' and not self.observation_scale:
      return likelihoods.SquaredError()
    return likelihoods.Gaussian(float(self.observation_scale or 1.0))

  @property
  def standardized(self):
    """Whether the examples are standardised before training (a feature table under a
    Gaussian likelihood: `icvae.files.standardize` with the training split's statistics)."""
    return len(self.image_shape) == 1 and self.likelihood_name == 'gaussian'

  @property
  def image_shape(self):
    """One example's shape: (rows, columns[, channels]) of images, (features,) of a table;
    from --data_shape (recorded from the data), else the dataset's registered shape.

    Raises:
      SettingError: --dataset=custom before its data were read (the loop records the shape
        from the data: `with_data_shape`).
    """
    return _data_shape(self._values)

  def with_data_shape(self, dataset):
    """This configuration with --data_shape recorded from `dataset` (a `data.Dataset`).

    Raises:
      SettingError: the data have another shape than this configuration's (a registered
        dataset's, or one recorded earlier), naming both.
    """
    shape = dataset.example_shape
    source = data_lib.get_source(self.dataset)
    known = (data_lib.parse_shape(self.data_shape) if self.data_shape else source.shape)
    if known is not None and tuple(known) != shape:
      raise SettingError(
          f'the data have examples of shape {shape}, but --dataset={self.dataset} '
          f'{"records" if self.data_shape else "has"} {tuple(known)}: '
          + ('use --dataset=custom for data of your own.' if source.shape else
             'these are other data than the run was made for; use another --workdir.'))
    if source.shape is not None:
      return self
    return self.replace(data_shape=data_lib.shape_text(shape))

  def view(self, images):
    """The data as the network reads them (`Network.view`): flat (N, features) or (N, rows,
    columns * channels) row sequences (--network=gru)."""
    if networks_lib.get(self.network).view == 'sequence':
      return data_lib.as_sequences(images)
    return data_lib.as_flat(images)

  @property
  def steps_per_epoch(self):
    """Optimiser steps per epoch on the dataset's training examples as this configuration
    names them (--train_examples, --protocol); None where the dataset's size is known only
    from its data (--dataset=custom). The loop counts the data it is given."""
    available = _training_examples(self._values)
    if available is None and not self.train_examples:
      return None
    return (self.train_examples or available) // self.batch_size

  def optimizer_options(self, steps_per_epoch=None):
    """The keyword arguments of `train.make_optimizer` (other than the learning rate) for
    this configuration; `steps_per_epoch` defaults to `self.steps_per_epoch` (1 where that
    is unknown: the optimiser state's structure does not depend on it, and the loop passes
    the number of its data)."""
    return dict(kind=self.optimizer, momentum=self.momentum, decay=self.learning_rate_decay,
                steps_per_epoch=steps_per_epoch or self.steps_per_epoch or 1)

  def build_networks(self):
    """The model family's networks, initialised from `seed`."""
    return self.family.build_networks(self)

  def build_objective(self):
    """The model family's objective with this configuration's weights."""
    return self.family.build_objective(self)


def _parse(setting, text):
  """A flag's text as its setting's type (absl's spellings of booleans)."""
  if setting.kind is bool:
    lowered = text.lower()
    if lowered in ('true', 't', '1', ''):
      return True
    if lowered in ('false', 'f', '0'):
      return False
    raise SettingError(f'--{setting.name}={text}: must be true or false.')
  if setting.kind in (int, float):
    try:
      return setting.kind(text)
    except ValueError:
      raise SettingError(f'--{setting.name}={text}: must be '
                         f'{"an integer" if setting.kind is int else "a number"}.') from None
  return text


def _data_shape(values):
  if values['data_shape']:
    return data_lib.parse_shape(values['data_shape'])
  shape = data_lib.get_source(values['dataset']).shape
  if shape is None:
    raise SettingError(f'--dataset={values["dataset"]}: the shape of its examples is known '
                       'once the data are read (RunConfig.with_data_shape(dataset)); the '
                       'training loop records it as --data_shape.')
  return tuple(shape)


def _likelihood_name(values):
  if values['likelihood'] != 'auto':
    return values['likelihood']
  source = data_lib.get_source(values['dataset'])
  if networks_lib.get(values['network']).likelihood:
    return networks_lib.get(values['network']).likelihood
  if source.likelihood:
    return source.likelihood
  if not values['data_shape'] and source.shape is None:
    return 'bernoulli'  # not known yet: resolved again once the shape is recorded
  return 'gaussian' if len(_data_shape(values)) == 1 else 'bernoulli'


def _check_network(model, family, name):
  """Refuses a --network the family cannot be built on, naming both."""
  if family.networks is not None:
    if name not in family.networks:
      raise SettingError(f'--network={name}: --model={model} supports only '
                         f'{", ".join(family.networks)}.')
    return
  network = networks_lib.get(name)
  if family.network_style not in network.styles:
    raise SettingError(
        f'--network={name}: --model={model} needs a {family.network_style} trunk '
        f'({networks_lib.STYLES[family.network_style]}); {name} builds '
        f'{" and ".join(network.styles)} trunks only. Networks that build one: '
        f'{", ".join(n for n in networks_lib.names() if family.network_style in networks_lib.get(n).styles)}.')


def _training_examples(values):
  """Training examples of the dataset as --protocol splits it; None if known only from the
  data."""
  source = data_lib.get_source(values['dataset'])
  if source.train_size is None:
    return None
  if values['protocol'] == 'all':
    return source.train_size + source.test_size
  return source.train_size


def _check_data(values):
  """Cross-setting checks of the data settings."""
  source = data_lib.get_source(values['dataset'])
  if not source.reads_files:
    for name in FILE_SETTINGS:
      if values[name] != next(s.default for s in GENERAL_SETTINGS if s.name == name):
        raise SettingError(f'--{name}={values[name]}: only --dataset=custom reads files '
                           f'(this run: --dataset={values["dataset"]}); drop it, or train on '
                           'your files with python -m experiments.train --data=PATH.')
  if values['protocol'] == 'all' and source.test_in_train:
    raise SettingError(f'--protocol=all: --dataset={values["dataset"]} trains on every '
                       'example already (its test examples are among them); drop the flag.')
  if values['data_shape'] and source.shape is not None and (
      data_lib.parse_shape(values['data_shape']) != tuple(source.shape)):
    raise SettingError(f'--data_shape={values["data_shape"]}: --dataset={values["dataset"]} '
                       f'has examples of shape {tuple(source.shape)}; drop the flag.')
  shape = (data_lib.parse_shape(values['data_shape']) if values['data_shape']
           else source.shape)
  reads = networks_lib.get(values['network']).reads
  if shape is not None and not data_lib.is_image_shape(shape) and 'table' not in reads:
    raise SettingError(f'--network={values["network"]} reads images; these data are feature '
                       f'vectors of shape {tuple(shape)}: use --network=mlp.')
  if shape is not None and data_lib.is_image_shape(shape) and 'image' not in reads:
    raise SettingError(f'--network={values["network"]} reads feature tables only; these data '
                       f'are images of shape {tuple(shape)}: use --network=mlp or conv.')
  likelihood = _likelihood_name(values)
  if values['observation_scale'] and likelihood == 'bernoulli':
    raise SettingError(f'--observation_scale={values["observation_scale"]}: the likelihood is '
                       'Bernoulli (pixels, appendix B); it sets sigma of a Gaussian only '
                       '(--likelihood=gaussian, or --network=gru).')


def _rebuild(values):
  return RunConfig(**values)


def _models_reading(name):
  return sorted(n for n, f in objectives.families().items()
                if any(s.name == name for s in f.settings))


def differences(saved, config, ignore):
  """{name: (saved value, current value)} for the settings that differ, except `ignore`.

  `saved` is a config.json dict (possibly from an earlier icvae; see `from_saved`).

  Raises:
    NewerFormatError: `saved` was written by a newer icvae.
  """
  try:
    saved = RunConfig.from_saved(saved).to_dict()
  except NewerFormatError:
    raise
  except (SettingError, AttributeError, TypeError) as e:
    return {'config.json': (str(e), 'a valid configuration')}
  current = config.to_dict()
  names = set(saved) | set(current)
  return {k: (saved.get(k), current.get(k)) for k in sorted(names)
          if k not in ignore and saved.get(k) != current.get(k)}


def resumable_settings():
  """Names of the settings that may change between a run and its resumption."""
  return {name for name, s in all_settings().items() if s.resumable}


def architecture_settings():
  """Names of the settings that fix the saved arrays' shapes (checked by --restore_from)."""
  return {name for name, s in all_settings().items() if s.architecture}
