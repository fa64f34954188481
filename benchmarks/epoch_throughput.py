"""Training throughput of icvae's one-jit-per-epoch loop on real MNIST (examples/s).

  python -m benchmarks.epoch_throughput --data_dir=../shared/data/mnist

Times the second epoch (the first includes compilation) for both reconstruction estimators,
with and without the information term, at batch 128 on all local devices.
"""


import jax
import jax.numpy as jnp
from absl import app
from absl import flags

from benchmarks import timing
from icvae import data
from icvae import train

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('batch_size', 128, 'Training batch size.')


def main(_):
  dataset = data.load('mnist', flags.FLAGS.data_dir)
  mesh = train.data_mesh()
  images = train.replicate(jnp.asarray(data.as_flat(dataset.train_images)), mesh)
  batch_size = flags.FLAGS.batch_size
  examples = (len(dataset.train_images) // batch_size) * batch_size
  print(f'devices: {mesh.size} x {jax.devices()[0].platform}, batch {batch_size}')
  print('| reconstruction | model | s/epoch | examples/s |\n|---|---|---|---|')
  for reconstruction in ('soft_code', 'expected'):
    for model, beta_info in (('infocatvae', 100.0), ('catvae', 0.0)):
      graphdef, state, optimizer, config = timing.setup(reconstruction, beta_info)
      state = train.replicate(state, mesh)
      epoch = train.make_train_epoch(graphdef, optimizer, config, batch_size, mesh)
      key = jax.random.key(0)
      state, _, _ = timing.timed_epoch(epoch, state, images, key, 0)
      state, _, seconds = timing.timed_epoch(epoch, state, images, key, 1)
      print(f'| {reconstruction} | {model} | {seconds:.2f} | {examples / seconds:,.0f} |',
            flush=True)


if __name__ == '__main__':
  app.run(main)
