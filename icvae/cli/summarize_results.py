r"""Markdown table of every evaluated run under a folder (mean +- std over seeds).

  icvae sweep-summary [--runs=runs/results] [--restarts=2]

Groups <runs>/<name>_seed<N>/eval/report.json by <name> (the flagfile), and the runs of a
sweep (<runs>/<name>=<value>/seed=<N>) by their sweep point, and prints one row per group,
the numbers of RESULTS.md.

--restarts=R also prints each group as restarts: its runs, by seed, taken R at a time (seeds
0..R-1, then R..2R-1, ...), and of each R the one whose training objective ended lowest (the
last epoch's mean `train/loss` in metrics.jsonl; no label is used), as k-means keeps the best
of its n_init starts. Its rows are named '<group> best of R'; the seeds column counts the
chosen runs.
"""

import collections
import json
import pathlib
import re

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string('runs', 'runs/results', 'Folder holding <name>_seed<N> workdirs.')
flags.DEFINE_integer('restarts', 0, 'Also print each group as the best of this many restarts '
                     'by the final training objective (0: no).', lower_bound=0)
SELECTION_KEY = 'train/loss'  # what the restarts are chosen by: the objective, no labels

COLUMNS = (
    ('test acc', lambda r: r['clustering']['test']['accuracy'], '{:.3f}'),
    ('test acc many-to-one', lambda r: r['clustering']['test']['many_to_one_accuracy'],
     '{:.3f}'),
    ('smallest test cluster', lambda r: min(r['clustering']['test']['cluster_usage']),
     '{:.3f}'),
    ('train acc', lambda r: r['clustering']['train']['accuracy'], '{:.3f}'),
    ('test NMI', lambda r: r['clustering']['test']['nmi'], '{:.3f}'),
    ('test ARI', lambda r: r['clustering']['test']['ari'], '{:.3f}'),
    ('info CE', lambda r: r['information_cross_entropy']['proper'], '{:.3f}'),
    ('info CE as published', lambda r: r['information_cross_entropy']['as_published'],
     '{:.3f}'),
    ('Parzen LL', lambda r: r['parzen']['log_likelihood'], '{:.1f}'),
    ('test ELBO', lambda r: r['test']['elbo'], '{:.1f}'),
    ('test IWAE', lambda r: r['test']['iwae_bound'], '{:.1f}'),
    ('recon sq. err.', lambda r: r['test']['reconstruction_squared_error'], '{:.2f}'),
    ('I(x;y)', lambda r: r['codes']['mutual_information_y'], '{:.3f}'),
    ('sum I(x;z_k)', lambda r: r['codes']['mutual_information_z_total'], '{:.2f}'),
    ('TC(z)', lambda r: r['codes']['total_correlation'], '{:.3f}'),
    ('test recon LL', lambda r: r['codes'] and r['test']['reconstruction'], '{:.1f}'),
)


def collect(folder):
  """{group: [report]}: the workdirs under `folder` (at any depth) grouped by their path
  without the seed: <name>_seed<N> (run_results.sh) or <sweep point>/seed=<N> (--seeds).
  Each report's 'workdir' is set to where the workdir is now."""
  groups = collections.defaultdict(list)
  folder = pathlib.Path(folder)
  for path in sorted(folder.glob('**/eval/report.json')):
    parts = list(path.parent.parent.relative_to(folder).parts)
    if parts and re.fullmatch(r'seed=\d+', parts[-1]):
      parts.pop()
    elif parts:
      match = re.fullmatch(r'(.*)_seed(\d+)', parts[-1])
      parts[-1] = match.group(1) if match else parts[-1]
    report = json.loads(path.read_text())
    report['workdir'] = str(path.parent.parent)  # where it is now (runs can be moved)
    groups['/'.join(parts) or folder.name].append(report)
  return groups


def final_training_objective(report):
  """The last epoch's mean training loss of a report's workdir (metrics.jsonl), or inf."""
  path = pathlib.Path(report['workdir']) / 'metrics.jsonl'
  if not path.exists():
    return float('inf')
  lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
  values = [line[SELECTION_KEY] for line in lines if SELECTION_KEY in line]
  return values[-1] if values else float('inf')


def best_of_restarts(groups, restarts):
  """{'<group> best of R': [report]}: each group's runs by seed, R at a time, and of each R
  the run with the lowest `final_training_objective` (groups with fewer than R runs are
  left out; a last incomplete set of restarts is dropped)."""
  chosen = {}
  for name, reports in groups.items():
    ordered = sorted(reports, key=lambda r: r['config']['seed'])
    sets = [ordered[i:i + restarts] for i in range(0, len(ordered) - restarts + 1, restarts)]
    if sets:
      chosen[f'{name} best of {restarts}'] = [min(runs, key=final_training_objective)
                                              for runs in sets]
  return chosen


def _get(getter, report):
  try:
    return float(getter(report))
  except KeyError:  # e.g. the AAE has no information term and no IWAE bound
    return float('nan')


def cell(values, fmt):
  values = [v for v in values if v == v]
  if not values:
    return '–'
  if len(values) == 1:
    return fmt.format(values[0])
  return f'{fmt.format(np.mean(values))} ± {fmt.format(np.std(values, ddof=1))}'


def table(groups):
  """The markdown table; a column no group has a value for is left out."""
  cells = {name: [cell([_get(get, r) for r in reports], fmt) for _, get, fmt in COLUMNS]
           for name, reports in groups.items()}
  kept = [i for i in range(len(COLUMNS)) if any(row[i] != '–' for row in cells.values())]
  header = ['run (flagfile)', 'seeds', 'epochs'] + [COLUMNS[i][0] for i in kept]
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for name, reports in sorted(groups.items()):
    epochs = sorted({r['epoch'] for r in reports})
    row = [name, str(len(reports)), '/'.join(map(str, epochs))]
    row += [cells[name][i] for i in kept]
    lines.append('| ' + ' | '.join(row) + ' |')
  return '\n'.join(lines)


def main(argv):
  del argv
  groups = collect(flags.FLAGS.runs)
  if not groups:
    raise app.UsageError(f'no <run>/eval/report.json under --runs={flags.FLAGS.runs}: point '
                         '--runs at the folder holding the evaluated runs, or evaluate them '
                         'first (icvae evaluate --workdir=...).')
  print(table(groups))
  if flags.FLAGS.restarts:
    chosen = best_of_restarts(groups, flags.FLAGS.restarts)
    if chosen:
      print(f'\nBest of {flags.FLAGS.restarts} restarts by the final {SELECTION_KEY} '
            '(no labels):\n')
      print(table(chosen))
