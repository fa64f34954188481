"""Flags shared by the experiment binaries, validated once before anything is written."""

import dataclasses
import logging as std_logging
import math
import os
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging

from icvae import data
from icvae import experiment

FLAGS = flags.FLAGS

flags.DEFINE_enum('model', 'infocatvae', ['catvae', 'infocatvae', 'aae'],
                  'CatVAE (no information term), InfoCatVAE, or the adversarial autoencoder '
                  'baseline of Table 1 (aae: d = num_categories * delta, MLP only).')
flags.DEFINE_float('adversarial_weight', 10.0, 'AAE only: weight of the generator and '
                   'discriminator losses against the reconstruction.')
flags.DEFINE_enum('network', 'mlp', ['mlp', 'gru'],
                  'mlp: Table 2 on flat images (Bernoulli pixels); gru: Table 3 on image rows '
                  'as sequences (squared error per time step, appendix C).')
flags.DEFINE_float('observation_scale', 0.0, 'GRU only: sigma of the Gaussian p(x|z) = '
                   'N(mean, sigma^2 I); the loss is SSE / (2 sigma^2). 0: appendix C read '
                   'literally (sum over steps of the per-step MSE, sigma = sqrt(F / 2)).')
flags.DEFINE_integer('num_categories', 10, 'K, the number of categories.')
flags.DEFINE_integer('delta', 2, 'Latent coordinates per category; d = K * delta (eq. 8).')
flags.DEFINE_integer('latent_dim', 0, 'd; if set, must be a multiple of --num_categories '
                     '(then delta = d / K). 0: K * delta.')
flags.DEFINE_float('prior_scale', 2.0, 'lambda, the height of the prior blocks (eq. 8).')
flags.DEFINE_integer('hidden_features', 400, 'Hidden width of the Table 2 MLP.')
flags.DEFINE_float('dropout_rate', 0.25, 'Dropout during training (never at evaluation).')
flags.DEFINE_enum('compute_dtype', 'float32', ['float32', 'bfloat16'],
                  'Arithmetic of the four large matmuls: float32 (the paper\'s) or bfloat16 '
                  '(mixed precision: float32 parameters and losses; several times faster on '
                  'CPUs with AMX and on TPUs).')
flags.DEFINE_boolean('learned_prior', False, 'Learn the prior means (free prior baseline).')
flags.DEFINE_float('beta_cont', 10.0, 'Weight of E_q(c|x) KL(q(z|x,c) || p(z|c)).')
flags.DEFINE_float('beta_cat', 10.0, 'Weight of KL(q(c|x) || p(c)).')
flags.DEFINE_float('beta_info', 100.0, 'Weight of the information term (InfoCatVAE only).')
flags.DEFINE_integer('num_info_samples', 0, 'Generated images per step for the information '
                     'term; 0: the batch size.')
flags.DEFINE_enum('reconstruction', 'expected', ['expected', 'soft_code'],
                  "Reconstruction estimator: the paper's (expected over all K) or the "
                  "published code's (soft code).")
flags.DEFINE_float('learning_rate', 1e-4, 'Adam learning rate.')
flags.DEFINE_integer('batch_size', 128, 'Training batch size (split over all devices).')
flags.DEFINE_integer('num_epochs', 600, 'Epochs to train (the paper: 600).')
flags.DEFINE_integer('seed', 0, 'Seed of the initialisation and of every random draw.')
flags.DEFINE_string('workdir', None, 'Where checkpoints, metrics and config go; default '
                    'runs/<dataset>_<model>.')
flags.DEFINE_string('data_dir', None, 'Folder with the four IDX gz files (optional).')
flags.DEFINE_integer('eval_every', 1, 'Evaluate on the test set every this many epochs.')
flags.DEFINE_integer('eval_batch_size', 1000, 'Batch size of the evaluation.')
flags.DEFINE_integer('checkpoint_every', 10, 'Save a checkpoint every this many epochs.')
flags.DEFINE_string('restore_from', None, 'Start from the latest checkpoint of this '
                    'checkpoints folder (a fresh run; parameters and optimiser state).')
flags.DEFINE_boolean('progress', True, 'Show a progress bar when stderr is a terminal.')
flags.DEFINE_boolean('final_eval', True, 'Run experiments.evaluate on the workdir when '
                     'training ends (report.json and figures in <workdir>/eval).')
