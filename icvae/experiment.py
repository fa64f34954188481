"""One train-and-evaluate function shared by every binary in experiments/.

It loads the data into device memory, trains one jitted epoch at a time, evaluates on the
test set every `eval_every` epochs (test ELBO, every loss term, clustering accuracy), writes
`config.json`, `metrics.jsonl` and TensorBoard events (tensorboardX, no TensorFlow) in the
workdir, and saves Orbax checkpoints (state, epoch, run key) every `checkpoint_every` epochs
and at the end. Running it again on the same workdir resumes from the latest checkpoint and
ends bit-identical (on CPU) to an uninterrupted run.
"""

import dataclasses
import json
import logging
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from icvae import data as data_lib
from icvae import losses
from icvae import metrics as metrics_lib
from icvae import models
from icvae import train

log = logging.getLogger('icvae')

# Config fields that may change between a run and its resumption; any other difference means
# another experiment and is refused.
RESUMABLE_FIELDS = ('num_epochs', 'eval_every', 'checkpoint_every', 'workdir', 'data_dir',
                    'restore_from', 'eval_batch_size', 'progress')
# Fields that must match for --restore_from (the shapes of the saved arrays).
ARCHITECTURE_FIELDS = ('model', 'num_categories', 'delta', 'hidden_features', 'learned_prior',
                       'dataset')


class ExperimentError(Exception):
  """A run cannot start or continue; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Everything that defines a run (the binaries build it from flags)."""
  dataset: str = 'mnist'
  model: str = 'infocatvae'
  num_categories: int = 10
  delta: int = 2
  prior_scale: float = 2.0
  hidden_features: int = 400
  dropout_rate: float = 0.25
  learned_prior: bool = False
  compute_dtype: str = 'float32'
  beta_cont: float = 10.0
  beta_cat: float = 10.0
  beta_info: float = 100.0
  num_info_samples: int = 0       # 0: the batch size
  reconstruction: str = 'expected'
  learning_rate: float = 1e-4
  batch_size: int = 128
  num_epochs: int = 600
  seed: int = 0
  workdir: str = ''
  data_dir: str = ''
  eval_every: int = 1
  eval_batch_size: int = 1000
  checkpoint_every: int = 10
  restore_from: str = ''
  progress: bool = True

  def loss_config(self):
    beta_info = self.beta_info if self.model == 'infocatvae' else 0.0
    return train.LossConfig(
        losses.LossWeights(self.beta_cont, self.beta_cat, beta_info),
        reconstruction=self.reconstruction,
        num_info_samples=self.num_info_samples or None)

  def build_model(self):
    return models.mlp_catvae(num_categories=self.num_categories, delta=self.delta,
                             prior_scale=self.prior_scale, hidden_features=self.hidden_features,
                             dropout_rate=self.dropout_rate, learned_prior=self.learned_prior,
                             seed=self.seed, compute_dtype=self.compute_dtype)


def _jsonable(value):
  return float(value) if isinstance(value, (np.floating, jax.Array)) else value


class Writers:
  """metrics.jsonl + TensorBoard events in the workdir."""

  def __init__(self, workdir, resume_epoch):
    self._path = pathlib.Path(workdir) / 'metrics.jsonl'
    if self._path.exists():  # drop epochs the resumed run will redo (after a kill)
      kept = [line for line in self._path.read_text().splitlines()
              if line.strip() and json.loads(line)['epoch'] <= resume_epoch]
      self._path.write_text(''.join(line + '\n' for line in kept))
    from tensorboardX import SummaryWriter
    self._tb = SummaryWriter(str(pathlib.Path(workdir) / 'tensorboard'))

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


