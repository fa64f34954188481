"""Shapes and wiring of the Table 2 networks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from icvae import models


def test_mlp_shapes_match_table_2():
  model = models.mlp_catvae()
  x = jax.random.uniform(jax.random.key(0), (5, 784))
  posterior = model.encode(x, soft_code=True)
  chex.assert_shape(posterior.logits, (5, 10))
  chex.assert_shape([posterior.mean, posterior.logvar], (5, 10, 20))
  chex.assert_shape([posterior.soft_mean, posterior.soft_logvar], (5, 20))
  chex.assert_shape(model.decode(jnp.zeros((5, 10, 20))), (5, 10, 784))
  chex.assert_shape(model.decode(jnp.zeros((7, 20))), (7, 784))
  chex.assert_shape(model.classify(x), (5, 10))
  shapes = jax.tree.map(jnp.shape, nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  assert shapes['encoder']['dense']['kernel'] == (784, 400)
  assert shapes['classifier']['kernel'] == (400, 10)
  assert shapes['mean_head']['kernel'] == (410, 20)
  assert shapes['logvar_head']['kernel'] == (410, 20)
  assert shapes['decoder']['hidden']['kernel'] == (20, 400)
  assert shapes['decoder']['out']['kernel'] == (400, 784)
  assert 'prior' not in shapes  # the fixed prior is not trainable


def test_heads_equal_linear_layer_on_explicit_concatenation():
  model = models.mlp_catvae(num_categories=4, delta=3, input_shape=(28, 28),
                            hidden_features=32)
  x = jax.random.uniform(jax.random.key(1), (6, 28, 28))
  posterior = model.encode(x, soft_code=True)
  h = np.asarray(model.encoder(x), np.float64)
  probs = np.asarray(jax.nn.softmax(posterior.logits), np.float64)
  w_mu = np.asarray(model.mean_head.kernel[...], np.float64)
  b_mu = np.asarray(model.mean_head.bias[...], np.float64)
  w_lv = np.asarray(model.logvar_head.kernel[...], np.float64)
  b_lv = np.asarray(model.logvar_head.bias[...], np.float64)
  for c in range(4):
    one_hot = np.zeros((6, 4))
    one_hot[:, c] = 1
    concat = np.concatenate([h, one_hot], -1)
    np.testing.assert_allclose(np.asarray(posterior.mean[:, c]), concat @ w_mu + b_mu,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(posterior.logvar[:, c]), concat @ w_lv + b_lv,
                               rtol=1e-4, atol=1e-5)
  soft = np.concatenate([h, probs], -1)
  np.testing.assert_allclose(np.asarray(posterior.soft_mean), soft @ w_mu + b_mu,
                             rtol=1e-4, atol=1e-5)
  chex.assert_shape(model.decode(jnp.zeros((2, 12))), (2, 28, 28))


def test_dropout_only_with_a_key():
  model = models.mlp_catvae(hidden_features=64)
  x = jax.random.uniform(jax.random.key(0), (4, 784))
  np.testing.assert_array_equal(model.classify(x), model.classify(x))
  a = model.classify(x, jax.random.key(1))
  b = model.classify(x, jax.random.key(2))
  assert not np.allclose(a, b)
  np.testing.assert_array_equal(a, model.classify(x, jax.random.key(1)))
  z = jnp.ones((3, 20))
  assert not np.allclose(model.decode(z, jax.random.key(1)), model.decode(z))
