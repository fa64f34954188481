"""Where one training epoch's time goes: a JAX profiler trace, summed by kind of XLA op.

  python -m benchmarks.profile_epoch --data_dir=../shared/data/mnist \\
      [--reconstruction=soft_code] [--beta_info=100] [--batch_size=128]

Traces the second epoch of `icvae.train.make_train_epoch` (the first compiles) with
`jax.profiler` and sums the CPU backend's op events into: matmuls (YNNPACK fusions and other
dots), random bits (threefry's while loops), the optimiser and other elementwise fusions, and
copies/conversions. The trace stays in --trace_dir for TensorBoard / Perfetto.
"""

import collections
import glob
import gzip
import json
import os

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import timing
from icvae import data
from icvae import train

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_enum('reconstruction', 'soft_code', ['soft_code', 'expected'], 'Estimator.')
flags.DEFINE_float('beta_info', 100.0, 'Information weight (0: CatVAE).')
flags.DEFINE_integer('batch_size', 128, 'Batch size.')
flags.DEFINE_enum('compute_dtype', 'float32', ['float32', 'bfloat16'], 'Matmul arithmetic.')
flags.DEFINE_string('trace_dir', '/tmp/icvae_profile', 'Where the trace is written.')
FLAGS = flags.FLAGS


def kind(name):
  if name.startswith('ynn') or name.startswith('dot'):
    return 'matmul (dot / ynn_fusion)'
  if name.startswith('while') or name.startswith('broadcast_add_fusion'):
    return 'random bits (threefry loops)'
  if 'convert' in name or name.startswith(('copy', 'bitcast', 'transpose', 'slice',
                                            'dynamic', 'concatenate', 'gather')):
    return 'copies, gathers, conversions'
  return 'elementwise fusions (loss, activations, Adam)'


def main(_):
  dataset = data.load('mnist', FLAGS.data_dir)
  mesh = train.data_mesh(jax.devices()[:1])
  images = train.replicate(jnp.asarray(data.as_flat(dataset.train_images)), mesh)
  graphdef, state, optimizer, config = timing.setup(FLAGS.reconstruction, FLAGS.beta_info,
                                                    FLAGS.compute_dtype)
  state = train.replicate(state, mesh)
  epoch = train.make_train_epoch(graphdef, optimizer, config, FLAGS.batch_size, mesh)
  key = jax.random.key(0)
  state, _, _ = timing.timed_epoch(epoch, state, images, key, 0)
  state, _, untraced = timing.timed_epoch(epoch, state, images, key, 1)
  jax.profiler.start_trace(FLAGS.trace_dir, create_perfetto_trace=True)
  timing.timed_epoch(epoch, state, images, key, 2)
  jax.profiler.stop_trace()
  path = max(glob.glob(os.path.join(FLAGS.trace_dir, '**', '*.trace.json.gz'),
                       recursive=True), key=os.path.getmtime)
  with gzip.open(path) as f:
    events = json.load(f)
  events = events['traceEvents'] if isinstance(events, dict) else events
  totals, ops = collections.Counter(), collections.Counter()
  for event in events:
    name = event.get('name', '')
    if event.get('ph') != 'X' or 'dur' not in event:
      continue
    if name.startswith(('ThunkExecutor', '$', 'SlinkyThreadPool')):
      continue  # containers and waits, not work
    totals[kind(name)] += event['dur']
    ops[name] += event['dur']
  total = sum(totals.values())
  steps = images.shape[0] // FLAGS.batch_size
  print(f'{FLAGS.reconstruction}, beta_info={FLAGS.beta_info}, batch {FLAGS.batch_size}, '
        f'{FLAGS.compute_dtype}: {untraced:.2f} s/epoch untraced, '
        f'{untraced / steps * 1e3:.2f} ms/step; op time summed over threads:')
  print('| kind | share of op time |\n|---|---|')
  for name, value in totals.most_common():
    print(f'| {name} | {value / total:.0%} |')
  print('\nlargest ops:', ', '.join(f'{n} {v / total:.1%}' for n, v in ops.most_common(8)))


if __name__ == '__main__':
  app.run(main)
