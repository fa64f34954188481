"""The fixed multimodal prior p(c) p(z|c) of CatVAE / InfoCatVAE (paper section 7).

p(c) is uniform over {0, ..., K-1}; p(z|c) = N(z; mu_c, I) with the block means of eq. (8):
mu_c has the value `scale` (the paper's lambda) on the delta coordinates
[c*delta, (c+1)*delta) and 0 elsewhere, so the K means are pairwise orthogonal and the latent
dimension is d = K * delta.

Choice where the paper is loose: eq. (8) indexes categories from 1 and writes the block as
[c*delta : (c+1)*delta], which for c = K would run past d. We index categories from 0, so
category c owns coordinates c*delta ... (c+1)*delta - 1, and the blocks tile [0, d) exactly.

`BlockPrior` holds the means inside a model. A fixed prior stores them as a non-trainable
`PriorMeans` variable; a learned ("free") prior (section 11's baseline, as in GMVAE) stores them
as an `nnx.Param` initialised at the block means, so an optimiser built with
`wrt=nnx.Param` trains them and the loss code is unchanged.
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


class PriorMeans(nnx.Variable):
  """Non-trainable prior means (not an `nnx.Param`, so optimisers leave them alone)."""


def _check_int(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    raise ValueError(f'{name} must be an integer, got {value!r} ({type(value).__name__}).')
  if value < minimum:
    raise ValueError(f'{name} must be >= {minimum}, got {value}.')
  return int(value)


def block_prior_means(num_categories, delta, scale):
  """Means of p(z|c) = N(mu_c, I), eq. (8): orthogonal blocks of height `scale`.

  Args:
    num_categories: K >= 2, the number of categories.
    delta: delta >= 1, the number of latent coordinates each category owns; d = K * delta.
    scale: lambda > 0, the value of every coordinate in a category's block.

  Returns:
    float32 array of shape (K, K * delta); row c is `scale` on columns
    [c * delta, (c + 1) * delta) and 0 elsewhere. Each row has norm scale * sqrt(delta).

  Raises:
    ValueError: naming the argument, if K < 2, delta < 1, either is not an integer, or scale
      is not a finite number > 0.

  References:
    Pineau & Lelarge, InfoCatVAE (arXiv 1806.08240), section 7, eq. (8).
  """
  num_categories = _check_int('num_categories', num_categories, 2)
  delta = _check_int('delta', delta, 1)
  if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
    raise ValueError(f'scale must be a real number, got {scale!r}.')
  if not np.isfinite(scale) or scale <= 0:
    raise ValueError(f'scale must be a finite number > 0, got {scale}.')
  blocks = np.kron(np.eye(num_categories), np.ones((1, delta))) * float(scale)
  return jnp.asarray(blocks, dtype=jnp.float32)


class BlockPrior(nnx.Module):
  """Holds the K prior means of p(z|c); fixed (eq. 8) or learned from that start.

  Attributes:
    means: (K, d) array, a `PriorMeans` variable when fixed, an `nnx.Param` when learned.
  """

  def __init__(self, num_categories, delta, scale, *, learned=False):
    initial = block_prior_means(num_categories, delta, scale)
    self.learned = bool(learned)
    self.means = nnx.Param(initial) if self.learned else PriorMeans(initial)

  @property
  def num_categories(self):
    return self.means.shape[0]

  @property
  def latent_dim(self):
    return self.means.shape[1]

  def __call__(self):
    """Returns the (K, d) means."""
    return self.means[...]


def sample_prior(key, prior_means, num_samples):
  """Draws (c, z) ~ p(c) p(z|c): c uniform on {0..K-1}, z ~ N(mu_c, I) (section 7).

  The one place where evaluation and figures draw from the prior, so every generated sample
  (section 10's information term, Table 1's Parzen estimate) comes from the same draw rule.

  Args:
    key: a JAX PRNG key.
    prior_means: (K, d) means mu_c (fixed block means of eq. 8, or learned ones).
    num_samples: N, the number of draws.

  Returns:
    (labels, z): int32 (N,) categories i.i.d. uniform, and float32 (N, d) codes.
  """
  num_categories, latent_dim = prior_means.shape
  label_key, z_key = jax.random.split(key)
  labels = jax.random.randint(label_key, (num_samples,), 0, num_categories)
  z = prior_means[labels] + jax.random.normal(z_key, (num_samples, latent_dim))
  return labels, z


def sample_conditional(key, prior_means, per_category):
  """Draws `per_category` codes z ~ p(z|c) = N(mu_c, I) for every category c.

  Args:
    key: a JAX PRNG key.
    prior_means: (K, d) means mu_c.
    per_category: n, the draws per category.

  Returns:
    float32 (K, n, d); row c holds n independent draws around mu_c.
  """
  num_categories, latent_dim = prior_means.shape
  noise = jax.random.normal(key, (num_categories, per_category, latent_dim))
  return jnp.asarray(prior_means)[:, None, :] + noise
