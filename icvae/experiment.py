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
from flax import nnx

from icvae import data as data_lib
from icvae import losses
from icvae import metrics as metrics_lib
from icvae import models
from icvae import priors
from icvae import train

log = logging.getLogger('icvae')

# Config fields that may change between a run and its resumption; any other difference means
# another experiment and is refused.
RESUMABLE_FIELDS = ('num_epochs', 'eval_every', 'checkpoint_every', 'workdir', 'data_dir',
                    'restore_from', 'eval_batch_size', 'progress')
# Fields that must match for --restore_from (the shapes of the saved arrays).
ARCHITECTURE_FIELDS = ('model', 'network', 'num_categories', 'delta', 'hidden_features',
                       'learned_prior', 'dataset')


class ExperimentError(Exception):
  """A run cannot start or continue; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Everything that defines a run (the binaries build it from flags)."""
  dataset: str = 'mnist'
  model: str = 'infocatvae'
  network: str = 'mlp'            # 'mlp' (Table 2, images) or 'gru' (Table 3, row sequences)
  num_categories: int = 10
  delta: int = 2
  prior_scale: float = 2.0
  hidden_features: int = 400
  dropout_rate: float = 0.25
  learned_prior: bool = False
  adversarial_weight: float = 10.0    # AAE only
  compute_dtype: str = 'float32'
  observation_scale: float = 0.0  # GRU: sigma of N(x; mean, sigma^2 I); 0: appendix C literal
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
        reconstruction=self.reconstruction, likelihood=self.likelihood,
        num_info_samples=self.num_info_samples or None)

  @property
  def likelihood(self):
    """Bernoulli on pixels for the MLP (appendix B); a Gaussian on rows for the GRU.

    For the GRU, observation_scale = 0 reads appendix C literally ('squared_error', the sum
    over steps of the per-step MSE, i.e. sigma = sqrt(F / 2)); a positive value is that
    sigma instead (`losses.GaussianLikelihood`).
    """
    if self.network != 'gru':
      return 'bernoulli'
    if self.observation_scale:
      return losses.GaussianLikelihood(float(self.observation_scale))
    return 'squared_error'

  def view(self, images):
    """The data as the network reads them: flat (N, 784) or (N, 28, 28) row sequences."""
    return data_lib.as_sequences(images) if self.network == 'gru' else data_lib.as_flat(images)

  def build_model(self):
    if self.model == 'aae':
      from icvae import aae
      return aae.mlp_aae(latent_dim=self.num_categories * self.delta,
                         hidden_features=self.hidden_features, dropout_rate=self.dropout_rate,
                         adversarial_weight=self.adversarial_weight, seed=self.seed)
    if self.network == 'gru':
      return models.gru_catvae(num_categories=self.num_categories, delta=self.delta,
                               prior_scale=self.prior_scale,
                               hidden_features=self.hidden_features,
                               learned_prior=self.learned_prior, seed=self.seed)
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


def _restore_checked(manager, epoch, abstract_state, config, where):
  """Restores checkpoint `epoch` and checks it was made with `config`'s settings.

  Args:
    manager: the Orbax `CheckpointManager` of a training workdir.
    epoch: the step to restore.
    abstract_state: `TrainState` of `jax.ShapeDtypeStruct`s built from `config`.
    config: the `ExperimentConfig` the checkpoint must match (except RESUMABLE_FIELDS).
    where: the workdir, for the error messages.

  Returns:
    (state, meta) as saved by `_save`.

  Raises:
    ExperimentError: the arrays do not fit the model, or the saved settings differ.
  """
  try:
    state, meta = _restore(manager, epoch, abstract_state)
  except Exception as e:  # orbax raises several types for a structure or shape mismatch
    raise ExperimentError(f'{where}: the checkpoint of epoch {epoch} does not fit the model '
                          f'of these settings ({e}). Use another --workdir.') from e
  diff = _differences(meta['config'], config, RESUMABLE_FIELDS)
  if diff:
    raise ExperimentError(f'{where}: the checkpoint was made with other settings: {diff}. '
                          'Use another --workdir.')
  return state, meta


def _save(manager, epoch, state, config, key, force=False):
  import orbax.checkpoint as ocp
  meta = {'epoch': epoch, 'config': dataclasses.asdict(config),
          'key': np.asarray(jax.random.key_data(key)).tolist()}
  manager.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                               meta=ocp.args.JsonSave(meta)), force=force)


