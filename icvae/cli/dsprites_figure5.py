r"""The shape of the IMAE paper's Figure 5 on dSprites: disentanglement (MIG) against beta
(gamma for IMAE) and against reconstruction and total correlation, for IMAE, β-VAE, InfoVAE
and JointVAE.

  icvae dsprites-figure5 --values=1,2,4,6,8,10 --seeds=0,1,2,3,4,5,6,7

For each model, one sweep (`--sweep`, one process, `icvae.train_sweep`) of its flagfile
`dsprites_<model>` (a shipped config) over the values v: IMAE gets gamma = v and
beta = v / 2 (the paper's "beta = gamma / 2 with gamma in [1, 10]"), the others beta = v;
every run's VAT weight equals its beta (VAT inside IMAE's L(y), weighted by beta, and the
same weight for the peers). Runs live in <runs>/<model>/<point>/seed=<s>; a finished sweep
is reused and a stopped one resumes. `--override` passes more flags to every run (the CPU
size below). The numbers come from each run's final evaluation (eval/report.json): Chen et
al.'s MIG over the continuous factors (the paper's footnote 4), the same with shape and y,
the histogram MIG, the reconstruction log-likelihood of the test images, the total
correlation TC(z) and the accuracy of y against shape. Writes <runs>/figure5.png and
<runs>/figure5.md (mean ± std over seeds; shaded: the 10-90% range over seeds, the paper's
80% interval, when there are 3 seeds or more).

The size a 2-core CPU allows (RESULTS.md):

  icvae dsprites-figure5 --values=1,4,10 --seeds=0 \
      --override=--train_examples=65536 --override=--batch_size=256 \
      --override=--num_epochs=4 --override=joint_vae:--capacity_steps=1024 \
      --override=--mig_position_stride=2 --override=--mig_samples=1000
"""

import collections
import json
import math
import pathlib
import subprocess
import sys

from absl import app
from absl import flags
from absl import logging
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from icvae import figures
from icvae.cli import peers

MODELS = peers.MODELS
LABELS = peers.LABELS
# (name in the table, how to read it from a report)
QUANTITIES = (
    ('MIG (Chen, z; continuous factors)', lambda r: r['disentanglement']['mig_chen']),
    ('MIG (Chen, y and z; with shape)',
     lambda r: r['disentanglement']['mig_chen_with_discrete']),
    ('MIG (histogram, z; all factors)', lambda r: r['disentanglement']['mig_histogram']),
    ('reconstruction log-lik., nats', lambda r: r['test']['reconstruction']),
    ('TC(z), nats', lambda r: r['codes']['total_correlation']),
    ('accuracy of y against shape',
     lambda r: r['disentanglement']['accuracy_y_against_discrete']),
)


def define_flags():
  """The binary's flags (defined when run, so that importing this module defines none)."""
  flags.DEFINE_list('values', ['1', '2', '4', '6', '8', '10'],
                    'beta of β-VAE, InfoVAE and JointVAE; gamma of IMAE (beta = gamma / 2).')
  flags.DEFINE_list('models', list(MODELS), 'Models to sweep.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds per point (the paper: 8).')
  flags.DEFINE_multi_string('override', [], 'A flag for every run, e.g. '
                            '--override=--num_epochs=3, or for one model\'s runs, e.g. '
                            '--override=joint_vae:--capacity_steps=1024 (repeat it).')
  flags.DEFINE_string('runs', 'runs/dsprites_figure5', 'Folder of the runs and outputs.')
  flags.DEFINE_bool('plot_only', False, 'Only collect the finished runs and plot.')


FLAGS = flags.FLAGS


def sweep_flag(model, values):
  """The --sweep of one model: gamma, beta and vat_weight tied for IMAE, beta and
  vat_weight for the others."""
  if model == 'imae':
    return 'gamma,beta,vat_weight:' + ','.join(f'{v:g}:{v / 2:g}:{v / 2:g}' for v in values)
  return 'beta,vat_weight:' + ','.join(f'{v:g}:{v:g}' for v in values)


def overrides_for(model, overrides):
  """The --override flags that apply to `model`: those without a model prefix, and those
  written `model:--flag=value`."""
  chosen = []
  for override in overrides:
    prefix, colon, flag = override.partition(':')
    if colon and not prefix.startswith('-'):
      if prefix not in MODELS:
        raise app.UsageError(f'--override={override}: unknown model {prefix!r}; choose from '
                             f'{MODELS}.')
      if prefix == model:
        chosen.append(flag)
    else:
      chosen.append(override)
  return chosen


def train(model, values, seeds, overrides, runs):
  """Trains (or resumes) and evaluates one model's sweep in a subprocess."""
  command = [sys.executable, '-m', 'icvae', 'train', f'--config=dsprites_{model}',
             '--dataset=dsprites',
             *overrides_for(model, overrides), f'--sweep={sweep_flag(model, values)}',
             f'--seeds={",".join(map(str, seeds))}', f'--workdir={pathlib.Path(runs) / model}',
             '--progress=false']
  logging.info('%s', ' '.join(command))
  subprocess.run(command, check=True)


