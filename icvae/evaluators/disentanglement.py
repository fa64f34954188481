"""The disentanglement of a joint code on a dataset with known factors (dSprites), on the whole
factor grid (or every --mig_position_stride-th position): the Mutual Information Gap two ways
(`icvae.disentanglement`): Chen et al.'s sampled estimator over the continuous factors and z
(IMAE Figure 5), the same with the discrete factor and y included (Figure 7), and
disentanglement_lib's 20-bin histogram of the mean code over all factors; the accuracy of y
against the discrete factor (shape) on the grid; and per dimension E sigma_k^2, Var mu_k and
I(x; z_k), with I(x; y) ('disentanglement').
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np

from icvae import data as data_lib
from icvae import disentanglement
from icvae import dsprites
from icvae import losses
from icvae import metrics as metrics_lib
from icvae import settings as settings_lib
from icvae.evaluators import base

log = logging.getLogger('icvae')


def factor_grid(dataset, position_stride=1):
  """(row indices, factor classes, factor sizes) of the training images that
  `dsprites.position_subgrid` keeps: every `position_stride`-th x and y position."""
  return dsprites.position_subgrid(dataset.train_factors, dataset.factor_sizes,
                                   position_stride)


def _applies(context):
  """Whether the 'disentanglement' section applies, refusing a --mig_position_stride that
  leaves a factor one value before anything is computed."""
  dataset, options = context.dataset, context.options
  if 'disentanglement' not in context.sections or dataset.train_factors is None:
    return False
  if not isinstance(jax.eval_shape(context.model.encode, context.test_images[:1]), losses.JointPosterior):
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
  with base.progress_bar(len(rows), 'encoding the factor grid') as bar:
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


def run(context):
  yield 'disentanglement', disentanglement_report(context.model, context.config,
                                                  context.dataset, context.key('mig'),
                                                  context.options)


base.register(base.Evaluator('disentanglement', run, applies=_applies,
                             sections=('disentanglement',)))