def _differences(saved, config, ignore):
  """{field: (saved, current)} for the fields that differ, except those in `ignore`.

  A field missing from `saved` (a workdir written before the field existed) counts as its
  default, which every field added later keeps equal to the earlier behaviour.
  """
  current = dataclasses.asdict(config)
  defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
  return {k: (saved.get(k, defaults[k]), v) for k, v in current.items()
          if k not in ignore and saved.get(k, defaults[k]) != v}


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
    state, _ = _restore_checked(manager, start_epoch, abstract, config, workdir)
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
  train_images = train.replicate(jnp.asarray(config.view(dataset.train_images)), mesh)
  test_images = train.replicate(jnp.asarray(config.view(dataset.test_images)), mesh)
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


# --------------------------------------------------------------------------- evaluation


@dataclasses.dataclass(frozen=True)
class EvalOptions:
  """Sizes of the evaluation (defaults: the paper's protocol where it has one)."""
  iwae_samples: int = 1000          # S of the importance-weighted bound
  iwae_examples: int = 0            # test images for the bound; 0: all
  num_generated: int = 10000        # samples for the information term and the KDE (section 10,
                                    # Table 1)
  kde_train_examples: int = 0       # training images the KDE is fitted on; 0: all (Table 1)
  kde_folds: int = 5
  kde_bandwidths: tuple = tuple(float(b) for b in np.logspace(-1.3, -0.3, 11))  # 0.05..0.5
  seed: int = 0

  def __post_init__(self):
    for name, least in (('iwae_samples', 1), ('num_generated', 1), ('kde_folds', 2),
                        ('iwae_examples', 0), ('kde_train_examples', 0)):
      if getattr(self, name) < least:
        raise ValueError(f'{name} must be >= {least}, got {getattr(self, name)}.')
    if not self.kde_bandwidths or min(self.kde_bandwidths) <= 0:
      raise ValueError(f'kde_bandwidths must be positive, got {self.kde_bandwidths}.')


def load_run(workdir):
  """(config, graphdef, state, epoch) of the latest checkpoint of a training workdir.

  Raises ExperimentError when the folder is missing, is not a training workdir, or its
  checkpoint does not fit the configuration it claims.
  """
  workdir = pathlib.Path(workdir)
  config_path = workdir / 'config.json'
  if not workdir.is_dir():
    raise ExperimentError(f'--workdir={workdir}: no such folder. Pass the --workdir of a '
                          'training run.')
  if not config_path.exists():
    raise ExperimentError(f'--workdir={workdir}: no config.json; this is not the workdir of '
                          'an icvae training run.')
  try:
    saved = json.loads(config_path.read_text())
    known = {f.name for f in dataclasses.fields(ExperimentConfig)}
    unknown = set(saved) - known
    if unknown:
      raise ValueError(f'unknown settings {sorted(unknown)}')
    config = ExperimentConfig(**saved)
  except (ValueError, TypeError) as e:
    raise ExperimentError(f'{config_path}: not an icvae configuration ({e}).') from e
  manager = _checkpoint_manager(workdir / 'checkpoints', 1)
  try:
    epoch = manager.latest_step()
    if epoch is None:
      raise ExperimentError(f'--workdir={workdir}: no checkpoint yet; train first (or wait '
                            'for the first --checkpoint_every epochs).')
    optimizer = optax.adam(config.learning_rate)
    graphdef, state = train.create_train_state(config.build_model(), optimizer)
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), state)
    state, _ = _restore_checked(manager, epoch, abstract, config, workdir)
  finally:
    manager.close()
  return config, graphdef, state, epoch


def _decoded_means(model, z, likelihood='bernoulli'):
  """Mean images of p(x|z) as numpy, flattened per image: (..., event size)."""
  _, mean_fn = losses._likelihood(likelihood)  # pylint: disable=protected-access
  z = jnp.asarray(z, jnp.float32)
  means = np.asarray(mean_fn(model.decode(z)))
  return means.reshape(*z.shape[:-1], -1)


