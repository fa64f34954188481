"""icvae.cli.compare_runs on hand-made workdirs with known differences."""

import json

from icvae.cli import compare_runs


def _workdir(path, records, report):
  path.mkdir()
  (path / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))
  (path / 'eval').mkdir()
  (path / 'eval' / 'report.json').write_text(json.dumps(report))
  return path


def test_finds_exactly_the_differences_and_skips_timings(tmp_path):
  a = _workdir(tmp_path / 'a', [{'epoch': 1, 'train/loss': 2.0, 'train/seconds': 5.0}],
               {'test': {'elbo': -100.0}, 'clustering': {'usage': [0.5, 0.5]},
                'seconds': {'parzen': 3.0}, 'config': {'workdir': 'a'}})
  b = _workdir(tmp_path / 'b', [{'epoch': 1, 'train/loss': 2.0, 'train/seconds': 9.0}],
               {'test': {'elbo': -100.5}, 'clustering': {'usage': [0.5, 0.5]},
                'seconds': {'parzen': 4.0}, 'extra': 1})
  lines, largest = compare_runs.compare(compare_runs.read(a), compare_runs.read(b), 0.0)
  assert largest == 0.5 / 100.0
  assert lines == ['only in the other: report/extra',
                   'report/test/elbo: -100.0 vs -100.5 (relative 5.00e-03)']
  lines, _ = compare_runs.compare(compare_runs.read(a), compare_runs.read(b), 0.01)
  assert lines == ['only in the other: report/extra']
