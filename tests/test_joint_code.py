"""The IMAE Table 1 networks: batch norm in training and evaluation, its running averages
carried by the train state through the step, the scanned epoch and a checkpoint."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

import icvae
from icvae import checkpoints
from icvae import train


@dataclasses.dataclass(frozen=True)
class _Reconstruction(icvae.Objective):
  """A test objective: reconstruct x from (softmax p(y|x), mean of q(z|x))."""

  def loss(self, networks, batch, key, step):
    posterior = networks.encode(batch, key)
    outputs = networks.decode(jax.nn.softmax(posterior.logits), posterior.mean)
    reconstruction = jnp.mean(icvae.likelihoods.Bernoulli().log_prob(outputs, batch))
    return -reconstruction, {'reconstruction': reconstruction}

  def evaluate(self, networks, batch, key):
    return {}


def _model_and_data(batch=16):
  model = icvae.models.mlp_joint_code(input_shape=(12,), hidden_sizes=(8, 8), seed=0)
  x = jax.random.uniform(jax.random.key(0), (batch, 12))
  return model, x


def test_evaluation_uses_running_averages_and_training_the_batch():
  model, x = _model_and_data()
  alone = model.encode(x[:1]).logits[0]
  with_others = model.encode(x).logits[0]
  np.testing.assert_allclose(alone, with_others, rtol=1e-6)  # no batch dependence
  key = jax.random.key(1)
  assert not np.allclose(model.encode(x[:4], key).logits[0], model.encode(x, key).logits[0])


def test_the_step_returns_the_running_averages_updated_as_batch_norm_defines():
  model, x = _model_and_data()
  objective = _Reconstruction()
  optimizer = optax.sgd(0.0)  # parameters stay put; only the statistics move
  graphdef, state = icvae.create_train_state(model, optimizer)
  kernel = np.asarray(state.params['trunk']['dense'][0]['kernel'])
  bias = np.asarray(state.params['trunk']['dense'][0]['bias'])
  step = icvae.make_train_step(graphdef, optimizer, objective)
  state, _ = step(state, x, jax.random.key(2))
  pre_activation = np.asarray(x) @ kernel + bias
  np.testing.assert_allclose(state.constants['trunk']['norm'][0]['mean'],
                             0.1 * pre_activation.mean(0), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(state.constants['trunk']['norm'][0]['var'],
                             0.9 + 0.1 * pre_activation.var(0), rtol=1e-5)


def test_scanned_epoch_and_checkpoint_carry_the_statistics(tmp_path):
  model, _ = _model_and_data()
  objective = _Reconstruction()
  optimizer = optax.adam(1e-2)
  graphdef, state = icvae.create_train_state(model, optimizer)
  initial = jax.tree.map(np.asarray, state.constants)
  mesh = train.data_mesh(jax.devices()[:1])
  epoch = train.make_train_epoch(graphdef, optimizer, objective, 16, mesh)
  images = jax.random.uniform(jax.random.key(3), (64, 12))
  state, _ = epoch(train.replicate(state, mesh), images, jax.random.key(4), 1)
  moved = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - b).max()), state.constants,
                       initial)
  assert min(jax.tree.leaves(moved)) > 0
  manager = checkpoints.manager(tmp_path / 'checkpoints')
  checkpoints.save(manager, 1, state, icvae.RunConfig(), jax.random.key(0), force=True)
  manager.wait_until_finished()
  restored, _ = checkpoints.restore(manager, 1, checkpoints.abstract(state))
  manager.close()
  jax.tree.map(np.testing.assert_array_equal, restored.constants, state.constants)
