r"""The shape of the IMAE paper's Figure 3: accuracy, I(x; y) and reconstruction against beta
for IMAE, β-VAE, InfoVAE and JointVAE (gamma = 2 beta for IMAE), all with the same VAT.

  icvae beta-sweep --dataset=mnist --betas=1,5,10,30 --seeds=0 \
      --num_epochs=10 --data_dir=../shared/data/mnist

(`python -m experiments.beta_sweep ...` in a checkout.) Each point is a training run
(`icvae train`) of the model's shipped config (`<dataset>_<model>`, `<dataset>_imae_paper`
for IMAE) with
--beta, --vat_weight, --num_epochs and --seed overridden, in <runs>/<model>_beta<B>_seed<S>
(a run already trained is reused, a stopped one resumes). The numbers are the test-set
evaluation the loop writes after the last epoch (metrics.jsonl): Hungarian accuracy,
I(x; y) (eq. 7 averaged over test batches of 1000) and the reconstruction log-likelihood of
the argmax y and mean z. Writes <runs>/figure3.png and <runs>/figure3.md: the mean over
seeds with the paper's shaded 80% interval (the 10th to 90th percentile of the seeds, linear
interpolation), and IMSAT's accuracy and I(x; y) as a reference line when --reference names
IMSAT workdirs (their last test evaluation). --parallel runs that many trainings at once (2 on
a 2-core CPU). The paper's full size: betas over [1, 10] and more, 10 seeds, its epochs (not
stated).

On a GPU, --one_program trains each model's whole grid as one sweep program instead
(`icvae train --sweep=beta:... --seeds=...`; IMAE's beta and gamma as one tied axis), in
<runs>/<model>/beta=<B>/seed=<S> (IMAE: beta=<B>,gamma=<2B>): one compilation per model and
every point of the grid in each step. The table and figure read either layout. A point
trained either way is the same run up to rounding, which long training with batch norm and
VAT amplify (one epoch of IMAE in a grid of 2 runs and of 4: test accuracy 0.004-0.011
apart): treat the two layouts' runs as draws of the same seed distribution, not as
bit-identical.
"""

import collections
import concurrent.futures
import glob
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
from icvae.cli import configs
from icvae.cli import peers

MODELS = peers.MODELS
LABELS = peers.LABELS
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
  flags.DEFINE_float('vat_weight', 5.0, 'The VAT weight of every run (0: no VAT); with '
                     '--recipe, the recipe\'s (300) unless given.')
  flags.DEFINE_bool('recipe', False, 'Train every method with IMAE\'s best recipe '
                    '(`<dataset>_imae` for IMAE, `<dataset>_<model>_recipe` for the peers: '
                    'IMSAT\'s classifier and VAT, the late reconstruction) instead of the '
                    'paper\'s common VAT (`<dataset>_imae_paper`, `<dataset>_<model>`).')
  flags.DEFINE_string('runs', '', 'Folder of the runs and outputs; default '
                      'runs/beta_sweep/<dataset>.')
  flags.DEFINE_string('data_dir', '', 'The folder of the dataset\'s four IDX files (optional).')
  flags.DEFINE_bool('plot_only', False, 'Only collect the runs already there and plot.')
  flags.DEFINE_integer('parallel', 1, 'Trainings run at once.', lower_bound=1)
  flags.DEFINE_bool('one_program', False, 'Train each model\'s grid (every beta and seed) '
                    'as one sweep program, in <runs>/<model>/beta=<B>/seed=<S>: for a GPU. '
                    'Off: a process per point, --parallel of them at once.')
  flags.DEFINE_string('reference', '', 'A glob of IMSAT workdirs (e.g. '
                      'runs/imsat_results/mnist_imsat_heldout_seed*): their mean final test '
                      'accuracy and I(x; y) are drawn as a reference line.')


FLAGS = flags.FLAGS


def flagfile(dataset, model, recipe=False):
  """The shipped flagfile of `model` on `dataset`: IMAE's the paper's settings and the peers'
  their own; with `recipe`, IMAE's best recipe and the peers' copies of it."""
  if recipe:
    return configs.path(f'{dataset}_imae' if model == 'imae' else f'{dataset}_{model}_recipe')
  return configs.path(f'{dataset}_imae_paper' if model == 'imae' else f'{dataset}_{model}')


