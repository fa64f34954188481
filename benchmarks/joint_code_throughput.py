"""Training throughput of IMAE, its peers and IMSAT beside InfoCatVAE, and VAT's cost
(examples/s).

  python -m benchmarks.joint_code_throughput --data_dir=../shared/data/mnist [--rounds=3]

Real MNIST, batch 128, one jitted call per epoch (`train.make_train_epoch`), the models as
their flagfiles build them (`RunConfig`): InfoCatVAE at appendix B's settings (Table 2 MLP,
expected estimator), with and without VAT; IMAE at the paper's recipe (Table 1, width 500),
with and without VAT; β-VAE, InfoVAE and JointVAE with VAT; IMSAT (`mnist_imsat.flags`: its
1200-wide classifier, no decoder); IMAE at issue 12's recipe (`mnist_imae_shared_trunk.flags`,
VAT weight 100) and at issue 20's (`mnist_imae.flags`: IMSAT's classifier of its own, VAT
weight 300; timed with the reconstruction in the loss, as after its delay). Each
configuration's epoch is
compiled first, then the configurations are timed in turn for `rounds` rounds and the best
epoch of each is kept (this CPU's speed drifts; interleaving keeps the comparison fair).
"""

import pathlib
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

import icvae
from icvae import data
from icvae import train

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('rounds', 3, 'Timed epochs per configuration (interleaved).')
flags.DEFINE_integer('batch_size', 128, 'Training batch size.')

_IMAE = dict(model='imae', hidden_features=500, beta=5.0, gamma=10.0, learning_rate=1e-3)
_PEER = dict(hidden_features=500, beta=5.0, learning_rate=1e-3, vat_weight=5.0)
CONFIGURATIONS = {
    'infocatvae (appendix B)': dict(model='infocatvae'),
    'infocatvae + VAT': dict(model='infocatvae', vat_weight=1.0),
    'imae, no VAT': dict(_IMAE),
    'imae + VAT (paper recipe)': dict(_IMAE, vat_weight=5.0),
    'beta_vae + VAT': dict(_PEER, model='beta_vae'),
    'info_vae + VAT': dict(_PEER, model='info_vae'),
    'joint_vae + VAT': dict(_PEER, model='joint_vae', beta=30.0),
    'imsat (mnist_imsat.flags)': 'mnist_imsat.flags',
    'imae (mnist_imae_shared_trunk.flags)': 'mnist_imae_shared_trunk.flags',
    'imae (mnist_imae.flags: its own 1200 classifier)': (
        'mnist_imae.flags', dict(reconstruction_delay_steps=0, reconstruction_warmup_steps=0)),
}
FLAGS_DIR = pathlib.Path(__file__).resolve().parents[1] / 'experiments' / 'flags'


def _config(values, batch_size):
  """The RunConfig of a CONFIGURATIONS entry: settings, a flagfile, or (flagfile, changes);
  every one at `batch_size` and on the whole training split."""
  if isinstance(values, dict):
    return icvae.RunConfig(batch_size=batch_size, **values)
  flagfile, changes = (values, {}) if isinstance(values, str) else values
  return icvae.RunConfig.from_flagfile(FLAGS_DIR / flagfile, 'mnist', batch_size=batch_size,
                                       protocol='heldout', **changes)


def main(_):
  dataset = data.load('mnist', flags.FLAGS.data_dir)
  mesh = train.data_mesh()
  batch_size = flags.FLAGS.batch_size
  examples = (len(dataset.train_images) // batch_size) * batch_size
  runs = {}
  for name, values in CONFIGURATIONS.items():
    config = _config(values, batch_size)
    objective = config.build_objective()
    optimizer = train.make_optimizer(objective, config.learning_rate)
    graphdef, state = train.create_train_state(config.build_networks(), optimizer)
    images = train.replicate(
        objective.training_data(jnp.asarray(config.view(dataset.train_images))), mesh)
    epoch = train.make_train_epoch(graphdef, optimizer, objective, batch_size, mesh)
    state, metrics = epoch(train.replicate(state, mesh), images, jax.random.key(0), 0)
    jax.block_until_ready(metrics)  # compiled
    runs[name] = [epoch, state, images, []]
  for round_index in range(flags.FLAGS.rounds):
    for name, run in runs.items():
      epoch, state, images, seconds = run
      started = time.perf_counter()
      state, metrics = epoch(state, images, jax.random.key(0), round_index + 1)
      jax.block_until_ready(metrics)
      seconds.append(time.perf_counter() - started)
      run[1] = state
  print(f'devices: {mesh.size} x {jax.devices()[0].platform}, batch {batch_size}, best of '
        f'{flags.FLAGS.rounds} epochs')
  print('| model | s/epoch | examples/s | epoch time / IMAE without VAT |\n|---|---|---|---|')
  reference = min(runs['imae, no VAT'][3])
  for name, (_, _, _, seconds) in runs.items():
    best = min(seconds)
    print(f'| {name} | {best:.2f} | {examples / best:,.0f} | {best / reference:.2f}x |')


if __name__ == '__main__':
  app.run(main)
