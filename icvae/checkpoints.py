"""Orbax checkpoints of a training workdir, and `load_model` to use a trained model.

A workdir holds `config.json` (the `RunConfig`) and `checkpoints/<epoch>/` with the
`TrainState` and a JSON `meta` (epoch, config, run key). Every restore checks that the
arrays fit the model the configuration builds and that the checkpoint was made with the
same settings, and says what to do when not.
"""

import functools
import json
import logging
import pathlib
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from icvae import config as config_lib
from icvae import data as data_lib
from icvae import examples as examples_lib
from icvae import files
from icvae import losses
from icvae import tables
from icvae import train


log = logging.getLogger('icvae')


class CheckpointError(Exception):
  """A checkpoint or workdir cannot be used; the message says why and what to do."""


class UnreadableCheckpointError(CheckpointError):
  """A checkpoint's files cannot be read (truncated or missing: a full disk, a killed copy);
  `restore_newest_readable` sets it aside and takes the one before."""


# Where `restore_newest_readable` moves an unreadable checkpoint, beside checkpoints/ (out
# of Orbax's sight, never deleted).
UNREADABLE_FOLDER = 'checkpoints-unreadable'


def manager(directory, save_every=1, create=True):
  """An Orbax `CheckpointManager` on `directory` keeping the last 3 checkpoints
  (`create`: make the folder if missing; readers pass False)."""
  import orbax.checkpoint as ocp
  options = ocp.CheckpointManagerOptions(max_to_keep=3, save_interval_steps=save_every,
                                         create=create)
  # Handlers named up front, so a new manager can read a checkpoint's metadata.
  handlers = {'state': ocp.StandardCheckpointHandler(), 'meta': ocp.JsonCheckpointHandler()}
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_handlers=handlers)


def save(checkpoint_manager, epoch, state, config, key, force=False):
  """Saves `state` as checkpoint `epoch` with its config and run key (async in Orbax)."""
  import orbax.checkpoint as ocp
  meta = {'epoch': epoch, 'config': config.to_saved(),
          'key': np.asarray(jax.random.key_data(key)).tolist()}
  checkpoint_manager.save(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=force)


def restore(checkpoint_manager, epoch, abstract_state):
  """(state, meta) of checkpoint `epoch`; Orbax's own errors pass through."""
  import orbax.checkpoint as ocp
  restored = checkpoint_manager.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
  return restored['state'], restored['meta']


def abstract(state, sharding=None):
  """The `jax.ShapeDtypeStruct` tree of `state` (what a restore fills in), restored with
  `sharding` (default: on this process's first device). Naming the sharding lets a
  checkpoint saved on other devices, or by several processes, be read here."""
  if sharding is None:
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding),
                      state)


