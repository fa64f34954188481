"""Train and eval steps: jit, tracing, determinism, dropout, and learning on real MNIST."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import optimize

import icvae


def _setup(reconstruction='expected', beta_info=100.0, seed=0, lr=1e-3, optimizer=None,
           **model_kwargs):
  kwargs = dict(num_categories=4, delta=2, input_shape=(64,), hidden_features=32, seed=seed)
  kwargs.update(model_kwargs)
  model = icvae.mlp_catvae(**kwargs)
  optimizer = optimizer or optax.adam(lr)
  config = icvae.InfoCatVAE(10.0, 10.0, beta_info, reconstruction=reconstruction)
  graphdef, state = icvae.create_train_state(model, optimizer)
  return graphdef, state, optimizer, config


def _batches(n, batch=16, dim=64, seed=0):
  return jax.random.uniform(jax.random.key(seed), (n, batch, dim))


def _run(train_step, state, batches, key):
  for batch in batches:
    state, metrics = train_step(state, batch, key)
  return state, metrics


@pytest.mark.parametrize('reconstruction', ['expected', 'soft_code'])
def test_jit_and_no_jit_agree(reconstruction):
  # SGD, not Adam: Adam turns float-rounding noise in a near-zero gradient into an update of
  # +-lr, which would make this comparison of two compilations ill-conditioned.
  graphdef, state, optimizer, config = _setup(reconstruction, optimizer=optax.sgd(0.05))
  batches = _batches(3)
  key = jax.random.key(0)
  jitted = icvae.make_train_step(graphdef, optimizer, config)
  plain = icvae.make_train_step(graphdef, optimizer, config, jit=False)
  state_plain, metrics_plain = _run(plain, state, batches, key)
  state_jit, metrics_jit = _run(jitted, jax.tree.map(jnp.copy, state), batches, key)
  chex.assert_trees_all_close(state_jit.params, state_plain.params, rtol=1e-4, atol=1e-6)
  chex.assert_trees_all_close(metrics_jit, metrics_plain, rtol=1e-4, atol=1e-4)
  assert int(state_jit.step) == 3


def test_train_step_traces_once_and_donates_state():
  graphdef, state, optimizer, config = _setup()
  step = icvae.make_train_step(graphdef, optimizer, config, jit=False)
  traced = jax.jit(chex.assert_max_traces(step, n=1), donate_argnums=0)
  key = jax.random.key(0)
  for batch in _batches(4):
    state, _ = traced(state, batch, key)
  library_step = icvae.make_train_step(graphdef, optimizer, config)
  old = state
  for batch in _batches(3):
    state, _ = library_step(state, batch, key)
  assert library_step._cache_size() == 1
  assert old.params['decoder']['out']['kernel'].is_deleted()  # donated


def test_same_seed_gives_bit_identical_parameters():
  results = []
  for _ in range(2):
    graphdef, state, optimizer, config = _setup(seed=3)
    step = icvae.make_train_step(graphdef, optimizer, config)
    state, _ = _run(step, state, _batches(5), jax.random.key(7))
    results.append(jax.tree.map(np.asarray, state.params))
  jax.tree.map(np.testing.assert_array_equal, results[0], results[1])
  graphdef, state, optimizer, config = _setup(seed=3)
  step = icvae.make_train_step(graphdef, optimizer, config)
  other, _ = _run(step, state, _batches(5), jax.random.key(8))
  assert not np.array_equal(other.params['decoder']['out']['kernel'],
                            results[0]['decoder']['out']['kernel'])


def test_step_randomness_is_fold_in_of_the_step():
  # Two steps from the same state with the same base key draw the same numbers only if
  # the step counters match: a resumed run repeats an uninterrupted one.
  graphdef, state, optimizer, config = _setup()
  step = icvae.make_train_step(graphdef, optimizer, config, jit=False)
  batch = _batches(1)[0]
  key = jax.random.key(0)
  _, m1 = step(state, batch, key)
  _, m2 = step(state, batch, key)
  _, m3 = step(state._replace(step=state.step + 1), batch, key)
  assert float(m1['loss']) == float(m2['loss'])
  assert float(m1['loss']) != float(m3['loss'])


def test_eval_step_has_dropout_off():
  graphdef, state, optimizer, config = _setup(beta_info=0.0)
  eval_step = icvae.make_eval_step(graphdef, config)
  batch = _batches(1)[0]
  m1, logits1 = eval_step(state, batch, jax.random.key(0))
  m2, logits2 = eval_step(state, batch, jax.random.key(0))
  chex.assert_trees_all_equal(m1, m2)
  np.testing.assert_array_equal(logits1, logits2)
  # A different key changes only the Monte Carlo draws, never the classifier output.
  _, logits3 = eval_step(state, batch, jax.random.key(1))
  np.testing.assert_array_equal(logits1, logits3)
  assert {'elbo', 'information', 'reconstruction', 'kl_continuous',
          'kl_categorical'} <= set(m1)
  # Training mode does use dropout: two keys give two different training losses on the
  # same state even with the Monte Carlo noise of z removed.
  train_step = icvae.make_train_step(graphdef, optimizer, config, jit=False)
  _, t1 = train_step(state, batch, jax.random.key(0))
  _, t2 = train_step(state, batch, jax.random.key(1))
  assert float(t1['kl_categorical']) != float(t2['kl_categorical'])


def test_catvae_step_costs_less_than_infocatvae_step():
  flops = {}
  for beta_info in (0.0, 100.0):
    graphdef, state, optimizer, config = _setup(beta_info=beta_info)
    step = icvae.make_train_step(graphdef, optimizer, config)
    compiled = step.lower(state, _batches(1)[0], jax.random.key(0)).compile()
    flops[beta_info] = compiled.cost_analysis()['flops']
  assert flops[0.0] < flops[100.0]


def hungarian_accuracy(labels, clusters, num_clusters, num_classes=10):
  """Best one-to-one matching of clusters to labels (written here, independent of icvae)."""
  counts = np.zeros((num_clusters, num_classes))
  np.add.at(counts, (clusters, labels), 1)
  rows, cols = optimize.linear_sum_assignment(-counts)
  return counts[rows, cols].sum() / len(labels)


def test_hungarian_accuracy_helper():
  labels = np.array([0, 0, 1, 1, 2, 2])
  assert hungarian_accuracy(labels, np.array([2, 2, 0, 0, 1, 1]), 3, 3) == 1.0
  assert hungarian_accuracy(labels, np.array([0, 0, 0, 1, 1, 2]), 3, 3) == pytest.approx(
      4 / 6)


def test_learns_on_real_mnist(mnist_arrays):
  train_x, _, test_x, test_y = mnist_arrays
  model = icvae.mlp_catvae(seed=0)
  # Appendix B's betas; a larger learning rate than its 1e-4 so 400 steps suffice.
  optimizer = optax.adam(3e-3)
  config = icvae.InfoCatVAE(10.0, 10.0, 100.0)
  graphdef, state = icvae.create_train_state(model, optimizer)
  train_step = icvae.make_train_step(graphdef, optimizer, config)
  eval_step = icvae.make_eval_step(graphdef, config)
  key = jax.random.key(0)
  test_x = jnp.asarray(test_x)
  before, _ = eval_step(state, test_x, key)
  order = np.random.default_rng(0).permutation(len(train_x))
  batch_size, steps = 128, 400
  for i in range(steps):
    idx = order[(i * batch_size) % 59904:(i * batch_size) % 59904 + batch_size]
    state, metrics = train_step(state, jnp.asarray(train_x[idx]), key)
  after, logits = eval_step(state, test_x, key)
  assert np.isfinite(float(metrics['loss']))
  assert float(after['loss']) < 0.5 * float(before['loss'])
  assert float(after['elbo']) > float(before['elbo']) + 200
  accuracy = hungarian_accuracy(np.asarray(test_y), np.asarray(logits.argmax(-1)), 10)
  print(f'test loss {float(before["loss"]):.1f} -> {float(after["loss"]):.1f}, '
        f'elbo {float(after["elbo"]):.1f}, clustering accuracy {accuracy:.3f}')
  assert accuracy > 0.33  # chance is about 0.11; 0.42-0.49 seen at 300 steps


def test_epoch_compiles_once_and_makes_no_hidden_host_transfers():
  """With every input on the devices, two epochs run under jax_transfer_guard='disallow'
  (an implicit host<->device copy inside would raise), and the second reuses the first's
  compilation."""
  from icvae import train
  graphdef, state, optimizer, objective = _setup()
  mesh = train.data_mesh(jax.devices()[:2])
  epoch = train.make_train_epoch(graphdef, optimizer, objective, 16, mesh)
  state = train.replicate(state, mesh)
  images = train.replicate(jnp.asarray(_batches(4).reshape(-1, 64)), mesh)
  key = train.replicate(jax.random.key(0), mesh)
  indices = [train.replicate(np.int32(e), mesh) for e in (1, 2)]
  with jax.transfer_guard('disallow'):
    for index in indices:
      state, metrics = epoch(state, images, key, index)
  assert epoch._cache_size() == 1
  assert np.isfinite(float(jax.device_get(metrics['loss'])))
  # The guard does catch a hidden copy: host data passed in is refused.
  with jax.transfer_guard('disallow'), pytest.raises(Exception, match='[Dd]isallowed'):
    epoch(state, np.asarray(images), key, indices[0])


@pytest.mark.parametrize('donate', [True, False])
def test_a_stepwise_epoch_trains_what_the_scanned_epoch_trains(donate):
  # The same permutation, batches and step keys, one jitted call per step from Python
  # (for convolutions on a CPU, jax-ml/jax#12868): the same parameters and metric means, up
  # to the rounding of two compilations; with donate=False the caller's state is untouched.
  from icvae import train
  graphdef, state, optimizer, objective = _setup()
  mesh = train.data_mesh(jax.devices()[:2])
  images = train.replicate(jnp.asarray(_batches(5).reshape(-1, 64)), mesh)  # 80: 5 batches
  key = train.replicate(jax.random.key(3), mesh)
  epoch_index = train.replicate(np.int32(2), mesh)
  results = {}
  for stepwise in (False, True):
    epoch = train.make_train_epoch(graphdef, optimizer, objective, 16, mesh, donate=donate,
                                   stepwise=stepwise)
    start = train.replicate(jax.tree.map(jnp.copy, state), mesh)
    before = jax.tree.map(np.asarray, start.params)
    with jax.transfer_guard('disallow'):  # as the loop runs it: no hidden host copies
      results[stepwise] = epoch(start, images, key, epoch_index)
    if not donate:
      jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, start.params),
                   before)
  (scanned, scanned_metrics), (stepped, stepped_metrics) = results[False], results[True]
  assert int(stepped.step) == int(scanned.step) == 5
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5),
               stepped.params, scanned.params)
  assert set(stepped_metrics) == set(scanned_metrics)
  for name in scanned_metrics:
    np.testing.assert_allclose(stepped_metrics[name], scanned_metrics[name], rtol=2e-4,
                               atol=1e-5, err_msg=name)


def test_only_conv_networks_on_a_cpu_step_from_python():
  from icvae import train
  assert train.stepwise_epochs('conv', 'cpu')
  assert not train.stepwise_epochs('conv', 'gpu') and not train.stepwise_epochs('mlp', 'cpu')
  assert not train.stepwise_epochs('gru', 'cpu')
