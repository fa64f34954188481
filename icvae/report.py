"""The evaluation report of a trained run: `evaluate_run(workdir)`.

Writes workdir/eval/report.json and the model family's PNG figures next to it. Each section
is computed by an evaluator (`icvae.evaluators`, one module per section); those that apply to
the run run in order (which ones a model family gets: `ModelFamily.report_sections`):

- 'test' and 'clustering' (`evaluators.test_set`): the objective's evaluation terms on the
  test set; Hungarian accuracy, many-to-one accuracy, NMI, ARI and cluster usage of the
  categorical code on train and test;
- 'codes' (`evaluators.codes`): I(x; y), and for a joint code I(x; z_k), TC(z), marginal KLs;
- 'information_cross_entropy' (`evaluators.cross_entropy`): section 10's information
  cross-entropy, proper and as published;
- 'iwae' and 'reconstruction' (`evaluators.bounds`, into 'test'): the importance-weighted
  bound with S = `iwae_samples`, the squared error of the decoded mean code;
- 'parzen' (`evaluators.parzen`): Table 1's Parzen-window log-likelihood;
- 'disentanglement' (`evaluators.disentanglement`, datasets with known factors): the MIG
  estimators;
- 'figures' (`evaluators.figures`): the family's figures and the training curves.

Each stage is logged when it starts and ends, with a progress bar for the long ones (the IWAE
bound and the KDE), and report.json is written after each, so the numbers so far are kept if
a later stage fails.
"""

import dataclasses
import json
import logging
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from icvae import data as data_lib
from icvae import evaluators
from icvae import inference
from icvae import loop
from icvae import workdir as workdir_lib

log = logging.getLogger('icvae')

# Names kept for code written against earlier versions (they live in icvae.evaluators).
code_information = evaluators.codes.code_information
disentanglement_report = evaluators.disentanglement.disentanglement_report
factor_grid = evaluators.disentanglement.factor_grid


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
    settings.SettingError: an option an evaluator cannot work with (before any is run).
  """
  loaded = inference.load_model(workdir)
  config = loaded.config
  workdir = pathlib.Path(workdir)
  out = workdir / 'eval'
  out.mkdir(exist_ok=True)
  if dataset is None and data_dir:
    config = config.replace(data_dir=str(data_dir))
  _, dataset, _ = loop.prepare_data(config, dataset, workdir)
  keys = dict(zip(evaluators.KEY_NAMES,
                  jax.random.split(jax.random.key(options.seed), len(evaluators.KEY_NAMES))))
  context = evaluators.Context(
      workdir=workdir, out=out, loaded=loaded._replace(config=config), dataset=dataset,
      train_images=config.view(dataset.train_images),  # numpy: chunks go to the device
      test_images=jnp.asarray(data_lib.as_float(config.view(dataset.test_images))),
      options=options, keys=keys)
  # Every applies() before any run, so a refusal comes first; the figures after the numbers.
  chosen = sorted((e for e in evaluators.registered() if e.applies(context)),
                  key=lambda e: e.draws)
  report = {'workdir': str(workdir), 'epoch': loaded.epoch, 'config': config.to_dict(),
            'options': dataclasses.asdict(options)}
  stages = _Stages([e.name for e in chosen])
  for evaluator in chosen:
    if evaluator.draws and 'seconds' not in report:
      report['seconds'] = stages.seconds
    for name, value in stages.run(evaluator.name, lambda e=evaluator: list(e.run(context))):
      if isinstance(report.get(name), dict) and isinstance(value, dict):
        report[name].update(value)
      else:
        report[name] = value
    _write_report(out, report)
  report.setdefault('seconds', stages.seconds)
  _write_report(out, report)
  log.info('evaluation of %s (epoch %d) written to %s', workdir, loaded.epoch, out)
  return report


def _write_report(out, report):
  workdir_lib.write_atomically(out / 'report.json', json.dumps(report, indent=2) + '\n')
