r"""How far the prior means of trained runs are from the fixed block means of eq. (8).

  python -m experiments.probes.prior_drift --workdirs=runs/results/seq_mnist_catvae_free_prior_seed0,...

For each workdir prints the largest distance of a mean mu_c from its block mean, and the
smallest distance between two means (the block means are lambda * sqrt(2 delta) apart:
4 for lambda = 2, delta = 2). A fixed prior prints 0 and 4; a free prior shows how far
training moved it, and whether two categories' means have merged.
"""

from absl import app
from absl import flags
import numpy as np

import icvae
from icvae import priors

flags.DEFINE_list('workdirs', None, 'Training workdirs.')
FLAGS = flags.FLAGS


def drift(workdir):
  """(config, max ||mu_c - block_c||, min_{c != c'} ||mu_c - mu_c'||)."""
  loaded = icvae.load_model(workdir)
  config = loaded.config
  means = np.asarray(loaded.model.prior_means())
  block = np.asarray(priors.block_prior_means(config.num_categories, config.delta,
                                              config.prior_scale))
  pairwise = np.linalg.norm(means[:, None] - means[None], axis=-1)
  pairwise[np.diag_indices(len(means))] = np.inf
  return config, float(np.linalg.norm(means - block, axis=-1).max()), float(pairwise.min())


def main(argv):
  if len(argv) > 1 or not FLAGS.workdirs:
    raise app.UsageError('pass --workdirs (comma-separated) and nothing else.')
  print('| workdir | learned prior | max drift from block mean | min distance between means |')
  print('|---|---|---|---|')
  for workdir in FLAGS.workdirs:
    config, moved, closest = drift(workdir)
    print(f'| {workdir} | {config.learned_prior} | {moved:.3f} | {closest:.3f} |')


if __name__ == '__main__':
  app.run(main)
