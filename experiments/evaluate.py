r"""Evaluates the latest checkpoint of a training workdir: report.json and figures.

  python -m experiments.evaluate --workdir=runs/mnist_infocatvae [--data_dir=...]

Uses the run's own config.json; writes <workdir>/eval/report.json and PNG figures. The sizes
(--iwae_samples, --num_generated, --kde_train_examples, --kde_folds) default to the paper's
protocol.
"""

import sys

from absl import app
from absl import flags

from experiments import common
from icvae import data
from icvae import experiment

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdir:
    raise app.UsageError('--workdir is required: the workdir of a training run.')
  options = common.eval_options_from_flags()
  log = common.setup_logging()
  try:
    report = experiment.evaluate_run(FLAGS.workdir, data_dir=FLAGS.data_dir, options=options)
  except (experiment.ExperimentError, data.DataError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  log.info('%s', common.summary_line(report))


if __name__ == '__main__':
  app.run(main)
