"""Loss terms against closed forms written here, Monte Carlo, numpy/scipy and loops."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import test_util as jtu
from scipy import special
from scipy import stats

from icvae import likelihoods
from icvae import losses
from icvae import models
from icvae.objectives import catvae

MC_SAMPLES = 200_000


def _softmax(logits):
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _gaussian_kl_by_hand(mean, logvar, prior_mean):
  var = np.exp(logvar)
  return 0.5 * np.sum(var + (mean - prior_mean) ** 2 - 1.0 - logvar, axis=-1)


# --- categorical KL --------------------------------------------------------------------


def test_categorical_kl_is_log_k_minus_entropy_and_matches_monte_carlo():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(5, 10)) * 2.0
  kl = np.asarray(losses.categorical_kl_to_uniform(jnp.asarray(logits, jnp.float32)))
  chex.assert_shape(kl, (5,))
  q = _softmax(logits)
  entropy = stats.entropy(q, axis=-1)
  np.testing.assert_allclose(kl, np.log(10) - entropy, rtol=1e-5, atol=1e-6)
  for row in range(5):
    draws = rng.choice(10, size=MC_SAMPLES, p=q[row])
    log_ratio = np.log(q[row][draws]) - np.log(1.0 / 10)
    stderr = log_ratio.std() / np.sqrt(MC_SAMPLES)
    assert abs(log_ratio.mean() - kl[row]) < 5 * stderr + 1e-6


def test_categorical_kl_zero_for_uniform_and_log_k_for_one_hot():
  assert float(losses.categorical_kl_to_uniform(jnp.zeros(7))) == pytest.approx(0.0, abs=1e-6)
  one_hot_logits = jnp.array([1000.0, -1000.0, -1000.0, -1000.0])
  assert float(losses.categorical_kl_to_uniform(one_hot_logits)) == pytest.approx(
      np.log(4), abs=1e-6)


# --- Gaussian KL -----------------------------------------------------------------------


def test_gaussian_kl_matches_closed_form_and_monte_carlo():
  rng = np.random.default_rng(1)
  d = 6
  mean, logvar, prior = rng.normal(size=d), rng.normal(size=d) * 0.5, rng.normal(size=d)
  kl = float(losses.gaussian_kl(jnp.asarray(mean), jnp.asarray(logvar), jnp.asarray(prior)))
  # Closed form written from the textbook formula with traces and determinants.
  cov = np.diag(np.exp(logvar))
  by_hand = 0.5 * (np.trace(cov) + (mean - prior) @ (mean - prior) - d
                   - np.log(np.linalg.det(cov)))
  assert kl == pytest.approx(by_hand, rel=1e-5)
  z = mean + np.exp(0.5 * logvar) * rng.normal(size=(MC_SAMPLES, d))
  log_ratio = (stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(-1)
               - stats.norm.logpdf(z, prior, 1.0).sum(-1))
  assert abs(log_ratio.mean() - kl) < 5 * log_ratio.std() / np.sqrt(MC_SAMPLES)


def test_gaussian_kl_zero_at_prior():
  prior = jnp.arange(5.0)
  assert float(losses.gaussian_kl(prior, jnp.zeros(5), prior)) == 0.0


def test_expected_gaussian_kl_equals_per_category_loop():
  rng = np.random.default_rng(2)
  batch, k, d = 4, 5, 10
  logits = rng.normal(size=(batch, k))
  mean, logvar = rng.normal(size=(batch, k, d)), rng.normal(size=(batch, k, d)) * 0.3
  prior_means = np.asarray(jnp.eye(k).repeat(2, axis=1)) * 2.0
  got = losses.expected_gaussian_kl(jnp.asarray(_softmax(logits), jnp.float32),
                                    jnp.asarray(mean, jnp.float32),
                                    jnp.asarray(logvar, jnp.float32),
                                    jnp.asarray(prior_means, jnp.float32))
  chex.assert_shape(got, (batch,))
  probs = _softmax(logits)
  expected = np.zeros(batch)
  for b in range(batch):
    for c in range(k):
      expected[b] += probs[b, c] * _gaussian_kl_by_hand(mean[b, c], logvar[b, c],
                                                        prior_means[c])
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


def test_expected_gaussian_kl_matches_monte_carlo_over_c_and_z():
  rng = np.random.default_rng(3)
  k, d = 3, 3
  probs = np.array([0.2, 0.5, 0.3])
  mean, logvar = rng.normal(size=(k, d)), rng.normal(size=(k, d)) * 0.3
  prior_means = np.eye(k) * 2.0
  got = float(losses.expected_gaussian_kl(jnp.asarray(probs[None]), jnp.asarray(mean[None]),
                                          jnp.asarray(logvar[None]),
                                          jnp.asarray(prior_means))[0])
  c = rng.choice(k, size=MC_SAMPLES, p=probs)
  std = np.exp(0.5 * logvar[c])
  z = mean[c] + std * rng.normal(size=(MC_SAMPLES, d))
  log_ratio = (stats.norm.logpdf(z, mean[c], std).sum(-1)
               - stats.norm.logpdf(z, prior_means[c], 1.0).sum(-1))
  assert abs(log_ratio.mean() - got) < 5 * log_ratio.std() / np.sqrt(MC_SAMPLES)


# --- reconstruction --------------------------------------------------------------------


def test_bernoulli_log_likelihood_finite_at_extreme_logits_and_equals_numpy():
  logits = np.array([[-100.0, 100.0, 0.0, 3.0, -7.5, 100.0, -100.0]], np.float32)
  targets = np.array([[0.0, 1.0, 0.3, 0.9, 0.2, 0.0, 1.0]], np.float32)
  got = np.asarray(likelihoods.bernoulli_log_prob(jnp.asarray(logits), jnp.asarray(targets)))
  assert np.all(np.isfinite(got))
  log_p = -np.logaddexp(0.0, -logits.astype(np.float64))      # log sigmoid(l)
  log_not_p = -np.logaddexp(0.0, logits.astype(np.float64))   # log (1 - sigmoid(l))
  expected = np.sum(targets * log_p + (1 - targets) * log_not_p, axis=-1)
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  # And the naive formula where it is representable.
  moderate = np.linspace(-5, 5, 11)[None]
  x = np.linspace(0, 1, 11)[None]
  sig = special.expit(moderate)
  naive = np.sum(x * np.log(sig) + (1 - x) * np.log(1 - sig), -1)
  np.testing.assert_allclose(
      np.asarray(likelihoods.bernoulli_log_prob(jnp.asarray(moderate), jnp.asarray(x))),
      naive, rtol=1e-5)
  # Gradients finite at the extremes too.
  grads = jax.grad(lambda l: likelihoods.bernoulli_log_prob(l, jnp.asarray(targets)).sum())(
      jnp.asarray(logits))
  assert np.all(np.isfinite(np.asarray(grads)))


def test_gaussian_log_likelihood_equals_scipy_and_sums_event_axes():
  rng = np.random.default_rng(4)
  mean, x = rng.normal(size=(3, 28, 28)), rng.normal(size=(3, 28, 28))
  got = np.asarray(likelihoods.gaussian_log_prob(jnp.asarray(mean), jnp.asarray(x),
                                                  scale=0.7, event_ndims=2))
  chex.assert_shape(got, (3,))
  np.testing.assert_allclose(got, stats.norm.logpdf(x, mean, 0.7).sum((1, 2)), rtol=1e-5)


def _linear_decoder(weight):
  return lambda z, key: z @ weight


def test_expected_reconstruction_equals_per_category_loop():
  rng = np.random.default_rng(5)
  batch, k, d, pixels = 3, 4, 8, 12
  weight = rng.normal(size=(d, pixels)).astype(np.float32)
  x = rng.uniform(size=(batch, pixels)).astype(np.float32)
  logits = rng.normal(size=(batch, k)).astype(np.float32)
  mean = rng.normal(size=(batch, k, d)).astype(np.float32)
  # A vanishing variance makes z = mean, so the loop below needs no shared noise.
  logvar = np.full((batch, k, d), -60.0, np.float32)
  posterior = losses.CategoricalPosterior(jnp.asarray(logits), jnp.asarray(mean),
                                          jnp.asarray(logvar))
  got = losses.expected_reconstruction(jax.random.key(0), jnp.asarray(x), posterior,
                                       _linear_decoder(jnp.asarray(weight)))
  chex.assert_shape(got, (batch,))
  probs = _softmax(logits.astype(np.float64))
  expected = np.zeros(batch)
  for b in range(batch):
    for c in range(k):
      out = mean[b, c].astype(np.float64) @ weight
      ll = np.sum(x[b] * out - np.logaddexp(0.0, out))
      expected[b] += probs[b, c] * ll
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4)


def test_expected_reconstruction_samples_z_from_each_category_posterior():
  # Decoder = identity on a 1-d "image"; Gaussian likelihood; E over z has a closed form:
  # E log N(x; z, 1) = -0.5 ((x - m)^2 + s^2) - 0.5 log 2 pi for z ~ N(m, s^2).
  m = jnp.array([[[0.5], [-1.0], [2.0]]])
  logvar = jnp.log(jnp.array([[[0.3], [0.5], [2.0]]]))
  logits = jnp.log(jnp.array([[0.2, 0.3, 0.5]]))
  x = jnp.array([[0.7]])
  posterior = losses.CategoricalPosterior(logits, m, logvar)
  keys = jax.random.split(jax.random.key(1), 100_000)
  estimates = jax.vmap(lambda key: losses.expected_reconstruction(
      key, x, posterior, lambda z, _: z, likelihood='gaussian'))(keys)
  probs, var = np.array([0.2, 0.3, 0.5]), np.array([0.3, 0.5, 2.0])
  truth = np.sum(probs * (-0.5 * ((0.7 - np.array([0.5, -1.0, 2.0])) ** 2 + var)
                          - 0.5 * np.log(2 * np.pi)))
  est = np.asarray(estimates)[:, 0]
  assert abs(est.mean() - truth) < 5 * est.std() / np.sqrt(len(est))


def test_soft_code_reconstruction_decodes_once_from_soft_heads():
  rng = np.random.default_rng(6)
  weight = jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)
  x = jnp.asarray(rng.uniform(size=(2, 5)), jnp.float32)
  soft_mean = jnp.asarray(rng.normal(size=(2, 4)), jnp.float32)
  posterior = losses.CategoricalPosterior(jnp.zeros((2, 3)), jnp.zeros((2, 3, 4)),
                                          jnp.zeros((2, 3, 4)), soft_mean,
                                          jnp.full((2, 4), -60.0))
  got = losses.soft_code_reconstruction(jax.random.key(0), x, posterior,
                                        _linear_decoder(weight))
  out = np.asarray(soft_mean, np.float64) @ np.asarray(weight, np.float64)
  expected = np.sum(np.asarray(x) * out - np.logaddexp(0, out), -1)
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
  with pytest.raises(ValueError, match='soft_code=True'):
    losses.soft_code_reconstruction(jax.random.key(0), x, posterior._replace(soft_mean=None),
                                    _linear_decoder(weight))


# --- information term ------------------------------------------------------------------


def test_stratified_labels_have_equal_counts():
  labels = np.asarray(losses.sample_prior_categories(jax.random.key(0), 100, 10))
  np.testing.assert_array_equal(np.bincount(labels, minlength=10), 10)
  labels = np.asarray(losses.sample_prior_categories(jax.random.key(0), 23, 10))
  assert sorted(np.bincount(labels, minlength=10)) == [2] * 7 + [3] * 3
  iid = np.asarray(losses.sample_prior_categories(jax.random.key(0), 50_000, 10, False))
  assert np.all(np.abs(np.bincount(iid, minlength=10) / 50_000 - 0.1) < 0.01)


def test_cross_entropy_from_logits_equals_hand_computation():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  labels = jnp.array([0, 2])
  e = np.exp([2.0, 0.0, -1.0])
  expected = [-np.log(e[0] / e.sum()), np.log(3.0)]
  np.testing.assert_allclose(np.asarray(losses.categorical_cross_entropy(logits, labels)),
                             expected, rtol=1e-6)


def test_information_term_equals_hand_computation_with_fixed_networks():
  # Decoder outputs z itself as "logits" of a 2-pixel image; classifier is linear on pixels.
  prior_means = jnp.array([[3.0, 0.0], [0.0, 3.0]])
  weight = jnp.array([[4.0, -4.0], [-4.0, 4.0]])
  keys = jax.random.split(jax.random.key(0), 2000)
  values = jax.vmap(lambda key: losses.information_term(
      key, lambda z, _: z, lambda x, _: x @ weight, prior_means, 64))(keys)
  rng = np.random.default_rng(0)
  labels = np.arange(400_000) % 2
  z = np.asarray(prior_means)[labels] + rng.normal(size=(400_000, 2))
  image_logits = special.expit(z) @ np.asarray(weight)
  ce = -special.log_softmax(image_logits, axis=-1)[np.arange(400_000), labels]
  assert abs(float(values.mean()) - ce.mean()) < 5 * ce.std() / np.sqrt(2000 * 64) + 1e-3


def _small_model():
  return models.mlp_catvae(num_categories=4, delta=2, input_shape=(12,), hidden_features=16,
                           seed=0)


def test_information_term_gradient_reaches_decoder_and_classifier_not_heads():
  from flax import nnx
  model = _small_model()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  def info(params):
    m = nnx.merge(graphdef, params, rest)
    return losses.information_term(jax.random.key(0), m.decode, m.classify,
                                   m.prior_means(), 16)

  grads = jax.grad(info)(params)
  norm = lambda tree: float(sum(jnp.sum(jnp.abs(l)) for l in jax.tree.leaves(tree)))
  assert norm(grads['decoder']) > 0
  assert norm(grads['classifier']) > 0
  assert norm(grads['encoder']) > 0      # the classifier's trunk
  assert norm(grads['mean_head']) == 0
  assert norm(grads['logvar_head']) == 0


def test_information_term_reaches_learned_prior_means():
  from flax import nnx
  model = models.mlp_catvae(num_categories=3, delta=1, input_shape=(6,), hidden_features=8,
                            learned_prior=True)
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  def info(params):
    m = nnx.merge(graphdef, params, rest)
    return losses.information_term(jax.random.key(0), m.decode, m.classify,
                                   m.prior_means(), 9)

  assert float(jnp.abs(jax.grad(info)(params)['prior']['means'][...]).sum()) > 0


# --- the assembled loss ----------------------------------------------------------------


def _posterior_and_data(seed=0, batch=3, k=4, d=8, pixels=12):
  rng = np.random.default_rng(seed)
  f = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)
  return (losses.CategoricalPosterior(f(batch, k), f(batch, k, d), 0.3 * f(batch, k, d),
                                      f(batch, d), 0.3 * f(batch, d)),
          jnp.asarray(rng.uniform(size=(batch, pixels)), jnp.float32))


def test_loss_combines_terms_with_betas():
  posterior, x = _posterior_and_data()
  weight = jnp.asarray(np.random.default_rng(1).normal(size=(8, 12)), jnp.float32)
  classify = lambda images, _: images[:, :4]
  prior = jnp.eye(4).repeat(2, axis=1) * 2.0
  weights = dict(beta_cont=3.0, beta_cat=5.0, beta_info=7.0)
  loss, terms = catvae.infocatvae_loss(jax.random.key(0), x, posterior,
                                       _linear_decoder(weight), classify, prior, **weights)
  expected = (3.0 * terms['kl_continuous'] + 5.0 * terms['kl_categorical']
              - terms['reconstruction'] + 7.0 * terms['information'])
  assert float(loss) == pytest.approx(float(expected), rel=1e-6)
  assert float(terms['elbo']) == pytest.approx(float(
      terms['reconstruction'] - terms['kl_continuous'] - terms['kl_categorical']), rel=1e-6)
  probs = _softmax(np.asarray(posterior.logits, np.float64))
  kl_c = np.mean(np.sum(probs * np.log(probs * 4), -1))
  assert float(terms['kl_categorical']) == pytest.approx(kl_c, rel=1e-5)


def test_catvae_never_calls_the_generator():
  posterior, x = _posterior_and_data()
  calls = []
  def classify(images, key):
    calls.append(images.shape)
    return images[:, :4]
  weights = dict(beta_cont=1.0, beta_cat=1.0, beta_info=0.0)
  _, terms = catvae.infocatvae_loss(jax.random.key(0), x, posterior, lambda z, _: z[..., :1]
                                    .repeat(12, -1), classify, jnp.zeros((4, 8)), **weights)
  assert calls == [] and 'information' not in terms
  jaxpr = jax.make_jaxpr(lambda x: catvae.infocatvae_loss(
      jax.random.key(0), x, posterior, lambda z, _: z[..., :1].repeat(12, -1), classify,
      jnp.zeros((4, 8)), **weights)[0])(x)
  assert calls == []  # tracing the whole loss did not touch the classifier either
  assert jaxpr.out_avals[0].shape == ()


def test_soft_code_loss_has_no_elbo_and_bad_names_raise():
  posterior, x = _posterior_and_data()
  decode = lambda z, _: jnp.tile(z, (1,) * (z.ndim - 1) + (2,))[..., :12]
  weights = dict(beta_cont=1.0, beta_cat=1.0, beta_info=0.0)
  _, terms = catvae.infocatvae_loss(jax.random.key(0), x, posterior, decode, None,
                                    jnp.zeros((4, 8)), **weights, reconstruction='soft_code')
  assert 'elbo' not in terms
  with pytest.raises(ValueError, match='reconstruction'):
    catvae.infocatvae_loss(jax.random.key(0), x, posterior, decode, None, jnp.zeros((4, 8)),
                           **weights, reconstruction='soft')
  with pytest.raises(ValueError, match='likelihood'):
    catvae.infocatvae_loss(jax.random.key(0), x, posterior, decode, None, jnp.zeros((4, 8)),
                           **weights, likelihood='poisson')
  with pytest.raises(ValueError, match='beta_info'):
    catvae.InfoCatVAE(1.0, 1.0, -1.0)
  with pytest.raises(ValueError, match='beta_cont'):
    catvae.InfoCatVAE(float('nan'), 1.0, 0.0)


# --- numerical gradients ----------------------------------------------------------------


@pytest.mark.parametrize('name', ['categorical_kl', 'gaussian_kl', 'expected_kl',
                                  'bernoulli', 'gaussian_ll', 'loss'])
def test_check_grads(name):
  posterior, x = _posterior_and_data(seed=7)
  prior = jnp.eye(4).repeat(2, axis=1) * 2.0
  weight = jnp.asarray(np.random.default_rng(2).normal(size=(8, 12)) * 0.3, jnp.float32)
  if name == 'categorical_kl':
    fn, args = lambda l: losses.categorical_kl_to_uniform(l).sum(), (posterior.logits,)
  elif name == 'gaussian_kl':
    fn = lambda m, lv: losses.gaussian_kl(m, lv, prior).sum()
    args = (posterior.mean, posterior.logvar)
  elif name == 'expected_kl':
    fn = lambda l, m, lv: losses.expected_gaussian_kl(jax.nn.softmax(l), m, lv, prior).sum()
    args = (posterior.logits, posterior.mean, posterior.logvar)
  elif name == 'bernoulli':
    fn, args = lambda l: likelihoods.bernoulli_log_prob(l, x).sum(), (x * 6.0 - 3.0,)
  elif name == 'gaussian_ll':
    fn, args = lambda m: likelihoods.gaussian_log_prob(m, x).sum(), (x * 0.5,)
  else:
    def fn(logits, mean, w):
      p = losses.CategoricalPosterior(logits, mean, posterior.logvar)
      return catvae.infocatvae_loss(
          jax.random.key(3), x, p, lambda z, _: z @ w, lambda images, _: images[:, :4],
          prior, beta_cont=2.0, beta_cat=3.0, beta_info=4.0)[0]
    args = (posterior.logits, posterior.mean, weight)
  jtu.check_grads(fn, args, order=1, modes=['rev'], atol=5e-2, rtol=5e-2, eps=1e-2)


def test_squared_error_likelihood_is_appendix_c_loss_up_to_a_constant():
  rng = np.random.default_rng(0)
  x = rng.random((3, 28, 28)).astype(np.float32)
  mean = rng.random((3, 28, 28)).astype(np.float32)
  ours = np.asarray(likelihoods.SquaredError().log_prob(jnp.asarray(mean), jnp.asarray(x)))
  per_step_mse = np.mean((x - mean) ** 2, axis=-1).sum(-1)  # sum over t of MSE_t
  constant = 28 * 28 / 2 * np.log(2 * np.pi * 14.0)  # N(x; mean, (28 / 2) I)
  np.testing.assert_allclose(ours, -per_step_mse - constant, rtol=1e-5)
  np.testing.assert_allclose(
      ours, stats.norm.logpdf(x, mean, np.sqrt(14.0)).reshape(3, -1).sum(-1), rtol=1e-5)


@pytest.mark.parametrize('scale', [0.1, 0.5, 3.0])
def test_gaussian_likelihood_of_any_scale_is_the_normal_density(scale):
  rng = np.random.default_rng(1)
  x = rng.random((4, 28, 28)).astype(np.float32)
  mean = rng.random((4, 28, 28)).astype(np.float32)
  likelihood = likelihoods.Gaussian(scale)
  ours = np.asarray(likelihood.log_prob(jnp.asarray(mean), jnp.asarray(x), 2))
  np.testing.assert_allclose(
      ours, stats.norm.logpdf(x, mean, scale).reshape(4, -1).sum(-1), rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(likelihood.mean(jnp.asarray(mean))), mean)
  # The names: 'gaussian' is scale 1; objects pass through; anything else is refused.
  assert likelihoods.get('gaussian') == likelihoods.Gaussian(1.0)
  assert likelihoods.get(likelihood) is likelihood
  with pytest.raises(ValueError, match='likelihood'):
    likelihoods.get('poisson')


def test_bernoulli_mean_is_the_sigmoid_and_log_prob_the_binary_cross_entropy():
  logits = np.array([[-2.0, 0.0, 3.0]], np.float32)
  x = np.array([[0.0, 1.0, 0.25]], np.float32)
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  bernoulli = likelihoods.get('bernoulli')
  np.testing.assert_allclose(np.asarray(bernoulli.mean(jnp.asarray(logits))), p, rtol=1e-6)
  expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), -1)
  np.testing.assert_allclose(np.asarray(bernoulli.log_prob(jnp.asarray(logits),
                                                           jnp.asarray(x))), expected,
                             rtol=1e-5)


@pytest.mark.parametrize('scale', [0.0, -1.0, float('nan'), float('inf'), 'a'])
def test_gaussian_likelihood_rejects_bad_scales(scale):
  with pytest.raises(ValueError, match='scale'):
    likelihoods.Gaussian(scale)
