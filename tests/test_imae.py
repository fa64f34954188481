"""IMAE, β-VAE, InfoVAE and JointVAE (icvae.objectives.joint_code and one module each):
their losses against formulas computed here in numpy, VAT inside the step, the bad-input
checks, and a short run through the loop and the report."""

import json
import math

import jax
import jax.numpy as jnp
from flax import nnx
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import icvae
from icvae import losses
from icvae import settings
from icvae import train
from icvae import vat
from icvae.objectives import joint_code

from tests import fakes


def _posterior(batch=64, k=4, d=3, seed=0):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(batch, k)).astype(np.float32) * 2
  mean = rng.normal(size=(batch, d)).astype(np.float32)
  logvar = rng.normal(scale=0.5, size=(batch, d)).astype(np.float32) - 1
  z = (mean + np.exp(0.5 * logvar) * rng.normal(size=(batch, d))).astype(np.float32)
  return losses.JointPosterior(logits, mean, logvar), z


def _numpy_statistics(posterior, z):
  """The statistics of `code_statistics`, written from their definitions with numpy."""
  logits, mean, logvar = (np.asarray(a, np.float64) for a in posterior)
  z = np.asarray(z, np.float64)
  batch, k = logits.shape
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  kl_y = np.mean(np.sum(p * np.log(p * k), axis=1))
  p_bar = p.mean(0)
  marginal_kl_y = np.sum(p_bar * np.log(p_bar * k))
  kl_z = np.mean(np.sum(0.5 * (mean ** 2 + np.exp(logvar) - 1 - logvar), axis=1))
  # q(z_i | x_j) for every pair, per dimension
  var = np.exp(logvar)
  pairwise = (np.exp(-0.5 * (z[:, None] - mean[None]) ** 2 / var[None])
              / np.sqrt(2 * np.pi * var[None]))                        # (i, j, d)
  joint = np.mean(np.prod(pairwise, axis=2), axis=1)                  # p(z_i)
  marginals = np.mean(pairwise, axis=1)                               # p(z_ik)
  prior = np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
  total_correlation = np.mean(np.log(joint) - np.sum(np.log(marginals), axis=1))
  marginal_kl_z = np.sum(np.mean(np.log(marginals) - np.log(prior), axis=0))
  aggregate_kl_z = np.mean(np.log(joint) - np.sum(np.log(prior), axis=1))
  entropy_y = -np.sum(p_bar * np.log(p_bar))
  conditional = np.mean(-np.sum(p * np.log(p), axis=1))
  return dict(kl_y=kl_y, marginal_kl_y=marginal_kl_y, kl_z=kl_z,
              total_correlation=total_correlation, marginal_kl_z=marginal_kl_z,
              aggregate_kl_z=aggregate_kl_z, entropy_y=entropy_y,
              conditional_entropy_y=conditional,
              mutual_information_y=entropy_y - conditional)


def test_code_statistics_match_their_definitions():
  posterior, z = _posterior()
  got = jax.jit(joint_code.code_statistics)(posterior, z)
  want = _numpy_statistics(posterior, z)
  for name, value in want.items():
    np.testing.assert_allclose(float(got[name]), value, rtol=2e-4, atol=2e-5, err_msg=name)


def _penalty(objective, posterior, z, step=0):
  return float(objective.penalty(joint_code.code_statistics(posterior, z), step)[0])


def test_each_family_penalty_is_its_figure_1_formula():
  posterior, z = _posterior(seed=1)
  s = _numpy_statistics(posterior, z)
  beta, gamma, mu = 3.0, 5.0, 2.0
  imae = icvae.objectives.imae.IMAE(beta=beta, gamma=gamma, marginal_entropy_weight=mu)
  np.testing.assert_allclose(
      _penalty(imae, posterior, z),
      -beta * (mu * s['entropy_y'] - s['conditional_entropy_y'])
      + beta * s['marginal_kl_z'] + gamma * s['total_correlation'], rtol=1e-4)
  beta_vae = icvae.objectives.beta_vae.BetaVAE(beta=beta)
  np.testing.assert_allclose(_penalty(beta_vae, posterior, z),
                             beta * (s['kl_y'] + s['kl_z']), rtol=1e-4)
  info_vae = icvae.objectives.info_vae.InfoVAE(beta=beta)
  np.testing.assert_allclose(_penalty(info_vae, posterior, z),
                             beta * (s['marginal_kl_y'] + s['aggregate_kl_z']), rtol=1e-4)


