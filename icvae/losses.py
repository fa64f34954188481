"""Every term of the CatVAE / InfoCatVAE objective, as pure functions on arrays.

Notation (paper arXiv 1806.08240): x data, c in {0..K-1} a category, z in R^d a code;
q(c|x) a softmax classifier, q(z|x,c) = N(mean[c], diag exp(logvar[c])) for every c,
p(c) = U{0..K-1}, p(z|c) = N(mu_c, I) with the block means of eq. (8).

Conventions shared by every function here:
- Per-example functions sum over the event axes (pixels, time steps x features, latent
  coordinates, categories) and keep every leading (batch) axis: they return one number per
  example. The objectives (`icvae.objectives`) reduce, taking the mean over the batch.
- The K categories are an axis handled by broadcasting, never a Python loop.
- Decoders and classifiers are passed in as functions `decode_fn(z, key)` and
  `classify_fn(x, key)` (the key drives dropout; a deterministic network ignores it), so no
  Flax is needed here and any JAX network can be used.
- Losses are things to minimise; log-likelihoods and the ELBO are things to maximise, and
  their names say so.
- Likelihoods are `icvae.likelihoods` objects (`log_prob`, `mean`); a name such as
  'bernoulli' is accepted too.
"""

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from icvae import likelihoods

RECONSTRUCTION_ESTIMATORS = ('expected', 'soft_code')


class CategoricalPosterior(NamedTuple):
  """What an encoder returns for a batch of B examples.

  Attributes:
    logits: (B, K) logits of q(c|x).
    mean: (B, K, d) means of q(z|x,c), one row per category.
    logvar: (B, K, d) log-variances of q(z|x,c).
    soft_mean: (B, d) or None; the heads fed the soft code q(c|x) instead of a one-hot
      (only the `soft_code` reconstruction estimator uses it).
    soft_logvar: (B, d) or None; likewise.
  """
  logits: jax.Array
  mean: jax.Array
  logvar: jax.Array
  soft_mean: Optional[jax.Array] = None
  soft_logvar: Optional[jax.Array] = None


def most_probable_code(posterior):
  """(mean, logvar), each (B, d), of q(z|x, c*) for each example's most probable category
  c* = argmax q(c|x) of a `CategoricalPosterior`."""
  best = jnp.argmax(posterior.logits, axis=-1)
  take = lambda a: jnp.take_along_axis(a, best[:, None, None], axis=1)[:, 0]
  return take(posterior.mean), take(posterior.logvar)


class JointPosterior(NamedTuple):
  """What an encoder with a categorical code beside a continuous one returns (IMAE,
  JointVAE): p(y|x) and one factorial Gaussian q(z|x), not one per category.

  Attributes:
    logits: (B, K) logits of p(y|x).
    mean: (B, D) means of q(z|x).
    logvar: (B, D) log-variances of q(z|x).
  """
  logits: jax.Array
  mean: jax.Array
  logvar: jax.Array


def categorical_kl_to_uniform(logits):
  """KL(q(c|x) || U{1..K}) = log K - H(q(c|x)), exact, from logits.

  Section 4 writes -KL(q(c|x)||p(c)) = log K + H(q); the sign of log K there is a typo (a KL
  is >= 0 and is zero for uniform q). This function is the exact KL, computed with a
  log-softmax so it is finite for any finite logits.

  Args:
    logits: (..., K) logits of q(c|x).

  Returns:
    (...) KL in nats, summed over the K categories; one number per example.

  References:
    Eq. (5), first term; section 4.
  """
  num_categories = logits.shape[-1]
  log_q = jax.nn.log_softmax(logits, axis=-1)
  q = jnp.exp(log_q)
  return jnp.sum(q * log_q, axis=-1) + jnp.log(num_categories)


def gaussian_kl(mean, logvar, prior_mean):
  """KL(N(mean, diag exp(logvar)) || N(prior_mean, I)), closed form.

  0.5 * sum_j [exp(logvar_j) + (mean_j - prior_mean_j)^2 - 1 - logvar_j].

  Args:
    mean: (..., d) posterior means.
    logvar: (..., d) posterior log-variances.
    prior_mean: array broadcastable to `mean` (e.g. (K, d) against (B, K, d)).

  Returns:
    (...) KL in nats, summed over the d latent coordinates; leading axes kept.

  References:
    Section 4 (the closed form under eq. (5)); Kingma & Welling 2013, appendix B.
  """
  return 0.5 * jnp.sum(
      jnp.exp(logvar) + jnp.square(mean - prior_mean) - 1.0 - logvar, axis=-1)


