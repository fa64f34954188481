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

import json
import logging
import math
import os
import pathlib
import signal
import socket
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from icvae import checkpoints
from icvae import config as config_lib
from icvae import data as data_lib
from icvae import metrics as metrics_lib
from icvae import train

log = logging.getLogger('icvae')


class ExperimentError(Exception):
  """A run cannot start or continue; the message says why and what to do."""


class Stopped(Exception):
  """Training was stopped by Ctrl-C; `epoch` is the last finished (and saved) epoch."""

  def __init__(self, epoch, workdir):
    self.epoch = epoch
    if epoch:
      message = f'stopped after epoch {epoch}; run the same command to resume.'
    else:
      message = 'stopped before the first epoch finished; nothing was saved.'
    super().__init__(message)
    self.workdir = workdir


def _jsonable(value):
  return float(value) if isinstance(value, (np.floating, jax.Array)) else value


def write_atomically(path, text):
  """Writes `text` to `path` through a temporary file, so a kill never leaves half a file."""
  path = pathlib.Path(path)
  temporary = path.with_name(path.name + '.tmp')
  temporary.write_text(text)
  os.replace(temporary, path)


def _epoch_of(line):
  """The epoch of a metrics.jsonl line, or None for a line cut short by a kill."""
  try:
    return json.loads(line)['epoch']
  except (ValueError, KeyError, TypeError):
    return None


class Writers:
  """metrics.jsonl + TensorBoard events in the workdir, both cut back to `resume_epoch`."""

  def __init__(self, workdir, resume_epoch, steps_per_epoch):
    self._path = pathlib.Path(workdir) / 'metrics.jsonl'
    if self._path.exists():  # drop epochs the resumed run will redo (after a kill)
      lines = [(line, _epoch_of(line))
               for line in self._path.read_text().splitlines() if line.strip()]
      kept = [line for line, epoch in lines if epoch is not None and epoch <= resume_epoch]
      if any(epoch is None for _, epoch in lines):
        log.warning('%s: dropped a line that is not a metrics record (cut short by a kill?)',
                    self._path)
      write_atomically(self._path, ''.join(line + '\n' for line in kept))
    from tensorboardX import SummaryWriter
    tensorboard = pathlib.Path(workdir) / 'tensorboard'
    # TensorBoard hides events at or after purge_step from earlier files: the epochs redone.
    purge_step = resume_epoch * steps_per_epoch + 1 if tensorboard.exists() else None
    self._tb = SummaryWriter(str(tensorboard), purge_step=purge_step)

  def write(self, epoch, step, scalars):
    record = {'epoch': epoch, 'step': step, **{k: _jsonable(v) for k, v in scalars.items()}}
    with open(self._path, 'a') as f:
      f.write(json.dumps(record) + '\n')
    for name, value in scalars.items():
      if isinstance(value, (int, float)):
        self._tb.add_scalar(name, value, step)
    self._tb.flush()

  def close(self):
    self._tb.close()


class WorkdirLock:
  """An exclusive lock on a workdir (`.lock`, flock): one training process at a time.

  The lock file records the holder's pid, host and command; the operating system releases
  the lock when the holder exits, however it exits.
  """

  def __init__(self, workdir):
    self.path = pathlib.Path(workdir) / '.lock'
    self._file = None

  def __enter__(self):
    import fcntl
    self._file = open(self.path, 'a+')
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      self._file.seek(0)
      holder = self._file.read().strip() or 'another process'
      self._file.close()
      raise ExperimentError(f'{self.path.parent} is in use by {holder}. Wait for it to '
                            'finish (or stop it), or use another --workdir.') from None
    self._file.seek(0)
    self._file.truncate()
    self._file.write(f'process {os.getpid()} on {socket.gethostname()} '
                     f'({" ".join(sys.argv) or "python"})\n')
    self._file.flush()
    return self

  def __exit__(self, *exc):
    self._file.close()  # releases the flock
    return False


