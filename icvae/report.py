"""The evaluation report of a trained run: `evaluate_run(workdir)`.

Writes workdir/eval/report.json and the model family's PNG figures next to it. The
sections that apply to a model are listed by its `ModelFamily.report_sections`:

- 'clustering': Hungarian accuracy, many-to-one accuracy, NMI, ARI and cluster usage of the
  categorical code on train and test (`icvae.metrics`); on train, all images up to 60,000
  (a fixed random 60,000 of dSprites), whatever --train_examples the run trained on;
- 'codes': I(x; y) of the categorical code on all test images (IMAE eq. 7 on the whole
  set, with H(y) and H(y|x)); for a model whose `encode` gives a `losses.JointPosterior`,
  also I(x; z_k) per dimension (IMAE Proposition 1: 0.5 log(1 + Var mu_k / E sigma_k^2), a
  lower bound, exact for Gaussian means; 'informative_dimensions' counts those above 0.1
  nats) and the total correlation TC(z) and marginal KLs,
  minibatch estimates (appendix B) averaged over test batches of --eval_batch_size;
- 'information': the information cross-entropy of section 10, proper and as published, on
  `num_generated` samples of the prior (`evaluation.information_cross_entropies`);
- 'iwae': the importance-weighted bound with S = `iwae_samples`;
- 'reconstruction': the squared error of the decoded mean code;
- 'parzen': the Parzen-window log-likelihood of `num_generated` generated images under a KDE
  of the training images, bandwidth by k-fold cross-validation (Table 1);
- 'disentanglement' (datasets with known factors: dSprites): on the whole factor grid (or
  every `mig_position_stride`-th position), the Mutual Information Gap two ways
  (`icvae.disentanglement`): Chen et al.'s sampled estimator over the continuous factors and
  z (IMAE Figure 5), the same with the discrete factor and y included (Figure 7), and
  disentanglement_lib's 20-bin histogram of the mean code over all factors; the accuracy of
  y against the discrete factor (shape) on the grid; and per dimension E sigma_k^2,
  Var mu_k and I(x; z_k), with I(x; y).

Every report also holds the objective's own evaluation terms on the test set ('test'). Each
stage is logged when it starts and ends, with a progress bar for the long ones (the IWAE
bound and the KDE).
"""

import dataclasses
import importlib
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
from icvae import disentanglement
from icvae import dsprites
from icvae import evaluation
from icvae import figures
from icvae import information
from icvae import loop
from icvae import losses
from icvae import metrics as metrics_lib
from icvae import priors
from icvae import settings as settings_lib
from icvae import train

log = logging.getLogger('icvae')


def _option(default, help_text):
  return dataclasses.field(default=default, metadata={'help': help_text})


@dataclasses.dataclass(frozen=True)
class EvalOptions:
  """Sizes of the evaluation (defaults: the paper's protocol where it has one).

  The fields with a 'help' are also the evaluation flags of the binaries.
  """
  iwae_samples: int = _option(1000, 'S of the importance-weighted bound.')
  iwae_examples: int = _option(0, 'Test images for the bound; 0: all.')
  num_generated: int = _option(10000, 'Generated samples for the information cross-entropy '
                               'and the Parzen log-likelihood (the paper: 10,000).')
  kde_train_examples: int = _option(0, 'Training images the Parzen KDE is fitted on; 0: all '
                                    'of them up to 60,000 (the paper: 60,000).')
  kde_folds: int = _option(5, 'Cross-validation folds of the KDE bandwidth search.')
  mig_samples: int = _option(10000, 'Samples of z of the entropy estimates of Chen et '
                             "al.'s MIG (theirs: 10,000).")
  mig_points: int = _option(10000, 'Random points of the histogram MIG (disentanglement_lib: '
                            '10,000).')
  mig_position_stride: int = _option(1, 'Disentanglement on every k-th x and y position of '
                                     'the dSprites grid: 1 the whole grid (737,280 images), 2 a '
                                     'quarter (for a CPU).')
  kde_bandwidths: tuple = tuple(float(b) for b in np.logspace(-1.3, -0.3, 11))  # 0.05..0.5
  seed: int = 0

  def __post_init__(self):
    for name, least in (('iwae_samples', 1), ('num_generated', 1), ('kde_folds', 2),
                        ('iwae_examples', 0), ('kde_train_examples', 0), ('mig_samples', 2),
                        ('mig_points', 2), ('mig_position_stride', 1)):
      if getattr(self, name) < least:
        raise ValueError(f'{name} must be >= {least}, got {getattr(self, name)}.')
    if not self.kde_bandwidths or min(self.kde_bandwidths) <= 0:
      raise ValueError(f'kde_bandwidths must be positive, got {self.kde_bandwidths}.')