def expected_gaussian_kl(probs, mean, logvar, prior_means):
  """E_{q(c|x)} KL(q(z|x,c) || p(z|c)), all K categories at once by broadcasting.

  Args:
    probs: (B, K) q(c|x).
    mean: (B, K, d) means of q(z|x,c).
    logvar: (B, K, d) log-variances of q(z|x,c).
    prior_means: (K, d) means mu_c of p(z|c) = N(mu_c, I).

  Returns:
    (B,) sum_c q(c|x) KL_c in nats (summed over latent coordinates and categories).

  References:
    Eq. (5), second term.
  """
  return jnp.sum(probs * gaussian_kl(mean, logvar, prior_means), axis=-1)


def reparameterize(key, mean, logvar):
  """z = mean + exp(logvar / 2) * eps, eps ~ N(0, I): a differentiable sample of q(z|x,c)."""
  eps = jax.random.normal(key, mean.shape, mean.dtype)
  return mean + jnp.exp(0.5 * logvar) * eps


def expected_reconstruction(key, x, posterior, decode_fn, likelihood='bernoulli'):
  """E_{q(c|x)} E_{q(z|x,c)} log p(x|z): the paper's estimator (eq. 3 with eq. 13).

  For every category c one reparameterised z_c ~ q(z|x,c) is drawn and decoded (K decodes
  per example, batched as a (B, K, d) array); the K log-likelihoods are weighted by q(c|x).
  The expectation over c is exact and differentiable in q(c|x); the one over z is a one-sample
  Monte Carlo estimate. This is section 6's "each x is represented K times in the latent
  space, each representation weighted by q(c|x)".

  Args:
    key: PRNG key for z and for the decoder's dropout.
    x: (B, *event) data.
    posterior: a `CategoricalPosterior` with (B, K) logits and (B, K, d) mean/logvar.
    decode_fn: decode_fn(z, key) maps (..., d) codes to (..., *event) outputs.
    likelihood: an `icvae.likelihoods` object or name ('bernoulli': outputs are logits).

  Returns:
    (B,) estimate in nats, summed over the event axes.
  """
  likelihood = likelihoods.get(likelihood)
  z_key, decode_key = jax.random.split(key)
  z = reparameterize(z_key, posterior.mean, posterior.logvar)
  outputs = decode_fn(z, decode_key)
  per_category = likelihood.log_prob(outputs, x[:, None], x.ndim - 1)
  return jnp.sum(jax.nn.softmax(posterior.logits, axis=-1) * per_category, axis=-1)


def soft_code_reconstruction(key, x, posterior, decode_fn, likelihood='bernoulli'):
  """log p(x|z) with one z from the heads fed the soft code q(c|x): the published code's.

  The authors' PyTorch code feeds the probabilities q(c|x) (instead of a one-hot c) into the
  mean and log-variance heads, draws one z from that Gaussian and decodes it once. This is
  cheaper (one decode per example) but is not a term of the bound of Proposition 1; the KL
  terms are unchanged. Provided to reproduce the published code and to benchmark against it.

  Args:
    key: PRNG key for z and for the decoder's dropout.
    x: (B, *event) data.
    posterior: a `CategoricalPosterior` whose soft_mean and soft_logvar are (B, d).
    decode_fn: decode_fn(z, key) maps (..., d) codes to (..., *event) outputs.
    likelihood: an `icvae.likelihoods` object or name.

  Returns:
    (B,) one-sample estimate in nats, summed over the event axes.
  """
  if posterior.soft_mean is None or posterior.soft_logvar is None:
    raise ValueError('the soft_code estimator needs posterior.soft_mean and soft_logvar: '
                     'encode with soft_code=True.')
  likelihood = likelihoods.get(likelihood)
  z_key, decode_key = jax.random.split(key)
  z = reparameterize(z_key, posterior.soft_mean, posterior.soft_logvar)
  return likelihood.log_prob(decode_fn(z, decode_key), x, x.ndim - 1)


def categorical_cross_entropy(logits, labels):
  """-log softmax(logits)[label], per example, from logits (no double softmax).

  Args:
    logits: (N, K).
    labels: (N,) integers in [0, K).

  Returns:
    (N,) cross-entropies in nats.
  """
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]


