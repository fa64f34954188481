r"""Evaluates the latest checkpoint of a training workdir: report.json and figures.

  icvae evaluate --workdir=runs/fashion_mnist_infocatvae [--data_dir=...]

(`python -m experiments.evaluate ...` in a checkout.) Uses the run's own config.json;
writes <workdir>/eval/report.json and PNG figures. The sizes (--iwae_samples,
--num_generated, --kde_train_examples, --kde_folds) default to the paper's protocol.
"""

import dataclasses
import sys

from absl import app
from absl import flags

from icvae import report
from icvae.cli import common

FLAGS = flags.FLAGS
FLAG_MODULES = ('icvae.cli.common',)  # where its flags are defined, for --help
HELP_FLAGS = ('workdir', 'data_dir', *(f.name for f in dataclasses.fields(report.EvalOptions)
                                       if 'help' in f.metadata))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdir:
    raise app.UsageError('--workdir is required: the workdir of a training run.')
  options = common.eval_options_from_flags()
  log = common.setup_logging()
  try:
    result = report.evaluate_run(FLAGS.workdir, data_dir=FLAGS.data_dir, options=options)
  except common.ERRORS as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  except KeyboardInterrupt:
    sys.stderr.write('interrupted; nothing of this evaluation was written.\n')
    sys.exit(130)
  log.info('%s', common.summary_line(result))