def _bar(total, description):
  from tqdm import tqdm
  return tqdm(total=total, desc=description, disable=not sys.stderr.isatty(), leave=False,
              dynamic_ncols=True, file=sys.stderr)


class _Stages:
  """Logs each stage of the evaluation with its number, and records its seconds."""

  def __init__(self, names):
    self.names = list(names)
    self.seconds = {}

  def run(self, name, function, *args):
    index = self.names.index(name) + 1
    log.info('evaluation %d/%d: %s ...', index, len(self.names), name.replace('_', ' '))
    started = time.time()
    result = function(*args)
    self.seconds[name] = time.time() - started
    log.info('evaluation %d/%d: %s done in %.1f s', index, len(self.names),
             name.replace('_', ' '), self.seconds[name])
    return result


def evaluate_run(workdir, dataset=None, data_dir=None, options=EvalOptions()):
  """Every metric of the paper and its peers that applies, plus figures, for the latest
  checkpoint of a training workdir.

  Writes workdir/eval/report.json and the PNG figures next to it, and returns the report.
  See the module docstring for the sections; `icvae.evaluation` and `icvae.metrics` for how
  each number is estimated. `dataset` (default: loaded) has the splits as loaded; the run's
  --protocol is applied to it (with 'all', every number is on both splits together).

  Raises:
    checkpoints.CheckpointError: not a training workdir, or no usable checkpoint.
    data.DataError: missing or corrupt data.
  """
  loaded = checkpoints.load_model(workdir)
  config, model, objective = loaded.config, loaded.model, loaded.objective
  sections = config.family.report_sections
  figure_fn = _figure_function(config.family)  # fails now, not after minutes of evaluation
  workdir = pathlib.Path(workdir)
  out = workdir / 'eval'
  out.mkdir(exist_ok=True)
  if dataset is None and data_dir:
    config = config.replace(data_dir=str(data_dir))
  _, dataset, _ = loop.prepare_data(config, dataset, workdir)
  key = jax.random.key(options.seed)
  keys = dict(zip(['test', 'info', 'iwae', 'generate', 'figures', 'mig'],
                  jax.random.split(key, 6)))
  train_images = config.view(dataset.train_images)  # numpy: chunks go to the device
  test_images = jnp.asarray(data_lib.as_float(config.view(dataset.test_images)))
  with_factors = _with_factors(sections, dataset, model, test_images, options)
  report = {'workdir': str(workdir), 'epoch': loaded.epoch, 'config': config.to_dict(),
            'options': dataclasses.asdict(options)}
  with_bound = 'iwae' in sections
  with_errors = with_bound or 'reconstruction' in sections
  stages = _Stages(['test_terms_and_clustering']
                   + ['codes'] * ('codes' in sections)
                   + ['information'] * ('information' in sections)
                   + ['bounds_and_reconstructions'] * with_errors
                   + ['parzen'] * ('parzen' in sections)
                   + ['disentanglement'] * with_factors + ['figures'])

  def test_terms_and_clustering():
    mesh = train.data_mesh(train.devices_dividing(len(test_images)))
    evaluate = train.make_evaluate(loaded.graphdef, objective, config.eval_batch_size, mesh)
    test_metrics, test_clusters = jax.device_get(evaluate(
        train.replicate(loaded.state, mesh), train.replicate(test_images, mesh),
        keys['test']))
    report['test'] = {k: float(v) for k, v in test_metrics.items()}
    if 'clustering' in sections and test_clusters is None:
      log.warning('%s lists the clustering section but its objective has no '
                  'cluster_logits: no clustering metrics.', config.model)
    elif 'clustering' in sections:
      cluster_logits = jax.jit(lambda x: objective.cluster_logits(model, x))
      num_clusters = train.cluster_count(loaded.graphdef, objective, loaded.state,
                                         test_images)
      rows = _train_rows(len(train_images))
      chunks = (jnp.asarray(data_lib.as_float(train_images[rows[i:i + 5000]]))
                for i in range(0, len(rows), 5000))
      train_clusters = np.concatenate([np.asarray(jnp.argmax(cluster_logits(x), axis=-1))
                                       for x in chunks])
      if dataset.labelled:
        report['clustering'] = {
            'train': metrics_lib.clustering_report(train_clusters, dataset.train_labels[rows],
                                                   num_clusters),
            'test': metrics_lib.clustering_report(np.asarray(test_clusters),
                                                  dataset.test_labels, num_clusters)}
      else:
        report['clustering'] = {
            split: {'cluster_usage': metrics_lib.cluster_usage(c, num_clusters).tolist()}
            for split, c in (('train', train_clusters), ('test', np.asarray(test_clusters)))}
        report['clustering']['note'] = ('unlabelled data: accuracy, NMI and ARI need labels '
                                        '(class subfolders, y_train/y_test, --label_column)')

  stages.run('test_terms_and_clustering', test_terms_and_clustering)
  if 'codes' in sections:
    report['codes'] = stages.run('codes', code_information, model, objective, test_images,
                                 config.eval_batch_size, keys['info'])
  if 'information' in sections:
    report['information_cross_entropy'] = stages.run(
        'information', evaluation.information_cross_entropies, keys['info'], model.decode,
        model.classify, model.prior_means(), options.num_generated, config.likelihood)
  if with_errors:
    report['test'].update(stages.run('bounds_and_reconstructions', _bounds_and_errors, model,
                                     config, test_images, keys['iwae'], options, with_bound))
  if 'parzen' in sections:
    report['parzen'] = stages.run('parzen', _parzen, model, config, dataset,
                                  keys['generate'], options)
  if with_factors:
    _write_report(out, report)  # the numbers so far are safe if this stage fails
    report['disentanglement'] = stages.run('disentanglement', disentanglement_report, model,
                                           config, dataset, keys['mig'], options)
  report['seconds'] = stages.seconds
  _write_report(out, report)  # the numbers are safe before the figures are drawn
  report['figures'] = stages.run('figures', _write_figures, figure_fn, out, model, config,
                                 dataset, keys['figures'], workdir)
  _write_report(out, report)
  log.info('evaluation of %s (epoch %d) written to %s', workdir, loaded.epoch, out)
  return report