def _array_layout(tree):
  """{'opt_state/0/mu/code/bias': (shape, dtype)} of the arrays of a pytree or of Orbax's
  metadata tree, so the two compare without reading any array."""
  def name(key):
    for attribute in ('key', 'name', 'idx'):
      if hasattr(key, attribute):
        return str(getattr(key, attribute))
    return str(key)
  return {'/'.join(name(k) for k in path): (tuple(leaf.shape), str(leaf.dtype))
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _layout_difference(saved, wanted):
  """A short description of how two `_array_layout`s differ (None when equal)."""
  if saved == wanted:
    return None
  missing = sorted(set(wanted) - set(saved))
  extra = sorted(set(saved) - set(wanted))
  other = sorted(k for k in set(saved) & set(wanted) if saved[k] != wanted[k])
  parts = []
  if other:
    parts.append('shapes differ: ' + ', '.join(f'{k} {saved[k][0]} saved, {wanted[k][0]} here'
                                               for k in other[:3]))
  if missing:
    parts.append(f'{len(missing)} arrays missing (e.g. {missing[0]})')
  if extra:
    parts.append(f'{len(extra)} arrays this model does not have (e.g. {extra[0]})')
  return '; '.join(parts)


def restore_checked(checkpoint_manager, epoch, abstract_state, config, where):
  """Restores checkpoint `epoch` and checks it was made with `config`'s settings.

  The arrays' shapes are compared with the model's from the checkpoint's metadata before
  anything is read, so a checkpoint of another model is refused with the arrays that
  differ.

  Args:
    checkpoint_manager: the `CheckpointManager` of a training workdir.
    epoch: the step to restore.
    abstract_state: `abstract(state)` of a `TrainState` built from `config`.
    config: the `RunConfig` the checkpoint must match (except the resumable settings).
    where: the workdir, for the error messages.

  Returns:
    (state, meta) as saved by `save`.

  Raises:
    CheckpointError: the arrays do not fit the model, or the saved settings differ.
  """
  try:
    saved = _array_layout(checkpoint_manager.item_metadata(epoch)['state'])
  except Exception as e:  # orbax raises several types for an unreadable checkpoint
    raise UnreadableCheckpointError(f'{where}: the checkpoint of epoch {epoch} cannot be read '
                                    f'({e}).') from e
  problem = _layout_difference(saved, _array_layout(abstract_state))
  single = _single_optimizer_layout(abstract_state, config) if problem else None
  if problem and saved != single:
    raise CheckpointError(f'{where}: the checkpoint of epoch {epoch} does not fit the model '
                          f'of these settings ({problem}). Use another --workdir.')
  try:
    if problem:
      state, meta = _restore_single_optimizer(checkpoint_manager, epoch, abstract_state,
                                              config)
    else:
      state, meta = restore(checkpoint_manager, epoch, abstract_state)
  except Exception as e:  # orbax raises several types for a corrupt checkpoint
    raise UnreadableCheckpointError(f'{where}: the checkpoint of epoch {epoch} cannot be read '
                                    f'({e}).') from e
  try:
    diff = config_lib.differences(meta['config'], config, config_lib.resumable_settings())
  except config_lib.NewerFormatError as e:
    raise CheckpointError(f'{where}: the checkpoint was {e}') from e
  if diff:
    raise CheckpointError(f'{where}: the checkpoint was made with other settings: {diff}. '
                          'Use another --workdir.')
  return state, meta


def restore_newest_readable(checkpoint_manager, abstract_state, config, where,
                            set_aside=True):
  """(epoch, state, meta) of the newest checkpoint that reads, or (0, None, None) when there
  is none.

  A checkpoint whose files cannot be read (truncated or missing, as a full disk or a killed
  copy leaves them) is moved to <workdir>/checkpoints-unreadable/<epoch> (never deleted; a
  later one of the same epoch gets a suffix), with a warning naming it and the reason, and
  the one before it is tried. A checkpoint of other settings is still refused
  (`restore_checked`).

  Args:
    checkpoint_manager, abstract_state, config, where: as `restore_checked`.
    set_aside: move unreadable checkpoints aside (what training does, so that it can write
      that epoch again); False: leave them where they are and take the one before, with a
      warning (readers: `load_model`, evaluate, encode; processes other than the first).

  Raises:
    CheckpointError: a checkpoint that reads but does not fit `config`; with `set_aside`
      False, an unreadable one.
  """
  for epoch in sorted(checkpoint_manager.all_steps(), reverse=True):
    try:
      state, meta = restore_checked(checkpoint_manager, epoch, abstract_state, config, where)
      return epoch, state, meta
    except UnreadableCheckpointError as e:
      if not set_aside:
        log.warning('%s Taking the checkpoint before it (the unreadable one is left where it '
                    'is: training will move it aside).', e)
        continue
      folder = pathlib.Path(str(checkpoint_manager.directory)) / str(epoch)
      aside = folder.parent.parent / UNREADABLE_FOLDER / str(epoch)
      suffix = 1
      while aside.exists():
        aside = aside.with_name(f'{epoch}.{suffix}')
        suffix += 1
      aside.parent.mkdir(parents=True, exist_ok=True)
      folder.rename(aside)
      log.warning('%s Moved it to %s (kept, not deleted) and taking the checkpoint before it.',
                  e, aside)
      checkpoint_manager.reload()
  return 0, None, None


def _single_optimizer_abstract(abstract_state, config):
  """`abstract_state` with the one-Adam optimiser state of icvae 0.1, or None when the
  model has a single parameter group anyway."""
  import optax
  if not config.build_objective().parameter_groups():
    return None
  params = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), abstract_state.params)
  return abstract_state._replace(
      opt_state=abstract(optax.adam(config.learning_rate).init(params)))


def _single_optimizer_layout(abstract_state, config):
  single = _single_optimizer_abstract(abstract_state, config)
  return None if single is None else _array_layout(single)