def evaluate_run(workdir, dataset=None, data_dir=None, options=EvalOptions()):
  """Every metric of the paper and its peers, plus figures, for the latest checkpoint.

  Writes workdir/eval/report.json and the PNG figures next to it, and returns the report.
  Metrics (see `icvae.evaluation` and `icvae.metrics` for how each is estimated):
  clustering (Hungarian accuracy, many-to-one accuracy, NMI, ARI, cluster usage) on train and
  test; the information cross-entropy (proper and as published) on `num_generated` samples;
  the test ELBO terms, importance-weighted bound and reconstruction error (nats or squared
  error per image); the Parzen-window log-likelihood of `num_generated` generated images
  under a KDE of the training images, bandwidth by k-fold cross-validation.
  """
  from icvae import evaluation
  config, graphdef, state, epoch = load_run(workdir)
  workdir = pathlib.Path(workdir)
  out = workdir / 'eval'
  out.mkdir(exist_ok=True)
  if dataset is None:
    dataset = data_lib.load(config.dataset, data_dir or config.data_dir or None)
  model = nnx.merge(graphdef, state.params, state.constants)
  loss_config = config.loss_config()
  key = jax.random.key(options.seed)
  keys = dict(zip(['test', 'info', 'iwae', 'generate', 'figures'], jax.random.split(key, 5)))
  train_images = jnp.asarray(config.view(dataset.train_images))
  test_images = jnp.asarray(config.view(dataset.test_images))
  likelihood = config.likelihood
  report = {'workdir': str(workdir), 'epoch': epoch, 'config': dataclasses.asdict(config),
            'options': dataclasses.asdict(options)}
  timings = {}

  started = time.time()
  mesh = train.data_mesh()
  evaluate = train.make_evaluate(graphdef, loss_config, config.eval_batch_size, mesh)
  test_metrics, test_clusters = jax.device_get(evaluate(
      train.replicate(state, mesh), train.replicate(test_images, mesh), keys['test']))
  report['test'] = {k: float(v) for k, v in test_metrics.items()}
  classify = jax.jit(lambda x: jnp.argmax(model.classify(x), axis=-1))
  train_clusters = np.concatenate([np.asarray(classify(train_images[i:i + 5000]))
                                   for i in range(0, len(train_images), 5000)])
  report['clustering'] = {
      'train': metrics_lib.clustering_report(train_clusters, dataset.train_labels,
                                             config.num_categories),
      'test': metrics_lib.clustering_report(np.asarray(test_clusters), dataset.test_labels,
                                            config.num_categories)}
  timings['clustering_and_elbo'] = time.time() - started

  started = time.time()
  prior_means = model.prior_means()
  categorical = config.model != 'aae'  # the AAE has no categories and a deterministic code
  if categorical:
    report['information_cross_entropy'] = evaluation.information_cross_entropies(
        keys['info'], model.decode, model.classify, prior_means, options.num_generated,
        likelihood)
  timings['information'] = time.time() - started

  started = time.time()
  count = options.iwae_examples or len(test_images)
  per_call = max(1, 20000 // options.iwae_samples)

  @jax.jit
  def bounds_and_errors(x, key):
    posterior = model.encode(x)
    error = evaluation.reconstruction_error(x, posterior, model.decode, likelihood)
    if not categorical:
      return jnp.zeros(x.shape[0]), error
    bound = evaluation.importance_weighted_bound(key, x, posterior, model.decode, prior_means,
                                                 options.iwae_samples, likelihood)
    return bound, error

  results = [bounds_and_errors(test_images[i:i + per_call],
                               jax.random.fold_in(keys['iwae'], i))
             for i in range(0, count, per_call)]
  bounds = np.concatenate([np.asarray(b) for b, _ in results])
  errors = np.concatenate([np.asarray(e) for _, e in results])
  if categorical:
    report['test'].update({'iwae_bound': float(bounds.mean()),
                           'iwae_samples': options.iwae_samples, 'iwae_examples': int(count)})
  report['test'].update({
      'reconstruction_squared_error': float(errors.mean()),
      'reconstruction_squared_error_std': float(errors.std())})
  timings['iwae'] = time.time() - started

  started = time.time()
  _, z = priors.sample_prior(keys['generate'], prior_means, options.num_generated)
  generated = np.concatenate([_decoded_means(model, z[i:i + 5000], likelihood)
                              for i in range(0, len(z), 5000)])
  kde_data = data_lib.as_flat(
      dataset.train_images[:options.kde_train_examples or len(train_images)])
  bandwidth, cv_scores = evaluation.kde_bandwidth_search(kde_data, options.kde_bandwidths,
                                                         options.kde_folds)
  log_density = np.asarray(evaluation.kde_log_density(generated, kde_data, [bandwidth]))[0]
  report['parzen'] = {
      'log_likelihood': float(log_density.mean()),
      'log_likelihood_std_error': float(log_density.std() / math.sqrt(len(log_density))),
      'bandwidth': bandwidth, 'bandwidth_grid': list(options.kde_bandwidths),
      'cv_mean_heldout_log_likelihood': (cv_scores / (len(kde_data) / options.kde_folds)
                                         ).tolist(),
      'bandwidth_at_grid_edge': bandwidth in (options.kde_bandwidths[0],
                                              options.kde_bandwidths[-1]),
      'fitted_on': len(kde_data), 'generated': options.num_generated}
  timings['parzen'] = time.time() - started

  started = time.time()
  report['figures'] = _write_figures(out, model, config, dataset, workdir, keys['figures'])
  timings['figures'] = time.time() - started
  report['seconds'] = timings
  (out / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
  log.info('evaluation of %s (epoch %d) written to %s', workdir, epoch, out)
  return report


def _write_figures(out, model, config, dataset, workdir, key):
  """Figures 3 and 4 of the paper, conditional samples, reconstructions, training curves."""
  from icvae import figures
  k = config.num_categories
  likelihood = config.likelihood
  means = np.asarray(model.prior_means())
  names = {}
  if config.model == 'aae':
    return _write_aae_figures(out, model, dataset, workdir, names)
  # Figure 3: centroid c, nine points on the segment, centroid c + 1.
  t = np.linspace(0.0, 1.0, 11)
  paths = np.stack([means[c] + t[:, None] * (means[(c + 1) % k] - means[c]) for c in range(k)])
  names['figure3_centroid_paths'] = 'figure3_centroid_paths.png'
  figures.image_grid(out / names['figure3_centroid_paths'],
                     _decoded_means(model, paths, likelihood),
                     'Figure 3: decoded centroids mu_c (left, right) and the 9 points '
                     'between consecutive ones', [f'{c} -> {(c + 1) % k}' for c in range(k)],
                     ['mu_c'] + [f'{x:.1f}' for x in t[1:-1]] + ['mu_c+1'])
  # Figure 4: the block of category c set to lambda, lambda = 0..9.
  blocks = (means != 0).astype(np.float32) if np.any(means) else np.eye(k, means.shape[1])
  lambdas = np.arange(10, dtype=np.float32)
  scaled = blocks[:, None, :] * lambdas[None, :, None]
  names['figure4_prior_scale'] = 'figure4_prior_scale.png'
  figures.image_grid(out / names['figure4_prior_scale'],
                     _decoded_means(model, scaled, likelihood),
                     'Figure 4: decoded z = lambda on the block of category c',
                     [f'c = {c}' for c in range(k)], [f'lambda={int(v)}' for v in lambdas])
  # Conditional samples: z ~ p(z|c), 10 per category.
  z = priors.sample_conditional(key, means, 10)
  names['conditional_samples'] = 'conditional_samples.png'
  figures.image_grid(out / names['conditional_samples'],
                     _decoded_means(model, z, likelihood),
                     'Samples from p(x|z), z ~ p(z|c) (decoded means)',
                     [f'c = {c}' for c in range(k)])
  # Reconstructions: originals and the decoded mean of q(z|x, argmax c).
  x = jnp.asarray(config.view(dataset.test_images[:20]))
  posterior = model.encode(x)
  best = np.asarray(jnp.argmax(posterior.logits, -1))
  codes = np.asarray(posterior.mean)[np.arange(20), best]
  recon = _decoded_means(model, codes, likelihood)
  flat = np.asarray(x).reshape(20, -1)
  grid = np.stack([flat[:10], recon[:10], flat[10:], recon[10:]])
  names['reconstructions'] = 'reconstructions.png'
  figures.image_grid(out / names['reconstructions'], grid,
                     'Test images and their reconstructions (mean code of the argmax category)',
                     ['original', 'reconstruction', 'original', 'reconstruction'],
                     [f'c={c}' for c in best[:10]])
  return _write_training_curves(out, workdir, names)


def _write_training_curves(out, workdir, names):
  """Adds the training curves of workdir/metrics.jsonl (when present) to `names`."""
  from icvae import figures
  metrics_path = pathlib.Path(workdir) / 'metrics.jsonl'
  if metrics_path.exists():
    names['training_curves'] = 'training_curves.png'
    figures.training_curves(out / names['training_curves'], metrics_path,
                            f'Training curves of {pathlib.Path(workdir).name}')
  return names


def _write_aae_figures(out, model, dataset, workdir, names):
  """Samples from the N(0, I) prior, reconstructions and curves for the AAE baseline."""
  from icvae import figures
  rng = np.random.default_rng(0)
  z = rng.standard_normal((5, 10, model.latent_dim)).astype(np.float32)
  names['samples'] = 'samples.png'
  figures.image_grid(out / names['samples'], _decoded_means(model, z),
                     'AAE samples: decoded z ~ N(0, I)')
  x = jnp.asarray(data_lib.as_flat(dataset.test_images[:10]))
  recon = _decoded_means(model, model.embed(x))
  names['reconstructions'] = 'reconstructions.png'
  figures.image_grid(out / names['reconstructions'], np.stack([np.asarray(x), recon]),
                     'Test images and their AAE reconstructions', ['original', 'reconstruction'])
  return _write_training_curves(out, workdir, names)