def sample_prior_categories(key, num_samples, num_categories, stratified=True):
  """Labels c ~ p(c) = U{0..K-1} for the information term.

  stratified=True gives equal counts (c_i = i mod K, as the published code's 10 per class;
  when K does not divide num_samples the first num_samples mod K classes get one more), an
  unbiased, lower-variance estimate of the expectation under the uniform p(c).
  stratified=False draws the labels independently.
  """
  if stratified:
    return jnp.arange(num_samples) % num_categories
  return jax.random.randint(key, (num_samples,), 0, num_categories)


def information_term(key, decode_fn, classify_fn, prior_means, num_samples,
                     likelihood='bernoulli', stratified=True):
  """Cross-entropy of the generated-image classifier, minus eq. (7); minimise it.

  Estimates -E_{p(c) p(z|c)} log q(c | x_gen(z)) by Monte Carlo: draw c ~ p(c) (see
  `sample_prior_categories`), z = mu_c + eps, eps ~ N(0, I), decode z to the *mean* of
  p(x|z) (sigmoid of the logits for Bernoulli) and classify that image with the same q(c|x)
  network used on data. Eq. (7) has an expectation over x ~ p(x|z); like the published code
  we use the mean image, which is deterministic in z and keeps gradients flowing to the
  decoder. The cross-entropy is taken from logits (the published code applies a softmax
  twice; we do not). Gradients reach the decoder, the classifier and (for a learned prior)
  the prior means; the Gaussian heads of q(z|x,c) are not involved.

  Args:
    key: PRNG key (labels, eps, dropout in decoder and classifier).
    decode_fn: decode_fn(z, key) maps (N, d) to (N, *event) outputs.
    classify_fn: classify_fn(x, key) maps (N, *event) to (N, K) logits of q(c|x).
    prior_means: (K, d) means of p(z|c).
    num_samples: N, the number of generated images (a Python int).
    likelihood: an `icvae.likelihoods` object or name; decides the mean image.
    stratified: equal counts per class (True) or i.i.d. labels (False).

  Returns:
    Scalar: the mean over the N generated images of the cross-entropy in nats.

  References:
    Eq. (7); section 10; InfoGAN (Chen et al. 2016) for the variational bound.
  """
  likelihood = likelihoods.get(likelihood)
  label_key, z_key, decode_key, classify_key = jax.random.split(key, 4)
  labels = sample_prior_categories(label_key, num_samples, prior_means.shape[0], stratified)
  z = prior_means[labels] + jax.random.normal(z_key, (num_samples, prior_means.shape[1]),
                                              prior_means.dtype)
  images = likelihood.mean(decode_fn(z, decode_key))
  return jnp.mean(categorical_cross_entropy(classify_fn(images, classify_key), labels))


def linear_capacity(step, capacity_max, num_steps):
  """JointVAE's capacity C(t) = min(C_max, C_max * t / T): linear from 0 to C_max over T
  optimiser steps, then constant (Dupont 2018, section 3).

  Args:
    step: the optimiser step t (a scalar array or int).
    capacity_max: C_max in nats.
    num_steps: T, the steps to reach C_max (0: C_max from the start).
  """
  if num_steps <= 0:
    return jnp.asarray(capacity_max, jnp.float32)
  fraction = jnp.minimum(jnp.asarray(step, jnp.float32) / num_steps, 1.0)
  return capacity_max * fraction


def capacity_penalty(kl, capacity, gamma):
  """gamma * |KL - C|: JointVAE's controlled-capacity term (Dupont 2018, eq. 7)."""
  return gamma * jnp.abs(kl - capacity)


def gumbel_softmax_sample(key, logits, temperature):
  """A relaxed one-hot sample of the categorical softmax(logits): softmax((logits + g) / tau)
  with g i.i.d. Gumbel(0, 1) (Jang et al. 2017; Maddison et al. 2017), differentiable in the
  logits. Its argmax is an exact sample of the categorical (the Gumbel-max trick); as
  tau -> 0 the sample tends to that one-hot vector.

  Args:
    key: PRNG key.
    logits: (..., K).
    temperature: tau > 0 (IMAE's prototype: 0.67); a Python number is checked, an array
      (a schedule's value inside jit) is not.

  Returns:
    (..., K) points of the simplex.
  """
  if isinstance(temperature, (int, float)) and not temperature > 0:  # traced: unchecked
    raise ValueError(f'the Gumbel-softmax temperature must be > 0, got {temperature}.')
  gumbel = jax.random.gumbel(key, logits.shape, logits.dtype)
  return jax.nn.softmax((logits + gumbel) / temperature, axis=-1)