def test_jointvae_capacities_grow_linearly_and_the_categorical_one_stops_at_log_k():
  posterior, z = _posterior(k=4, seed=2)
  s = _numpy_statistics(posterior, z)
  joint_vae = icvae.objectives.joint_vae.JointVAE(beta=30.0, capacity_y=5.0, capacity_z=4.0,
                                                   capacity_steps=1000, num_categories=4)
  for step, c_y, c_z in ((0, 0.0, 0.0), (250, 5.0 / 4, 1.0), (500, 2.5, 2.0),
                         (1000, math.log(4), 4.0), (5000, math.log(4), 4.0)):
    c_y = min(c_y, math.log(4))  # 5 nats is more than a 4-way code can carry
    np.testing.assert_allclose(
        _penalty(joint_vae, posterior, z, step),
        30.0 * abs(s['kl_y'] - c_y) + 30.0 * abs(s['kl_z'] - c_z), rtol=1e-4)


def test_gumbel_temperature_schedule_by_hand():
  assert float(joint_code.temperature_at(123, 0.67)) == pytest.approx(0.67)
  assert float(joint_code.temperature_at(0, 1.0, 0.1, 100)) == pytest.approx(1.0)
  assert float(joint_code.temperature_at(50, 1.0, 0.1, 100)) == pytest.approx(0.1 ** 0.5)
  assert float(joint_code.temperature_at(400, 1.0, 0.1, 100)) == pytest.approx(0.1)


def _tiny(model='imae', **values):
  config = icvae.RunConfig(model=model, hidden_features=16, batch_size=32, **values)
  networks = config.build_networks()
  objective = config.build_objective()
  optimizer = train.make_optimizer(objective, 1e-3)
  graphdef, state = train.create_train_state(networks, optimizer)
  return config, objective, optimizer, graphdef, state


def test_loss_is_reconstruction_plus_penalty_and_evaluation_decodes_the_argmax_code():
  _, objective, _, graphdef, state = _tiny('beta_vae', beta=2.0)
  x = jax.random.uniform(jax.random.key(0), (32, 784))
  networks = nnx.merge(graphdef, state.params, state.constants)
  loss, terms = objective.loss(networks, x, jax.random.key(1), 0)
  np.testing.assert_allclose(float(loss), -float(terms['reconstruction'])
                             + 2.0 * (float(terms['kl_y']) + float(terms['kl_z'])), rtol=1e-5)
  evaluated = objective.evaluate(networks, x, jax.random.key(2))
  posterior = networks.encode(x)
  y = jax.nn.one_hot(jnp.argmax(posterior.logits, -1), 10)
  probs = np.asarray(jax.nn.sigmoid(networks.decode(y, posterior.mean)))
  x64 = np.asarray(x, np.float64)
  log_likelihood = np.mean(np.sum(x64 * np.log(probs) + (1 - x64) * np.log1p(-probs), 1))
  np.testing.assert_allclose(float(evaluated['reconstruction']), log_likelihood, rtol=1e-4)
  np.testing.assert_allclose(float(evaluated['reconstruction_squared_error']),
                             np.mean(np.sum((x64 - probs) ** 2, 1)), rtol=1e-4)


def test_vat_inside_the_step_adds_its_weighted_term_and_leaves_batch_statistics_alone():
  x = jax.random.uniform(jax.random.key(0), (32, 784))
  outputs = {}
  for weight in (0.0, 3.0):
    _, objective, optimizer, graphdef, state = _tiny('imae', vat_weight=weight)
    step = train.make_train_step(graphdef, optimizer, objective)
    new_state, metrics = step(state, x, jax.random.key(1))
    outputs[weight] = (jax.device_get(new_state.constants), metrics)
  # The running averages after the step are those of the clean pass only.
  for a, b in zip(jax.tree.leaves(outputs[0.0][0]), jax.tree.leaves(outputs[3.0][0])):
    np.testing.assert_allclose(a, b, rtol=1e-6)
  plain, with_vat = outputs[0.0][1], outputs[3.0][1]
  assert 'vat' not in plain and float(with_vat['vat']) > 0
  np.testing.assert_allclose(float(with_vat['loss']),
                             float(plain['loss']) + 3.0 * float(with_vat['vat']), rtol=1e-5)


