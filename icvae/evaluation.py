"""Evaluation metrics of the paper and its peers, as pure jitted JAX functions.

- `information_cross_entropies`: the information term as section 10 measures it, both
  properly and "as published" (the authors' double softmax).
- `kde_log_density` / `kde_bandwidth_search`: the Parzen-window log-likelihood of Table 1.
- `importance_weighted_bound`: log p(x) >= log mean_s p(x, z_s, c_s) / q(z_s, c_s | x).
- `reconstruction_error`: squared error of the decoded mean code.

Functions take arrays and network functions (`decode_fn(z)`, `classify_fn(x)`, evaluation
mode, no dropout), so they work for any model, including ones with no categorical latent
(the KDE needs only samples).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from icvae import likelihoods
from icvae import losses
from icvae import priors

# -------------------------------------------------------------------- information term


def information_cross_entropy(logits, labels):
  """Mean over samples of -log softmax(logits)[label]: the proper cross-entropy (nats)."""
  return jnp.mean(losses.categorical_cross_entropy(logits, labels))


def double_softmax_cross_entropy(logits, labels):
  """Mean of -log softmax(softmax(logits))[label]: the cross-entropy "as published".

  The authors' code computes q(c|x) with a softmax and then passes these probabilities to
  PyTorch's `CrossEntropyLoss`, which applies a second softmax. With probabilities p in the
  simplex, -log softmax(p)[y] = log sum_k exp(p_k) - p_y lies in
  [log(e + K - 1) - 1, log(e + K - 1)] = [1.4612, 2.4612] for K = 10: a perfect classifier
  scores 1.4612, a uniform one log K = 2.3026. The paper's 2.03 (CatVAE) and 1.62
  (InfoCatVAE) lie in this narrow range and were very likely measured this way.
  """
  probs = jax.nn.softmax(logits, axis=-1)
  return jnp.mean(losses.categorical_cross_entropy(probs, labels))


def information_cross_entropies(key, decode_fn, classify_fn, prior_means, num_samples=10000,
                                likelihood='bernoulli', batch_size=1000):
  """Section 10's measurement of the information term, both ways.

  Draws num_samples labels i.i.d. from p(c) = U{0..K-1} (the paper: "10K discrete labels
  sampled from multinomial distribution"), z ~ p(z|c) = N(mu_c, I), decodes z to the mean
  image (sigmoid of the logits for Bernoulli) and classifies it with q(c|x).

  Returns:
    dict with 'proper' (`information_cross_entropy`) and 'as_published'
    (`double_softmax_cross_entropy`), in nats; lower is better. Paper: CatVAE 2.03,
    InfoCatVAE 1.62.
  """
  likelihood = likelihoods.get(likelihood)
  labels, z = priors.sample_prior(key, prior_means, num_samples)
  logits = _batched(lambda zs: classify_fn(likelihood.mean(decode_fn(zs))), z, batch_size)
  return {'proper': float(information_cross_entropy(logits, labels)),
          'as_published': float(double_softmax_cross_entropy(logits, labels))}


def _batched(fn, inputs, batch_size):
  """fn over the leading axis of `inputs` in batches (the last one padded), concatenated."""
  count = inputs.shape[0]
  batch_size = min(batch_size, count)
  padded = -(-count // batch_size) * batch_size
  inputs = jnp.concatenate(
      [inputs, jnp.zeros((padded - count, *inputs.shape[1:]), inputs.dtype)])
  outputs = jax.lax.map(fn, inputs.reshape(padded // batch_size, batch_size,
                                           *inputs.shape[1:]))
  return jax.tree.map(lambda o: o.reshape(padded, *o.shape[2:])[:count], outputs)


# ------------------------------------------------------------------- Parzen window (KDE)


def kde_log_density(points, data, bandwidths, chunk_size=250):
  """Log-density of each point under Gaussian kernel density estimates fitted on `data`.

  log p_h(x) = logsumexp_i(-||x - d_i||^2 / (2 h^2)) - log N - (D / 2) log(2 pi h^2),
  scikit-learn's `KernelDensity(kernel='gaussian', bandwidth=h).score_samples`. All
  bandwidths share one pass over the squared distances, computed chunk by chunk as
  |x|^2 + |d|^2 - 2 x.d (a matmul) after centring both sets on the data mean, which keeps the
  float32 cancellation small.

  Args:
    points: (M, D) points to score.
    data: (N, D) the sample the density is fitted on.
    bandwidths: (H,) kernel standard deviations.
    chunk_size: points per chunk; memory is about chunk_size x N floats.

  Returns:
    (H, M) log-densities in nats.
  """
  points = jnp.asarray(points, jnp.float32).reshape(len(points), -1)
  data = jnp.asarray(data, jnp.float32).reshape(len(data), -1)
  bandwidths = jnp.atleast_1d(jnp.asarray(bandwidths, jnp.float32))
  return _kde_log_density(points, data, bandwidths, min(chunk_size, points.shape[0]))


@functools.partial(jax.jit, static_argnums=3)
def _kde_log_density(points, data, bandwidths, chunk_size):
  count, dim = data.shape
  centre = jnp.mean(data, axis=0)
  data = data - centre
  data_sq = jnp.sum(jnp.square(data), axis=-1)
  inverse = 1.0 / (2.0 * jnp.square(bandwidths))
  normaliser = jnp.log(count) + 0.5 * dim * jnp.log(2.0 * jnp.pi * jnp.square(bandwidths))

  def chunk(x):
    x = x - centre
    squared = jnp.maximum(
        jnp.sum(jnp.square(x), -1)[:, None] + data_sq[None, :] - 2.0 * x @ data.T, 0.0)
    return jnp.stack([jax.nn.logsumexp(-squared * inverse[h], axis=-1)
                      for h in range(bandwidths.shape[0])])  # (H, m)

  per_point = _batched(lambda x: chunk(x).T, points, chunk_size)  # (M, H)
  return per_point.T - normaliser[:, None]


def kde_bandwidth_search(data, bandwidths, folds=5, chunk_size=250, progress=None):
  """Bandwidth by k-fold cross-validation, as scikit-learn's GridSearchCV(KernelDensity).

  The folds are contiguous, unshuffled, the first N mod k one example larger (scikit-learn's
  KFold); each bandwidth is scored by the summed log-density of the held-out fold under the
  KDE of the other folds, averaged over folds; the best (first on ties) is chosen.

  `progress`, if given, is called with no argument after each fold (e.g. a tqdm update).

  Returns:
    (best bandwidth, (H,) mean held-out summed log-density of each bandwidth).
  """
  data = np.asarray(data, np.float32).reshape(len(data), -1)
  bandwidths = np.asarray(bandwidths, np.float32)
  scores = np.zeros(len(bandwidths))
  for held_out in np.array_split(np.arange(len(data)), folds):
    keep = np.ones(len(data), bool)
    keep[held_out] = False
    log_density = kde_log_density(data[held_out], data[keep], bandwidths, chunk_size)
    scores += np.asarray(jnp.sum(log_density, axis=-1), np.float64) / folds
    if progress is not None:
      progress()
  return float(bandwidths[int(np.argmax(scores))]), scores


# ------------------------------------------------------------ importance-weighted bound


def _normal_log_density(z, mean, logvar):
  return -0.5 * jnp.sum(jnp.square(z - mean) * jnp.exp(-logvar) + logvar
                        + jnp.log(2.0 * jnp.pi), axis=-1)


def importance_weighted_bound(key, x, posterior, decode_fn, prior_means, num_samples,
                              likelihood='bernoulli'):
  """log p(x) >= log (1/S) sum_s p(x, z_s, c_s) / q(z_s, c_s | x), per example (nats).

  (c_s, z_s) ~ q(c|x) q(z|x,c) i.i.d.; p(x, z, c) = p(x|z) N(z; mu_c, I) / K. With S = 1 its
  expectation is the ELBO of Proposition 1 (with the exact KL terms replaced by one-sample
  estimates); it rises towards log p(x) as S grows (Burda et al. 2016). For the Bernoulli
  likelihood on grey-level images p(x|z) is the product of x^p (1-p)^(1-x) over pixels, the
  binary cross-entropy used in training: not a normalised density over grey levels, so these
  nats compare models on the same data and likelihood, not with density models of discrete
  or continuous pixels.

  Args:
    key: PRNG key.
    x: (B, *event) data.
    posterior: `losses.CategoricalPosterior` of x (evaluation mode).
    decode_fn: decode_fn(z) maps (..., d) codes to (..., *event) outputs.
    prior_means: (K, d).
    num_samples: S.
    likelihood: an `icvae.likelihoods` object or name.

  Returns:
    (B,) bounds.
  """
  likelihood = likelihoods.get(likelihood)
  batch, num_categories = posterior.logits.shape
  cat_key, z_key = jax.random.split(key)
  log_q_c = jax.nn.log_softmax(posterior.logits, axis=-1)
  c = jax.random.categorical(cat_key, posterior.logits, axis=-1,
                             shape=(num_samples, batch)).T  # (B, S)
  mean = jnp.take_along_axis(posterior.mean, c[..., None], axis=1)  # (B, S, d)
  logvar = jnp.take_along_axis(posterior.logvar, c[..., None], axis=1)
  z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(z_key, mean.shape)
  log_px = likelihood.log_prob(decode_fn(z), x[:, None], x.ndim - 1)  # (B, S)
  log_pz = _normal_log_density(z, prior_means[c], jnp.zeros_like(z))
  log_qz = _normal_log_density(z, mean, logvar)
  log_w = (log_px + log_pz - math.log(num_categories)
           - log_qz - jnp.take_along_axis(log_q_c, c, axis=1))
  return jax.nn.logsumexp(log_w, axis=-1) - math.log(num_samples)


def reconstruction_error(x, posterior, decode_fn, likelihood='bernoulli'):
  """Per-example squared error sum ||x - E[x | z*]||^2 over the event axes, with z* the mean
  of q(z|x, c*) for the most probable category c* = argmax q(c|x) (no sampling)."""
  likelihood = likelihoods.get(likelihood)
  best = jnp.argmax(posterior.logits, axis=-1)
  z = jnp.take_along_axis(posterior.mean, best[:, None, None], axis=1)[:, 0]
  error = jnp.square(x - likelihood.mean(decode_fn(z)))
  return jnp.sum(error.reshape(x.shape[0], -1), axis=-1)