def code_information(model, objective, images, batch_size, key):
  """The 'codes' section (module docstring) of `model` on `images`, a dict of floats and
  per-dimension lists (nats); batches of `batch_size`, or of every image when there are
  fewer."""
  batch_size = min(batch_size, len(images))
  chunks = range(0, len(images), batch_size)
  cluster_logits = jax.jit(lambda x: objective.cluster_logits(model, x))
  logits = jnp.concatenate([cluster_logits(images[i:i + batch_size]) for i in chunks])
  mutual_information, entropy_y, conditional_entropy = (
      information.categorical_mutual_information(logits))
  result = {'mutual_information_y': float(mutual_information), 'entropy_y': float(entropy_y),
            'conditional_entropy_y': float(conditional_entropy),
            'log_num_categories': math.log(logits.shape[-1])}
  posterior = jax.eval_shape(model.encode, images[:1])
  if not isinstance(posterior, losses.JointPosterior):
    return result

  @jax.jit
  def batch_statistics(x, key):
    posterior = model.encode(x)
    z = losses.reparameterize(key, posterior.mean, posterior.logvar)
    total_correlation, marginal_kl = information.aggregate_divergences(
        z, posterior.mean, posterior.logvar)
    return posterior.mean, posterior.logvar, total_correlation, marginal_kl

  outputs = [batch_statistics(images[i:i + batch_size], jax.random.fold_in(key, i))
             for i in chunks if i + batch_size <= len(images)]  # equal batches only
  means = jnp.concatenate([o[0] for o in outputs])
  logvars = jnp.concatenate([o[1] for o in outputs])
  per_dimension = information.gaussian_mutual_information_bound(means, logvars)
  result.update({
      'mutual_information_z': [float(v) for v in per_dimension],
      'mutual_information_z_total': float(jnp.sum(per_dimension)),
      'informative_dimensions': int(jnp.sum(per_dimension > 0.1)),
      'total_correlation': float(np.mean([float(o[2]) for o in outputs])),
      'marginal_kl_z': np.mean([np.asarray(o[3]) for o in outputs], axis=0).tolist(),
      'batch_size': batch_size})
  return result


TRAIN_EXAMPLES_SCORED = 60000


def _train_rows(count):
  """The training images the 'clustering' and 'parzen' sections use: all when there are at
  most `TRAIN_EXAMPLES_SCORED` (MNIST, Fashion-MNIST), else that many drawn once with seed 0
  (dSprites, whose grid the 'disentanglement' section scores). These are the dataset's
  training images, whatever --train_examples the run trained on."""
  if count <= TRAIN_EXAMPLES_SCORED:
    return np.arange(count)
  return np.sort(np.random.default_rng(0).choice(count, TRAIN_EXAMPLES_SCORED,
                                                 replace=False))


