"""The adversarial autoencoder baseline: gradient routing, and training on real MNIST."""

import json

import jax
import jax.numpy as jnp
import numpy as np

import icvae
from icvae import data
from icvae import loop
from icvae import models
from icvae import report as report_lib
from icvae import train
from icvae.objectives import aae


def _grads(model, x, key, adversarial_weight=10.0):
  graphdef, params, constants = train.split_model(model)
  objective = aae.AdversarialAutoencoder(adversarial_weight)
  return jax.grad(lambda p: train.objective_loss(objective, graphdef, p, constants, x, key,
                                                 0)[0])(params)


def test_each_player_gets_only_its_own_gradient():
  model = models.mlp_aae(latent_dim=4, input_shape=(12,), hidden_features=8,
                         dropout_rate=0.0)
  x = jax.random.uniform(jax.random.key(0), (16, 12))
  key = jax.random.key(1)
  grads = _grads(model, x, key)
  # The decoder sees only the reconstruction: same gradient with the adversary switched off.
  grads_off = _grads(model, x, key, adversarial_weight=0.0)
  jax.tree.map(np.testing.assert_allclose, grads['decoder'], grads_off['decoder'])
  # The discriminator's gradient is that of its own BCE alone, computed independently here.
  _, _, prior_key = jax.random.split(key, 3)
  z = model.embed(x)
  z_prior = jax.random.normal(prior_key, z.shape)

  def bce(disc_params):
    w1, b1, w2, b2 = disc_params
    logit = lambda v: (jax.nn.relu(v @ w1 + b1) @ w2 + b2)[:, 0]
    real = -jnp.mean(jnp.log(jax.nn.sigmoid(logit(z_prior))))
    fake = -jnp.mean(jnp.log(1 - jax.nn.sigmoid(logit(z))))
    return 10.0 * (real + fake)

  expected = jax.grad(bce)((model.disc_hidden.kernel[...], model.disc_hidden.bias[...],
                            model.disc_out.kernel[...], model.disc_out.bias[...]))
  np.testing.assert_allclose(grads['disc_hidden']['kernel'], expected[0], rtol=1e-4,
                             atol=1e-5)
  np.testing.assert_allclose(grads['disc_out']['bias'], expected[3], rtol=1e-4, atol=1e-5)
  # The encoder gets the generator's gradient (it differs from the reconstruction-only one).
  assert not np.allclose(grads['code']['kernel'], grads_off['code']['kernel'])


def test_aae_trains_on_real_mnist_and_both_losses_move(tmp_path, mnist_arrays):
  train_x, train_y, test_x, test_y = mnist_arrays
  dataset = data.Dataset(train_x[:6000].reshape(-1, 28, 28), train_y[:6000],
                         test_x[:1000].reshape(-1, 28, 28), test_y[:1000])
  workdir = tmp_path / 'aae'
  config = icvae.RunConfig(
      model='aae', num_categories=1, delta=8, hidden_features=128, num_epochs=4,
      batch_size=100, learning_rate=1e-3, eval_batch_size=500, checkpoint_every=2,
      workdir=str(workdir), progress=False)
  loop.train_and_evaluate(config, dataset)
  records = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  first, last = records[0], records[-1]
  assert last['test/reconstruction'] > first['test/reconstruction'] + 10  # nats per image
  assert abs(last['train/discriminator_loss'] - first['train/discriminator_loss']) > 0.02
  assert abs(last['train/generator_loss'] - first['train/generator_loss']) > 0.02
  # The code is pulled towards N(0, I): its mean moves towards 0.
  assert last['test/code_mean_norm'] < first['test/code_mean_norm']
  options = report_lib.EvalOptions(num_generated=500, kde_train_examples=1000, kde_folds=2)
  report = report_lib.evaluate_run(workdir, dataset=dataset, options=options)
  assert np.isfinite(report['parzen']['log_likelihood'])
  assert 'information_cross_entropy' not in report
  assert (workdir / 'eval' / 'samples.png').exists()


def test_the_two_players_have_their_own_optimisers():
  """Each parameter group gets its own Adam: the discriminator's state holds only its
  layers, and one step with the autoencoder's gradient zeroed leaves the autoencoder as it
  was while the discriminator moves (and the reverse)."""
  model = models.mlp_aae(latent_dim=4, input_shape=(12,), hidden_features=8, dropout_rate=0.0)
  objective = aae.AdversarialAutoencoder(10.0)
  optimizer = train.make_optimizer(objective, 1e-2)
  graphdef, state = icvae.create_train_state(model, optimizer)
  inner = state.opt_state.inner_states
  assert set(inner) == {'autoencoder', 'discriminator'}
  grads = jax.tree.map(jnp.ones_like, state.params)
  only_disc = {k: (v if k in aae.DISCRIMINATOR_LAYERS else jax.tree.map(jnp.zeros_like, v))
               for k, v in grads.items()}
  updates, _ = optimizer.update(only_disc, state.opt_state, state.params)
  for name, update in updates.items():
    moved = any(float(jnp.abs(u).max()) > 0 for u in jax.tree.leaves(update))
    assert moved == (name in aae.DISCRIMINATOR_LAYERS), name


def test_a_checkpoint_from_the_single_optimiser_layout_resumes_exactly(tmp_path):
  """icvae 0.1 trained the AAE with one Adam over all parameters. Its checkpoints restore
  into the per-player optimisers, and the next step is the step one Adam would have taken
  (Adam is elementwise)."""
  import optax
  from icvae import checkpoints
  config = icvae.RunConfig(model='aae', num_categories=1, delta=4, hidden_features=8,
                           learning_rate=1e-2, workdir=str(tmp_path))
  objective = config.build_objective()
  single = optax.adam(config.learning_rate)
  graphdef, old_state = icvae.create_train_state(config.build_networks(), single)
  old_step = icvae.make_train_step(graphdef, single, objective)
  x = jax.random.uniform(jax.random.key(0), (32, 784))
  key = jax.random.key(1)
  for _ in range(3):
    old_state, _ = old_step(old_state, x, key)
  manager = checkpoints.manager(tmp_path / 'checkpoints')
  checkpoints.save(manager, 1, old_state, config, key, force=True)
  manager.wait_until_finished()
  _, new_state, optimizer = checkpoints.new_state(config)
  state, _ = checkpoints.restore_checked(manager, 1, checkpoints.abstract(new_state), config,
                                         tmp_path)
  manager.close()
  inner = state.opt_state.inner_states
  np.testing.assert_array_equal(inner['discriminator'].inner_state[0].mu['disc_out']['kernel'],
                                old_state.opt_state[0].mu['disc_out']['kernel'])
  assert int(inner['autoencoder'].inner_state[0].count) == 3
  new_step = icvae.make_train_step(graphdef, optimizer, objective)
  expected, _ = old_step(old_state, x, key)
  resumed, _ = new_step(state, x, key)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               resumed.params, expected.params)