# Evaluation sizes (experiments.evaluate and --final_eval).
flags.DEFINE_integer('iwae_samples', 1000, 'S of the importance-weighted bound.')
flags.DEFINE_integer('iwae_examples', 0, 'Test images for the bound; 0: all.')
flags.DEFINE_integer('num_generated', 10000, 'Generated samples for the information '
                     'cross-entropy and the Parzen log-likelihood (the paper: 10,000).')
flags.DEFINE_integer('kde_train_examples', 0, 'Training images the Parzen KDE is fitted '
                     'on; 0: all (the paper: 60,000).')
flags.DEFINE_integer('kde_folds', 5, 'Cross-validation folds of the KDE bandwidth search.')


def _writable(path):
  """True when `path` exists as a writable folder or could be created as one."""
  path = pathlib.Path(path).absolute()
  if path.exists():
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
  parent = path.parent
  while not parent.exists():
    parent = parent.parent
  return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)


def config_from_flags(dataset):
  """Builds and validates the `ExperimentConfig`; raises app.UsageError naming the flag."""
  def fail(message):
    raise app.UsageError(message)

  if FLAGS.model == 'aae':
    if FLAGS.num_categories != 1:
      fail(f'--num_categories={FLAGS.num_categories}: the AAE baseline has no categories; '
           'pass --num_categories=1 and the code size as --delta (or --latent_dim).')
    if FLAGS.network != 'mlp' or FLAGS.learned_prior:
      fail('--model=aae: only with --network=mlp and without --learned_prior.')
    if not math.isfinite(FLAGS.adversarial_weight) or FLAGS.adversarial_weight < 0:
      fail(f'--adversarial_weight={FLAGS.adversarial_weight}: must be a finite number >= 0.')
  elif FLAGS.num_categories < 2:
    fail(f'--num_categories={FLAGS.num_categories}: need at least 2 categories.')
  delta = FLAGS.delta
  if FLAGS.latent_dim:
    if FLAGS.latent_dim % FLAGS.num_categories:
      fail(f'--latent_dim={FLAGS.latent_dim} is not a multiple of --num_categories='
           f'{FLAGS.num_categories}: the block prior (eq. 8) needs d = K * delta.')
    if FLAGS['delta'].present and FLAGS.delta * FLAGS.num_categories != FLAGS.latent_dim:
      fail(f'--latent_dim={FLAGS.latent_dim} disagrees with --delta={FLAGS.delta} * '
           f'--num_categories={FLAGS.num_categories}; pass only one of them.')
    delta = FLAGS.latent_dim // FLAGS.num_categories
  if delta < 1:
    fail(f'--delta={delta}: must be >= 1.')
  for name in ('beta_cont', 'beta_cat', 'beta_info'):
    value = FLAGS[name].value
    if not math.isfinite(value) or value < 0:
      fail(f'--{name}={value}: must be a finite number >= 0.')
  for name in ('prior_scale', 'learning_rate'):
    value = FLAGS[name].value
    if not math.isfinite(value) or value <= 0:
      fail(f'--{name}={value}: must be a finite number > 0.')
  if not math.isfinite(FLAGS.observation_scale) or FLAGS.observation_scale < 0:
    fail(f'--observation_scale={FLAGS.observation_scale}: must be a finite number >= 0 '
         '(0: appendix C\'s sqrt(F / 2)).')
  if FLAGS.observation_scale and FLAGS.network != 'gru':
    fail(f'--observation_scale={FLAGS.observation_scale}: only for --network=gru (the MLP '
         'models pixels as Bernoulli, appendix B).')
  if not 0 <= FLAGS.dropout_rate < 1:
    fail(f'--dropout_rate={FLAGS.dropout_rate}: must be in [0, 1).')
  train_size = data.SPLIT_SIZES['train']
  if not 1 <= FLAGS.batch_size <= train_size:
    fail(f'--batch_size={FLAGS.batch_size}: must be between 1 and the {train_size} training '
         'examples.')
  for name in ('num_epochs', 'eval_every', 'checkpoint_every', 'eval_batch_size',
               'hidden_features'):
    if FLAGS[name].value < 1:
      fail(f'--{name}={FLAGS[name].value}: must be >= 1.')
  if FLAGS.num_info_samples < 0:
    fail(f'--num_info_samples={FLAGS.num_info_samples}: must be >= 0 (0: the batch size).')
  workdir = FLAGS.workdir or os.path.join('runs', f'{dataset}_{FLAGS.model}')
  if not _writable(workdir):
    fail(f'--workdir={workdir}: not a writable folder (or cannot be created there).')
  if FLAGS.data_dir and not pathlib.Path(FLAGS.data_dir).is_dir():
    fail(f'--data_dir={FLAGS.data_dir}: no such folder.')
  if FLAGS.restore_from and not pathlib.Path(FLAGS.restore_from).is_dir():
    fail(f'--restore_from={FLAGS.restore_from}: no such checkpoints folder.')
  return experiment.ExperimentConfig(
      dataset=dataset, model=FLAGS.model, network=FLAGS.network,
      num_categories=FLAGS.num_categories, delta=delta,
      prior_scale=FLAGS.prior_scale, hidden_features=FLAGS.hidden_features,
      dropout_rate=FLAGS.dropout_rate, learned_prior=FLAGS.learned_prior,
      compute_dtype=FLAGS.compute_dtype, adversarial_weight=FLAGS.adversarial_weight,
      observation_scale=FLAGS.observation_scale,
      beta_cont=FLAGS.beta_cont, beta_cat=FLAGS.beta_cat, beta_info=FLAGS.beta_info,
      num_info_samples=FLAGS.num_info_samples, reconstruction=FLAGS.reconstruction,
      learning_rate=FLAGS.learning_rate, batch_size=FLAGS.batch_size,
      num_epochs=FLAGS.num_epochs, seed=FLAGS.seed, workdir=workdir,
      data_dir=FLAGS.data_dir or '', eval_every=FLAGS.eval_every,
      eval_batch_size=FLAGS.eval_batch_size, checkpoint_every=FLAGS.checkpoint_every,
      restore_from=FLAGS.restore_from or '', progress=FLAGS.progress)