def factor_grid(dataset, position_stride=1):
  """(row indices, factor classes, factor sizes) of the training images that
  `dsprites.position_subgrid` keeps: every `position_stride`-th x and y position."""
  return dsprites.position_subgrid(dataset.train_factors, dataset.factor_sizes,
                                   position_stride)


def _with_factors(sections, dataset, model, images, options):
  """Whether the 'disentanglement' section applies, refusing a --mig_position_stride that
  leaves a factor one value before anything is computed."""
  if 'disentanglement' not in sections or dataset.train_factors is None:
    return False
  if not isinstance(jax.eval_shape(model.encode, images[:1]), losses.JointPosterior):
    log.warning('the disentanglement section needs encode() to give a JointPosterior: '
                'skipped.')
    return False
  _, _, sizes = factor_grid(dataset, options.mig_position_stride)
  if min(sizes) < 2:
    raise settings_lib.SettingError(
        f'--mig_position_stride={options.mig_position_stride}: leaves the factors '
        f'{dict(zip(dataset.factor_names, sizes))}; a factor needs 2 values or more: lower it.')
  return True


def disentanglement_report(model, config, dataset, key, options):
  """The 'disentanglement' section (module docstring) of a joint-code model.

  The discrete factor is the one the dataset's labels are (dSprites: shape); the others are
  the continuous factors. Chen et al.'s estimator draws one z per image and
  `options.mig_samples` of them per entropy; the histogram MIG uses the mean code of
  `options.mig_points` random images (`disentanglement.sample_points`).
  """
  rows, classes, sizes = factor_grid(dataset, options.mig_position_stride)
  labels = np.asarray(dataset.train_labels)[rows]
  discrete = [f for f in range(classes.shape[1]) if np.array_equal(classes[:, f], labels)]
  continuous = [f for f in range(classes.shape[1]) if f not in discrete]
  encode = jax.jit(lambda x: model.encode(data_lib.as_float(x)))
  size = config.eval_batch_size
  outputs = []
  with _bar(len(rows), 'encoding the factor grid') as bar:
    for i in range(0, len(rows), size):
      batch = config.view(dataset.train_images[rows[i:i + size]])
      posterior = encode(jnp.asarray(batch))
      outputs.append(jax.device_get((posterior.mean, posterior.logvar, posterior.logits)))
      bar.update(len(batch))
  mean, logvar, logits = (np.concatenate(parts) for parts in zip(*outputs))
  probs = np.asarray(jax.nn.softmax(logits, axis=-1))
  # One estimate over every factor with y as the last code; the continuous-only MIG takes its
  # rows of the continuous factors and its z columns (the same samples for both).
  chen_all = disentanglement.mig_chen(key, mean, logvar, classes, sizes,
                                      num_samples=options.mig_samples,
                                      categorical_probs=probs)
  information_z = np.asarray(chen_all['mutual_information'])[continuous, :-1]
  chen_gaps = disentanglement.mutual_information_gap(
      information_z, np.log([sizes[f] for f in continuous]))
  points = disentanglement.sample_points(np.random.default_rng(options.seed),
                                         options.mig_points, len(rows))
  histogram = disentanglement.mig_histogram(mean[points], classes[points])
  names = list(dataset.factor_names)
  quantities = disentanglement.code_quantities(mean, logvar, logits)

  def named(gaps, factors):
    return {names[f]: float(g) for f, g in zip(factors, np.asarray(gaps))}

  result = {
      'images': int(len(rows)), 'position_stride': options.mig_position_stride,
      'factor_sizes': dict(zip(names, sizes)),
      'mig_chen': float(np.mean(chen_gaps)),
      'mig_chen_gaps': named(chen_gaps, continuous),
      'mig_chen_mutual_information': np.asarray(chen_all['mutual_information']).tolist(),
      'mig_chen_with_discrete': float(chen_all['mig']),
      'mig_chen_with_discrete_gaps': named(chen_all['gap_per_factor'], range(len(names))),
      'mig_histogram': float(histogram['mig']),
      'mig_histogram_gaps': named(histogram['gap_per_factor'], range(len(names))),
      'mig_histogram_mutual_information': np.asarray(histogram['mutual_information']).tolist(),
      'mig_samples': options.mig_samples, 'mig_points': options.mig_points,
      'codes': {k: (np.asarray(v).tolist() if np.ndim(v) else float(v))
                for k, v in quantities.items()}}
  if discrete:
    result['discrete_factor'] = names[discrete[0]]
    result['accuracy_y_against_discrete'] = float(metrics_lib.clustering_accuracy(
        probs.argmax(-1), labels, probs.shape[-1], sizes[discrete[0]]))
  return result


