"""A run's workdir as a process sees it: the lock that admits one training process, the metrics
writers (metrics.jsonl and TensorBoard events, cut back to the epoch a resumed run starts
from), atomic writes, the Ctrl-C stop request, and the check that a workdir holds a run of the
same settings. `icvae.loop` trains through these; the reports write through them.
"""

import json
import logging
import os
import pathlib
import signal
import socket
import sys
import threading

import jax
import numpy as np

from icvae import config as config_lib

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


def is_writer():
  """Whether this process writes the workdir's files (config, metrics, events, lock): the
  only process, or process 0 of a `jax.distributed` launch. Orbax saves from every process."""
  return jax.process_index() == 0


class NoWriters:
  """The writers of a process that writes nothing (not process 0)."""

  def write(self, epoch, step, scalars):
    del epoch, step, scalars

  def close(self):
    pass


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
  try:
    diff = config_lib.differences(saved, config, config_lib.resumable_settings())
  except config_lib.NewerFormatError as e:
    raise ExperimentError(f'{path}: {e}') from e
  if diff:
    lines = ', '.join(f'--{k}: workdir has {a!r}, flags say {b!r}' for k, (a, b) in diff.items())
    raise ExperimentError(f'{workdir} holds a run with other settings ({lines}). Use another '
                          '--workdir, or the same flags to resume it.')