def workdir(runs, model, beta, seed):
  """The workdir of one point trained as a process of its own."""
  return pathlib.Path(runs) / f'{model}_beta{beta:g}_seed{seed}'


def point_log(runs, model, beta, seed):
  """The log of one point trained as a process of its own, beside its workdir (named by
  appending `.log`: with_suffix would cut a beta of 2.5 at its '.5_seed0')."""
  return pathlib.Path(runs) / f'{workdir(runs, model, beta, seed).name}.log'


def sweep_axis(model, betas):
  """The `--sweep` value of a model's grid: IMAE ties gamma = 2 beta to beta."""
  if model == 'imae':
    return 'beta,gamma:' + ','.join(f'{b:g}:{2 * b:g}' for b in betas)
  return 'beta:' + ','.join(f'{b:g}' for b in betas)


def grid_workdir(runs, model, beta, seed):
  """The workdir of one point of a model's grid trained as one program (`--one_program`):
  `icvae.sweep.expand`'s layout for `sweep_axis` and the seeds."""
  point = f'beta={beta:g},gamma={2 * beta:g}' if model == 'imae' else f'beta={beta:g}'
  return pathlib.Path(runs) / model / point / f'seed={seed}'


def final_record(path, num_epochs):
  """The last metrics.jsonl record of a run trained to `num_epochs`, or None."""
  metrics = pathlib.Path(path) / 'metrics.jsonl'
  if not metrics.exists():
    return None
  records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
  last = [r for r in records if r.get('epoch') == num_epochs and 'test/clustering_accuracy' in r]
  return last[-1] if last else None


def point_record(runs, model, beta, seed, num_epochs):
  """The final record of a point in either layout (a process of its own first), or None."""
  for path in (workdir(runs, model, beta, seed), grid_workdir(runs, model, beta, seed)):
    record = final_record(path, num_epochs)
    if record is not None:
      return record
  return None


def _command(model, *settings):
  """`icvae train` of the model's shipped config with the sweep's settings and `settings`."""
  command = [sys.executable, '-m', 'icvae', 'train',
             f'--flagfile={flagfile(FLAGS.dataset, model, FLAGS.recipe)}',
             f'--dataset={FLAGS.dataset}', f'--num_epochs={FLAGS.num_epochs}',
             f'--eval_every={FLAGS.num_epochs}',
             f'--checkpoint_every={min(10, FLAGS.num_epochs)}',
             '--final_eval=false', '--progress=false', *settings]
  if not FLAGS.recipe or FLAGS['vat_weight'].present:
    command.append(f'--vat_weight={FLAGS.vat_weight}')
  if FLAGS.data_dir:
    command.append(f'--data_dir={FLAGS.data_dir}')
  return command


class TrainingFailed(RuntimeError):
  """A training subprocess of the sweep exited with an error; the message names its log."""


def run_logged(command, log):
  """Runs `command`, its stderr appended to `log`; TrainingFailed if it fails."""
  log = pathlib.Path(log)
  log.parent.mkdir(parents=True, exist_ok=True)
  with open(log, 'a') as stream:
    returncode = subprocess.run(command, stderr=stream, check=False).returncode
  if returncode:
    raise TrainingFailed(f'a training exited with status {returncode}; its log is {log}. Fix '
                         'the cause and run the same command again: finished points are kept '
                         'and a stopped one resumes.')


def train(model, beta, seed):
  """Runs (or resumes) one point of the sweep in a subprocess."""
  folder = workdir(FLAGS.runs, model, beta, seed)
  settings = [f'--beta={beta}', f'--seed={seed}', f'--workdir={folder}']
  if model == 'imae':
    settings.append(f'--gamma={2 * beta}')
  logging.info('training %s beta=%g seed=%s', model, beta, seed)
  run_logged(_command(model, *settings), point_log(FLAGS.runs, model, beta, seed))


def train_grid(model, betas, seeds):
  """Runs (or resumes) a model's whole grid as one sweep program in a subprocess."""
  folder = pathlib.Path(FLAGS.runs) / model
  logging.info('training %s: betas %s, seeds %s as one program', model,
               ','.join(f'{b:g}' for b in betas), ','.join(map(str, seeds)))
  run_logged(_command(model, f'--workdir={folder}', f'--sweep={sweep_axis(model, betas)}',
                      f'--seeds={",".join(map(str, seeds))}'), folder.parent / f'{model}.log')


