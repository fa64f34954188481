r"""Markdown table of every evaluated run under a folder (mean +- std over seeds).

  python -m experiments.summarize_results [--runs=runs/results]

Groups <runs>/<name>_seed<N>/eval/report.json by <name> (the flagfile), and the runs of a
sweep (<runs>/<name>=<value>/seed=<N>) by their sweep point, and prints one row per group,
the numbers of RESULTS.md.
"""

import collections
import json
import pathlib
import re

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string('runs', 'runs/results', 'Folder holding <name>_seed<N> workdirs.')

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
  without the seed: <name>_seed<N> (run_results.sh) or <sweep point>/seed=<N> (--seeds)."""
  groups = collections.defaultdict(list)
  folder = pathlib.Path(folder)
  for path in sorted(folder.glob('**/eval/report.json')):
    parts = list(path.parent.parent.relative_to(folder).parts)
    if parts and re.fullmatch(r'seed=\d+', parts[-1]):
      parts.pop()
    elif parts:
      match = re.fullmatch(r'(.*)_seed(\d+)', parts[-1])
      parts[-1] = match.group(1) if match else parts[-1]
    groups['/'.join(parts) or folder.name].append(json.loads(path.read_text()))
  return groups


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
    raise app.UsageError(f'no <run>/eval/report.json under --runs={flags.FLAGS.runs}.')
  print(table(groups))


if __name__ == '__main__':
  app.run(main)
