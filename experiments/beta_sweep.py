r"""The shape of the IMAE paper's Figure 3: accuracy, I(x; y) and reconstruction against beta
for IMAE, β-VAE, InfoVAE and JointVAE (gamma = 2 beta for IMAE), all with the same VAT.

  python -m experiments.beta_sweep --dataset=mnist --betas=1,5,10,30 --seeds=0 \
      --num_epochs=10 --data_dir=../shared/data/mnist

Each point is a training run of the dataset's binary with the model's flagfile
(`experiments/flags/<dataset>_<model>.flags`, `<dataset>_imae_paper.flags` for IMAE) and
--beta, --vat_weight, --num_epochs and --seed overridden, in <runs>/<model>_beta<B>_seed<S>
(a run already trained is reused, a stopped one resumes). The numbers are the test-set
evaluation the loop writes after the last epoch (metrics.jsonl): Hungarian accuracy,
I(x; y) (eq. 7 averaged over test batches of 1000) and the reconstruction log-likelihood of
the argmax y and mean z. Writes <runs>/figure3.png and <runs>/figure3.md (mean ± std over
seeds). The paper's full size: betas over [1, 10] and more, 10 seeds, its epochs (not stated).
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

MODELS = ('imae', 'beta_vae', 'info_vae', 'joint_vae')
LABELS = {'imae': 'IMAE', 'beta_vae': 'β-VAE', 'info_vae': 'InfoVAE', 'joint_vae': 'JointVAE'}
QUANTITIES = (('test/clustering_accuracy', 'test accuracy (Hungarian)'),
              ('test/mutual_information_y', 'I(x; y), nats'),
              ('test/reconstruction', 'reconstruction log-lik., nats'))

def define_flags():
  """The binary's flags (defined when run, so that importing this module defines none)."""
  flags.DEFINE_enum('dataset', 'mnist', ['mnist', 'fashion_mnist'], 'The data.')
  flags.DEFINE_list('betas', ['1', '5', '10', '30'], 'The beta values.')
  flags.DEFINE_list('models', list(MODELS), 'Models to sweep.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds per point.')
  flags.DEFINE_integer('num_epochs', 10, 'Epochs per run.')
  flags.DEFINE_float('vat_weight', 5.0, 'The VAT weight of every run (0: no VAT).')
  flags.DEFINE_string('runs', '', 'Folder of the runs and outputs; default '
                      'runs/beta_sweep/<dataset>.')
  flags.DEFINE_string('data_dir', '', 'MNIST IDX folder (optional).')
  flags.DEFINE_bool('plot_only', False, 'Only collect the runs already there and plot.')


FLAGS = flags.FLAGS


def flagfile(dataset, model):
  name = f'{dataset}_imae_paper' if model == 'imae' else f'{dataset}_{model}'
  return pathlib.Path(__file__).parent / 'flags' / f'{name}.flags'


def workdir(runs, model, beta, seed):
  return pathlib.Path(runs) / f'{model}_beta{beta:g}_seed{seed}'


def final_record(path, num_epochs):
  """The last metrics.jsonl record of a run trained to `num_epochs`, or None."""
  metrics = pathlib.Path(path) / 'metrics.jsonl'
  if not metrics.exists():
    return None
  records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
  last = [r for r in records if r.get('epoch') == num_epochs and 'test/clustering_accuracy' in r]
  return last[-1] if last else None


def train(model, beta, seed):
  """Runs (or resumes) one point of the sweep in a subprocess."""
  command = [sys.executable, '-m', f'experiments.{FLAGS.dataset}',
             f'--flagfile={flagfile(FLAGS.dataset, model)}', f'--beta={beta}',
             f'--vat_weight={FLAGS.vat_weight}', f'--num_epochs={FLAGS.num_epochs}',
             f'--seed={seed}', f'--workdir={workdir(FLAGS.runs, model, beta, seed)}',
             f'--eval_every={FLAGS.num_epochs}', f'--checkpoint_every={FLAGS.num_epochs}',
             '--final_eval=false', '--progress=false']
  if model == 'imae':
    command.append(f'--gamma={2 * beta}')
  if FLAGS.data_dir:
    command.append(f'--data_dir={FLAGS.data_dir}')
  logging.info('training %s beta=%g seed=%s', model, beta, seed)
  subprocess.run(command, check=True)