def point_of(report):
  """The x of a run: gamma for IMAE, beta for the others."""
  config = report['config']
  return float(config['gamma'] if config['model'] == 'imae' else config['beta'])


def collect(runs, models):
  """{model: {x: [reports over seeds]}} of the evaluated runs under `runs`."""
  found = collections.defaultdict(lambda: collections.defaultdict(list))
  for model in models:
    for path in sorted((pathlib.Path(runs) / model).glob('**/eval/report.json')):
      report = json.loads(path.read_text())
      if 'disentanglement' in report:
        found[model][point_of(report)].append(report)
  return found


def _summary(values):
  values = np.asarray(values, float)
  text = f'{values.mean():.3f}'
  return text + (f' ± {values.std(ddof=1):.3f}' if len(values) > 1 else '')


def table(found):
  lines = ['| model | beta (gamma for IMAE) | seeds | '
           + ' | '.join(name for name, _ in QUANTITIES) + ' |',
           '|---|---|---|' + '---|' * len(QUANTITIES)]
  for model, by_point in found.items():
    for x in sorted(by_point):
      reports = by_point[x]
      cells = [_summary([read(r) for r in reports]) for _, read in QUANTITIES]
      lines.append(f'| {LABELS.get(model, model)} | {x:g} | {len(reports)} | '
                   + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def plot(found, path, title):
  """(a) MIG and reconstruction against beta; (b) MIG against reconstruction and TC."""
  figure, axes = plt.subplots(1, 4, figsize=(17, 3.8))
  mig, reconstruction, tc = QUANTITIES[0][1], QUANTITIES[3][1], QUANTITIES[4][1]
  for model, by_point in found.items():
    xs = sorted(by_point)
    label = LABELS.get(model, model)
    for axis, read in ((axes[0], mig), (axes[1], reconstruction)):
      values = [np.array([read(r) for r in by_point[x]]) for x in xs]
      line, = axis.plot(xs, [v.mean() for v in values], marker='o', label=label)
      if min(len(v) for v in values) >= 3:
        axis.fill_between(xs, [np.percentile(v, 10) for v in values],
                          [np.percentile(v, 90) for v in values], color=line.get_color(),
                          alpha=0.2)
    runs = [r for x in xs for r in by_point[x]]
    axes[2].scatter([reconstruction(r) for r in runs], [mig(r) for r in runs], label=label,
                    s=18)
    axes[3].scatter([max(tc(r), 1e-3) for r in runs], [mig(r) for r in runs], label=label,
                    s=18)
  axes[0].set(xlabel='β (γ for IMAE)', ylabel='MIG (Chen et al.)')
  axes[1].set(xlabel='β (γ for IMAE)', ylabel='reconstruction log-likelihood, nats')
  axes[2].set(xlabel='reconstruction log-likelihood, nats', ylabel='MIG (Chen et al.)')
  axes[3].set(xlabel='total correlation TC(z), nats', ylabel='MIG (Chen et al.)',
              xscale='log')
  axes[0].legend(fontsize=8)
  figures.save(figure, path, title, dpi=100)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    values = [float(v) for v in FLAGS.values]
    seeds = [int(s) for s in FLAGS.seeds]
  except ValueError as e:
    raise app.UsageError(f'--values must be numbers and --seeds integers ({e}).') from e
  if any(v <= 0 or not math.isfinite(v) for v in values):
    raise app.UsageError(f'--values={",".join(FLAGS.values)}: every value must be > 0.')
  unknown = set(FLAGS.models) - set(MODELS)
  if unknown:
    raise app.UsageError(f'--models: unknown {sorted(unknown)}; choose from {MODELS}.')
  if not FLAGS.plot_only:
    for model in FLAGS.models:
      train(model, values, seeds, FLAGS.override, FLAGS.runs)
  found = collect(FLAGS.runs, FLAGS.models)
  if not found:
    raise app.UsageError(f'no evaluated runs under --runs={FLAGS.runs}: train them first '
                         '(without --plot_only), or point --runs at the sweep\'s folder.')
  out = pathlib.Path(FLAGS.runs)
  found_seeds = sorted({r['config']['seed'] for by_point in found.values()
                        for reports in by_point.values() for r in reports})
  title = (f'dSprites, {" ".join(FLAGS.override) or "the flagfiles as they are"}; seeds '
           f'{",".join(map(str, found_seeds))} (mean ± std)')
  plot(found, out / 'figure5.png', title)
  text = f'{title}\n\n{table(found)}\n'
  (out / 'figure5.md').write_text(text)
  print(text)
  logging.info('wrote %s and %s', out / 'figure5.png', out / 'figure5.md')
