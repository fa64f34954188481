"""Training throughput of icvae against the same model and loss in PyTorch, in one run.

  pip install torch==2.13.0          # CPU build; into this venv or another one
  python -m benchmarks.compare_pytorch --data_dir=../shared/data/mnist \\
      [--torch_python=/path/to/venv-with-torch/bin/python] [--out=benchmark.json]

For both reconstruction estimators ('soft_code', the published code's math; 'expected', the
paper's, K decodes per image), batch 64 / 128 / 512, InfoCatVAE (beta_info = 100) and CatVAE
(beta_info = 0), it measures training examples/s on real MNIST of:
- icvae: the one-jit-per-epoch loop (`icvae.train.make_train_epoch`), one full epoch after a
  compilation epoch, float32 (and, with --bfloat16, the bfloat16-matmul option);
- PyTorch eager and `torch.compile` (benchmarks/torch_catvae.py, the same math), steady-state
  steps after warm-up, in a subprocess so the two frameworks never share a process.
Achieved GFLOP/s use the FLOPs of one float32 training step from XLA's cost analysis (the
same math in every framework), against a 2048^3 float32 matmul timed in each framework.
Prints a Markdown table (the one in BENCHMARKS.md) and writes every number to --out.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

import icvae
from benchmarks import timing
from icvae import data
from icvae import train

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_string('torch_python', None, 'Python with torch installed (default: this one).')
flags.DEFINE_list('batch_sizes', ['64', '128', '512'], 'Batch sizes.')
flags.DEFINE_list('estimators', ['soft_code', 'expected'], 'Reconstruction estimators.')
flags.DEFINE_list('torch_modes', ['eager', 'compile'], 'PyTorch modes (eager, compile, '
                  'cudagraphs: torch.compile mode=reduce-overhead); empty for none.')
flags.DEFINE_list('models', ['infocatvae', 'catvae'], 'Models: infocatvae, catvae.')
flags.DEFINE_boolean('bfloat16', True, 'Also time icvae with --compute_dtype=bfloat16.')
flags.DEFINE_string('out', 'benchmark_results.json', 'JSON file for every number.')
FLAGS = flags.FLAGS

MODELS = (('infocatvae', 100.0), ('catvae', 0.0))


def jax_matmul_gflops(size=2048, repeats=20):
  a = jax.random.normal(jax.random.key(0), (size, size))
  matmul = jax.jit(lambda a: a @ a)
  matmul(a).block_until_ready()
  started = time.perf_counter()
  for _ in range(repeats):
    result = matmul(a)
  result.block_until_ready()
  return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def step_flops(reconstruction, beta_info, batch_size):
  """FLOPs of one float32 training step, from XLA's cost analysis (forward + backward + Adam)."""
  graphdef, state, optimizer, config = timing.setup(reconstruction, beta_info)
  step = icvae.make_train_step(graphdef, optimizer, config)
  batch = jnp.zeros((batch_size, 784), jnp.float32)
  cost = step.lower(state, batch, jax.random.key(0)).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops'])