def eval_options_from_flags():
  """`experiment.EvalOptions` from the evaluation flags; app.UsageError naming a bad one."""
  try:
    return experiment.EvalOptions(
        iwae_samples=FLAGS.iwae_samples, iwae_examples=FLAGS.iwae_examples,
        num_generated=FLAGS.num_generated, kde_train_examples=FLAGS.kde_train_examples,
        kde_folds=FLAGS.kde_folds)
  except ValueError as e:  # EvalOptions names the field, which is the flag's name
    raise app.UsageError(f'--{e}') from e


def setup_logging():
  logging.set_verbosity(logging.WARNING)  # libraries (Orbax) are chatty at INFO
  handler = std_logging.StreamHandler(sys.stderr)
  handler.setFormatter(std_logging.Formatter('%(asctime)s %(message)s', '%H:%M:%S'))
  icvae_log = std_logging.getLogger('icvae')
  icvae_log.handlers[:] = [handler]
  icvae_log.setLevel(std_logging.INFO)
  icvae_log.propagate = False
  return icvae_log


def run(dataset):
  """Validates the flags, then trains and evaluates; errors exit 1 with one message."""
  config = config_from_flags(dataset)
  options = eval_options_from_flags()
  icvae_log = setup_logging()
  icvae_log.info('config: %s', dataclasses.asdict(config))
  try:
    experiment.train_and_evaluate(config)
    if FLAGS.final_eval:
      report = experiment.evaluate_run(config.workdir, data_dir=config.data_dir or None,
                                       options=options)
      icvae_log.info('final evaluation: %s', summary_line(report))
  except (experiment.ExperimentError, data.DataError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)


def main_for(dataset, network=None):
  """main() of a binary for `dataset`; `network` sets the default of --network."""
  if network is not None:
    FLAGS.set_default('network', network)

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f'unexpected arguments: {argv[1:]}')
    run(dataset)
  return main


def summary_line(report):
  """The headline numbers of an evaluation report, on one line."""
  test = report['clustering']['test']
  if 'information_cross_entropy' not in report:  # the AAE baseline
    return (f"reconstruction squared error {report['test']['reconstruction_squared_error']:.2f}"
            f" | Parzen {report['parzen']['log_likelihood']:.1f} "
            f"(h={report['parzen']['bandwidth']:.3f})")
  return (f"test accuracy {test['accuracy']:.4f} NMI {test['nmi']:.4f} ARI {test['ari']:.4f} | "
          f"ELBO {report['test']['elbo']:.2f} IWAE(S={report['test']['iwae_samples']}) "
          f"{report['test']['iwae_bound']:.2f} nats | information CE "
          f"{report['information_cross_entropy']['proper']:.4f} (as published "
          f"{report['information_cross_entropy']['as_published']:.4f}) | Parzen "
          f"{report['parzen']['log_likelihood']:.1f} (h={report['parzen']['bandwidth']:.3f})")
