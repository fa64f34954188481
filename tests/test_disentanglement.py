"""MIG (Chen et al.'s sampled estimator and disentanglement_lib's histogram one) and IMAE's code
quantities against independent truth: sklearn's mutual_info_score, hand-computed binnings,
closed-form Gaussian entropies, brute-force numpy sums and numpy formulas."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics

from icvae import disentanglement


def _grid(sizes, repeats=1):
  """Every combination of the factor classes, `repeats` times: (repeats * prod(sizes), F)."""
  grid = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij'), -1)
  return np.tile(grid.reshape(-1, len(sizes)), (repeats, 1))


# ------------------------------------------------------------------------------------------
# disentanglement_lib's histogram MIG.

# Sizes whose integer values never fall on one of the 20 equal-width bin edges (20 j / (V-1)
# is never an integer), with at least 1/39 of a bin to spare: small noise cannot move them.
HISTOGRAM_SIZES = (4, 8, 40, 32)
# I(bin(v); v) = H(bin(v)) (bin is a function of v) on a full grid, over H(v) = log V:
# 4 and 8 values get a bin each -> 1. 40 values over 20 bins of width 39/20: value j is in bin
# floor(20 j / 39), two values per bin -> log 20 / log 40. 32 values, width 31/20: bins
# floor(20 j / 31) hold 2 values 12 times and 1 value 8 times ->
# H = (24/32) log 16 + (8/32) log 32 = 4.25 log 2, over log 32 = 5 log 2 -> 0.85.
HISTOGRAM_GAPS = (1.0, 1.0, math.log(20) / math.log(40), 0.85)


def _noisy(values, rng, amplitude=0.005):
  return values + rng.uniform(-amplitude, amplitude, size=values.shape)


def test_histogram_bins_and_mutual_information_match_numpy_and_sklearn():
  rng = np.random.default_rng(0)
  grid = _grid(HISTOGRAM_SIZES)
  points = grid[disentanglement.sample_points(rng, 3000, len(grid))]
  codes = points @ rng.normal(size=(4, 5)) + rng.normal(size=(3000, 5)) * 3.0
  result = disentanglement.mig_histogram(codes, points)

  binned = disentanglement.histogram_discretize(codes)
  for j in range(5):  # label b of column j counts the b-th bin of np.histogram
    np.testing.assert_array_equal(np.bincount(binned[:, j], minlength=21)[1:],
                                  np.histogram(codes[:, j], 20)[0])
  truth = np.array([[sklearn.metrics.mutual_info_score(points[:, k], binned[:, j])
                     for j in range(5)] for k in range(4)])
  np.testing.assert_allclose(result['mutual_information'], truth, rtol=1e-10, atol=1e-12)
  entropies = [sklearn.metrics.mutual_info_score(points[:, k], points[:, k]) for k in range(4)]
  np.testing.assert_allclose(result['entropy_per_factor'], entropies, rtol=1e-10)
  top = np.sort(truth, axis=1)
  gaps = (top[:, -1] - top[:, -2]) / entropies
  np.testing.assert_allclose(result['gap_per_factor'], gaps, rtol=1e-9)
  assert result['mig'] == pytest.approx(gaps.mean(), rel=1e-9)


def test_histogram_mig_of_the_factors_themselves_is_the_hand_computed_value():
  rng = np.random.default_rng(1)
  factors = _grid(HISTOGRAM_SIZES)
  result = disentanglement.mig_histogram(_noisy(factors, rng), factors)
  # Other codes are functions of other factors, independent on a full grid: exactly 0.
  np.testing.assert_allclose(result['gap_per_factor'], HISTOGRAM_GAPS, atol=1e-9)
  np.testing.assert_allclose(result['entropy_per_factor'], np.log(HISTOGRAM_SIZES), rtol=1e-12)
  assert result['mig'] == pytest.approx(np.mean(HISTOGRAM_GAPS), abs=1e-9)


def test_histogram_mig_duplicated_factor_has_no_gap():
  rng = np.random.default_rng(2)
  factors = _grid(HISTOGRAM_SIZES)
  codes = _noisy(factors[:, [0, 0, 1, 2, 3]], rng)
  result = disentanglement.mig_histogram(codes, factors)
  np.testing.assert_allclose(result['gap_per_factor'], (0.0,) + HISTOGRAM_GAPS[1:], atol=1e-9)


def test_histogram_mig_of_noise_is_within_the_plug_in_bias():
  rng = np.random.default_rng(3)
  grid = _grid(HISTOGRAM_SIZES)
  num_points = 10000
  factors = grid[disentanglement.sample_points(rng, num_points, len(grid))]
  result = disentanglement.mig_histogram(rng.uniform(size=(num_points, 8)), factors)
  # Independent variables: 2 P I_plug-in ~ chi^2 with df = (bins - 1)(values - 1) degrees of
  # freedom (Miller 1955), so I has mean df / 2P and standard deviation sqrt(2 df) / 2P.
  df = 19 * (np.array(HISTOGRAM_SIZES) - 1)
  mean, std = df / (2 * num_points), np.sqrt(2 * df) / (2 * num_points)
  information = result['mutual_information']
  np.testing.assert_allclose(information.mean(axis=1), mean, rtol=0.25)
  assert np.all(information < (mean + 6 * std)[:, None])
  # The gap of the top two of 8 such draws: well under 6 standard deviations.
  assert np.all(result['gap_per_factor'] * result['entropy_per_factor'] < 6 * std)
  assert result['mig'] < 0.01


def test_mutual_information_gap_by_hand():
  gaps = disentanglement.mutual_information_gap([[3.0, 1.0, 2.0], [0.5, 0.5, 0.0]], [2.0, 1.0])
  np.testing.assert_allclose(gaps, [0.5, 0.0])
  with pytest.raises(ValueError, match='two candidate codes'):
    disentanglement.mutual_information_gap([[1.0], [2.0]], [1.0, 1.0])


# ------------------------------------------------------------------------------------------
# Chen et al.'s sampled entropies and MIG.

def _brute_force_entropy(samples, mean, logvar):
  """(1/S) sum_s [log N - logsumexp_n log N(z_sj; mu_nj, sigma^2_nj)], double loop, float64."""
  samples, mean, logvar = (np.asarray(a, np.float64) for a in (samples, mean, logvar))
  total = np.zeros(samples.shape[1])
  for z in samples:
    log_density = np.stack([-0.5 * ((z - m) ** 2 / np.exp(lv) + lv + np.log(2 * np.pi))
                            for m, lv in zip(mean, logvar)])
    peak = log_density.max(axis=0)
    total += np.log(len(mean)) - peak - np.log(np.exp(log_density - peak).sum(axis=0))
  return total / len(samples)


def _random_codes(rng, rows, dims):
  mean = rng.normal(size=(rows, dims))
  logvar = rng.normal(size=(rows, dims)) * 0.5 - 1.0
  samples = mean + np.exp(0.5 * logvar) * rng.normal(size=(rows, dims))
  return [jnp.asarray(a, jnp.float32) for a in (samples, mean, logvar)]


def test_marginal_entropy_of_identical_posteriors_is_the_gaussian_entropy():
  rng = np.random.default_rng(4)
  sigma = np.array([0.3, 1.0, 2.5])
  samples = rng.normal(size=(2000, 3)) * sigma
  mean, logvar = np.zeros_like(samples), np.broadcast_to(np.log(sigma ** 2), samples.shape)
  estimate = np.asarray(disentanglement.marginal_entropies(
      jax.random.key(0), *(jnp.asarray(a, jnp.float32) for a in (samples, mean, logvar))))
  # All 2000 samples are used and the mixture is N(0, sigma^2) itself.
  on_these_samples = 0.5 * np.log(2 * np.pi * sigma ** 2) + np.mean(samples ** 2, 0) / (
      2 * sigma ** 2)
  np.testing.assert_allclose(estimate, on_these_samples, atol=1e-4)
  # Monte Carlo error of the mean of z^2 / 2 sigma^2: sqrt(0.5 / S) = 0.016.
  np.testing.assert_allclose(estimate, 0.5 * np.log(2 * np.pi * np.e * sigma ** 2), atol=0.08)


def test_marginal_entropy_equals_the_brute_force_sum():
  samples, mean, logvar = _random_codes(np.random.default_rng(5), 40, 3)
  estimate = disentanglement.marginal_entropies(jax.random.key(1), samples, mean, logvar,
                                                sample_chunk=7, component_chunk=9)
  np.testing.assert_allclose(estimate, _brute_force_entropy(samples, mean, logvar), atol=1e-4)


def test_marginal_entropy_draws_samples_without_replacement():
  samples, mean, logvar = _random_codes(np.random.default_rng(6), 5, 3)
  per_sample = np.stack([_brute_force_entropy(samples[n:n + 1], mean, logvar)
                         for n in range(5)])
  for seed in range(4):
    estimate = np.asarray(disentanglement.marginal_entropies(
        jax.random.key(seed), samples, mean, logvar, num_samples=3))
    errors = [np.abs(estimate - per_sample[list(subset)].mean(0)).max()
              for subset in itertools.combinations(range(5), 3)]
    assert min(errors) < 1e-5  # the mean over three distinct rows


def test_conditional_entropy_equals_the_brute_force_sum_on_unequal_groups():
  rng = np.random.default_rng(7)
  samples, mean, logvar = _random_codes(rng, 40, 3)
  column = rng.permutation(np.repeat([0, 1, 2], [10, 25, 5]))
  estimate = disentanglement.conditional_entropies(jax.random.key(2), samples, mean, logvar,
                                                   column, 3, sample_chunk=4,
                                                   component_chunk=6)
  truth = np.mean([_brute_force_entropy(samples[column == i], mean[column == i],
                                        logvar[column == i]) for i in range(3)], axis=0)
  np.testing.assert_allclose(estimate, truth, atol=1e-4)


def test_entropies_do_not_depend_on_the_chunks():
  rng = np.random.default_rng(8)
  samples, mean, logvar = _random_codes(rng, 300, 4)
  column = rng.integers(0, 4, size=300)
  key = jax.random.key(3)
  for chunks in ((7, 13), (64, 50)):
    np.testing.assert_allclose(
        disentanglement.marginal_entropies(key, samples, mean, logvar, 200, *chunks),
        disentanglement.marginal_entropies(key, samples, mean, logvar, 200, 1000, 1000),
        rtol=1e-5)
    np.testing.assert_allclose(
        disentanglement.conditional_entropies(key, samples, mean, logvar, column, 4, 50,
                                              *chunks),
        disentanglement.conditional_entropies(key, samples, mean, logvar, column, 4, 50,
                                              1000, 1000), rtol=1e-5)


CHEN_SIZES = (3, 4, 5)


def _factor_codes(factors, columns, sigma=0.01):
  """Gaussian codes whose dimension d has mean factors[:, columns[d]] and a tiny sigma."""
  mean = jnp.asarray(factors[:, columns], jnp.float32)
  return mean, jnp.full(mean.shape, 2 * math.log(sigma))


def test_chen_mig_of_the_factors_themselves_is_one():
  factors = _grid(CHEN_SIZES, repeats=10)
  result = disentanglement.mig_chen(jax.random.key(4), *_factor_codes(factors, [0, 1, 2]),
                                    factors, CHEN_SIZES)
  # Clusters 1 apart with sigma 0.01 do not overlap, and all N = 600 samples are used: the
  # estimator gives I = log|V_k| for the code of factor k and 0 for the others, exactly.
  np.testing.assert_allclose(result['mutual_information'], np.diag(np.log(CHEN_SIZES)),
                             atol=1e-4)
  np.testing.assert_allclose(result['gap_per_factor'], 1.0, atol=1e-4)
  assert result['mig'] == pytest.approx(1.0, abs=1e-4)


def test_chen_mig_duplicated_factor_has_no_gap():
  factors = _grid(CHEN_SIZES, repeats=10)
  result = disentanglement.mig_chen(jax.random.key(5), *_factor_codes(factors, [0, 0, 1, 2]),
                                    factors, CHEN_SIZES)
  np.testing.assert_allclose(result['gap_per_factor'], [0.0, 1.0, 1.0], atol=1e-4)


def test_chen_mig_of_noise_codes_is_near_zero():
  rng = np.random.default_rng(9)
  factors = _grid(CHEN_SIZES, repeats=20)
  mean = jnp.asarray(rng.normal(size=(len(factors), 4)), jnp.float32)
  result = disentanglement.mig_chen(jax.random.key(6), mean, jnp.full(mean.shape, 2 * np.log(0.5)),
                                    factors, CHEN_SIZES)
  # Only the estimator's bias is left: each value's mixture holds N/|V_k| >= 240 components
  # and includes each sample's own, which raises q(z_s) by about 1/n_i relative (~0.004 nats).
  assert np.all(result['mutual_information'] < 0.02)
  assert result['mig'] < 0.01


def test_chen_mig_selects_factors():
  factors = _grid(CHEN_SIZES, repeats=2)
  result = disentanglement.mig_chen(jax.random.key(7), *_factor_codes(factors, [1, 2]),
                                    factors, CHEN_SIZES, factor_indices=(1, 2))
  assert result['mutual_information'].shape == (2, 2)
  np.testing.assert_allclose(result['gap_per_factor'], 1.0, atol=1e-4)


def test_discrete_code_information_with_the_factors():
  factors = _grid(CHEN_SIZES, repeats=2)
  shape_code = np.eye(3)[factors[:, 0]]
  result = disentanglement.mig_chen(jax.random.key(8), *_factor_codes(factors, [1, 2]),
                                    factors, CHEN_SIZES, categorical_probs=shape_code)
  # y is the last candidate code: it carries the shape factor exactly and nothing else.
  np.testing.assert_allclose(result['mutual_information'][:, -1], [np.log(3), 0.0, 0.0],
                             atol=1e-6)
  assert result['entropy_per_code'][-1] == pytest.approx(np.log(3), abs=1e-6)
  np.testing.assert_allclose(result['gap_per_factor'], 1.0, atol=1e-4)

  other_factor = np.eye(4)[factors[:, 1]]
  information = [float(disentanglement.categorical_factor_mutual_information(
      other_factor, factors[:, k], CHEN_SIZES[k])) for k in range(3)]
  np.testing.assert_allclose(information, [0.0, np.log(4), 0.0], atol=1e-6)
  constant = np.tile([[0.2, 0.5, 0.3]], (len(factors), 1))
  assert float(disentanglement.categorical_factor_mutual_information(
      constant, factors[:, 0], 3)) == pytest.approx(0.0, abs=1e-6)


def test_factor_errors_say_what_to_pass():
  factors = _grid(CHEN_SIZES)
  mean, logvar = _factor_codes(factors, [0, 1])
  with pytest.raises(ValueError, match=r'factor 2 \(size 6\) has no row with value\(s\) \[5\]'):
    disentanglement.mig_chen(jax.random.key(0), mean, logvar, factors, (3, 4, 6))
  with pytest.raises(ValueError, match='class indices'):
    disentanglement.check_factors(factors.astype(float), CHEN_SIZES)
  with pytest.raises(ValueError, match='outside'):
    disentanglement.check_factors(factors - 1, CHEN_SIZES)


# ------------------------------------------------------------------------------------------
# IMAE's per-dimension code quantities.

def test_code_quantities_match_numpy_formulas():
  rng = np.random.default_rng(10)
  mean = rng.normal(size=(500, 4)) * [0.1, 1.0, 2.0, 0.0]
  logvar = rng.normal(size=(500, 4)) * 0.3 - 1.0
  logits = rng.normal(size=(500, 3)) * 2.0
  quantities = disentanglement.code_quantities(
      *(jnp.asarray(a, jnp.float32) for a in (mean, logvar, logits)))
  mean_variance, variance_of_mean = np.exp(logvar).mean(0), mean.var(0)
  np.testing.assert_allclose(quantities['mean_variance'], mean_variance, rtol=1e-5)
  np.testing.assert_allclose(quantities['variance_of_mean'], variance_of_mean, rtol=1e-4,
                             atol=1e-7)
  np.testing.assert_allclose(quantities['mutual_information_z'],
                             0.5 * np.log(1 + variance_of_mean / mean_variance), rtol=1e-4,
                             atol=1e-7)
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  aggregate = probs.mean(0)
  marginal = -np.sum(aggregate * np.log(aggregate))
  conditional = -np.mean(np.sum(probs * np.log(probs), 1))
  assert float(quantities['mutual_information_y']) == pytest.approx(marginal - conditional,
                                                                    rel=1e-4)
  assert float(quantities['entropy_y']) == pytest.approx(marginal, rel=1e-5)
  assert 'mutual_information_y' not in disentanglement.code_quantities(mean, logvar)