def jax_throughput(images, reconstruction, beta_info, batch_size, compute_dtype, mesh):
  graphdef, state, optimizer, config = timing.setup(reconstruction, beta_info, compute_dtype)
  state = train.replicate(state, mesh)
  epoch = train.make_train_epoch(graphdef, optimizer, config, batch_size, mesh)
  key = jax.random.key(0)
  state, metrics, first = timing.timed_epoch(epoch, state, images, key, 0)
  state, metrics, seconds = timing.timed_epoch(epoch, state, images, key, 1)
  if not float(metrics['finite']):
    raise FloatingPointError(f'non-finite loss in {reconstruction} {beta_info} {batch_size}')
  examples = (images.shape[0] // batch_size) * batch_size
  return {'examples_per_second': examples / seconds, 'seconds': seconds,
          'warmup_seconds': first}


def torch_results(flat_images, configs):
  with tempfile.TemporaryDirectory() as tmp:
    images_path = os.path.join(tmp, 'images.npy')
    out_path = os.path.join(tmp, 'torch.json')
    np.save(images_path, flat_images)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch_catvae.py')
    command = [FLAGS.torch_python or sys.executable, script, f'--images={images_path}',
               f'--out={out_path}', f'--configs={json.dumps(configs)}']
    completed = subprocess.run(command, stdout=sys.stderr, check=False)
    if completed.returncode:
      raise app.UsageError(f'the PyTorch benchmark failed (exit {completed.returncode}). Is '
                           'torch installed in --torch_python? pip install torch==2.13.0')
    with open(out_path) as f:
      return json.load(f)


def main(_):
  dataset = data.load('mnist', FLAGS.data_dir)
  flat = data.as_flat(dataset.train_images).astype(np.float32)
  mesh = train.data_mesh()
  images = train.replicate(jnp.asarray(flat), mesh)
  batch_sizes = [int(b) for b in FLAGS.batch_sizes]
  grid = [(r, m, beta, b) for r in FLAGS.estimators for m, beta in MODELS
          for b in batch_sizes if m in FLAGS.models]
  results = {'jax': jax.__version__, 'devices': f'{mesh.size} x {jax.devices()[0].device_kind}',
             'cpu_count': os.cpu_count(), 'jax_matmul_gflops': jax_matmul_gflops(), 'runs': []}
  for reconstruction, model, beta_info, batch_size in grid:
    row = {'reconstruction': reconstruction, 'model': model, 'batch_size': batch_size,
           'flops_per_example': step_flops(reconstruction, beta_info, batch_size) / batch_size}
    for dtype in ('float32', 'bfloat16') if FLAGS.bfloat16 else ('float32',):
      row[f'jax_{dtype}'] = jax_throughput(images, reconstruction, beta_info, batch_size,
                                           dtype, mesh)
    print(json.dumps(row), file=sys.stderr, flush=True)
    results['runs'].append(row)
  if FLAGS.torch_modes:
    configs = [{'reconstruction': r, 'beta_info': beta, 'batch_size': b, 'mode': mode}
               for r, _, beta, b in grid for mode in FLAGS.torch_modes]
    torch_out = torch_results(flat, configs)
    results['torch'] = torch_out['torch']
    results['torch_matmul_gflops'] = torch_out['matmul_gflops']
    results['torch_device'] = torch_out.get('device', 'cpu')
    for run in torch_out['runs']:
      for row in results['runs']:
        if (row['reconstruction'], row['batch_size']) == (run['reconstruction'],
                                                          run['batch_size']) and (
            (row['model'] == 'infocatvae') == (run['beta_info'] > 0)):
          row[f"torch_{run['mode']}"] = run
  with open(FLAGS.out, 'w') as f:
    json.dump(results, f, indent=1)
  print_table(results)


def print_table(results):
  print(f"JAX {results['jax']} on {results['devices']} ({results['cpu_count']} cores), "
        f"torch {results.get('torch', '-')} on {results.get('torch_device', '-')}; float32 2048^3 matmul: "
        f"JAX {results['jax_matmul_gflops']:.0f} GFLOP/s, "
        f"torch {results.get('torch_matmul_gflops', float('nan')):.0f} GFLOP/s\n")
  columns = [('jax_float32', 'icvae f32'), ('jax_bfloat16', 'icvae bf16'),
             ('torch_eager', 'torch eager'), ('torch_compile', 'torch.compile'),
             ('torch_cudagraphs', 'torch.compile CUDA graphs')]
  columns = [c for c in columns if any(c[0] in row for row in results['runs'])]
  header = ['estimator', 'model', 'batch', 'MFLOP/ex'] + [name for _, name in columns]
  others = [key for key, _ in columns if key.startswith('torch_')]
  header += [f'icvae f32 / {name}' for key, name in columns if key in others]
  header += ['icvae f32 GFLOP/s']
  print('| ' + ' | '.join(header) + ' |')
  print('|' + '---|' * len(header))
  for row in results['runs']:
    speed = {key: row[key]['examples_per_second'] for key, _ in columns if key in row}
    cells = [row['reconstruction'], row['model'], str(row['batch_size']),
             f"{row['flops_per_example'] / 1e6:.1f}"]
    cells += [f'{speed[key]:,.0f}' if key in speed else '-' for key, _ in columns]
    for other in others:
      cells.append(f"{speed['jax_float32'] / speed[other]:.1f}x" if other in speed else '-')
    cells.append(f"{speed['jax_float32'] * row['flops_per_example'] / 1e9:.0f}")
    print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  app.run(main)