def test_the_pure_training_pass_equals_batch_norm_in_training():
  _, _, _, graphdef, state = _tiny('imae')
  x = jax.random.uniform(jax.random.key(0), (32, 784))
  networks = nnx.merge(graphdef, state.params, state.constants)
  pure = networks.classify(x, jax.random.key(0), update_statistics=False)
  before = jax.device_get(nnx.state(networks, nnx.BatchStat))
  np.testing.assert_array_equal(
      jax.tree.leaves(before),
      jax.tree.leaves(jax.device_get(nnx.state(networks, nnx.BatchStat))))
  updating = networks.classify(x, jax.random.key(0))
  np.testing.assert_allclose(pure, updating, rtol=1e-4, atol=1e-5)


def test_nearest_neighbour_distances_match_scikit_learn():
  x = np.random.default_rng(0).uniform(size=(701, 30)).astype(np.float32)
  got = np.asarray(vat.nearest_neighbour_distances(x, 10, chunk_size=200))
  want = NearestNeighbors(n_neighbors=11).fit(x).kneighbors(x)[0][:, 10]
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('values, flag', [
    (dict(vat_weight=1.0, vat_epsilon=0.0), '--vat_epsilon'),
    (dict(vat_epsilon=-1.0), '--vat_epsilon'),
    (dict(beta=-1.0), '--beta'),
    (dict(gamma=-0.5), '--gamma'),
    (dict(temperature=0.0), '--temperature'),
    (dict(temperature_final=0.1), '--temperature_final'),
    (dict(vat_epsilon_neighbour=10), '--vat_epsilon_neighbour'),
    (dict(dropout_rate=0.5), '--dropout_rate'),
    (dict(beta_info=100.0), '--beta_info'),
])
def test_bad_settings_are_refused_naming_the_flag(values, flag):
  with pytest.raises(settings.SettingError, match=flag):
    icvae.RunConfig(model='imae', **values)


def test_vat_flags_reach_catvae_and_a_weight_of_zero_is_the_plain_objective():
  config = icvae.RunConfig(model='catvae', vat_weight=2.0, vat_epsilon=0.5)
  objective = config.build_objective()
  assert (objective.vat_weight, objective.vat_epsilon) == (2.0, 0.5)
  plain = icvae.RunConfig(model='catvae').build_objective()
  networks = config.build_networks()
  x = jax.random.uniform(jax.random.key(0), (16, 784))
  key = jax.random.key(3)
  loss_plain, _ = plain.loss(networks, x, key, 0)
  # With VAT the step splits its key: the rest of the loss is the plain loss of the
  # remaining key, and the VAT term is vat.vat_loss with the dropout key fixed.
  loss, terms = objective.loss(networks, x, key, 0)
  rest_key, vat_key, dropout_key = jax.random.split(key, 3)
  rest, _ = plain.loss(networks, x, rest_key, 0)
  smoothness = vat.vat_loss(vat_key, x, lambda v: networks.classify(v, dropout_key), 0.5)
  np.testing.assert_allclose(float(terms['vat']), float(smoothness), rtol=1e-5)
  np.testing.assert_allclose(float(loss), float(rest) + 2.0 * float(smoothness), rtol=1e-5)
  assert np.isfinite(float(loss_plain))