def interval(values, coverage=0.8):
  """(low, high): the central `coverage` interval of the values (percentiles, linear)."""
  tail = 50 * (1 - coverage)
  return np.percentile(values, tail), np.percentile(values, 100 - tail)


def reference_records(pattern):
  """The last test evaluation (metrics.jsonl) of every workdir matching `pattern`."""
  records = []
  for path in sorted(glob.glob(pattern)):
    lines = (pathlib.Path(path) / 'metrics.jsonl').read_text().splitlines()
    tested = [json.loads(line) for line in lines if 'test/clustering_accuracy' in line]
    if tested:
      records.append(tested[-1])
  return records


def collect(runs, models, betas, seeds, num_epochs):
  """{model: {beta: [final records over seeds]}} of the runs trained to `num_epochs`."""
  found = collections.defaultdict(dict)
  for model in models:
    for beta in betas:
      records = [point_record(runs, model, beta, seed, num_epochs) for seed in seeds]
      found[model][beta] = [r for r in records if r is not None]
  return found


def table(found, betas, reference=()):
  """Markdown: per model and beta, each quantity's mean ± std [80% interval] over seeds."""
  lines = ['| model | beta | seeds | ' + ' | '.join(label for _, label in QUANTITIES) + ' |',
           '|---|---|---|' + '---|' * len(QUANTITIES)]
  if reference:
    cells = []
    for key, _ in QUANTITIES:
      values = np.array([r[key] for r in reference if key in r])
      cells.append(_cell(values) if len(values) else '')
    lines.append(f'| IMSAT (reference) | | {len(reference)} | ' + ' | '.join(cells) + ' |')
  for model, by_beta in found.items():
    for beta in betas:
      records = by_beta.get(beta, [])
      if not records:
        continue
      cells = [_cell(np.array([r[key] for r in records])) for key, _ in QUANTITIES]
      lines.append(f'| {LABELS.get(model, model)} | {beta:g} | {len(records)} | '
                   + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


# The paper's orderings (section 4.2.1 and Figure 3), as (higher, lower, quantity): at a
# given beta, `higher`'s value of the quantity is claimed above `lower`'s (reconstruction: the
# log-likelihood, higher is better). IMAE against each peer on each quantity ("IMAE achieves
# much better performance", "is expected to yield better decoding quality"), and InfoVAE and
# JointVAE against β-VAE ("performs much better than β-VAE", β-VAE's "poor decoding quality").
ORDERINGS = tuple(
    [('imae', peer, key) for key in ('test/clustering_accuracy', 'test/mutual_information_y',
                                     'test/reconstruction')
     for peer in ('info_vae', 'joint_vae', 'beta_vae')] +
    [(peer, 'beta_vae', key) for key in ('test/clustering_accuracy',
                                         'test/mutual_information_y', 'test/reconstruction')
     for peer in ('info_vae', 'joint_vae')])


def verdict(higher, lower, coverage=0.8):
  """Whether values `higher` sit above values `lower`, judged by their seeds' intervals.

  'holds' when `higher`'s central `coverage` interval lies wholly above `lower`'s,
  'reversed' when wholly below, 'overlap' otherwise (the seeds cannot tell them apart at
  that coverage). The intervals are `interval`'s, the figure's shaded bands. With fewer
  than two seeds on either side there is no interval to judge by, and the verdict is
  'one seed': a single run's difference is shown, never called a result.
  """
  if min(len(higher), len(lower)) < 2:
    return 'one seed'
  high_low, high_high = interval(higher, coverage)
  low_low, low_high = interval(lower, coverage)
  if high_low > low_high:
    return 'holds'
  if high_high < low_low:
    return 'reversed'
  return 'overlap'


def orderings(found, betas, claims=ORDERINGS):
  """Markdown: for each claimed ordering, the difference of means and the verdict per beta,
  and the count of betas where it holds / is reversed / overlaps."""
  names = {'test/clustering_accuracy': 'test accuracy',
           'test/mutual_information_y': 'I(x; y)',
           'test/reconstruction': 'reconstruction log-lik.'}
  header = ['| claim | ' + ' | '.join(f'β = {b:g}' for b in betas) +
            ' | holds / reversed / overlap |', '|---|' + '---|' * len(betas) + '---|']
  lines = []
  for higher, lower, key in claims:
    cells, counts = [], collections.Counter()
    for beta in betas:
      a = [r[key] for r in found.get(higher, {}).get(beta, [])]
      b = [r[key] for r in found.get(lower, {}).get(beta, [])]
      if not a or not b:
        cells.append('')
        continue
      result = verdict(np.array(a), np.array(b))
      counts[result] += 1  # the last column reads holds / reversed / overlap only
      cells.append(f'{np.mean(a) - np.mean(b):+.3f} {result}')
    if not counts:
      continue
    claim = f'{LABELS.get(higher, higher)} > {LABELS.get(lower, lower)}: {names[key]}'
    lines.append(f'| {claim} | ' + ' | '.join(cells) + f' | {counts["holds"]} / '
                 f'{counts["reversed"]} / {counts["overlap"]} |')
  return '\n'.join(header + lines if lines else
                   ['(No two methods of a claim share a trained beta yet.)'])


def trends(found, betas):
  """Markdown: each method over beta, for the paper's claims about one method (IMAE
  "consistent over beta", InfoVAE good at large beta, JointVAE at small beta, beta-VAE
  losing I(x; y) as beta grows): its mean test accuracy from the smallest to the largest
  trained beta, `verdict` of the largest beta's seeds against the smallest's ('holds': the
  largest beta clusters better), the spread of the means over beta (max - min: the smaller,
  the more consistent), and whether its mean I(x; y) never rises with beta."""
  lines = []
  for model, by_beta in found.items():
    trained = [beta for beta in betas if by_beta.get(beta)]
    if len(trained) < 2:
      continue
    seeds = {key: [np.array([r[key] for r in by_beta[beta]]) for beta in trained]
             for key in ('test/clustering_accuracy', 'test/mutual_information_y')}
    accuracy, information = ([values.mean() for values in seeds[key]] for key in seeds)
    never_rising = all(later <= earlier for earlier, later in zip(information, information[1:]))
    course = lambda means: ' → '.join(f'{m:.3f}' for m in means)
    first, last = seeds['test/clustering_accuracy'][0], seeds['test/clustering_accuracy'][-1]
    lines.append(f'| {LABELS.get(model, model)} | {course(accuracy)} '
                 f'| {verdict(last, first)} | {max(accuracy) - min(accuracy):.3f} '
                 f'| {course(information)} '
                 f'| {"never rises" if never_rising else "rises somewhere"} |')
  if not lines:
    return '(No method has two trained betas yet.)'
  return '\n'.join(['| method | test accuracy, smallest → largest beta | largest beta above '
                    'smallest | spread of the accuracy over beta | I(x; y), smallest → largest '
                    'beta | I(x; y) |', '|---|---|---|---|---|---|'] + lines)


def _cell(values):
  if len(values) < 2:
    return f'{values.mean():.3f}'
  low, high = interval(values)
  return f'{values.mean():.3f} ± {values.std(ddof=1):.3f} [{low:.3f}, {high:.3f}]'


def plot(found, betas, path, title, reference=()):
  figure, axes = plt.subplots(1, len(QUANTITIES), figsize=(4.2 * len(QUANTITIES), 3.4))
  for model, by_beta in found.items():
    points = [(beta, [r for r in by_beta.get(beta, [])]) for beta in betas]
    points = [(beta, records) for beta, records in points if records]
    if not points:
      continue
    for axis, (key, label) in zip(axes, QUANTITIES):
      x = [beta for beta, _ in points]
      values = [np.array([r[key] for r in records]) for _, records in points]
      line, = axis.plot(x, [v.mean() for v in values], marker='o',
                        label=LABELS.get(model, model))
      bands = [interval(v) for v in values]
      axis.fill_between(x, [b[0] for b in bands], [b[1] for b in bands],
                        color=line.get_color(), alpha=0.2, linewidth=0)
      axis.set_xscale('log')
      axis.set_xticks(betas, [f'{beta:g}' for beta in betas])  # the betas, not powers of 10
      axis.minorticks_off()
      axis.set_xlabel('beta (IMAE: gamma = 2 beta)')
      axis.set_ylabel(label)
  for axis, (key, label) in zip(axes, QUANTITIES):
    if key == 'test/mutual_information_y':
      axis.axhline(math.log(10), color='grey', linestyle=':', label='log 10')
    values = [r[key] for r in reference if key in r]
    if values:
      axis.axhline(np.mean(values), color='black', linestyle='--',
                   label=f'IMSAT ({len(values)} runs)')
  axes[0].legend(fontsize=8)
  figures.save(figure, path, title, dpi=100)


def train_points(todo, betas, seeds):
  """Trains the (model, beta, seed) points of `todo`: each model's grid as one program
  (--one_program), else a process per point, --parallel at once, logging each as it ends."""
  if FLAGS.one_program:
    for model in dict.fromkeys(model for model, _, _ in todo):
      train_grid(model, betas, seeds)
  else:
    run_points(todo, train, FLAGS.parallel, report=lambda done, point: report_point(
        done, len(todo), *point))


def run_points(points, run, parallel, report):
  """Calls `run(*point)` for each point in order, `parallel` at once, and `report(done,
  point)` as each ends. Past the first `parallel`, a point starts only when an earlier one has
  succeeded, so the first failure (or Ctrl-C) starts nothing more and is raised once the
  running ones end: their work is kept, and the error does not wait for the queue."""
  queue, running, done = iter(points), {}, 0

  def start_next():
    point = next(queue, None)
    if point is not None:
      running[pool.submit(run, *point)] = point

  with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    for _ in range(parallel):
      start_next()
    while running:
      finished, _ = concurrent.futures.wait(
          running, return_when=concurrent.futures.FIRST_COMPLETED)
      for future in finished:
        point = running.pop(future)
        future.result()
        done += 1
        report(done, point)
        start_next()


def report_point(done, total, model, beta, seed):
  """Logs one trained point's final test numbers."""
  record = final_record(workdir(FLAGS.runs, model, beta, seed), FLAGS.num_epochs) or {}
  logging.info('%d of %d trained: %s beta=%g seed=%d: test accuracy %.3f, I(x; y) %.3f '
               'nats, reconstruction %.1f nats', done, total, model, beta, seed,
               *(record.get(key, math.nan) for key, _ in QUANTITIES))


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
  todo = [] if FLAGS.plot_only else [
      (model, beta, seed) for seed in seeds for beta in betas for model in FLAGS.models
      if point_record(FLAGS.runs, model, beta, seed, FLAGS.num_epochs) is None]
  try:
    train_points(todo, betas, seeds)
  except TrainingFailed as e:
    sys.exit(f'error: {e}')
  found = collect(FLAGS.runs, FLAGS.models, betas, seeds, FLAGS.num_epochs)
  if not any(records for by_beta in found.values() for records in by_beta.values()):
    raise app.UsageError(f'no finished runs under --runs={FLAGS.runs}: train them first '
                         '(without --plot_only), or point --runs at the sweep\'s folder.')
  out = pathlib.Path(FLAGS.runs)
  reference = reference_records(FLAGS.reference) if FLAGS.reference else []
  vat = ('IMAE\'s recipe' if FLAGS.recipe and not FLAGS['vat_weight'].present
         else f'VAT weight {FLAGS.vat_weight:g}')
  title = (f'{FLAGS.dataset}: {FLAGS.num_epochs} epochs, {vat}, '
           f'seeds {",".join(map(str, seeds))} (mean, shaded: 80% of the seeds)')
  plot(found, betas, out / 'figure3.png', title, reference)
  text = (f'{title}\n\nCells: mean ± std [10th, 90th percentile] over seeds.\n\n'
          f'{table(found, betas, reference)}\n\n'
          'The paper\'s orderings: the difference of the means, and "holds" where the first\'s '
          '80% interval over seeds lies wholly above the second\'s ("reversed": wholly below; '
          '"one seed": no verdict from a single run).'
          f'\n\n{orderings(found, betas)}\n\n'
          'Each method over beta (its own claims: consistency, the beta where it does well, '
          'I(x; y) falling with beta); the verdict as above, the largest beta\'s seeds against '
          'the smallest\'s.\n\n'
          f'{trends(found, betas)}\n')
  (out / 'figure3.md').write_text(text)
  print(text)
  logging.info('wrote %s and %s', out / 'figure3.png', out / 'figure3.md')
