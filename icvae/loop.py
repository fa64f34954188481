"""The training loop every model goes through: `train_and_evaluate(config)`.

It loads the data into device memory, trains one jitted epoch at a time (`train.
make_train_epoch`, the objective of the config's model family), evaluates on the test set
every `eval_every` epochs, writes `config.json`, `metrics.jsonl` and TensorBoard events
(tensorboardX, no TensorFlow) in the workdir, and saves Orbax checkpoints every
`checkpoint_every` epochs and at the end. Running it again on the same workdir resumes from
the latest checkpoint and ends bit-identical (on CPU) to an uninterrupted run.

While it runs it holds a lock on the workdir (a second process is refused, named), shows a
tqdm bar with the log lines above it, and handles Ctrl-C: the epoch in flight is abandoned,
the last finished epoch is saved, and `Stopped` is raised within about a second.
"""

import contextlib
import functools
import json
import logging
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from icvae import checkpoints
from icvae import data as data_lib
from icvae import evaluators
from icvae import preparation
from icvae import settings as settings_lib
from icvae import sweep as sweep_lib
from icvae import train
from icvae import workdir as workdir_lib
# The workdir's pieces live in `icvae.workdir`; these names stay importable from here.
from icvae.workdir import ExperimentError
from icvae.workdir import Stopped  # pylint: disable=unused-import
from icvae.workdir import WorkdirLock  # pylint: disable=unused-import
from icvae.workdir import check_workdir_config
from icvae.workdir import is_writer
from icvae.workdir import write_atomically

log = logging.getLogger('icvae')


def _wait(arrays, stop):
  """Waits until `arrays` are computed, polling `stop`; False when a stop was requested."""
  leaves = jax.tree.leaves(arrays)
  while not all(leaf.is_ready() for leaf in leaves):
    if stop.requested:
      return False
    time.sleep(0.02)
  return not stop.requested


def _progress_bar(config, start_epoch):
  from tqdm import tqdm
  enabled = config.progress and sys.stderr.isatty()
  return tqdm(total=config.num_epochs, initial=start_epoch, unit='epoch', disable=not enabled,
              dynamic_ncols=True, leave=False, file=sys.stderr)


def _log_redirect():
  from tqdm.contrib.logging import logging_redirect_tqdm
  return logging_redirect_tqdm(loggers=[log])