class StopRequest:
  """Turns the first Ctrl-C (SIGINT) into a flag that the loop polls; a second one
  interrupts at once (KeyboardInterrupt). Only installed in the main thread."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGINT, self._handle)
    return self

  def _handle(self, signum, frame):
    del signum, frame
    if self.requested:
      raise KeyboardInterrupt
    self.requested = True
    log.warning('Ctrl-C: stopping (press it again to quit without saving)')

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
    return False


def _wait(arrays, stop):
  """Waits until `arrays` are computed, polling `stop`; False when a stop was requested."""
  leaves = jax.tree.leaves(arrays)
  while not all(leaf.is_ready() for leaf in leaves):
    if stop.requested:
      return False
    time.sleep(0.02)
  return not stop.requested


def check_workdir_config(workdir, config):
  """Refuses a workdir whose run was made with other settings (raises ExperimentError)."""
  path = pathlib.Path(workdir) / 'config.json'
  if not path.exists():
    return
  try:
    saved = json.loads(path.read_text())
  except ValueError as e:
    raise ExperimentError(f'{path} is not valid JSON ({e}): fix or delete it (the '
                          'checkpoints hold the run\'s settings too), or use another '
                          '--workdir.') from e
  diff = config_lib.differences(saved, config, config_lib.resumable_settings())
  if diff:
    lines = ', '.join(f'--{k}: workdir has {a!r}, flags say {b!r}' for k, (a, b) in diff.items())
    raise ExperimentError(f'{workdir} holds a run with other settings ({lines}). Use another '
                          '--workdir, or the same flags to resume it.')


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
    dataset: optional in-memory `data.Dataset` (default: loaded from config.dataset).
    devices: devices to shard the batch over (default: all local devices).

  Raises:
    ExperimentError: other settings in the workdir, a workdir in use by another process, a
      non-finite loss (the last good checkpoint is kept).
    checkpoints.CheckpointError: a checkpoint that does not fit (resume or --restore_from).
    Stopped: Ctrl-C; the last finished epoch is saved.
    data.DataError: missing or corrupt data.
  """
  workdir = pathlib.Path(config.workdir)
  check_workdir_config(workdir, config)
  if dataset is None:
    dataset = data_lib.load(config.dataset, config.data_dir or None)
  if config.batch_size > len(dataset.train_images):
    raise ExperimentError(f'--batch_size={config.batch_size} exceeds the '
                          f'{len(dataset.train_images)} training examples.')
  mesh = train.data_mesh(devices)
  if config.batch_size % mesh.size:
    raise ExperimentError(f'--batch_size={config.batch_size} must be a multiple of the '
                          f'{mesh.size} devices.')
  try:
    train.evaluation_batch_size(len(dataset.test_images), config.eval_batch_size, mesh.size)
  except ValueError as e:
    raise ExperimentError(f'the test set cannot be evaluated on these devices: {e}') from e
  workdir.mkdir(parents=True, exist_ok=True)
  with WorkdirLock(workdir):
    return _train_locked(config, dataset, mesh, workdir)


def _train_locked(config, dataset, mesh, workdir):
  objective = config.build_objective()
  graphdef, state, optimizer = checkpoints.new_state(config)
  key = jax.random.key(config.seed)
  train_key, eval_key = jax.random.split(key)
  train_key = train.replicate(train_key, mesh)

  restored = None
  if config.restore_from and not _has_checkpoints(workdir / 'checkpoints'):
    # Checked before the checkpoints folder is made: a refusal leaves nothing behind.
    restored = checkpoints.restore_parameters(config.restore_from,
                                              checkpoints.abstract(state), config)
  # Closing the manager waits for the saves in flight, however training ends.
  with checkpoints.manager(workdir / 'checkpoints', config.checkpoint_every) as manager:
    return _train_with_manager(config, dataset, mesh, workdir, manager, objective, graphdef,
                               state, restored, optimizer, key, train_key, eval_key)


def _has_checkpoints(directory):
  if not directory.is_dir():
    return False
  with checkpoints.manager(directory, create=False) as existing:
    return existing.latest_step() is not None


