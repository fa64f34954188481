r"""disentanglement_lib's metric suite on a trained run of a dataset with ground-truth factors.

  icvae disentanglement --workdir=runs/dsprites_imae [--metrics=all] [--metric_seed=0]

Scores the run's latest checkpoint with the BetaVAE, FactorVAE, DCI, SAP, modularity and
explicitness, MIG and unsupervised metrics (`icvae.disentanglement`), each on points drawn
from the run's factor dataset (`icvae.factor_data`) at the sizes of disentanglement_lib's
study, the code's mean as the representation. Writes <workdir>/eval/disentanglement.json and
prints a table. --sizes_scale scales every point count (0.1 for a quick look).
"""

import sys

from absl import app
from absl import flags

from icvae.cli import common
from icvae.disentanglement import suite
from icvae.evaluators import disentanglement_suite

flags.DEFINE_list('metrics', ['all'], 'Metrics to compute: all, or some of '
                  + ', '.join(suite.METRICS) + '.')
flags.DEFINE_integer('metric_seed', 0, 'The seed of the metrics\' RandomState (the '
                     "reference's evaluation.random_seed: 0).")
flags.DEFINE_float('sizes_scale', 1.0, 'Scale every point count of the protocol by this '
                   '(1: the study\'s sizes).')
FLAGS = flags.FLAGS
FLAG_MODULES = ('icvae.cli.common',)
HELP_FLAGS = ('workdir', 'metrics', 'metric_seed', 'sizes_scale')


def scaled_sizes(scale):
  """The protocol's point counts times `scale` (batch sizes kept; at least 2 points)."""
  return {name: {key: (value if key == 'batch_size' else max(2, int(round(value * scale))))
                 for key, value in sizes.items()}
          for name, sizes in suite.PROTOCOL.items()}


def table(report):
  """The scores as markdown rows: metric | score | value."""
  lines = ['| metric | score | value |', '|---|---|---|']
  for metric, scores in report['scores'].items():
    for name, value in scores.items():
      if isinstance(value, (int, float)):
        lines.append(f'| {metric} | {name} | {value:.4f} |')
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdir:
    raise app.UsageError('--workdir is required: the workdir of a training run.')
  if FLAGS.sizes_scale <= 0:
    raise app.UsageError(f'--sizes_scale={FLAGS.sizes_scale}: must be > 0.')
  metrics = tuple(suite.METRICS) if FLAGS.metrics == ['all'] else tuple(FLAGS.metrics)
  log = common.setup_logging()
  try:
    report = disentanglement_suite.score_run(FLAGS.workdir, metrics, seed=FLAGS.metric_seed,
                                             sizes=scaled_sizes(FLAGS.sizes_scale))
  except (*common.ERRORS, ValueError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  print(table(report))
  log.info('disentanglement metrics of %s (epoch %d) in %.0f s, written to %s/eval/%s',
           FLAGS.workdir, report['epoch'], report['seconds']['total'], FLAGS.workdir,
           disentanglement_suite.OUTPUT_FILE)


if __name__ == '__main__':
  app.run(main)
