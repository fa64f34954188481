"""Orbax checkpoints of a training workdir (`icvae.inference.load_model` makes a usable model
of one).

A workdir holds `config.json` (the `RunConfig`) and `checkpoints/<epoch>/` with the
`TrainState` and a JSON `meta` (epoch, config, run key). Every restore checks that the
arrays fit the model the configuration builds and that the checkpoint was made with the
same settings, and says what to do when not.
"""

import json
import logging
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from icvae import config as config_lib
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
    source_config, _, source_state, source_epoch = restore_latest(workdir)
  except CheckpointError as e:
    raise CheckpointError(f'{where}: {e}') from e
  if source_config.model != 'imsat':
    raise CheckpointError(f'{where}: a run of --model={source_config.model}; the warm start '
                          'takes the classifier of an --model=imsat run.')
  for name in ('dataset', 'protocol', 'input_scaling'):
    if source_config.get(name) != config.get(name):
      raise CheckpointError(f'{where}: trained with --{name}={source_config.get(name)}, this '
                            f'run has --{name}={config.get(name)}: use the same.')
  wanted = {'params': abstract_state.params.get('classifier'),
            'constants': abstract_state.constants.get('classifier')}
  if wanted['params'] is None:
    raise CheckpointError(f'{where}: this model has no classifier of its own; set '
                          '--classifier_features.')
  saved = {'params': source_state.params, 'constants': source_state.constants}
  problem = _layout_difference(_array_layout(saved), _array_layout(wanted))
  if problem:
    raise CheckpointError(f'{where}: its classifier does not fit this one ({problem}); use '
                          f'--classifier_features={source_config.hidden_features} and '
                          f'--num_categories={source_config.num_categories}.')
  log.info('p(y|x) starts from the classifier of %s (epoch %d)', workdir, source_epoch)
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


def restore_latest(workdir):
  """(config, graphdef, state, epoch) of the latest readable checkpoint of a training
  workdir (an unreadable newer one is skipped with a warning and left in place,
  `restore_newest_readable`).

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
  return config, graphdef, state, epoch


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