class Progress:
  """A one-line progress bar on stderr: epoch, examples/s, ETA."""

  def __init__(self, total_epochs, first_epoch, examples_per_epoch, enabled):
    self.total, self.first, self.examples = total_epochs, first_epoch, examples_per_epoch
    self.enabled = enabled and sys.stderr.isatty()
    self.start = time.time()

  def update(self, epoch):
    if not self.enabled:
      return
    done = epoch - self.first
    elapsed = time.time() - self.start
    rate = done * self.examples / max(elapsed, 1e-9)
    eta = (self.total - epoch) * self.examples / max(rate, 1e-9)
    width = 30
    filled = int(width * epoch / self.total)
    sys.stderr.write(f'\r[{"#" * filled}{"." * (width - filled)}] epoch {epoch}/{self.total} '
                     f'{rate:,.0f} examples/s ETA {eta / 60:.1f} min ')
    sys.stderr.flush()

  def close(self):
    if self.enabled:
      sys.stderr.write('\n')


def _checkpoint_manager(directory, save_every):
  import orbax.checkpoint as ocp
  options = ocp.CheckpointManagerOptions(max_to_keep=3, save_interval_steps=save_every,
                                         create=True)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options)


def _restore(manager, epoch, abstract_state):
  import orbax.checkpoint as ocp
  restored = manager.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
  return restored['state'], restored['meta']


def _save(manager, epoch, state, config, key, force=False):
  import orbax.checkpoint as ocp
  meta = {'epoch': epoch, 'config': dataclasses.asdict(config),
          'key': np.asarray(jax.random.key_data(key)).tolist()}
  manager.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                               meta=ocp.args.JsonSave(meta)), force=force)


def _differences(saved, config, ignore):
  current = dataclasses.asdict(config)
  return {k: (saved.get(k), v) for k, v in current.items()
          if k not in ignore and saved.get(k) != v}


def check_workdir_config(workdir, config):
  """Refuses a workdir whose run was made with other settings (raises ExperimentError)."""
  path = pathlib.Path(workdir) / 'config.json'
  if not path.exists():
    return
  saved = json.loads(path.read_text())
  diff = _differences(saved, config, RESUMABLE_FIELDS)
  if diff:
    lines = ', '.join(f'--{k}: workdir has {a!r}, flags say {b!r}' for k, (a, b) in diff.items())
    raise ExperimentError(f'{workdir} holds a run with other settings ({lines}). Use another '
                          '--workdir, or the same flags to resume it.')


def _load_arrays(config, dataset):
  if dataset is None:
    dataset = data_lib.load(config.dataset, config.data_dir or None)
  if config.batch_size > len(dataset.train_images):
    raise ExperimentError(f'--batch_size={config.batch_size} exceeds the '
                          f'{len(dataset.train_images)} training examples.')
  return dataset


