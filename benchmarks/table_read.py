"""Reading a large CSV table of your own (`icvae.files`, `icvae.tables`): time and peak memory.

  python -m benchmarks.table_read [--rows=1000000] [--columns=50] [--before=474455b]

Writes a CSV of `rows` x `columns` random features (6 significant digits, a header, and a
label column of names) in a temporary folder, then reads it with `files.read_examples` in a
fresh process per reader and prints the wall time and the process's peak resident memory
(`ru_maxrss`, which includes Python, numpy and jax as imported by icvae: the first line, a
process that only imports icvae, is that baseline). With --before=COMMIT, the same file is
also read by that commit's `icvae/files.py` (the reader before issue 30, which held every
cell as a Python string), side by side in the same run.
"""

import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app
from absl import flags

flags.DEFINE_integer('rows', 1_000_000, 'Rows of the table.')
flags.DEFINE_integer('columns', 50, 'Feature columns of the table.')
flags.DEFINE_string('before', '', 'A commit whose icvae/files.py reads the same file, for '
                    'comparison (e.g. 474455b); empty: only this checkout.')
FLAGS = flags.FLAGS

_READ = '''
import resource, sys, time
started = time.perf_counter()
{load}
if sys.argv[1] != '-':
  x = read(sys.argv[1])
  assert x.shape == ({rows}, {columns}), x.shape
seconds = time.perf_counter() - started
print(f'{{seconds:.1f}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f}}')
'''
_NOW = ('from icvae import files\n'
        'read = lambda path: files.read_examples(path, label_column="kind", cache_dir=sys.argv[2]).x')
_BEFORE = ('import importlib.util\n'
           'spec = importlib.util.spec_from_file_location("old_files", sys.argv[3])\n'
           'old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)\n'
           'read = lambda path: old.read_examples(path, label_column="kind", cache_dir=sys.argv[2])[0]')


def write_table(path, rows, columns):
  rng = np.random.default_rng(0)
  with open(path, 'w') as f:
    f.write(','.join([f'f{j}' for j in range(columns)] + ['kind']) + '\n')
    for start in range(0, rows, 100_000):
      block = rng.normal(size=(min(100_000, rows - start), columns))
      kinds = np.array(['low', 'high'])[(block[:, 0] > 0).astype(int)]
      lines = [','.join(f'{v:.6g}' for v in row) + f',{kind}' for row, kind in zip(block, kinds)]
      f.write('\n'.join(lines) + '\n')


def measure(code, *argv):
  done = subprocess.run([sys.executable, '-c', code, *map(str, argv)], capture_output=True,
                        text=True, check=False)
  if done.returncode:
    raise RuntimeError(done.stderr[-2000:])
  seconds, gigabytes = done.stdout.split()
  return float(seconds), float(gigabytes)


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as root:
    root = pathlib.Path(root)
    table = root / 'table.csv'
    started = time.perf_counter()
    write_table(table, FLAGS.rows, FLAGS.columns)
    print(f'wrote {FLAGS.rows:,} x {FLAGS.columns} ({table.stat().st_size / 1e6:.0f} MB) in '
          f'{time.perf_counter() - started:.0f} s')
    now = _READ.format(load=_NOW, rows=FLAGS.rows, columns=FLAGS.columns)
    seconds, peak = measure(now, '-', root / 'cache')
    print(f'import icvae only: {seconds:.1f} s, peak {peak:.2f} GB')
    seconds, peak = measure(now, table, root / 'cache')
    print(f'this checkout, first read: {seconds:.1f} s, peak {peak:.2f} GB')
    seconds, peak = measure(now, table, root / 'cache')
    print(f'this checkout, cached re-read: {seconds:.1f} s, peak {peak:.2f} GB')
    if FLAGS.before:
      old = root / 'old_files.py'
      old.write_text(subprocess.run(['git', 'show', f'{FLAGS.before}:icvae/files.py'],
                                    capture_output=True, text=True, check=True).stdout)
      before = _READ.format(load=_BEFORE, rows=FLAGS.rows, columns=FLAGS.columns)
      seconds, peak = measure(before, table, root / 'cache_before', old)
      print(f'{FLAGS.before}, first read: {seconds:.1f} s, peak {peak:.2f} GB')


if __name__ == '__main__':
  app.run(main)
