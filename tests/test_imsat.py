"""IMSAT (icvae.objectives.imsat) and what it brought to every trunk-based family: the loss
against numpy, the Chainer initialisation's statistics, the input scaling, the 'all'
protocol, the settings' refusals, and clustering of separable data through the loop."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import icvae
from icvae import data
from icvae import models
from icvae import settings
from icvae import train
from icvae.objectives import imsat

from tests import fakes


def _numpy_softmax(logits):
  logits = np.asarray(logits, np.float64)
  p = np.exp(logits - logits.max(1, keepdims=True))
  return p / p.sum(1, keepdims=True)


def test_information_loss_is_conditional_minus_mu_marginal_entropy():
  logits = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32) * 3
  p = _numpy_softmax(logits)
  conditional = np.mean(-np.sum(p * np.log(p), axis=1))
  marginal = -np.sum(p.mean(0) * np.log(p.mean(0)))
  value, terms = imsat.information_loss(jnp.asarray(logits), 4.0)
  np.testing.assert_allclose(value, conditional - 4 * marginal, rtol=1e-5)
  np.testing.assert_allclose(terms['mutual_information_y'], marginal - conditional, rtol=1e-5)
  np.testing.assert_allclose(terms['entropy_y'], marginal, rtol=1e-5)


def test_loss_without_vat_is_lambda_times_the_information_term_of_the_training_pass():
  net = models.mlp_classifier(num_categories=5, input_shape=(12,), hidden_sizes=(8, 8),
                              initialization='imsat', seed=1)
  x = jnp.asarray(np.random.default_rng(2).uniform(size=(40, 12)), jnp.float32)
  objective = icvae.IMSAT(information_weight=0.3, marginal_entropy_weight=2.0, vat_weight=0.0,
                          vat_epsilon_neighbour=0)
  loss, terms = objective.loss(net, x, jax.random.key(0), 0)
  # The training pass: batch statistics (recomputed here from the parameters, in numpy).
  h = np.asarray(x, np.float64)
  for dense, norm in zip(net.trunk.dense, net.trunk.norm):
    h = h @ np.asarray(dense.kernel[...]) + np.asarray(dense.bias[...])
    h = (h - h.mean(0)) / np.sqrt(h.var(0) + norm.epsilon)
    h = np.maximum(h * np.asarray(norm.scale[...]) + np.asarray(norm.bias[...]), 0)
  p = _numpy_softmax(h @ np.asarray(net.head.kernel[...]) + np.asarray(net.head.bias[...]))
  expected = 0.3 * (np.mean(-np.sum(p * np.log(p), 1)) + 2 * np.sum(p.mean(0)
                                                                      * np.log(p.mean(0))))
  np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-6)
  assert 'vat' not in terms


def test_vat_adds_its_weighted_kl_and_gradients_reach_the_classifier():
  net = models.mlp_classifier(num_categories=4, input_shape=(10,), hidden_sizes=(16, 16),
                              seed=0)
  x = jnp.asarray(np.random.default_rng(3).uniform(size=(32, 10)), jnp.float32)
  base = icvae.IMSAT(vat_weight=0.0, vat_epsilon_neighbour=0)
  with_vat = icvae.IMSAT(vat_weight=3.0, vat_epsilon=0.5, vat_epsilon_neighbour=0)
  loss0, _ = base.loss(net, x, jax.random.key(0), 0)
  loss1, terms = with_vat.loss(net, x, jax.random.key(0), 0)
  assert terms['vat'] > 0
  np.testing.assert_allclose(loss1 - loss0, 3.0 * terms['vat'], rtol=1e-5)
  graphdef, params, constants = train.split_model(net)
  grads = jax.grad(lambda p: train.objective_loss(with_vat, graphdef, p, constants, x,
                                                  jax.random.key(0), 0)[0])(params)
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  assert float(jnp.abs(grads['head']['kernel']).sum()) > 0


def test_imsat_initialisation_has_chainer_scales_and_lecun_is_flax_default():
  net = models.mlp_classifier(num_categories=10, input_shape=(784,), hidden_sizes=(1200, 1200),
                              initialization='imsat', seed=0)
  for kernel, wscale, fan_in in ((net.trunk.dense[0].kernel, 0.1, 784),
                                 (net.trunk.dense[1].kernel, 0.1, 1200),
                                 (net.head.kernel, 1e-4, 1200)):
    values = np.asarray(kernel[...])
    np.testing.assert_allclose(values.std(), np.sqrt(wscale / fan_in), rtol=0.02)
    # A normal, not a truncated one: about 0.27 % of the draws lie beyond 3 sigma.
    beyond = np.mean(np.abs(values) > 3 * np.sqrt(wscale / fan_in))
    assert 0.001 < beyond < 0.005
  lecun = models.mlp_joint_code(seed=3)
  rngs = nnx.Rngs(3)  # the same draws as before the setting existed: Flax's default Linear
  plain = nnx.Linear(784, 500, rngs=rngs)
  np.testing.assert_array_equal(lecun.trunk.dense[0].kernel[...], plain.kernel[...])


def test_imsat_input_scaling_is_pixel_over_128_minus_1():
  pixels = np.random.default_rng(0).integers(0, 256, size=(16, 20))
  x = (pixels / 255.0).astype(np.float32)
  scaled = models.BatchNormTrunk(20, (6,), input_scaling='imsat', rngs=nnx.Rngs(0))
  plain = models.BatchNormTrunk(20, (6,), rngs=nnx.Rngs(0))
  np.testing.assert_allclose(scaled(jnp.asarray(x)),
                             plain(jnp.asarray(pixels / 128.0 - 1.0, jnp.float32)), atol=1e-5)


def test_protocol_all_trains_and_scores_on_both_splits():
  dataset = fakes.tiny_dataset(n_train=30, n_test=10)
  joined = data.with_protocol(dataset, 'all')
  np.testing.assert_array_equal(joined.train_images[30:], dataset.test_images)
  np.testing.assert_array_equal(joined.test_labels[:30], dataset.train_labels)
  assert len(joined.test_images) == 40
  assert data.with_protocol(dataset, 'heldout') is dataset
  with pytest.raises(data.DataError, match='--dataset=dsprites trains on every example'):
    data.with_protocol(dataset, 'all', 'dsprites')


@pytest.mark.parametrize('values,flag', [
    (dict(model='imsat', input_scaling='bytes'), '--input_scaling=bytes'),
    (dict(model='imsat', initialization='he'), '--initialization=he'),
    (dict(model='imsat', information_weight=-1.0), '--information_weight=-1.0'),
    (dict(model='imsat', protocol='train'), '--protocol=train'),
    (dict(model='imsat', vat_epsilon_neighbour=10), '--vat_epsilon_neighbour=10'),
    (dict(model='infocatvae', input_scaling='imsat'), '--input_scaling=imsat'),
    (dict(model='imae', information_weight=0.1), '--information_weight=0.1'),
    (dict(model='imsat', protocol='all', train_examples=70001), '--train_examples=70001'),
    (dict(model='imae', dataset='dsprites', initialization='imsat'), '--initialization=imsat'),
    (dict(model='imsat', dataset='dsprites', protocol='all'), '--protocol=all'),
])
def test_bad_settings_are_refused_naming_the_flag(values, flag):
  with pytest.raises(settings.SettingError, match=flag):
    icvae.RunConfig(**values)


def test_protocol_all_admits_every_example_of_both_splits():
  assert icvae.RunConfig(model='imsat', protocol='all', train_examples=70000).train_examples


def _blobs(n, seed):
  """Four well-separated clusters of 28x28 images: a bright quadrant each, plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 4, n).astype(np.int32)
  images = rng.uniform(0, 0.3, size=(n, 28, 28)).astype(np.float32)
  for c, (r, q) in enumerate(((0, 0), (0, 14), (14, 0), (14, 14))):
    images[labels == c, r:r + 14, q:q + 14] += 0.6
  return images, labels


def test_imsat_clusters_separable_data_through_the_loop_and_report(tmp_path):
  train_x, train_y = _blobs(512, 0)
  test_x, test_y = _blobs(200, 1)
  dataset = data.Dataset(train_x, train_y, test_x, test_y)
  config = fakes.tiny_config(tmp_path / 'run', model='imsat', num_categories=4,
                             hidden_features=32, vat_weight=1.0, vat_epsilon=0.25,
                             vat_epsilon_neighbour=5, input_scaling='imsat',
                             initialization='imsat', learning_rate=2e-3, batch_size=64,
                             num_epochs=12, eval_batch_size=100, protocol='all',
                             information_weight=1.0)
  icvae.train_and_evaluate(config, dataset)
  last = json.loads((tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()[-1])
  assert last['test/clustering_accuracy'] > 0.95
  assert last['train/vat'] >= 0
  report = icvae.evaluate_run(tmp_path / 'run', dataset)
  assert report['clustering']['test']['accuracy'] > 0.95
  assert report['codes']['mutual_information_y'] > 0.7 * np.log(4)
  assert (tmp_path / 'run' / 'eval' / 'cluster_examples.png').exists()