def test_imae_trains_through_the_loop_and_the_report_has_the_information_terms(tmp_path):
  dataset = fakes.tiny_dataset()
  config = fakes.tiny_config(tmp_path / 'run', model='imae', vat_weight=1.0,
                             vat_epsilon=0.25, vat_epsilon_neighbour=3, beta=2.0, gamma=4.0,
                             dropout_rate=0.0)
  icvae.train_and_evaluate(config, dataset)
  records = [json.loads(line) for line in (tmp_path / 'run/metrics.jsonl').read_text()
             .splitlines()]
  assert {'test/clustering_accuracy', 'train/vat', 'train/mutual_information_y',
          'test/total_correlation'} <= set(records[-1])
  report = icvae.evaluate_run(tmp_path / 'run', dataset)
  codes = report['codes']
  loaded = icvae.load_model(tmp_path / 'run')
  logits = np.asarray(loaded.model.classify(jnp.asarray(config.view(dataset.test_images))),
                      np.float64)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  p_bar = p.mean(0)
  want = -np.sum(p_bar * np.log(p_bar)) + np.mean(np.sum(p * np.log(p), 1))
  np.testing.assert_allclose(codes['mutual_information_y'], want, rtol=1e-3, atol=1e-5)
  assert len(codes['mutual_information_z']) == 10 and 'total_correlation' in codes
  assert 'samples_per_category' in report['figures']


def test_imae_refuses_the_checkpoint_of_another_model(tmp_path):
  dataset = fakes.tiny_dataset()
  icvae.train_and_evaluate(fakes.tiny_config(tmp_path / 'cat', model='catvae', num_epochs=1),
                           dataset)
  before = sorted(str(p) for p in (tmp_path / 'cat').rglob('*'))
  # Resuming the catvae workdir as IMAE.
  with pytest.raises(icvae.loop.ExperimentError, match='--model: workdir has .catvae.'):
    icvae.train_and_evaluate(fakes.tiny_config(tmp_path / 'cat', model='imae', num_epochs=1),
                             dataset)
  # Starting IMAE from the catvae weights.
  config = fakes.tiny_config(tmp_path / 'imae', model='imae', num_epochs=1,
                             restore_from=str(tmp_path / 'cat' / 'checkpoints'))
  with pytest.raises(icvae.checkpoints.CheckpointError, match='--restore_from=.*model'):
    icvae.train_and_evaluate(config, dataset)
  assert sorted(str(p) for p in (tmp_path / 'cat').rglob('*')) == before
  assert not (tmp_path / 'imae' / 'checkpoints').exists()


@pytest.mark.parametrize('model', ['infocatvae', 'imae'])
def test_per_example_vat_radius_is_epsilon_times_the_kth_neighbour_distance(model):
  config = icvae.RunConfig(model=model, vat_weight=1.0, vat_epsilon=0.25,
                           vat_epsilon_neighbour=5)
  images = np.random.default_rng(1).uniform(size=(300, 784)).astype(np.float32)
  data = config.build_objective().training_data(jnp.asarray(images))
  want = 0.25 * NearestNeighbors(n_neighbors=6).fit(images).kneighbors(images)[0][:, 5]
  np.testing.assert_allclose(np.asarray(data['vat_epsilon'])[:, 0], want, rtol=1e-4)
  np.testing.assert_array_equal(np.asarray(data['images']), images)
  assert icvae.RunConfig(model=model).build_objective().training_data(images) is images


def test_vat_radii_are_cached_and_a_corrupt_cache_is_recomputed(tmp_path, monkeypatch, caplog):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path))
  objective = icvae.RunConfig(model='imae', vat_weight=1.0, vat_epsilon_neighbour=3
                              ).build_objective()
  images = jnp.asarray(np.random.default_rng(2).uniform(size=(100, 784)), jnp.float32)
  first = np.asarray(objective.training_data(images)['vat_epsilon'])
  (cached,) = (tmp_path / 'vat-radii').glob('knn_*_k3.npy')
  with caplog.at_level('INFO', logger='icvae'):
    second = np.asarray(objective.training_data(images)['vat_epsilon'])
  assert 'read from' in caplog.text
  np.testing.assert_array_equal(first, second)
  cached.write_bytes(b'not an array')
  np.testing.assert_allclose(np.asarray(objective.training_data(images)['vat_epsilon']),
                             first, rtol=1e-6)
  assert np.load(cached).shape == (100,)