def _write_report(out, report):
  loop.write_atomically(out / 'report.json', json.dumps(report, indent=2) + '\n')


def _figure_function(family):
  """The function `ModelFamily.figures` names (a function of `icvae.figures`, or
  'module:function'), or None.

  Raises:
    checkpoints.CheckpointError: no such function, naming the family and the name.
  """
  name = family.figures
  if name is None:
    return None
  try:
    if ':' in name:
      module, function = name.split(':')
      return getattr(importlib.import_module(module), function)
    return getattr(figures, name)
  except (ImportError, AttributeError, ValueError) as e:
    raise checkpoints.CheckpointError(
        f'model {family.name!r} names the figures {name!r}, which cannot be found ({e}): '
        'give a function of icvae.figures or \'package.module:function\'.') from e


def _write_figures(figure_fn, out, model, config, dataset, key, workdir):
  """The family's figures and the training curves; {figure name: file name}."""
  names = {}
  if figure_fn is not None and data_lib.is_image_shape(config.image_shape):
    names = dict(figure_fn(out, model, config, dataset, key))
  elif figure_fn is not None:
    log.info('%s: feature vectors, not images: no image figures', workdir)
  return figures.write_training_curves(out, workdir, names)


def _bounds_and_errors(model, config, test_images, key, options, with_bound):
  """The importance-weighted bound (when `with_bound`) and the reconstruction error."""
  likelihood = config.likelihood
  count = options.iwae_examples or len(test_images)
  per_call = max(1, 20000 // options.iwae_samples)
  prior_means = model.prior_means()

  @jax.jit
  def bounds_and_errors(x, key):
    posterior = model.encode(x)
    error = evaluation.reconstruction_error(x, posterior, model.decode, likelihood)
    if not with_bound:
      return jnp.zeros(x.shape[0]), error
    bound = evaluation.importance_weighted_bound(key, x, posterior, model.decode, prior_means,
                                                 options.iwae_samples, likelihood)
    return bound, error

  results = []
  description = f'IWAE bound, S={options.iwae_samples}' if with_bound else 'reconstructions'
  with _bar(count, description) as bar:
    for i in range(0, count, per_call):
      results.append(bounds_and_errors(test_images[i:i + per_call],
                                       jax.random.fold_in(key, i)))
      jax.block_until_ready(results[-1])
      bar.update(min(per_call, count - i))
  bounds = np.concatenate([np.asarray(b) for b, _ in results])
  errors = np.concatenate([np.asarray(e) for _, e in results])
  terms = {'reconstruction_squared_error': float(errors.mean()),
           'reconstruction_squared_error_std': float(errors.std())}
  if with_bound:
    terms.update({'iwae_bound': float(bounds.mean()), 'iwae_samples': options.iwae_samples,
                  'iwae_examples': int(count)})
  return terms


def _parzen(model, config, dataset, key, options):
  """Table 1's Parzen-window log-likelihood of generated images (see module docstring)."""
  _, z = priors.sample_prior(key, model.prior_means(), options.num_generated)
  generated = np.concatenate([figures.decode_mean(model, z[i:i + 5000], config.likelihood)
                              for i in range(0, len(z), 5000)])
  rows = _train_rows(len(dataset.train_images))[:options.kde_train_examples or None]
  kde_data = data_lib.as_float(data_lib.as_flat(dataset.train_images[rows]))
  with _bar(options.kde_folds, 'Parzen bandwidth (CV folds)') as bar:
    bandwidth, cv_scores = evaluation.kde_bandwidth_search(
        kde_data, options.kde_bandwidths, options.kde_folds, progress=bar.update)
  log_density = np.asarray(evaluation.kde_log_density(generated, kde_data, [bandwidth]))[0]
  return {
      'log_likelihood': float(log_density.mean()),
      'log_likelihood_std_error': float(log_density.std() / math.sqrt(len(log_density))),
      'bandwidth': bandwidth, 'bandwidth_grid': list(options.kde_bandwidths),
      'cv_mean_heldout_log_likelihood': (cv_scores / (len(kde_data) / options.kde_folds)
                                         ).tolist(),
      'bandwidth_at_grid_edge': bandwidth in (options.kde_bandwidths[0],
                                              options.kde_bandwidths[-1]),
      'fitted_on': len(kde_data), 'generated': options.num_generated}