def train_and_evaluate(config, dataset=None, devices=None):
  """Trains and evaluates `config`, resuming from its workdir; returns the final TrainState.

  Args:
    config: `icvae.config.RunConfig`.
    dataset: optional in-memory `data.Dataset` with the splits as loaded (default: loaded
      from config.dataset); --protocol and --train_examples are applied to it.
    devices: devices to shard the batch over (default: every device of every process; in
      one process, the most devices that divide the batch and the test set evenly).

  Raises:
    ExperimentError: other settings in the workdir, a workdir in use by another process, a
      non-finite loss (the last good checkpoint is kept).
    checkpoints.CheckpointError: a checkpoint that does not fit (resume or --restore_from).
    Stopped: Ctrl-C; the last finished epoch is saved.
    data.DataError: missing or corrupt data.
  """
  config, dataset, statistics = _checked_dataset(config, dataset)
  if devices is None:
    devices = _dividing_devices(config.batch_size, len(dataset.test_images))
  mesh = train.data_mesh(devices)
  if config.batch_size % mesh.size:
    raise ExperimentError(f'--batch_size={config.batch_size} must be a multiple of the '
                          f'{mesh.size} devices.')
  try:
    train.evaluation_batch_size(len(dataset.test_images), config.eval_batch_size, mesh.size)
  except ValueError as e:
    raise ExperimentError(f'the test set cannot be evaluated on these devices: {e}') from e
  objective = config.build_objective()
  graphdef, state, _ = checkpoints.new_state(
      config, len(dataset.train_images) // config.batch_size)
  with contextlib.ExitStack() as stack:
    abstract = checkpoints.abstract(state, train.replicated_sharding(mesh))
    [run] = _open_runs(stack, [config], abstract)
    state = run.initial_state(state)
    run.write_config(statistics, dataset)
    state = train.replicate(state, mesh)
    train_images = train.replicate(
        objective.training_data(jnp.asarray(config.view(dataset.train_images))), mesh)
    test_images = train.replicate(
        jnp.asarray(data_lib.as_float(config.view(dataset.test_images))), mesh)
    train_epoch, evaluate = _programs(
        graphdef, objective, config.learning_rate,
        tuple(sorted(config.optimizer_options(len(dataset.train_images)
                                              // config.batch_size).items())),
        config.batch_size, config.eval_batch_size, mesh,
        train.stepwise_epochs(config.network))
    train_key = train.replicate(run.train_key, mesh)

    def epoch_fn(state, epoch):
      return train_epoch(state, train_images, train_key,
                         train.replicate(np.int32(epoch), mesh))

    def evaluate_fn(state, epoch):
      key = train.replicate(jax.random.fold_in(run.eval_key, epoch), mesh)
      return [evaluate(state, test_images, key)]

    num_clusters = (train.cluster_count(graphdef, objective, state, test_images)
                    if config.eval_every else None)
    return _train_epochs([run], state, epoch_fn, evaluate_fn, dataset, num_clusters,
                         stacked=False)


@functools.lru_cache(maxsize=8)
def _programs(graphdef, objective, learning_rate, optimizer_options, batch_size,
              eval_batch_size, mesh, stepwise):
  """(train_epoch, evaluate) of a run, built once per process for the same model, settings
  and devices: runs that differ only in their data, seed or workdir (a GridSearchCV's fits,
  scikit-learn's estimator checks, a notebook's reruns) reuse the traced and compiled
  programs instead of tracing them again. The optimiser is rebuilt from the same settings
  (`train.make_optimizer` is a pure function of them), so it takes the steps the run's own
  would."""
  optimizer = train.make_optimizer(objective, learning_rate, **dict(optimizer_options))
  train_epoch = train.make_train_epoch(graphdef, optimizer, objective, batch_size, mesh,
                                       donate=False, stepwise=stepwise)
  return train_epoch, train.make_evaluate(graphdef, objective, eval_batch_size, mesh)


def train_sweep(configs, dataset=None, devices=None):
  """Trains the runs of a sweep as one jitted program; returns their final states, stacked.

  `configs` are `RunConfig`s that differ only in their workdirs, seeds and swept settings
  (`icvae.sweep.expand` makes them; `icvae.sweep.check` says what may differ). Every epoch
  of every run is one call of `train.make_sweep_epoch` (`jax.vmap` over the runs, the runs
  split over `devices` when there are several), and each run writes its own workdir as
  `train_and_evaluate` would: config.json, metrics.jsonl, TensorBoard events, checkpoints.
  Run k computes what the single run of its config computes, up to floating-point
  rounding.

  Resuming: the sweep restarts at the latest epoch that every run has a checkpoint of (runs
  that went further are restored at that epoch and redo the rest). A run whose loss stops
  being finite is stopped (its last good checkpoint kept) while the others go on;
  ExperimentError is raised at the end, naming it.

  Raises:
    ExperimentError: as `train_and_evaluate` (and the other errors it raises).
    settings.SettingError: when the configs cannot share one program. Everything is checked
      before any workdir is written.
  """
  configs = list(configs)
  if not configs:
    raise ExperimentError('a sweep needs at least one run.')
  if jax.process_count() > 1:
    raise ExperimentError(f'a sweep runs in one process (this is process '
                          f'{jax.process_index()} of {jax.process_count()}): launch it without '
                          'jax.distributed; its runs split over that process\'s devices.')
  config, dataset, statistics = _checked_dataset(configs[0], dataset)
  configs = [config] + [_with_shape_of(c, dataset) for c in configs[1:]]
  train_view = jnp.asarray(config.view(dataset.train_images))
  datas = {}  # training data per distinct objective (they are hashable), computed once each
  run_data = []
  for run_config in configs:
    objective = run_config.build_objective()
    if objective not in datas:
      datas[objective] = objective.training_data(train_view)
    run_data.append(datas[objective])
  sweep_lib.check(configs, run_data[0])
  names = [n for n in sweep_lib.swept_names(configs) if n != 'seed']
  graphdef, states = sweep_lib.initial_states(configs)
  mesh = train.run_mesh(len(configs), devices)
  data, data_axes = _shared_or_stacked(run_data)
  with contextlib.ExitStack() as stack:
    abstract = checkpoints.abstract(sweep_lib.unstack(states, 0))
    runs = _open_runs(stack, configs, abstract)
    states = sweep_lib.stack([run.initial_state(sweep_lib.unstack(states, i))
                              for i, run in enumerate(runs)])
    for run in runs:
      run.write_config(statistics, dataset)
    states = train.place_runs(states, mesh)
    data = jax.tree.map(lambda a, axis: (train.replicate(a, mesh) if axis is None
                                         else train.place_runs(a, mesh)), data, data_axes)
    test_images = train.replicate(
        jnp.asarray(data_lib.as_float(config.view(dataset.test_images))), mesh)
    values = train.place_runs(sweep_lib.values_of(configs, names), mesh)
    train_keys = train.place_runs(jnp.stack([run.train_key for run in runs]), mesh)
    eval_keys = jnp.stack([run.eval_key for run in runs])

    def make_parts(run_values):
      return sweep_lib.parts(config, run_values, len(dataset.train_images) // config.batch_size)

    sequential = False if mesh.size > 1 else None  # several devices: batched, split
    train_epoch = train.make_sweep_epoch(graphdef, make_parts, config.batch_size, data_axes,
                                         donate=False, sequential=sequential)
    evaluate = train.make_sweep_evaluate(graphdef, make_parts, config.eval_batch_size,
                                         sequential)

    def epoch_fn(states, epoch):
      return train_epoch(states, data, train_keys, train.replicate(np.int32(epoch), mesh),
                         values)

    def evaluate_fn(states, epoch):
      keys = train.place_runs(jax.vmap(jax.random.fold_in, in_axes=(0, None))(eval_keys,
                                                                                epoch), mesh)
      metrics, clusters = evaluate(states, test_images, keys, values)
      return [(sweep_lib.unstack(metrics, i), None if clusters is None else clusters[i])
              for i in range(len(runs))]

    num_clusters = train.cluster_count(graphdef, config.build_objective(),
                                       sweep_lib.unstack(states, 0), test_images)
    return _train_epochs(runs, states, epoch_fn, evaluate_fn, dataset, num_clusters,
                         stacked=True)


def _checked_dataset(config, dataset):
  """(config, dataset, statistics): `prepare_data` on the training split, with
  --train_examples of its examples; refused when the workdir holds other settings or a batch
  does not fit the data."""
  config, dataset, statistics = prepare_data(config, dataset, config.workdir)
  dataset = data_lib.train_subset(dataset, config.train_examples)
  if config.batch_size > len(dataset.train_images):
    raise ExperimentError(f'--batch_size={config.batch_size} exceeds the '
                          f'{len(dataset.train_images)} training examples.')
  return config, dataset, statistics


def _dividing_devices(batch_size, test_count):
  """Every device, or in one process the most of them that divide both the batch and the
  test set into equal shares (small data of your own on a many-device host); None: all."""
  if jax.process_count() > 1:
    return None
  devices = train.devices_dividing(batch_size, test_count, devices=jax.devices())
  if len(devices) < jax.device_count():
    log.info('training on %d of the %d devices: the batch of %d and the %d test examples '
             'split evenly over %d', len(devices), jax.device_count(), batch_size, test_count,
             len(devices))
  return devices


def _with_shape_of(config, dataset):
  try:
    return config.with_data_shape(dataset)
  except settings_lib.SettingError as e:
    raise ExperimentError(str(e)) from e


def prepare_data(config, dataset=None, workdir=None):
  """The data of a run as it trains on them and reports them.

  Loads `dataset` when not given (`data.load_for`), passes its examples through
  `icvae.examples`' rule (as every entry point does), records its example shape in the
  configuration (`RunConfig.with_data_shape`: refused if another, as are settings other than
  those `workdir` holds, `check_workdir_config`), matches a table's columns to those the
  workdir was trained on by name, splits it as --protocol says, checks its values against
  the likelihood, and standardises a feature table under a Gaussian likelihood
  (`RunConfig.standardized`) with the statistics saved in `workdir` (those of its training
  split when there are none yet).

  Returns:
    (config with --data_shape, dataset, statistics {'mean', 'std'} or None).

  Raises:
    ExperimentError: data of another shape or with values the likelihood cannot model.
    data.DataError: missing or corrupt data.
  """
  if dataset is None:
    dataset = data_lib.load_for(config)
  dataset = preparation.checked(dataset)
  config = _with_shape_of(config, dataset)
  if workdir:
    check_workdir_config(workdir, config)
    saved = checkpoints.read_data_description(workdir).get('feature_names', ())
    dataset = preparation.with_columns(dataset, saved, f'--data (resuming {workdir})')
  try:
    dataset = preparation.split_and_check(dataset, config.protocol, config.dataset,
                                          config.likelihood_name)
  except data_lib.DataError as e:
    raise ExperimentError(str(e)) from e
  statistics = None
  if config.standardized:
    try:
      dataset, statistics = preparation.standardized(dataset,
                                                     checkpoints.read_statistics(workdir))
    except data_lib.DataError as e:
      raise ExperimentError(f'{workdir}: {e}') from e
  return config, dataset, statistics


def _shared_or_stacked(run_data):
  """(data, vmap in_axes): leaves equal in every run are shared (axis None), others are
  stacked along a leading axis of runs (axis 0)."""
  first = run_data[0]
  leaves = [jax.tree.leaves(d) for d in run_data]
  treedef = jax.tree.structure(first)
  data, axes = [], []
  for position, leaf in enumerate(leaves[0]):
    column = [run[position] for run in leaves]
    if all(other is leaf or np.array_equal(other, leaf) for other in column[1:]):
      data.append(leaf)
      axes.append(None)
    else:
      data.append(jnp.stack(column))
      axes.append(0)
  return treedef.unflatten(data), treedef.unflatten(axes)


class _Run:
  """One run's place in the loop: its config, workdir, checkpoints, writers and keys."""

  def __init__(self, config, manager, abstract_state):
    self.config = config
    self.workdir = pathlib.Path(config.workdir)
    self.manager = manager
    self.abstract_state = abstract_state
    self.key = jax.random.key(config.seed)
    self.train_key, self.eval_key = jax.random.split(self.key)
    # The newest checkpoint that reads; unreadable newer ones are set aside (first process).
    self.start_epoch, self.resumed, _ = checkpoints.restore_newest_readable(
        manager, abstract_state, config, self.workdir, set_aside=is_writer())
    self.resumed_epoch = self.start_epoch
    self.saved_epoch = self.start_epoch
    self.finished_epoch = self.start_epoch
    self.failure = None
    self.writers = None
    self.restored = None
    self.classifier = None  # a warm start of p(y|x) (checkpoints.classifier_parameters)

  @property
  def label(self):
    return str(self.workdir)

  def initial_state(self, fresh):
    """The state to start from: the checkpoint of `start_epoch`, --restore_from's
    parameters, or `fresh`."""
    config, workdir = self.config, self.workdir
    if self.start_epoch:
      state = self.resumed
      if state is None or self.resumed_epoch != self.start_epoch:  # a sweep's common epoch
        state, _ = checkpoints.restore_checked(self.manager, self.start_epoch,
                                               self.abstract_state, config, workdir)
      self.resumed = None
      if self.start_epoch >= config.num_epochs:
        log.info('%s is trained to epoch %d already (--num_epochs=%d): nothing to train',
                 workdir, self.start_epoch, config.num_epochs)
      else:
        log.info('resuming %s from epoch %d of %d', workdir, self.start_epoch,
                 config.num_epochs)
      return state
    if self.restored is not None:
      log.info('starting a new run in %s from the parameters of %s', workdir,
               config.restore_from)
      return self.restored
    log.info('starting a new run in %s (no checkpoint there)', workdir)
    if self.classifier is not None:
      return checkpoints.with_classifier(fresh, self.classifier)
    return fresh

  def write_config(self, statistics=None, dataset=None):
    """config.json, the data's description (`checkpoints.data_description`: class and
    feature names) and the standardisation statistics of a feature table."""
    if is_writer() and self.start_epoch < self.config.num_epochs:  # a finished run keeps its checkpoints' config
      write_atomically(self.workdir / 'config.json',
                       json.dumps(self.config.to_saved(), indent=2) + '\n')
    saved = self.workdir / checkpoints.STATISTICS_FILE
    if is_writer() and statistics is not None and not saved.exists():
      write_atomically(saved, json.dumps(statistics) + '\n')
    described = self.workdir / checkpoints.DATA_FILE
    if is_writer() and dataset is not None and not described.exists():
      write_atomically(described, json.dumps(checkpoints.data_description(dataset)) + '\n')

  def save(self, epoch, state, force):
    checkpoints.save(self.manager, epoch, state, self.config, self.key, force=force)
    self.saved_epoch = epoch


def _open_runs(stack, configs, abstract_state):
  """Checks, locks and opens the workdir of every run (on `stack`); returns `_Run`s that
  all start at the latest epoch every run has a checkpoint of."""
  for config in configs:
    check_workdir_config(config.workdir, config)
  restored = {}
  for config in configs:  # checked before any checkpoints folder is made
    if config.restore_from and not _has_checkpoints(pathlib.Path(config.workdir) /
                                                    'checkpoints'):
      if config.restore_from not in restored:
        restored[config.restore_from] = checkpoints.restore_parameters(
            config.restore_from, abstract_state, config)
  classifiers = {}
  for config in configs:
    source = config.get('classifier_from')
    if source and source not in classifiers and not _has_checkpoints(
        pathlib.Path(config.workdir) / 'checkpoints'):
      classifiers[source] = checkpoints.classifier_parameters(source, abstract_state, config)
  runs = []
  for config in configs:
    workdir = pathlib.Path(config.workdir)
    if is_writer():
      workdir.mkdir(parents=True, exist_ok=True)
      stack.enter_context(WorkdirLock(workdir))
    # Closing the manager waits for the saves in flight, however training ends.
    manager = stack.enter_context(checkpoints.manager(workdir / 'checkpoints',
                                                      config.checkpoint_every))
    run = _Run(config, manager, abstract_state)
    run.restored = restored.get(config.restore_from) if not run.start_epoch else None
    if not run.start_epoch:
      run.classifier = classifiers.get(config.get('classifier_from'))
    runs.append(run)
  common = min(run.start_epoch for run in runs)
  for run in runs:
    if run.start_epoch > common:
      if not common:
        raise ExperimentError(f'{run.workdir} has checkpoints but another run of the sweep '
                              'has none: run the new runs as their own sweep, or delete '
                              f'{run.workdir} to retrain it with them.')
      if common not in run.manager.all_steps():
        raise ExperimentError(f'{run.workdir} has no checkpoint of epoch {common}, where '
                              'another run of the sweep is: run it on its own, or delete it '
                              'to retrain it with the others.')
      later = [step for step in run.manager.all_steps() if step > common]
      log.warning('%s is at epoch %d; the sweep resumes every run from epoch %d (its '
                  'checkpoints of epochs %s are redone)', run.workdir, run.start_epoch,
                  common, later)
      for step in later:
        run.manager.delete(step)
      run.start_epoch = run.saved_epoch = run.finished_epoch = common
  return runs


def _has_checkpoints(directory):
  if not directory.is_dir():
    return False
  with checkpoints.manager(directory, create=False) as existing:
    return existing.latest_step() is not None


def _train_epochs(runs, state, epoch_fn, evaluate_fn, dataset, num_clusters, stacked):
  """The epoch loop over `runs` (one run, or a sweep's runs with `stacked` states).

  epoch_fn(state, epoch) -> (state, metrics) trains an epoch of every run; evaluate_fn(
  state, epoch) -> [(test metrics, clusters)] per run.
  """
  config = runs[0].config
  start_epoch = runs[0].start_epoch
  steps_per_epoch = len(dataset.train_images) // config.batch_size
  examples = steps_per_epoch * config.batch_size
  for run in runs:
    run.writers = (workdir_lib.Writers(run.workdir, start_epoch, steps_per_epoch) if is_writer()
                   else workdir_lib.NoWriters())
  stop = workdir_lib.StopRequest()
  bar = _progress_bar(config, start_epoch)
  take = (lambda tree, i: sweep_lib.unstack(tree, i)) if stacked else (lambda tree, i: tree)
  try:
    with stop, _log_redirect():
      for epoch in range(start_epoch + 1, config.num_epochs + 1):
        started = time.time()
        with jax.transfer_guard('disallow'):
          next_state, epoch_metrics = epoch_fn(state, epoch)
        if not _wait(epoch_metrics, stop):
          break
        epoch_metrics = train.fetch(epoch_metrics)
        seconds = time.time() - started
        _check_finite(runs, [take(epoch_metrics, i) for i in range(len(runs))], epoch)
        state = next_state
        active = [(i, run) for i, run in enumerate(runs) if run.failure is None]
        evaluating = bool(config.eval_every) and (epoch % config.eval_every == 0
                                                  or epoch == config.num_epochs)
        tests = evaluate_fn(state, epoch) if evaluating else None
        lines = []
        for i, run in active:
          run.finished_epoch = epoch
          scalars = {f'train/{k}': float(v) for k, v in take(epoch_metrics, i).items()
                     if k != 'finite'}
          scalars['train/seconds'] = seconds
          scalars['train/examples_per_second'] = examples / seconds
          if tests is not None:
            scalars.update(_test_scalars(*tests[i], dataset, num_clusters))
          run.writers.write(epoch, epoch * steps_per_epoch, scalars)
          lines.append((run, scalars))
          if epoch % config.checkpoint_every == 0 or epoch == config.num_epochs:
            run.save(epoch, take(state, i), force=epoch == config.num_epochs)
        bar.update(1)
        bar.set_postfix_str(f'{len(active) * examples / seconds:,.0f} ex/s loss '
                            f'{lines[0][1]["train/loss"]:.4g}', refresh=False)
        _log_epoch(epoch, config.num_epochs, seconds, lines, stacked,
                   len(active) * examples / seconds)
        if stop.requested:
          break
      if stop.requested:
        for i, run in enumerate(runs):
          if run.failure is None and run.finished_epoch > run.saved_epoch:
            run.save(run.finished_epoch, take(state, i), force=True)
        raise Stopped(min(run.finished_epoch for run in runs), runs[0].workdir
                      if not stacked else [run.workdir for run in runs])
  finally:
    bar.close()
    for run in runs:
      run.writers.close()
  failed = [run for run in runs if run.failure]
  if failed:
    raise ExperimentError(f'{len(failed)} of the {len(runs)} runs stopped: ' + ' '.join(
        f'{run.workdir}: {run.failure}' for run in failed))
  return state


def _check_finite(runs, per_run, epoch):
  """Marks the runs whose epoch loss is not finite as failed; raises ExperimentError at
  once when no run is left (a single run: the epoch is not saved)."""
  for run, metrics in zip(runs, per_run):
    if run.failure is None and (metrics['finite'] < 1.0
                                or not math.isfinite(metrics['loss'])):
      last = run.manager.latest_step()
      kept = (f'The last good checkpoint is epoch {last} in {run.workdir / "checkpoints"}.'
              if last else 'No checkpoint was saved before it.')
      run.failure = (f'non-finite loss in epoch {epoch}; stopped without saving it. {kept} '
                     'Lower --learning_rate or check the data.')
      if len(runs) > 1:
        log.error('%s: %s The other runs go on.', run.workdir, run.failure)
  if all(run.failure for run in runs):
    if len(runs) == 1:
      raise ExperimentError(runs[0].failure)
    raise ExperimentError('every run of the sweep stopped: ' + ' '.join(
        f'{run.workdir}: {run.failure}' for run in runs))


def _log_epoch(epoch, num_epochs, seconds, lines, stacked, examples_per_second):
  """One log line per epoch: the run's scalars, or for a sweep the range over its runs
  (and each run's line when there are at most 8)."""
  if not stacked:
    [(_, scalars)] = lines
    log.info('epoch %d/%d %.2fs | %s', epoch, num_epochs, seconds, ' '.join(
        f'{k}={v:.4g}' for k, v in scalars.items() if k != 'train/seconds'))
    return
  shown = [k for k in ('train/loss', 'test/clustering_accuracy') if k in lines[0][1]]
  ranges = ' '.join(f'{k}={min(s[k] for _, s in lines):.4g}..{max(s[k] for _, s in lines):.4g}'
                    for k in shown)
  log.info('epoch %d/%d %.2fs | %d runs, %s ex/s | %s', epoch, num_epochs, seconds,
           len(lines), f'{examples_per_second:,.0f}', ranges)
  if len(lines) <= 8:
    for run, scalars in lines:
      log.info('  %s | %s', run.workdir, ' '.join(
          f'{k}={v:.4g}' for k, v in scalars.items()
          if k not in ('train/seconds', 'train/examples_per_second')))


def _test_scalars(test_metrics, clusters, dataset, num_clusters):
  """test/* scalars of one evaluation: those of the registered evaluators
  (`icvae.evaluators.epoch_scalars`: the objective's terms and the clustering accuracy)."""
  test_metrics, clusters = train.fetch((test_metrics, clusters))
  return evaluators.epoch_scalars(test_metrics, clusters, dataset, num_clusters)