def _restore_single_optimizer(checkpoint_manager, epoch, abstract_state, config):
  """A checkpoint from icvae 0.1, where every model had one Adam, for a model whose
  objective now has one Adam per parameter group (the AAE).

  Adam is elementwise and both groups counted the same steps, so each group's count and
  its parameters' moments are taken from the single optimiser's state: training goes on
  exactly as it would have.
  """
  old, meta = restore(checkpoint_manager, epoch,
                      _single_optimizer_abstract(abstract_state, config))
  by_path = {jax.tree_util.keystr(path): leaf
             for path, leaf in jax.tree_util.tree_flatten_with_path(old.opt_state)[0]}

  def convert(path, _):
    names = jax.tree_util.keystr(path)
    suffix = names[names.index('.inner_state[') + len('.inner_state'):]  # [0].mu['code']
    return jnp.array(by_path[suffix], copy=True)  # the groups' counts: two buffers

  opt_state = jax.tree_util.tree_map_with_path(convert, abstract_state.opt_state)
  return old._replace(opt_state=opt_state), meta


def restore_parameters(directory, abstract_state, config):
  """The latest checkpoint of another run's `directory` as a fresh state (step 0).

  For --restore_from: only the settings that fix the arrays' shapes must agree.

  Raises:
    CheckpointError: no checkpoint there, or one made for another model.
  """
  other_run = 'Pass the checkpoints/ folder of a run of the same model, or drop --restore_from.'
  if not pathlib.Path(directory).is_dir():
    raise CheckpointError(f'--restore_from={directory}: no such checkpoints folder. {other_run}')
  source = manager(directory, create=False)
  try:
    epoch = source.latest_step()
    if epoch is None:
      raise CheckpointError(f'--restore_from={directory}: no checkpoint there (the run saved '
                            f'none yet). {other_run}')
    try:
      saved = _array_layout(source.item_metadata(epoch)['state'])
    except Exception as e:  # orbax raises several types for an unreadable checkpoint
      raise CheckpointError(f'--restore_from={directory}: the checkpoint of epoch {epoch} '
                            f'cannot be read ({e}). Move {directory}/{epoch} away to restore '
                            'the one before it.') from e
    problem = _layout_difference(saved, _array_layout(abstract_state))
    if problem:
      raise CheckpointError(f'--restore_from={directory}: checkpoint does not fit this model '
                            f'({problem}). Give the settings that shape the networks the '
                            'values of that run (its config.json).')
    try:
      restored, meta = restore(source, epoch, abstract_state)
    except Exception as e:  # orbax raises several types for a corrupt checkpoint
      raise CheckpointError(f'--restore_from={directory}: checkpoint cannot be read '
                            f'({e}). Move {directory}/{epoch} away to restore the one '
                            'before it.') from e
  finally:
    source.close()
  architecture = config_lib.architecture_settings()
  try:
    diff = config_lib.differences(meta['config'], config,
                                  set(config_lib.all_settings()) - architecture)
  except config_lib.NewerFormatError as e:
    raise CheckpointError(f'--restore_from={directory}: the checkpoint was {e}') from e
  if diff:
    raise CheckpointError(f'--restore_from={directory}: made for another model: {diff}. '
                          f'{other_run}')
  return restored._replace(step=np.zeros((), np.int32))


def classifier_parameters(workdir, abstract_state, config):
  """The classifier p(y|x) of an --model=imsat run's latest checkpoint, for the warm start of
  a joint-code model with a classifier of its own (--classifier_from, --classifier_features).

  Returns:
    {'params': ..., 'constants': ...}: the subtrees that go under 'classifier' in the
    state of `config`'s model (weights, batch-norm averages).

  Raises:
    CheckpointError: not a training workdir, not an IMSAT run, or a classifier of another
      shape, input scaling or dataset than `config`'s.
  """
  where = f'--classifier_from={workdir}'
  try:
    source = load_model(workdir)
  except CheckpointError as e:
    raise CheckpointError(f'{where}: {e}') from e
  if source.config.model != 'imsat':
    raise CheckpointError(f'{where}: a run of --model={source.config.model}; the warm start '
                          'takes the classifier of an --model=imsat run.')
  for name in ('dataset', 'protocol', 'input_scaling'):
    if source.config.get(name) != config.get(name):
      raise CheckpointError(f'{where}: trained with --{name}={source.config.get(name)}, this '
                            f'run has --{name}={config.get(name)}: use the same.')
  wanted = {'params': abstract_state.params.get('classifier'),
            'constants': abstract_state.constants.get('classifier')}
  if wanted['params'] is None:
    raise CheckpointError(f'{where}: this model has no classifier of its own; set '
                          '--classifier_features.')
  saved = {'params': source.state.params, 'constants': source.state.constants}
  problem = _layout_difference(_array_layout(saved), _array_layout(wanted))
  if problem:
    raise CheckpointError(f'{where}: its classifier does not fit this one ({problem}); use '
                          f'--classifier_features={source.config.hidden_features} and '
                          f'--num_categories={source.config.num_categories}.')
  log.info('p(y|x) starts from the classifier of %s (epoch %d)', workdir, source.epoch)
  return saved