def train_and_evaluate(config, dataset=None, devices=None):
  """Trains and evaluates `config`, resuming from its workdir; returns the final TrainState.

  Args:
    config: `ExperimentConfig` (validated by the caller; see experiments/common.py).
    dataset: optional in-memory `data.Dataset` (default: loaded from config.dataset).
    devices: devices to shard the batch over (default: all local devices).

  Raises:
    ExperimentError: other settings in the workdir, a non-finite loss (the last good
      checkpoint is kept), or an incompatible --restore_from checkpoint.
    data.DataError: missing or corrupt data.
  """
  workdir = pathlib.Path(config.workdir)
  check_workdir_config(workdir, config)
  dataset = _load_arrays(config, dataset)
  mesh = train.data_mesh(devices)
  if config.batch_size % mesh.size:
    raise ExperimentError(f'--batch_size={config.batch_size} must be a multiple of the '
                          f'{mesh.size} devices.')

  loss_config = config.loss_config()
  optimizer = optax.adam(config.learning_rate)
  graphdef, state = train.create_train_state(config.build_model(), optimizer)
  key = jax.random.key(config.seed)
  train_key, eval_key = jax.random.split(key)

  workdir.mkdir(parents=True, exist_ok=True)
  manager = _checkpoint_manager(workdir / 'checkpoints', config.checkpoint_every)
  start_epoch = 0
  abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), state)
  if manager.latest_step() is not None:
    start_epoch = manager.latest_step()
    state, meta = _restore(manager, start_epoch, abstract)
    diff = _differences(meta['config'], config, RESUMABLE_FIELDS)
    if diff:
      raise ExperimentError(f'the checkpoint in {workdir} was made with other settings: '
                            f'{diff}. Use another --workdir.')
    log.info('resuming from %s at epoch %d', workdir / 'checkpoints', start_epoch)
  elif config.restore_from:
    source = _checkpoint_manager(config.restore_from, 1)
    if source.latest_step() is None:
      raise ExperimentError(f'--restore_from={config.restore_from}: no checkpoint there.')
    try:
      restored, meta = _restore(source, source.latest_step(), abstract)
    except Exception as e:  # orbax raises several types for a structure or shape mismatch
      raise ExperimentError(f'--restore_from={config.restore_from}: checkpoint does not fit '
                            f'this model ({e}).') from e
    diff = _differences({k: meta['config'].get(k) for k in ARCHITECTURE_FIELDS},
                        config, set(dataclasses.asdict(config)) - set(ARCHITECTURE_FIELDS))
    if diff:
      raise ExperimentError(f'--restore_from={config.restore_from}: made for another model: '
                            f'{diff}.')
    state = restored._replace(step=jnp.zeros((), jnp.int32))
    log.info('starting from the parameters of %s', config.restore_from)
  (workdir / 'config.json').write_text(json.dumps(dataclasses.asdict(config), indent=2) + '\n')

  state = train.replicate(state, mesh)
  train_images = train.replicate(jnp.asarray(data_lib.as_flat(dataset.train_images)), mesh)
  test_images = train.replicate(jnp.asarray(data_lib.as_flat(dataset.test_images)), mesh)
  train_epoch = train.make_train_epoch(graphdef, optimizer, loss_config, config.batch_size, mesh)
  evaluate = train.make_evaluate(graphdef, loss_config, config.eval_batch_size, mesh)

  writers = Writers(workdir, start_epoch)
  examples = (len(dataset.train_images) // config.batch_size) * config.batch_size
  progress = Progress(config.num_epochs, start_epoch, examples, config.progress)
  try:
    for epoch in range(start_epoch + 1, config.num_epochs + 1):
      started = time.time()
      state, epoch_metrics = train_epoch(state, train_images, train_key, epoch)
      epoch_metrics = jax.device_get(epoch_metrics)
      seconds = time.time() - started
      if epoch_metrics.pop('finite') < 1.0 or not math.isfinite(epoch_metrics['loss']):
        last = manager.latest_step()
        raise ExperimentError(
            f'non-finite loss in epoch {epoch}; stopped without saving it. The last good '
            f'checkpoint is epoch {last} in {workdir / "checkpoints"}. Lower '
            '--learning_rate or check the data.')
      scalars = {f'train/{k}': float(v) for k, v in epoch_metrics.items()}
      scalars['train/seconds'] = seconds
      scalars['train/examples_per_second'] = examples / seconds
      if epoch % config.eval_every == 0 or epoch == config.num_epochs:
        test_metrics, clusters = evaluate(state, test_images, jax.random.fold_in(eval_key, epoch))
        test_metrics, clusters = jax.device_get((test_metrics, clusters))
        scalars.update({f'test/{k}': float(v) for k, v in test_metrics.items()})
        scalars['test/clustering_accuracy'] = metrics_lib.clustering_accuracy(
            clusters, dataset.test_labels, config.num_categories, 10)
      writers.write(epoch, int(epoch * (examples // config.batch_size)), scalars)
      progress.update(epoch)
      log.info('epoch %d/%d %.2fs | %s', epoch, config.num_epochs, seconds, ' '.join(
          f'{k}={v:.4g}' for k, v in scalars.items() if k != 'train/seconds'))
      if epoch % config.checkpoint_every == 0 or epoch == config.num_epochs:
        _save(manager, epoch, state, config, key, force=epoch == config.num_epochs)
  finally:
    progress.close()
    manager.wait_until_finished()
    manager.close()
    writers.close()
  return state
