r"""Compares two training workdirs number by number: metrics.jsonl and eval/report.json.

  icvae compare-runs --workdirs=runs/before,runs/after [--tolerance=1e-6]

Prints every number whose relative difference exceeds --tolerance, the numbers only one side
has, and the largest relative difference. Timings (seconds, examples per second), the
options and the config (paths differ) are skipped. Exit status 1 when a number differs.
"""

import json
import math
import pathlib
import sys

from absl import app
from absl import flags

flags.DEFINE_list('workdirs', None, 'Two training workdirs: the reference, then the other.')
flags.DEFINE_float('tolerance', 0.0, 'Largest relative difference that counts as equal.')
FLAGS = flags.FLAGS

SKIPPED = ('seconds', 'examples_per_second', 'options/', 'config/', 'workdir')


def numbers(tree, prefix=''):
  """{'a/b/c': value} of every int or float leaf of nested dicts and lists."""
  if isinstance(tree, dict):
    items = tree.items()
  elif isinstance(tree, list):
    items = enumerate(tree)
  else:
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
      return {prefix.rstrip('/'): float(tree)}
    return {}
  result = {}
  for key, value in items:
    result.update(numbers(value, f'{prefix}{key}/'))
  return result


def read(workdir):
  """The numbers of a workdir: metrics.jsonl by epoch, and eval/report.json."""
  workdir = pathlib.Path(workdir)
  found = {}
  metrics = workdir / 'metrics.jsonl'
  if metrics.exists():
    for line in metrics.read_text().splitlines():
      if line.strip():
        record = json.loads(line)
        found.update(numbers(record, f'metrics/epoch {record["epoch"]}/'))
  report = workdir / 'eval' / 'report.json'
  if report.exists():
    found.update(numbers(json.loads(report.read_text()), 'report/'))
  return {k: v for k, v in found.items() if not any(s in k for s in SKIPPED)}


def compare(reference, other, tolerance):
  """(lines describing the differences, largest relative difference)."""
  lines, largest = [], 0.0
  for name in sorted(set(reference) | set(other)):
    if name not in other or name not in reference:
      lines.append(f'only in the {"reference" if name in reference else "other"}: {name}')
      continue
    a, b = reference[name], other[name]
    if math.isnan(a) or math.isnan(b):
      difference = 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    else:
      difference = abs(a - b) / max(abs(a), 1e-30) if a != b else 0.0
    largest = max(largest, difference)
    if difference > tolerance:
      lines.append(f'{name}: {a!r} vs {b!r} (relative {difference:.2e})')
  return lines, largest


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdirs or len(FLAGS.workdirs) != 2:
    raise app.UsageError('--workdirs needs exactly two training workdirs.')
  reference, other = (read(w) for w in FLAGS.workdirs)
  for workdir, numbers in zip(FLAGS.workdirs, (reference, other)):
    if not numbers:
      raise app.UsageError(f'{workdir} has no metrics.jsonl or eval/report.json: pass the '
                           'workdir of a run that trained (or evaluated).')
  lines, largest = compare(reference, other, FLAGS.tolerance)
  print('\n'.join(lines))
  print(f'{len(reference)} numbers compared; largest relative difference {largest:.3g}')
  sys.exit(1 if any(not line.startswith('only in') for line in lines) else 0)