def with_classifier(state, classifier):
  """`state` with its 'classifier' weights and averages replaced (`classifier_parameters`);
  the optimiser's state, which does not depend on the weights' values, is kept."""
  return state._replace(params=dict(state.params, classifier=classifier['params']),
                        constants=dict(state.constants, classifier=classifier['constants']))


def read_config(workdir):
  """The `RunConfig` of a training workdir's config.json.

  Raises:
    CheckpointError: no such folder, no config.json, or not an icvae configuration.
  """
  workdir = pathlib.Path(workdir)
  path = workdir / 'config.json'
  if not workdir.is_dir():
    raise CheckpointError(f'--workdir={workdir}: no such folder. Pass the --workdir of a '
                          'training run.')
  if not path.exists():
    raise CheckpointError(f'--workdir={workdir}: no config.json; this is not the workdir of '
                          'an icvae training run.')
  try:
    return config_lib.RunConfig.from_saved(json.loads(path.read_text()))
  except config_lib.NewerFormatError as e:
    raise CheckpointError(f'{path}: {e}') from e
  except (ValueError, TypeError) as e:
    raise CheckpointError(f'{path}: not an icvae configuration ({e}).') from e


def new_state(config, steps_per_epoch=None):
  """(graphdef, TrainState, optimizer) of a fresh run of `config`; `steps_per_epoch` (of the
  learning-rate decay) defaults to the configuration's (`RunConfig.steps_per_epoch`)."""
  optimizer = train.make_optimizer(config.build_objective(), config.learning_rate,
                                   **config.optimizer_options(steps_per_epoch))
  graphdef, state = train.create_train_state(config.build_networks(), optimizer)
  return graphdef, state, optimizer


# A feature table's standardisation (mean and std per feature of the training split), saved
# in the workdir when the run starts and applied again to new data (`LoadedModel.prepare`).
STATISTICS_FILE = 'standardization.json'


def read_statistics(workdir):
  """The standardisation statistics a run saved in its workdir ({'mean', 'std'}), or None.

  Raises:
    CheckpointError: the file is there but unreadable.
  """
  path = pathlib.Path(workdir) / STATISTICS_FILE if workdir else None
  if path is None or not path.is_file():
    return None
  try:
    statistics = json.loads(path.read_text())
    return {'mean': list(statistics['mean']), 'std': list(statistics['std'])}
  except (ValueError, KeyError, TypeError) as e:
    raise CheckpointError(f'{path}: unreadable standardisation statistics ({e}); they are '
                          "the training split's mean and std per feature: delete the file to "
                          'recompute them from the same data.') from e


# What new data must agree with beyond their shape: the class names of the labels (so that
# `icvae encode` gives new data's labels the run's indices) and a table's feature columns
# (matched by name), written when the run starts.
DATA_FILE = 'data.json'


def data_description(dataset):
  """{'class_names', 'feature_names'} of a `data.Dataset`, as `DATA_FILE` holds them."""
  return {'class_names': list(dataset.class_names),
          'feature_names': list(dataset.feature_names)}


def read_data_description(workdir):
  """The `data_description` a run saved in its workdir ({} when it has none: runs before
  icvae 0.5, and registered datasets' runs have empty names).

  Raises:
    CheckpointError: the file is there but unreadable.
  """
  path = pathlib.Path(workdir) / DATA_FILE if workdir else None
  if path is None or not path.is_file():
    return {}
  try:
    saved = json.loads(path.read_text())
    return {'class_names': [str(n) for n in saved['class_names']],
            'feature_names': [str(n) for n in saved['feature_names']]}
  except (ValueError, KeyError, TypeError) as e:
    raise CheckpointError(f'{path}: unreadable description of the data ({e}); it names the '
                          'classes and feature columns the run was trained on: restore it, '
                          'or delete it to match new data by position.') from e