def collect(runs, models, betas, seeds, num_epochs):
  """{model: {beta: [final records over seeds]}} of the runs trained to `num_epochs`."""
  found = collections.defaultdict(dict)
  for model in models:
    for beta in betas:
      records = [final_record(workdir(runs, model, beta, seed), num_epochs) for seed in seeds]
      found[model][beta] = [r for r in records if r is not None]
  return found


def table(found, betas):
  lines = ['| model | beta | seeds | ' + ' | '.join(label for _, label in QUANTITIES) + ' |',
           '|---|---|---|' + '---|' * len(QUANTITIES)]
  for model, by_beta in found.items():
    for beta in betas:
      records = by_beta.get(beta, [])
      if not records:
        continue
      cells = []
      for key, _ in QUANTITIES:
        values = np.array([r[key] for r in records])
        cells.append(f'{values.mean():.3f}' + (f' ± {values.std(ddof=1):.3f}'
                                               if len(values) > 1 else ''))
      lines.append(f'| {LABELS.get(model, model)} | {beta:g} | {len(records)} | '
                   + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def plot(found, betas, path, title):
  figure, axes = plt.subplots(1, len(QUANTITIES), figsize=(4.2 * len(QUANTITIES), 3.4))
  for model, by_beta in found.items():
    points = [(beta, [r for r in by_beta.get(beta, [])]) for beta in betas]
    points = [(beta, records) for beta, records in points if records]
    if not points:
      continue
    for axis, (key, label) in zip(axes, QUANTITIES):
      x = [beta for beta, _ in points]
      values = [np.array([r[key] for r in records]) for _, records in points]
      axis.errorbar(x, [v.mean() for v in values],
                    yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in values],
                    marker='o', capsize=3, label=LABELS.get(model, model))
      axis.set_xscale('log')
      axis.set_xlabel('beta (IMAE: gamma = 2 beta)')
      axis.set_ylabel(label)
  for axis, (key, label) in zip(axes, QUANTITIES):
    if key == 'test/mutual_information_y':
      axis.axhline(math.log(10), color='grey', linestyle=':', label='log 10')
  axes[0].legend(fontsize=8)
  figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def main(argv):
  del argv
  FLAGS.runs = FLAGS.runs or f'runs/beta_sweep/{FLAGS.dataset}'
  try:
    betas = [float(b) for b in FLAGS.betas]
    seeds = [int(s) for s in FLAGS.seeds]
  except ValueError as e:
    raise app.UsageError(f'--betas must be numbers and --seeds integers ({e}).') from e
  if any(b < 0 or not math.isfinite(b) for b in betas):
    raise app.UsageError(f'--betas={",".join(FLAGS.betas)}: every beta must be >= 0.')
  unknown = set(FLAGS.models) - set(MODELS)
  if unknown:
    raise app.UsageError(f'--models: unknown {sorted(unknown)}; choose from {MODELS}.')
  if not FLAGS.plot_only:
    for seed in seeds:
      for beta in betas:
        for model in FLAGS.models:
          if final_record(workdir(FLAGS.runs, model, beta, seed), FLAGS.num_epochs) is None:
            train(model, beta, seed)
  found = collect(FLAGS.runs, FLAGS.models, betas, seeds, FLAGS.num_epochs)
  if not any(records for by_beta in found.values() for records in by_beta.values()):
    raise app.UsageError(f'no finished runs under --runs={FLAGS.runs}.')
  out = pathlib.Path(FLAGS.runs)
  title = (f'{FLAGS.dataset}: {FLAGS.num_epochs} epochs, VAT weight {FLAGS.vat_weight:g}, '
           f'seeds {",".join(map(str, seeds))} (mean ± std)')
  plot(found, betas, out / 'figure3.png', title)
  text = f'{title}\n\n{table(found, betas)}\n'
  (out / 'figure3.md').write_text(text)
  print(text)
  logging.info('wrote %s and %s', out / 'figure3.png', out / 'figure3.md')


if __name__ == '__main__':
  define_flags()
  app.run(main)
