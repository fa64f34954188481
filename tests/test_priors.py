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