class LoadedModel(NamedTuple):
  """A trained model, ready to use.

  Attributes:
    model: the networks (`nnx.Module`) with the checkpoint's parameters; call
      `model.encode`, `model.decode`, `model.classify` as on a fresh one.
    config: the run's `RunConfig`.
    epoch: the epoch of the checkpoint.
    objective: the run's objective (`config.build_objective()`).
    graphdef: the model's static structure, for `train.make_*` functions.
    state: the restored `train.TrainState`.
    statistics: the standardisation of a feature table ({'mean', 'std'}), or None.
    class_names: the names of the classes of the training labels (() if unknown).
    feature_names: a table's feature columns, in the order trained on (() if none).

  `codes`, `encode`, `predict` and `predict_proba` take new examples as the data files hold
  them, (N, *config.image_shape), checked and scaled by the rule of training
  (`icvae.examples.checked_examples`: NaN refused, integer images scaled by their type,
  float images in [0, 1], channels-first refused), and compute in jitted batches,
  standardised like the training data. A pandas DataFrame's columns are matched to
  `feature_names` by name; an array's by position.
  """
  model: Any
  config: Any
  epoch: int
  objective: Any
  graphdef: Any
  state: Any
  statistics: Optional[dict] = None
  class_names: tuple = ()
  feature_names: tuple = ()

  def prepare(self, x):
    """Examples (N, *data shape) as the networks read them: checked, float, standardised,
    viewed.

    Raises:
      ValueError: examples the rule of training refuses (`icvae.examples`), of another
        shape than the run's, or outside the likelihood's range, each named.
    """
    columns = getattr(x, 'columns', None)  # a pandas DataFrame: match columns by name
    try:
      if columns is not None and self.feature_names:
        x = tables.align_columns(np.asarray(x), [str(c) for c in columns], self.feature_names,
                                 'the DataFrame')
      shape = tuple(self.config.image_shape)
      x = examples_lib.checked_examples(x, 'examples')
      if x.shape[1:] != shape:
        raise data_lib.DataError(
            f'examples of shape {x.shape[1:]}, but the model was trained on {shape} '
            f'({self.config.dataset}): give (N, {", ".join(map(str, shape))}) arrays.')
      examples_lib.check_likelihood_range(x, self.config.likelihood_name, 'examples')
    except data_lib.DataError as e:
      raise ValueError(str(e)) from None
    x = data_lib.as_float(x)
    if self.statistics is not None:
      x = files.standardize(x, self.statistics)
    return self.config.view(x)

  def to_arrays(self):
    """The model as plain data: its saved config, epoch, parameters and batch-norm
    statistics (lists of numpy arrays), standardisation and names; `from_arrays` rebuilds
    it with no workdir. What a pickled estimator holds (`icvae.sklearn`)."""
    return {'format': 1, 'config': self.config.to_saved(), 'epoch': int(self.epoch),
            'params': [np.asarray(a) for a in jax.tree.leaves(self.state.params)],
            'constants': [np.asarray(a) for a in jax.tree.leaves(self.state.constants)],
            'statistics': self.statistics, 'class_names': list(self.class_names),
            'feature_names': list(self.feature_names)}

  @classmethod
  def from_arrays(cls, saved):
    """The `LoadedModel` of `to_arrays`' data.

    Raises:
      CheckpointError: arrays that do not fit the model their config builds.
    """
    try:
      config = config_lib.RunConfig.from_saved(saved['config'])
    except (config_lib.NewerFormatError, ValueError, TypeError, KeyError) as e:
      raise CheckpointError(f'a saved model with an unreadable configuration ({e}).') from e
    graphdef, state, _ = new_state(config)

    def filled(tree, leaves, what):
      wanted = jax.tree.leaves(tree)
      if len(wanted) != len(leaves) or any(
          np.shape(a) != np.shape(b) for a, b in zip(wanted, leaves)):
        raise CheckpointError(f'a saved model whose {what} do not fit the model of its '
                              'configuration; it was saved by another icvae version.')
      return jax.tree.unflatten(jax.tree.structure(tree),
                                [jnp.asarray(a, b.dtype) for a, b in zip(leaves, wanted)])

    state = state._replace(params=filled(state.params, saved['params'], 'parameters'),
                           constants=filled(state.constants, saved['constants'], 'statistics'))
    model = nnx.merge(graphdef, state.params, state.constants)
    return cls(model, config, saved['epoch'], config.build_objective(), graphdef, state,
               saved['statistics'], tuple(saved['class_names']),
               tuple(saved['feature_names']))

  def codes(self, x, batch_size=1000):
    """Per example: 'cluster' (N,) int, 'probabilities' (N, K) p(y|x), and where the model
    has a continuous code 'z_mean', 'z_logvar' (N, d) (CatVAE / InfoCatVAE: q(z|x, c) of the
    most probable category c); numpy arrays."""
    x = self.prepare(x)
    parts = [_codes(self.graphdef, self.objective, self.state.params, self.state.constants,
                    jnp.asarray(x[i:i + batch_size]))
             for i in range(0, len(x), batch_size)]
    result = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    if 'probabilities' in result:
      result['cluster'] = result['probabilities'].argmax(-1).astype(np.int32)
    return result

  def encode(self, x, batch_size=1000):
    """(N, d) means of q(z|x): the continuous code (`codes`).

    Raises:
      ValueError: the model has no continuous code (IMSAT: use `predict_proba`).
    """
    codes = self.codes(x, batch_size)
    if 'z_mean' not in codes:
      raise ValueError(f'--model={self.config.model} has no continuous code; use '
                       'predict_proba for p(y|x).')
    return codes['z_mean']

  def predict(self, x, batch_size=1000):
    """(N,) clusters argmax_y p(y|x)."""
    return self._categorical(x, batch_size)['cluster']

  def predict_proba(self, x, batch_size=1000):
    """(N, K) p(y|x)."""
    return self._categorical(x, batch_size)['probabilities']

  def _categorical(self, x, batch_size):
    codes = self.codes(x, batch_size)
    if 'probabilities' not in codes:
      raise ValueError(f'--model={self.config.model} has no categorical code; use encode.')
    return codes


