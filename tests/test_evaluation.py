"""Evaluation metrics against scikit-learn, hand computation and closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special
from scipy import stats
from sklearn import model_selection
from sklearn import neighbors

from icvae import evaluation
from icvae import losses


def test_kde_equals_brute_force_and_scikit_learn():
  rng = np.random.default_rng(0)
  data = rng.random((300, 6)).astype(np.float32)
  points = rng.random((70, 6)).astype(np.float32)
  bandwidths = [0.05, 0.1, 0.3, 1.0]
  ours = np.asarray(evaluation.kde_log_density(points, data, bandwidths, chunk_size=32))
  assert ours.shape == (4, 70)
  squared = np.sum((points[:, None, :].astype(np.float64) - data[None]) ** 2, axis=-1)
  for h, row in zip(bandwidths, ours):
    brute = (special.logsumexp(-squared / (2 * h * h), axis=1) - np.log(len(data))
             - 0.5 * data.shape[1] * np.log(2 * np.pi * h * h))
    np.testing.assert_allclose(row, brute, rtol=1e-5, atol=1e-4)
    if h >= 0.1:
      # scikit-learn's tree-based estimate is exact enough here; at h = 0.05 it is not
      # (for points far from all data it returns e.g. -25.4 where the exact value is -34.9).
      expected = neighbors.KernelDensity(kernel='gaussian', bandwidth=h).fit(
          data.astype(np.float64)).score_samples(points.astype(np.float64))
      np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-4)
      assert row.sum() == pytest.approx(expected.sum(), rel=1e-4)


def test_kde_bandwidth_search_matches_grid_search_cv():
  rng = np.random.default_rng(1)
  # Two clusters, so the best bandwidth is inside the grid.
  data = np.concatenate([rng.normal(0, 0.3, (103, 4)), rng.normal(2, 0.3, (100, 4))])
  data = rng.permutation(data).astype(np.float32)
  grid = np.logspace(-1.5, 0.5, 12)
  best, scores = evaluation.kde_bandwidth_search(data, grid, folds=5)
  search = model_selection.GridSearchCV(neighbors.KernelDensity(kernel='gaussian'),
                                        {'bandwidth': grid}, cv=5)
  search.fit(data.astype(np.float64))
  assert best == pytest.approx(search.best_params_['bandwidth'], rel=1e-6)
  # Equal scores where scikit-learn's tree estimate is accurate (see the test above); at the
  # smallest bandwidths it overestimates the log-density of far points.
  accurate = grid >= 0.1
  np.testing.assert_allclose(scores[accurate],
                             search.cv_results_['mean_test_score'][accurate], rtol=1e-4)
  assert grid[0] < best < grid[-1]


def test_information_cross_entropies_by_hand():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
  labels = jnp.array([0, 1])
  # Proper: -log softmax(logits)[label].
  def log_softmax(row):
    return [v - math.log(sum(math.exp(u) for u in row)) for v in row]
  proper = -(log_softmax([2.0, 0.0, -1.0])[0] + log_softmax([0.5, 0.5, 3.0])[1]) / 2
  assert float(evaluation.information_cross_entropy(logits, labels)) == pytest.approx(
      proper, rel=1e-6)
  # As published: the same applied to the probabilities.
  def softmax(row):
    total = sum(math.exp(u) for u in row)
    return [math.exp(u) / total for u in row]
  published = -(log_softmax(softmax([2.0, 0.0, -1.0]))[0]
                + log_softmax(softmax([0.5, 0.5, 3.0]))[1]) / 2
  assert float(evaluation.double_softmax_cross_entropy(logits, labels)) == pytest.approx(
      published, rel=1e-6)


def test_double_softmax_range_for_ten_classes():
  labels = jnp.arange(10)
  perfect = jnp.eye(10) * 1e4
  uniform = jnp.zeros((10, 10))
  assert float(evaluation.double_softmax_cross_entropy(perfect, labels)) == pytest.approx(
      math.log(math.e + 9) - 1, abs=1e-5)  # 1.4612
  assert float(evaluation.double_softmax_cross_entropy(uniform, labels)) == pytest.approx(
      math.log(10), abs=1e-6)  # 2.3026


def test_information_cross_entropies_draws_iid_labels_and_uses_the_classifier():
  prior = jnp.array([[8.0, -8.0], [-8.0, 8.0]])
  decode = lambda z: z * 10.0  # logits; the mean image is sigmoid(10 z)
  # A classifier that reads the category off the image perfectly (up to the noise).
  classify = lambda x: 20.0 * (x - 0.5)
  result = evaluation.information_cross_entropies(jax.random.key(0), decode, classify, prior,
                                                  num_samples=4000, batch_size=512)
  assert result['proper'] < 0.05
  assert result['as_published'] == pytest.approx(math.log(math.e + 1) - 1, abs=0.02)


def _linear_gaussian_model(seed=0, num_categories=3, latent_dim=2, dim=5):
  rng = np.random.default_rng(seed)
  weight = rng.normal(size=(latent_dim, dim)).astype(np.float32)
  bias = rng.normal(size=dim).astype(np.float32)
  prior = (rng.normal(size=(num_categories, latent_dim)) * 2).astype(np.float32)
  return weight, bias, prior


def _exact_log_marginal(x, weight, bias, prior):
  """log p(x) = log sum_c 1/K N(x; mu_c W + b, W^T W + I) with x = z W + b + noise."""
  cov = weight.T @ weight + np.eye(weight.shape[1])
  densities = [stats.multivariate_normal(m @ weight + bias, cov).logpdf(x) for m in prior]
  return np.logaddexp.reduce(np.stack(densities), axis=0) - math.log(len(prior))


def _exact_posterior(x, weight, bias, prior):
  """The true posterior q(c|x), q(z|x,c) of the linear Gaussian model."""
  cov = weight.T @ weight + np.eye(weight.shape[1])
  logits = np.stack([stats.multivariate_normal(m @ weight + bias, cov).logpdf(x)
                     for m in prior], axis=-1)
  precision = np.eye(weight.shape[0]) + weight @ weight.T
  variance = np.linalg.inv(precision)
  means = np.stack([((x - bias) @ weight.T + m) @ variance for m in prior], axis=1)
  logvar = np.broadcast_to(np.log(np.diag(variance)), means.shape)
  return logits, means, logvar, variance


def test_importance_weighted_bound_is_exact_with_the_true_posterior():
  weight, bias, prior = _linear_gaussian_model()
  rng = np.random.default_rng(3)
  x = rng.normal(size=(6, 5)).astype(np.float32) * 2
  # The true q(z|x,c) must be diagonal: rotate z so that W W^T is (same p(x)).
  u, _, _ = np.linalg.svd(weight @ weight.T)
  weight, prior = (u.T @ weight).astype(np.float32), (prior @ u).astype(np.float32)
  logits, means, logvar, variance = _exact_posterior(x, weight, bias, prior)
  np.testing.assert_allclose(variance, np.diag(np.diag(variance)), atol=1e-6)
  posterior = losses.CategoricalPosterior(jnp.asarray(logits, jnp.float32),
                                          jnp.asarray(means, jnp.float32),
                                          jnp.asarray(logvar, jnp.float32))
  decode = lambda z: z @ weight + bias
  bound = evaluation.importance_weighted_bound(jax.random.key(0), jnp.asarray(x), posterior,
                                               decode, jnp.asarray(prior), 7,
                                               likelihood='gaussian')
  np.testing.assert_allclose(bound, _exact_log_marginal(x, weight, bias, prior), atol=2e-3)


def test_importance_weighted_bound_rises_towards_log_p_with_a_poor_proposal():
  weight, bias, prior = _linear_gaussian_model(seed=1)
  u, _, _ = np.linalg.svd(weight @ weight.T)
  weight, prior = (u.T @ weight).astype(np.float32), (prior @ u).astype(np.float32)
  x = np.random.default_rng(4).normal(size=(200, 5)).astype(np.float32)
  logits, means, logvar, _ = _exact_posterior(x, weight, bias, prior)
  # A worse proposal: flattened q(c|x), shifted means, doubled variances.
  posterior = losses.CategoricalPosterior(jnp.asarray(logits * 0.3, jnp.float32),
                                          jnp.asarray(means + 0.3, jnp.float32),
                                          jnp.asarray(logvar + math.log(2.0), jnp.float32))
  decode = lambda z: z @ weight + bias
  exact = _exact_log_marginal(x, weight, bias, prior).mean()
  bounds = [float(jnp.mean(evaluation.importance_weighted_bound(
      jax.random.key(s), jnp.asarray(x), posterior, decode, jnp.asarray(prior), s,
      likelihood='gaussian'))) for s in (1, 10, 100, 2000)]
  assert bounds[0] < bounds[1] < bounds[2] < bounds[3] < exact + 1e-3
  assert exact - bounds[3] < 0.05 < exact - bounds[0]


def test_reconstruction_error_uses_the_most_probable_category_mean():
  x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  logits = jnp.array([[0.0, 5.0], [5.0, 0.0]])
  means = jnp.array([[[9.0, 9.0], [0.5, 0.2]], [[0.1, 0.7], [9.0, 9.0]]])
  posterior = losses.CategoricalPosterior(logits, means, jnp.zeros_like(means))
  error = evaluation.reconstruction_error(x, posterior, lambda z: z, likelihood='gaussian')
  np.testing.assert_allclose(error, [0.5 ** 2 + 0.2 ** 2, 0.1 ** 2 + 0.3 ** 2], rtol=1e-6)
