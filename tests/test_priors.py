"""Block prior of eq. (8)."""

import itertools

import jax
import numpy as np
import pytest
from flax import nnx

from icvae import priors


@pytest.mark.parametrize('num_categories,delta,scale', [(10, 2, 2.0), (3, 1, 0.5), (4, 5, 3)])
def test_block_means_orthogonal_right_norm_right_blocks(num_categories, delta, scale):
  means = np.asarray(priors.block_prior_means(num_categories, delta, scale))
  assert means.shape == (num_categories, num_categories * delta)
  gram = means @ means.T
  np.testing.assert_allclose(np.diag(gram), scale ** 2 * delta, rtol=1e-6)
  for a, b in itertools.combinations(range(num_categories), 2):
    assert gram[a, b] == 0.0
  for c in range(num_categories):
    expected = np.zeros(num_categories * delta)
    expected[c * delta:(c + 1) * delta] = scale
    np.testing.assert_array_equal(means[c], expected)
  np.testing.assert_allclose(np.linalg.norm(means, axis=1), scale * np.sqrt(delta), rtol=1e-6)


@pytest.mark.parametrize('kwargs,name', [
    (dict(num_categories=1, delta=2, scale=2.0), 'num_categories'),
    (dict(num_categories=0, delta=2, scale=2.0), 'num_categories'),
    (dict(num_categories=2.5, delta=2, scale=2.0), 'num_categories'),
    (dict(num_categories=10.0, delta=2, scale=2.0), 'num_categories'),
    (dict(num_categories=True, delta=2, scale=2.0), 'num_categories'),
    (dict(num_categories=10, delta=0, scale=2.0), 'delta'),
    (dict(num_categories=10, delta=1.5, scale=2.0), 'delta'),
    (dict(num_categories=10, delta='2', scale=2.0), 'delta'),
    (dict(num_categories=10, delta=2, scale=0.0), 'scale'),
    (dict(num_categories=10, delta=2, scale=-1.0), 'scale'),
    (dict(num_categories=10, delta=2, scale=float('nan')), 'scale'),
    (dict(num_categories=10, delta=2, scale=float('inf')), 'scale'),
    (dict(num_categories=10, delta=2, scale='2'), 'scale'),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, name):
  with pytest.raises(ValueError, match=name):
    priors.block_prior_means(**kwargs)


def test_numpy_integers_accepted():
  means = priors.block_prior_means(np.int64(3), np.int32(2), np.float32(1.5))
  assert means.shape == (3, 6)


def test_fixed_prior_is_not_a_param_and_learned_prior_is():
  fixed = priors.BlockPrior(10, 2, 2.0)
  learned = priors.BlockPrior(10, 2, 2.0, learned=True)
  assert not jax.tree.leaves(nnx.state(fixed, nnx.Param))
  assert len(jax.tree.leaves(nnx.state(learned, nnx.Param))) == 1
  np.testing.assert_array_equal(fixed(), learned())
  assert (fixed.num_categories, fixed.latent_dim) == (10, 20)



def test_sample_prior_matches_p_c_and_p_z_given_c_by_monte_carlo():
  means = priors.block_prior_means(4, 2, 3.0)
  n = 200_000
  labels, z = priors.sample_prior(jax.random.key(0), means, n)
  labels, z = np.asarray(labels), np.asarray(z)
  assert labels.shape == (n,) and z.shape == (n, 8)
  # p(c) uniform: each frequency within 4 standard errors of 1/4.
  freq = np.bincount(labels, minlength=4) / n
  np.testing.assert_allclose(freq, 0.25, atol=4 * np.sqrt(0.25 * 0.75 / n))
  for c in range(4):
    zc = z[labels == c]
    # z | c ~ N(mu_c, I): the mean within 5 standard errors, the covariance near identity.
    np.testing.assert_allclose(zc.mean(0), np.asarray(means[c]), atol=5 / np.sqrt(len(zc)))
    np.testing.assert_allclose(np.cov(zc.T), np.eye(8), atol=0.03)


def test_sample_conditional_centres_each_row_on_its_mean():
  means = priors.block_prior_means(3, 2, 5.0)
  z = np.asarray(priors.sample_conditional(jax.random.key(1), means, 20_000))
  assert z.shape == (3, 20_000, 6)
  np.testing.assert_allclose(z.mean(1), np.asarray(means), atol=0.04)
  np.testing.assert_allclose(z.std(1), 1.0, atol=0.02)
  other = np.asarray(priors.sample_conditional(jax.random.key(2), means, 20_000))
  assert not np.allclose(z, other)
