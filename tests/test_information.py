"""IMAE's minibatch estimators, VAT and JointVAE's capacity against independent truth:
exact sums on a discrete example, Gaussian closed forms, brute force, hand computation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icvae import information
from icvae import losses
from icvae import vat


def test_categorical_mutual_information_equals_the_definition():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 4)) * 2.0
  p_y_given_x = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  p_x = np.full(6, 1 / 6)  # the batch: each example once
  p_y = p_x @ p_y_given_x
  exact = np.sum(p_x[:, None] * p_y_given_x * np.log(p_y_given_x / p_y[None, :]))
  mi, marginal, conditional = information.categorical_mutual_information(
      jnp.asarray(logits, jnp.float32))
  assert float(mi) == pytest.approx(exact, rel=1e-5)
  assert float(marginal) == pytest.approx(-np.sum(p_y * np.log(p_y)), rel=1e-5)
  assert float(marginal - conditional) == pytest.approx(float(mi), abs=1e-6)


def test_mutual_information_extremes():
  confident = jnp.eye(4) * 50.0  # one sure class per example, all classes used
  assert float(information.categorical_mutual_information(confident)[0]) == pytest.approx(
      np.log(4), abs=1e-4)
  same = jnp.tile(jnp.array([[0.3, -1.0, 2.0]]), (5, 1))  # p(y|x) does not depend on x
  assert float(information.categorical_mutual_information(same)[0]) == pytest.approx(
      0.0, abs=1e-6)


def _gaussian_batch(covariance, posterior_variance, size, seed=0):
  """Posterior means mu_j ~ N(0, A), p(z|x_j) = N(mu_j, s^2 I), one z_j per example: the
  aggregate p(z) is N(0, A + s^2 I)."""
  rng = np.random.default_rng(seed)
  mean = rng.multivariate_normal(np.zeros(len(covariance)), covariance, size)
  z = mean + np.sqrt(posterior_variance) * rng.normal(size=mean.shape)
  logvar = np.full_like(mean, np.log(posterior_variance))
  return [jnp.asarray(a, jnp.float32) for a in (z, mean, logvar)]


@pytest.mark.parametrize('correlation', [0.0, 0.6, 0.9])
def test_total_correlation_and_marginal_kl_match_gaussian_closed_forms(correlation):
  a = np.array([[1.0, correlation], [correlation, 1.0]]) * 0.75
  s2 = 0.25
  sigma = a + s2 * np.eye(2)  # the aggregate's covariance
  z, mean, logvar = _gaussian_batch(a, s2, 4000)
  tc_true = 0.5 * (np.log(np.diag(sigma)).sum() - np.log(np.linalg.det(sigma)))
  assert float(information.total_correlation(z, mean, logvar)) == pytest.approx(
      tc_true, abs=0.03)
  scale = 1.5
  v = np.diag(sigma) / scale ** 2
  kl_true = 0.5 * (v - 1 - np.log(v))  # KL(N(0, sigma_kk) || N(0, scale^2)) per coordinate
  total, per_dimension = information.marginal_kl_to_normal(z, mean, logvar, scale)
  np.testing.assert_allclose(np.asarray(per_dimension), kl_true, atol=0.03)
  assert float(total) == pytest.approx(kl_true.sum(), abs=0.05)


def test_aggregate_log_density_is_the_batch_mixture():
  z, mean, logvar = _gaussian_batch(np.eye(3), 0.5, 7, seed=1)
  log_joint, log_marginals = information.aggregate_log_densities(z, mean, logvar)
  zs, ms, vs = (np.asarray(a, np.float64) for a in (z, mean, jnp.exp(logvar)))
  dens = np.exp(-0.5 * (zs[:, None] - ms[None]) ** 2 / vs[None]) / np.sqrt(2 * np.pi * vs[None])
  np.testing.assert_allclose(np.asarray(log_marginals), np.log(dens.mean(1)), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(log_joint), np.log(dens.prod(-1).mean(1)), rtol=1e-5)


def test_gaussian_channel_information_bound_is_exact_for_gaussian_means():
  a, s2 = 2.0, 0.5
  _, mean, logvar = _gaussian_batch(np.eye(1) * a, s2, 20000)
  bound = information.gaussian_mutual_information_bound(mean, logvar)
  assert float(bound[0]) == pytest.approx(0.5 * np.log(1 + a / s2), abs=0.02)


def _classifier():
  rng = np.random.default_rng(3)
  w1, b1 = rng.normal(size=(2, 16)), rng.normal(size=16)
  w2 = rng.normal(size=(16, 3)) * 2.0
  w1, b1, w2 = (jnp.asarray(a, jnp.float32) for a in (w1, b1, w2))
  return lambda x: jnp.tanh(x @ w1 + b1) @ w2


@pytest.mark.parametrize('point', [(0.3, -0.2), (1.0, 0.5), (-0.7, 0.9)])
def test_vat_direction_is_the_brute_force_most_sensitive_direction(point):
  logits_fn = _classifier()
  x = jnp.asarray([point], jnp.float32)
  angles = np.linspace(0, np.pi, 1801)  # KL is even in d for small eps: half a circle
  directions = jnp.asarray(np.stack([np.cos(angles), np.sin(angles)], -1), jnp.float32)
  eps = 1e-2
  kls = vat.categorical_kl(jnp.repeat(logits_fn(x), len(angles), 0),
                           logits_fn(x + eps * directions))
  best = np.asarray(directions[int(jnp.argmax(kls))])
  # Power iteration converges as (lambda_2 / lambda_1)^n; the Hessian's two eigenvalues are
  # within a factor 1.4 at these points, so 10 steps (IMAE and Miyato et al. use 1).
  d = np.asarray(vat.adversarial_direction(jax.random.key(0), x, logits_fn, xi=1e-2,
                                           power_iterations=10))[0]
  assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-5)
  assert abs(float(best @ d)) > 0.99


def test_vat_loss_beats_random_perturbations_of_the_same_size():
  logits_fn = _classifier()
  x = jax.random.normal(jax.random.key(1), (64, 2))
  adversarial = float(vat.vat_loss(jax.random.key(2), x, logits_fn, epsilon=0.1, xi=1e-2,
                                   power_iterations=2))
  random_d = vat.unit_directions(jax.random.normal(jax.random.key(3), x.shape))
  random = float(jnp.mean(vat.categorical_kl(logits_fn(x), logits_fn(x + 0.1 * random_d))))
  assert adversarial > 2 * random > 0


def test_jointvae_capacity_schedule_by_hand():
  # C_max = 5 nats reached after T = 100 steps; gamma = 30 (Dupont's MNIST setting).
  assert [float(losses.linear_capacity(t, 5.0, 100)) for t in (0, 10, 50, 100, 250)] == [
      0.0, 0.5, 2.5, 5.0, 5.0]
  assert float(losses.linear_capacity(7, 5.0, 0)) == 5.0
  assert float(losses.capacity_penalty(3.2, losses.linear_capacity(50, 5.0, 100), 30.0)) == \
      pytest.approx(30.0 * 0.7)


def test_gumbel_softmax_argmax_is_an_exact_categorical_sample_and_tends_to_one_hot():
  logits = jnp.asarray([1.0, -0.5, 0.3, 2.0])
  n = 200_000
  samples = losses.gumbel_softmax_sample(jax.random.key(0), jnp.tile(logits, (n, 1)), 0.67)
  np.testing.assert_allclose(np.asarray(samples.sum(-1)), 1.0, rtol=1e-5)
  frequencies = np.bincount(np.asarray(samples.argmax(-1)), minlength=4) / n
  probs = np.asarray(jax.nn.softmax(logits))
  standard_errors = np.sqrt(probs * (1 - probs) / n)
  assert np.all(np.abs(frequencies - probs) < 4 * standard_errors), (frequencies, probs)
  cold = losses.gumbel_softmax_sample(jax.random.key(1), jnp.tile(logits, (1000, 1)), 0.01)
  assert float(jnp.mean(cold.max(-1) > 0.99)) > 0.95
  with pytest.raises(ValueError, match='temperature'):
    losses.gumbel_softmax_sample(jax.random.key(0), logits, 0.0)
