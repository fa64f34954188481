r"""N2D on a trained run's code: the code -> UMAP -> a Gaussian mixture, scored on both splits.

  icvae n2d --workdir=runs/fashion_mnist_imae [--code=z] [--n2d_seed=0] [--data_dir=...]

A clustering baseline on icvae's own codes (`icvae.n2d`: N2D, McConville et al. 2020, with
its settings: UMAP to as many dimensions as clusters, 20 neighbours, min_dist 0, then a
full-covariance Gaussian mixture), fitted on the run's training split and applied to its test
split. --code: 'z' (the mean of q(z|x)), 'y' (p(y|x)) or 'yz' (both). Writes
<workdir>/eval/n2d_<code>.json and prints the accuracies. Needs umap-learn
(`pip install 'icvae[n2d]'`).
"""

import sys

from absl import app
from absl import flags

from icvae import n2d
from icvae.cli import common

flags.DEFINE_enum('code', 'z', n2d.CODES, "The code to cluster: 'z' (the mean of q(z|x)), "
                  "'y' (p(y|x)) or 'yz' (both side by side).")
flags.DEFINE_integer('n2d_seed', 0, 'The random state of UMAP and the Gaussian mixture.')
flags.DEFINE_integer('neighbors', 20, "UMAP's n_neighbors (N2D: 20).")
FLAGS = flags.FLAGS
FLAG_MODULES = ('icvae.cli.common',)
HELP_FLAGS = ('workdir', 'data_dir', 'code', 'n2d_seed', 'neighbors')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdir:
    raise app.UsageError('--workdir is required: the workdir of a training run.')
  log = common.setup_logging()
  try:
    report = n2d.evaluate_n2d(FLAGS.workdir, FLAGS.code, seed=FLAGS.n2d_seed,
                              neighbors=FLAGS.neighbors, data_dir=FLAGS.data_dir)
  except (*common.ERRORS, ValueError, ImportError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  log.info('N2D (%s code) of %s: train accuracy %.4f, test accuracy %.4f (NMI %.4f, ARI %.4f); '
           'written to %s/eval/n2d_%s.json', report['code'], FLAGS.workdir,
           report['train']['accuracy'], report['test']['accuracy'], report['test']['nmi'],
           report['test']['ari'], FLAGS.workdir, report['code'])


if __name__ == '__main__':
  app.run(main)
