r"""Sweep throughput: R runs as one vmapped program against one run at a time.

  python -m benchmarks.sweep_throughput \
      --flagfile=experiments/flags/mnist_infocatvae.flags --data_dir=../shared/data/mnist \
      --num_runs=1,4,16,64

For each R, the R seeds of the flagfile's model train as one `train.make_sweep_epoch`
program (the runs split over the local devices); the first epoch (compilation) is timed
apart, then `--timed_epochs` epochs. The baseline row is the single-run program
(`train.make_train_epoch`, what `experiments.mnist` without --seeds runs). Prints a markdown
table: seconds per epoch (mean of the timed epochs), training examples per second over all
runs, run-epochs per hour, the hours of R runs of --project_epochs epochs, and the speed-up
over training the R runs one after another with the single-run program. Nothing is written.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags

from icvae.cli import common
from icvae import checkpoints
from icvae import data
from icvae import sweep
from icvae import train

flags.DEFINE_list('num_runs', ['1', '4', '16', '64'], 'Sweep sizes to time.')
flags.DEFINE_integer('timed_epochs', 3, 'Epochs timed after the compiling one.')
flags.DEFINE_integer('project_epochs', 600, 'Epochs per run for the projected wall time.')
flags.DEFINE_string('dataset', 'mnist', 'mnist or fashion_mnist.')
flags.DEFINE_enum('strategy', 'auto', ['auto', 'vmap', 'map'], 'How the runs share the '
                  'program: auto (what the loop does: map on a CPU with one device, vmap '
                  'elsewhere), vmap (batched), map (one after another, unbatched).')
FLAGS = flags.FLAGS


def _block(tree):
  jax.block_until_ready(tree)
  return tree


def time_epochs(epoch_fn, state, count):
  """(seconds of the first call, mean seconds of the next `count`)."""
  started = time.perf_counter()
  state, _ = _block(epoch_fn(state, 0))
  first = time.perf_counter() - started
  started = time.perf_counter()
  for index in range(1, count + 1):
    state, _ = epoch_fn(state, index)
  _block(state)
  return first, (time.perf_counter() - started) / count


def single_run(config, dataset):
  mesh = train.data_mesh()
  objective = config.build_objective()
  graphdef, state, optimizer = checkpoints.new_state(config)
  images = train.replicate(objective.training_data(
      jnp.asarray(config.view(dataset.train_images))), mesh)
  epoch = train.make_train_epoch(graphdef, optimizer, objective, config.batch_size, mesh)
  key = train.replicate(jax.random.key(config.seed), mesh)
  return time_epochs(
      lambda s, i: epoch(s, images, key, train.replicate(np.int32(i), mesh)),
      train.replicate(state, mesh), FLAGS.timed_epochs)


def sweep_runs(config, dataset, count):
  runs = sweep.expand(config, seeds=list(range(count)))
  mesh = train.run_mesh(count)
  graphdef, states = sweep.initial_states(runs)
  objective = config.build_objective()
  images = train.replicate(objective.training_data(
      jnp.asarray(config.view(dataset.train_images))), mesh)
  data_axes = jax.tree.map(lambda _: None, images)
  sequential = {'auto': False if mesh.size > 1 else None, 'vmap': False,
                'map': True}[FLAGS.strategy]
  epoch = train.make_sweep_epoch(graphdef, lambda v: sweep.parts(config, v),
                                 config.batch_size, data_axes, sequential=sequential)
  keys = train.place_runs(jax.random.split(jax.random.key(0), count), mesh)
  values = train.place_runs(sweep.values_of(runs, []), mesh)
  return time_epochs(
      lambda s, i: epoch(s, images, keys, train.replicate(np.int32(i), mesh), values),
      train.place_runs(states, mesh), FLAGS.timed_epochs), mesh.size


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = common.config_from_flags(FLAGS.dataset)
  dataset = data.load(config.dataset, config.data_dir or None)
  examples = (len(dataset.train_images) // config.batch_size) * config.batch_size
  devices = jax.local_devices()
  print(f'{config.model}, batch {config.batch_size}, {len(devices)} x '
        f'{devices[0].device_kind}, jax {jax.__version__}, compute {config.compute_dtype}, '
        f'sweep strategy {FLAGS.strategy}')
  print('| runs | program | devices | compile + 1st epoch (s) | s/epoch | examples/s (all runs) '
        f'| run-epochs/hour | {FLAGS.project_epochs}-epoch runs: hours | vs one at a time |')
  print('|---|---|---|---|---|---|---|---|---|')
  first, single = single_run(config, dataset)
  print(f'| 1 | single run | {len(devices)} | {first:.1f} | {single:.3f} | '
        f'{examples / single:,.0f} | {3600 / single:,.0f} | '
        f'{FLAGS.project_epochs * single / 3600:.2f} | 1.00x |', flush=True)
  for count in map(int, FLAGS.num_runs):
    (first, seconds), used = sweep_runs(config, dataset, count)
    print(f'| {count} | sweep ({FLAGS.strategy}) | {used} | {first:.1f} | {seconds:.3f} | '
          f'{count * examples / seconds:,.0f} | {count * 3600 / seconds:,.0f} | '
          f'{FLAGS.project_epochs * seconds / 3600:.2f} | '
          f'{count * single / seconds:.2f}x |', flush=True)


if __name__ == '__main__':
  app.run(main)
