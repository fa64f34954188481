"""Shapes and wiring of the Table 2 networks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
import pytest

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
  chex.assert_shape(model.decode(jnp.zeros((2, 12))), (2, 784))  # flat, as the loop feeds x


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


def test_the_mode_is_an_argument():
  """training=False is evaluation whatever the key; training=True is training (a key for
  dropout); without `training`, a key means training (the rule before icvae 0.4)."""
  model = models.mlp_catvae(hidden_features=64)
  x = jax.random.uniform(jax.random.key(0), (4, 784))
  key = jax.random.key(1)
  np.testing.assert_array_equal(model.classify(x, key, training=False), model.classify(x))
  np.testing.assert_array_equal(model.classify(x, key, training=True), model.classify(x, key))
  with pytest.raises(ValueError, match='dropout in training needs a PRNG key'):
    model.classify(x, training=True)
  h = jnp.ones((2, 8))
  np.testing.assert_array_equal(models.dropout(h, 0.5, key, training=False), h)
  # Batch norm: the batch's statistics in training (no key needed: no randomness), the
  # running averages (zero mean, unit variance at initialisation) in evaluation.
  trunk = models.mlp_joint_code(num_categories=3, latent_dim=2, input_shape=(6,),
                                hidden_sizes=(5,))
  batch = 3.0 + jax.random.normal(jax.random.key(2), (32, 6))
  training = trunk.trunk(batch, update_statistics=False, training=True)
  layer = trunk.trunk.dense[0](batch)
  normalised = (layer - layer.mean(0)) / jnp.sqrt(layer.var(0) + 1e-5)
  np.testing.assert_allclose(training, jax.nn.relu(normalised), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(trunk.trunk(batch, key, training=False),
                             jax.nn.relu(layer / jnp.sqrt(1 + 1e-5)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('rate', [0.25, 0.5, 0.3, 0.1])
def test_dropout_keeps_with_probability_one_minus_rate(rate):
  # 0.25 and 0.5 use 8-bit pieces of each random word, 0.1 16-bit ones, 0.3 the fallback.
  shape = (400, 500)
  keep = np.asarray(models.dropout_keep_mask(jax.random.key(1), rate, shape))
  assert keep.shape == shape and keep.dtype == bool
  n = keep.size
  tolerance = 5 * np.sqrt(rate * (1 - rate) / n)  # 5 binomial standard errors
  assert abs(keep.mean() - (1 - rate)) < tolerance
  # Neighbouring units (which may share a random word) are independent: the frequency of
  # both kept is (1 - rate)^2.
  flat = keep.reshape(-1)
  both = np.mean(flat[0::2] & flat[1::2])
  assert abs(both - (1 - rate) ** 2) < 5 * np.sqrt((1 - rate) ** 2 / (n / 2))
  # Independent across keys.
  other = np.asarray(models.dropout_keep_mask(jax.random.key(2), rate, shape))
  assert abs(np.mean(keep & other) - (1 - rate) ** 2) < 5 * np.sqrt((1 - rate) ** 2 / n)


def test_dropout_is_unbiased_and_identity_without_key():
  x = jnp.full((2000, 300), 3.0)
  y = models.dropout(x, 0.25, jax.random.key(0))
  assert set(np.unique(np.asarray(y)).tolist()) == {0.0, 4.0}
  np.testing.assert_allclose(float(y.mean()), 3.0, rtol=5e-3)
  assert models.dropout(x, 0.25, None) is x


def test_bfloat16_compute_is_close_to_float32_and_keeps_float32_params():
  x = jax.random.uniform(jax.random.key(0), (8, 784))
  f32 = models.mlp_catvae(seed=3)
  bf16 = models.mlp_catvae(seed=3, compute_dtype='bfloat16')
  kernel = bf16.encoder.dense.kernel[...]
  assert kernel.dtype == jnp.float32
  np.testing.assert_array_equal(kernel, f32.encoder.dense.kernel[...])
  post32, post16 = f32.encode(x), bf16.encode(x)
  assert post16.logits.dtype == jnp.float32 and post16.mean.dtype == jnp.float32
  # bfloat16 keeps 8 significant bits: relative error around 2^-8 on these sums.
  np.testing.assert_allclose(post16.mean, post32.mean, atol=0.05, rtol=0.05)
  out32, out16 = f32.decode(post32.mean[:, 0]), bf16.decode(post32.mean[:, 0])
  assert out16.dtype == jnp.float32
  np.testing.assert_allclose(out16, out32, atol=0.05, rtol=0.05)
  assert not np.array_equal(out16, out32)  # it really computes in bfloat16
  with pytest.raises(ValueError, match='compute_dtype'):
    models.mlp_catvae(compute_dtype='float16')


# --- Table 3 recurrent networks ------------------------------------------------------------


def test_gru_shapes_match_table_3():
  model = models.gru_catvae(seed=0)
  x = jax.random.uniform(jax.random.key(0), (5, 28, 28))
  features = model.encoder(x)
  chex.assert_shape(features, (5, 256))
  posterior = model.encode(x)
  chex.assert_shape(posterior.logits, (5, 10))
  chex.assert_shape([posterior.mean, posterior.logvar], (5, 10, 20))
  assert model.mean_head.kernel.shape == (266, 20)
  out = model.decode(posterior.mean)
  chex.assert_shape(out, (5, 10, 28, 28))
  assert float(out.min()) >= 0 and float(out.max()) <= 1  # sigmoid means
  with pytest.raises(ValueError, match='as_sequences'):
    model.encoder(jnp.zeros((5, 784)))


def _loop_gru(cell, x):
  """An independent Python loop over time (no scan) running `cell` forwards."""
  carry = jnp.zeros((x.shape[0], cell.hidden_features))
  for t in range(x.shape[1]):
    carry, _ = cell(carry, x[:, t])
  return carry


def test_bidirectional_encoder_reads_the_sequence_both_ways():
  encoder = models.GRUEncoder(6, 8, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(1), (3, 7, 6))
  features = np.asarray(encoder(x))
  np.testing.assert_allclose(features[:, :8], _loop_gru(encoder.forward_cell, x), atol=1e-5)
  np.testing.assert_allclose(features[:, 8:], _loop_gru(encoder.backward_cell, x[:, ::-1]),
                             atol=1e-5)
  # Behaviour a unidirectional encoder cannot have: with both cells equal, reversing time
  # swaps the two halves.
  encoder.backward_cell = encoder.forward_cell
  swapped = np.asarray(encoder(x[:, ::-1]))
  np.testing.assert_allclose(swapped[:, :8], np.asarray(encoder(x))[:, 8:], atol=1e-5)
  np.testing.assert_allclose(swapped[:, 8:], np.asarray(encoder(x))[:, :8], atol=1e-5)


def test_recurrent_step_traces_once(monkeypatch):
  calls = []
  original = nnx.GRUCell.__call__

  def counting(self, carry, inputs):
    calls.append(inputs.shape)
    return original(self, carry, inputs)

  monkeypatch.setattr(nnx.GRUCell, '__call__', counting)
  model = models.gru_catvae(hidden_features=16)
  x = jnp.zeros((2, 28, 28))
  jax.jit(lambda x: model.decode(model.encode(x).mean))(x)
  # forward cell, backward cell, decoder cell: each traced once, not 28 times.
  assert len(calls) == 3


def test_decoder_is_fed_z_at_every_step_from_a_state_set_by_z():
  decoder = models.GRUDecoder(4, 8, num_steps=5, num_features=3, rngs=nnx.Rngs(0))
  z = jax.random.normal(jax.random.key(0), (2, 4))
  out = np.asarray(decoder(z))
  carry = jnp.tanh(decoder.initial(z))
  for t in range(5):
    carry, hidden = decoder.cell(carry, z)
    expected = jax.nn.sigmoid(decoder.out(jax.nn.relu(hidden)))
    np.testing.assert_allclose(out[:, t], expected, atol=1e-5)


@pytest.mark.parametrize('shape,sizes', [
    ((28, 28), [(28, 28), (14, 14), (7, 7), (4, 4)]),
    ((64, 64), [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]),
    ((32, 32, 3), [(32, 32), (16, 16), (8, 8), (4, 4)]),
    ((12, 10, 3), [(12, 10), (6, 5), (3, 3)]),
])
def test_conv_layout_halves_to_four_and_the_decoder_returns_the_image_shape(shape, sizes):
  assert models.conv_layout(shape)[1] == sizes
  pixels = int(np.prod(shape))
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(3, pixels)), jnp.float32)
  net = models.conv_joint_code(num_categories=4, latent_dim=2, image_shape=shape)
  posterior = net.encode(x)
  assert posterior.logits.shape == (3, 4) and posterior.mean.shape == (3, 2)
  assert net.decode(jnp.eye(4)[:3], posterior.mean).shape == (3, pixels)
  catvae = models.conv_catvae(num_categories=4, delta=1, image_shape=shape)
  assert catvae.decode(jnp.zeros((5, 2, 4))).shape == (5, 2, pixels)  # leading axes kept


def test_conv_layers_are_4x4_stride_2_convolutions():
  trunk = models.ConvTrunk((8, 8), features=5, batch_norm=False, rngs=nnx.Rngs(0))
  x = np.random.default_rng(1).uniform(size=(2, 8, 8)).astype(np.float32)
  first = trunk.convs[0]
  kernel, bias = np.asarray(first.kernel[...]), np.asarray(first.bias[...])
  assert kernel.shape == (4, 4, 1, 32)
  # SAME padding with stride 2 on 8 pixels pads 1 before and 1 after (total 4 - 2 = 2).
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
  by_hand = np.zeros((2, 4, 4, 32), np.float32)
  for i in range(4):
    for j in range(4):
      patch = padded[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4]
      by_hand[:, i, j] = np.einsum('bij,ijc->bc', patch, kernel[:, :, 0]) + bias
  np.testing.assert_allclose(first(jnp.asarray(x)[..., None]), by_hand, rtol=1e-4, atol=1e-5)


def test_conv_batch_norm_without_updates_is_the_training_normalisation():
  trunk = models.ConvTrunk((16, 16), features=8, rngs=nnx.Rngs(0))
  x = jnp.asarray(np.random.default_rng(2).uniform(size=(6, 256)), jnp.float32)
  before = jax.tree.map(np.asarray, nnx.state(trunk, nnx.BatchStat))
  pure = trunk(x, jax.random.key(0), update_statistics=False)
  unchanged = jax.tree.map(np.asarray, nnx.state(trunk, nnx.BatchStat))
  jax.tree.map(np.testing.assert_array_equal, before, unchanged)
  trained = trunk(x, jax.random.key(0))
  np.testing.assert_allclose(pure, trained, rtol=1e-5, atol=1e-5)
  after = jax.tree.map(np.asarray, nnx.state(trunk, nnx.BatchStat))
  assert not np.allclose(after['norms'][0]['mean'], before['norms'][0]['mean'])


@pytest.mark.parametrize('rows,columns,c_in,c_out', [(4, 4, 64, 32), (7, 7, 32, 32),
                                                      (5, 3, 3, 2), (1, 1, 2, 3)])
def test_transposed_conv_is_flax_conv_transpose_with_its_gradients(rows, columns, c_in, c_out):
  deconv = nnx.ConvTranspose(c_in, c_out, (4, 4), strides=(2, 2), padding='SAME',
                             rngs=nnx.Rngs(0))
  rng = np.random.default_rng(rows * 10 + columns)
  deconv.bias[...] = jnp.asarray(rng.normal(size=c_out), jnp.float32)
  x = jnp.asarray(rng.normal(size=(2, rows, columns, c_in)), jnp.float32)
  weights = jnp.asarray(rng.normal(size=(2, 2 * rows, 2 * columns, c_out)), jnp.float32)
  kernel, bias = deconv.kernel[...], deconv.bias[...]
  np.testing.assert_allclose(models.transposed_conv(x, kernel, bias), deconv(x),
                             rtol=1e-5, atol=1e-5)

  def flax_loss(k, b, x):
    return jnp.sum(weights * (jax.lax.conv_transpose(
        x, k, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + b))

  def ours_loss(k, b, x):
    return jnp.sum(weights * models.transposed_conv(x, k, b))
  for expected, got in zip(jax.grad(flax_loss, (0, 1, 2))(kernel, bias, x),
                           jax.grad(ours_loss, (0, 1, 2))(kernel, bias, x)):
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