def _train_with_manager(config, dataset, mesh, workdir, manager, objective, graphdef, state,
                        restored, optimizer, key, train_key, eval_key):
  start_epoch = manager.latest_step() or 0
  if start_epoch:
    state, _ = checkpoints.restore_checked(manager, start_epoch, checkpoints.abstract(state),
                                           config, workdir)
    if start_epoch >= config.num_epochs:
      log.info('%s is trained to epoch %d already (--num_epochs=%d): nothing to train',
               workdir, start_epoch, config.num_epochs)
    else:
      log.info('resuming %s from epoch %d of %d', workdir, start_epoch, config.num_epochs)
  elif restored is not None:
    state = restored
    log.info('starting a new run in %s from the parameters of %s', workdir,
             config.restore_from)
  else:
    log.info('starting a new run in %s (no checkpoint there)', workdir)
  if start_epoch < config.num_epochs:  # a finished run keeps the config of its checkpoints
    write_atomically(workdir / 'config.json', json.dumps(config.to_dict(), indent=2) + '\n')

  state = train.replicate(state, mesh)
  train_images = train.replicate(
      objective.training_data(jnp.asarray(config.view(dataset.train_images))), mesh)
  test_images = train.replicate(jnp.asarray(config.view(dataset.test_images)), mesh)
  train_epoch = train.make_train_epoch(graphdef, optimizer, objective, config.batch_size,
                                       mesh, donate=False)
  evaluate = train.make_evaluate(graphdef, objective, config.eval_batch_size, mesh)
  num_clusters = train.cluster_count(graphdef, objective, state, test_images)

  steps_per_epoch = len(dataset.train_images) // config.batch_size
  examples = steps_per_epoch * config.batch_size
  writers = Writers(workdir, start_epoch, steps_per_epoch)
  saved_epoch = start_epoch
  finished_epoch = start_epoch
  stop = StopRequest()
  bar = _progress_bar(config, start_epoch)
  try:
    with stop, _log_redirect():
      for epoch in range(start_epoch + 1, config.num_epochs + 1):
        started = time.time()
        epoch_index = train.replicate(np.int32(epoch), mesh)
        with jax.transfer_guard('disallow'):
          next_state, epoch_metrics = train_epoch(state, train_images, train_key, epoch_index)
        if not _wait(epoch_metrics, stop):
          break
        epoch_metrics = jax.device_get(epoch_metrics)
        seconds = time.time() - started
        if epoch_metrics.pop('finite') < 1.0 or not math.isfinite(epoch_metrics['loss']):
          last = manager.latest_step()
          kept = (f'The last good checkpoint is epoch {last} in {workdir / "checkpoints"}.'
                  if last else 'No checkpoint was saved before it.')
          raise ExperimentError(f'non-finite loss in epoch {epoch}; stopped without saving '
                                f'it. {kept} Lower --learning_rate or check the data.')
        state, finished_epoch = next_state, epoch
        scalars = {f'train/{k}': float(v) for k, v in epoch_metrics.items()}
        scalars['train/seconds'] = seconds
        scalars['train/examples_per_second'] = examples / seconds
        if epoch % config.eval_every == 0 or epoch == config.num_epochs:
          scalars.update(_test_scalars(evaluate, state, test_images, dataset, num_clusters,
                                       jax.random.fold_in(eval_key, epoch)))
        writers.write(epoch, epoch * steps_per_epoch, scalars)
        bar.update(1)
        bar.set_postfix_str(f'{examples / seconds:,.0f} ex/s loss '
                            f'{scalars["train/loss"]:.4g}', refresh=False)
        log.info('epoch %d/%d %.2fs | %s', epoch, config.num_epochs, seconds, ' '.join(
            f'{k}={v:.4g}' for k, v in scalars.items() if k != 'train/seconds'))
        if epoch % config.checkpoint_every == 0 or epoch == config.num_epochs:
          checkpoints.save(manager, epoch, state, config, key,
                           force=epoch == config.num_epochs)
          saved_epoch = epoch
        if stop.requested:
          break
      if stop.requested:
        if finished_epoch > saved_epoch:
          checkpoints.save(manager, finished_epoch, state, config, key, force=True)
        raise Stopped(finished_epoch, workdir)
  finally:
    bar.close()
    writers.close()
  return state


def _test_scalars(evaluate, state, test_images, dataset, num_clusters, key):
  """test/* scalars: the objective's evaluation terms and, with a categorical code, the
  clustering accuracy (Hungarian matching) against the labels."""
  test_metrics, clusters = jax.device_get(evaluate(state, test_images, key))
  scalars = {f'test/{k}': float(v) for k, v in test_metrics.items()}
  if clusters is not None:
    scalars['test/clustering_accuracy'] = metrics_lib.clustering_accuracy(
        clusters, dataset.test_labels, num_clusters, dataset.num_classes)
  return scalars