@functools.partial(jax.jit, static_argnums=(0, 1))
def _codes(graphdef, objective, params, constants, x):
  """{'probabilities', 'z_mean', 'z_logvar'} of a batch (those the model has)."""
  model = nnx.merge(graphdef, params, constants)
  result = {}
  logits = objective.cluster_logits(model, x)
  if logits is not None:
    result['probabilities'] = jax.nn.softmax(logits, axis=-1)
  posterior = model.encode(x) if hasattr(model, 'encode') else None
  if isinstance(posterior, losses.JointPosterior):
    result.update(z_mean=posterior.mean, z_logvar=posterior.logvar)
  elif isinstance(posterior, losses.CategoricalPosterior):
    best = jnp.argmax(posterior.logits, axis=-1)
    take = lambda a: jnp.take_along_axis(a, best[:, None, None], axis=1)[:, 0]
    result.update(z_mean=take(posterior.mean), z_logvar=take(posterior.logvar))
  return result


def load_model(workdir):
  """The latest readable checkpoint of a training workdir as a `LoadedModel` (an unreadable
  newer one is skipped with a warning and left in place, `restore_newest_readable`).

  Raises:
    CheckpointError: the folder is missing, is not a training workdir, has no checkpoint
      yet, or its checkpoint does not fit the configuration it claims.
  """
  config = read_config(workdir)
  if not (pathlib.Path(workdir) / 'checkpoints').is_dir():
    raise CheckpointError(f'--workdir={workdir}: no checkpoint yet; train first (or wait '
                          'for the first --checkpoint_every epochs).')
  checkpoint_manager = manager(pathlib.Path(workdir) / 'checkpoints', create=False)
  try:
    graphdef, state, _ = new_state(config)
    epoch, state, _ = restore_newest_readable(checkpoint_manager, abstract(state), config,
                                              workdir, set_aside=False)
    if not epoch:
      raise CheckpointError(f'--workdir={workdir}: no readable checkpoint yet; train first (or '
                            'wait for the first --checkpoint_every epochs).')
  finally:
    checkpoint_manager.close()
  return model_of_state(config, graphdef, state, epoch, workdir)


def model_of_state(config, graphdef, state, epoch, workdir):
  """The `LoadedModel` of a run's `state` at `epoch` (its checkpoint's, or the one
  `train_and_evaluate` returns), with the standardisation and names its workdir saved.

  Raises:
    CheckpointError: a standardised run whose statistics file is missing.
  """
  model = nnx.merge(graphdef, state.params, state.constants)
  statistics = read_statistics(workdir) if config.standardized else None
  if config.standardized and statistics is None:
    raise CheckpointError(f'--workdir={workdir}: the run standardised its features but '
                          f'{STATISTICS_FILE} is missing; it cannot encode new data the same '
                          'way. Retrain, or restore the file.')
  described = read_data_description(workdir)
  return LoadedModel(model, config, epoch, config.build_objective(), graphdef, state,
                     statistics, tuple(described.get('class_names', ())),
                     tuple(described.get('feature_names', ())))
