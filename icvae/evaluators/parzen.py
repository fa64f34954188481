"""Table 1's Parzen-window log-likelihood: --num_generated images generated from the prior,
scored under a Gaussian KDE of the training images (all up to 60,000), its bandwidth chosen by
--kde_folds-fold cross-validation on a grid ('parzen')."""

import math

import numpy as np

from icvae import data as data_lib
from icvae import evaluation
from icvae import figures
from icvae import priors
from icvae.evaluators import base


def parzen_log_likelihood(model, config, dataset, key, options):
  """Table 1's Parzen-window log-likelihood of generated images (the module docstring)."""
  _, z = priors.sample_prior(key, model.prior_means(), options.num_generated)
  generated = np.concatenate([figures.decode_mean(model, z[i:i + 5000], config.likelihood)
                              for i in range(0, len(z), 5000)])
  rows = base.train_rows(len(dataset.train_images))[:options.kde_train_examples or None]
  kde_data = data_lib.as_float(data_lib.as_flat(dataset.train_images[rows]))
  with base.progress_bar(options.kde_folds, 'Parzen bandwidth (CV folds)') as bar:
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


def run(context):
  yield 'parzen', parzen_log_likelihood(context.model, context.config, context.dataset,
                                        context.key('generate'), context.options)


base.register(base.Evaluator('parzen', run, applies=lambda context: 'parzen' in context.sections,
                             sections=('parzen',)))
