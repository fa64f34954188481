"""Every term of the CatVAE / InfoCatVAE objective, as pure functions on arrays.

Notation (paper arXiv 1806.08240): x data, c in {0..K-1} a category, z in R^d a code;
q(c|x) a softmax classifier, q(z|x,c) = N(mean[c], diag exp(logvar[c])) for every c,
p(c) = U{0..K-1}, p(z|c) = N(mu_c, I) with the block means of eq. (8).

Conventions shared by every function here:
- Per-example functions sum over the event axes (pixels, time steps x features, latent
  coordinates, categories) and keep every leading (batch) axis: they return one number per
  example. `infocatvae_loss` alone reduces, taking the mean over the batch.
- The K categories are an axis handled by broadcasting, never a Python loop.
- Decoders and classifiers are passed in as functions `decode_fn(z, key)` and
  `classify_fn(x, key)` (the key drives dropout; a deterministic network ignores it), so no
  Flax is needed here and any JAX network can be used.
- Losses are things to minimise; log-likelihoods and the ELBO are things to maximise, and
  their names say so.
"""

import dataclasses
import math
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

RECONSTRUCTION_ESTIMATORS = ('expected', 'soft_code')
LIKELIHOODS = ('bernoulli', 'gaussian', 'squared_error')


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


@dataclasses.dataclass(frozen=True)
class LossWeights:
  """The betas of section 5: loss = beta_cont E KL_z + beta_cat KL_c - E log p(x|z)
  + beta_info CE_info. The reconstruction term always has weight 1. CatVAE is beta_info = 0.

  Appendix B (the paper): beta_cont = 10, beta_cat = 10, beta_info = 100.
  The authors' published code: 1, 1, and 100 on the mean over 100 generated images.
  beta_cont = beta_cat = 1, beta_info = 0 is the plain ELBO of Proposition 1.
  """
  beta_cont: float
  beta_cat: float
  beta_info: float

  def __post_init__(self):
    for name in ('beta_cont', 'beta_cat', 'beta_info'):
      value = getattr(self, name)
      if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f'{name} must be a number, got {value!r}.')
      if not math.isfinite(value) or value < 0:
        raise ValueError(f'{name} must be finite and >= 0, got {value}.')


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


def _sum_event(values, event_ndims):
  return jnp.sum(values, axis=tuple(range(values.ndim - event_ndims, values.ndim)))


def bernoulli_log_likelihood(logits, targets, event_ndims=1):
  """log p(x|z) for independent Bernoulli pixels given by logits, stable for any logits.

  Uses x * l - softplus(l), which equals x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))
  without ever forming log(sigmoid(l)). Targets may be grey levels in [0, 1]: this is then
  the (negative) binary cross-entropy used by the paper and most VAE work, not a normalised
  density over grey levels.

  Args:
    logits: (..., *event) decoder logits.
    targets: array broadcastable to `logits`, values in [0, 1].
    event_ndims: how many trailing axes are one example's event (1 for flat images).

  Returns:
    log-likelihood in nats summed over the event axes; leading axes kept.

  References:
    Eq. (3); appendix B (sigmoid output layer).
  """
  return _sum_event(targets * logits - jax.nn.softplus(logits), event_ndims)


def gaussian_log_likelihood(mean, targets, scale=1.0, event_ndims=1):
  """log N(x; mean, scale^2 I), including its normalising constant.

  Section 3 notes that under p(x|z) = N(mu(z), 1) the log-likelihood is the squared error up
  to a constant: here -0.5 ||x - mean||^2 / scale^2 - D log(scale) - D/2 log(2 pi) with D the
  event size, so with scale = 1 the gradient is that of half the summed squared error.

  Args:
    mean: (..., *event) decoder output (the mean of p(x|z)).
    targets: broadcastable to `mean`.
    scale: the fixed standard deviation.
    event_ndims: how many trailing axes are one example's event.

  Returns:
    log-likelihood in nats summed over the event axes; leading axes kept.

  References:
    Section 3, eq. (3) and the remark after (4); appendix C (squared error per time step).
  """
  squared = jnp.square((targets - mean) / scale)
  log_norm = jnp.log(scale) + 0.5 * jnp.log(2.0 * jnp.pi)
  return _sum_event(-0.5 * squared - log_norm, event_ndims)


def squared_error_log_likelihood(mean, targets, event_ndims=2):
  """Appendix C's loss as a log-likelihood: minus the sum over time steps of the per-step MSE.

  For sequences with F features per step, -sum_t mean_f (x_tf - mean_tf)^2 is, up to a
  constant, log N(x; mean, (F / 2) I): we return that normalised Gaussian log-likelihood
  (scale sqrt(F / 2)), so its gradient is exactly that of the paper's loss and importance-
  weighted bounds stay bounds on a proper density.

  Args:
    mean: (..., *event) decoder outputs (sigmoid means), the last axis the F features.
    targets: broadcastable to `mean`.
    event_ndims: trailing axes of one example (2 for (T, F) sequences).

  References:
    Appendix C ("the sum of the mean squared error of each time step").
  """
  scale = math.sqrt(mean.shape[-1] / 2.0)
  return gaussian_log_likelihood(mean, targets, scale, event_ndims)


@dataclasses.dataclass(frozen=True)
class GaussianLikelihood:
  """p(x|z) = N(x; decoder mean, scale^2 I) with a fixed `scale`; usable wherever a likelihood
  name is (it is hashable, so it can be a static argument of a jitted function).

  'gaussian' is scale 1 and 'squared_error' is scale sqrt(F / 2). For real-valued data the
  paper fixes the loss (appendix C) but not the noise level; the noise level sets the weight
  of the reconstruction against the beta-weighted KL terms: -log p(x|z) is
  SSE / (2 scale^2) + const, so halving the scale quadruples the reconstruction's weight.
  """
  scale: float

  def __post_init__(self):
    if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)
            and self.scale > 0):
      raise ValueError(f'the Gaussian likelihood scale must be a finite number > 0, '
                       f'got {self.scale!r}.')


def is_likelihood(spec):
  """True for a name in LIKELIHOODS or a `GaussianLikelihood`."""
  return isinstance(spec, GaussianLikelihood) or spec in LIKELIHOODS


def _likelihood(name):
  """(log_likelihood_fn(outputs, targets, event_ndims), mean_fn(outputs)) for a likelihood.

  `name` is one of LIKELIHOODS or a `GaussianLikelihood`.
  """
  if isinstance(name, GaussianLikelihood):
    return (lambda outputs, targets, event_ndims: gaussian_log_likelihood(
        outputs, targets, name.scale, event_ndims)), (lambda outputs: outputs)
  if name == 'bernoulli':
    return bernoulli_log_likelihood, jax.nn.sigmoid
  if name == 'gaussian':
    return (lambda outputs, targets, event_ndims: gaussian_log_likelihood(
        outputs, targets, 1.0, event_ndims)), (lambda outputs: outputs)
  if name == 'squared_error':
    return squared_error_log_likelihood, (lambda outputs: outputs)
  raise ValueError(f'likelihood must be one of {LIKELIHOODS}, got {name!r}.')


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
    likelihood: 'bernoulli' (outputs are logits) or 'gaussian' (outputs are means).

  Returns:
    (B,) estimate in nats, summed over the event axes.
  """
  log_likelihood, _ = _likelihood(likelihood)
  z_key, decode_key = jax.random.split(key)
  z = reparameterize(z_key, posterior.mean, posterior.logvar)
  outputs = decode_fn(z, decode_key)
  per_category = log_likelihood(outputs, x[:, None], x.ndim - 1)
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
    likelihood: 'bernoulli' or 'gaussian'.

  Returns:
    (B,) one-sample estimate in nats, summed over the event axes.
  """
  if posterior.soft_mean is None or posterior.soft_logvar is None:
    raise ValueError('the soft_code estimator needs posterior.soft_mean and soft_logvar: '
                     'encode with soft_code=True.')
  log_likelihood, _ = _likelihood(likelihood)
  z_key, decode_key = jax.random.split(key)
  z = reparameterize(z_key, posterior.soft_mean, posterior.soft_logvar)
  return log_likelihood(decode_fn(z, decode_key), x, x.ndim - 1)


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
    likelihood: 'bernoulli' or 'gaussian'; decides the mean image.
    stratified: equal counts per class (True) or i.i.d. labels (False).

  Returns:
    Scalar: the mean over the N generated images of the cross-entropy in nats.

  References:
    Eq. (7); section 10; InfoGAN (Chen et al. 2016) for the variational bound.
  """
  _, mean_fn = _likelihood(likelihood)
  label_key, z_key, decode_key, classify_key = jax.random.split(key, 4)
  labels = sample_prior_categories(label_key, num_samples, prior_means.shape[0], stratified)
  z = prior_means[labels] + jax.random.normal(z_key, (num_samples, prior_means.shape[1]),
                                              prior_means.dtype)
  images = mean_fn(decode_fn(z, decode_key))
  return jnp.mean(categorical_cross_entropy(classify_fn(images, classify_key), labels))


def infocatvae_loss(key, x, posterior, decode_fn, classify_fn, prior_means, weights,
                    *, reconstruction='expected', likelihood='bernoulli',
                    num_info_samples=None, stratified_info=True, compute_information=None):
  """The training objective of CatVAE / InfoCatVAE (eqs. 3 + 6 + 7), to minimise.

    loss = beta_cont * mean_b E_q(c|x) KL(q(z|x,c) || p(z|c))        (eq. 5/6, 2nd term)
         + beta_cat  * mean_b KL(q(c|x) || p(c))                      (eq. 5/6, 1st term)
         - mean_b [reconstruction log-likelihood]                      (eq. 3)
         + beta_info * mean_n CE(c_n, q(c | x_gen(z_n)))               (minus eq. 7)

  Reductions: every per-example term is summed over pixels / latent coordinates / categories
  and averaged over the batch; the information term is averaged over its generated images.
  So the betas weigh per-example quantities against the per-example reconstruction, whose
  weight is 1.

  With beta_info = 0 (CatVAE) and compute_information left at None the generator pass is not
  traced at all: CatVAE does not pay for it.

  Args:
    key: PRNG key for every sample drawn here and for dropout inside decode/classify.
    x: (B, *event) data, in [0, 1] for the Bernoulli likelihood.
    posterior: `CategoricalPosterior` of x.
    decode_fn: decode_fn(z, key) -> outputs (logits for Bernoulli, means for Gaussian).
    classify_fn: classify_fn(x, key) -> (N, K) logits of q(c|x).
    prior_means: (K, d) means of p(z|c).
    weights: `LossWeights`.
    reconstruction: 'expected' (default, the paper's estimator, see
      `expected_reconstruction`) or 'soft_code' (the published code's, see
      `soft_code_reconstruction`).
    likelihood: 'bernoulli' or 'gaussian'.
    num_info_samples: generated images for the information term (default: the batch size).
    stratified_info: equal label counts in the information term.
    compute_information: force the information term on (for evaluation of a CatVAE) or off;
      None means "when beta_info > 0".

  Returns:
    (loss, terms): the scalar loss and a dict of unweighted batch means:
    'reconstruction' (log-likelihood, nats), 'kl_continuous', 'kl_categorical', 'loss',
    'information' (cross-entropy, when computed), and 'elbo' (= reconstruction -
    kl_continuous - kl_categorical, a lower bound on log p(x) by Proposition 1) when the
    estimator is 'expected'.
  """
  if reconstruction not in RECONSTRUCTION_ESTIMATORS:
    raise ValueError(f'reconstruction must be one of {RECONSTRUCTION_ESTIMATORS}, '
                     f'got {reconstruction!r}.')
  recon_key, info_key = jax.random.split(key)
  probs = jax.nn.softmax(posterior.logits, axis=-1)
  kl_continuous = jnp.mean(
      expected_gaussian_kl(probs, posterior.mean, posterior.logvar, prior_means))
  kl_categorical = jnp.mean(categorical_kl_to_uniform(posterior.logits))
  estimator = (expected_reconstruction if reconstruction == 'expected'
               else soft_code_reconstruction)
  log_likelihood = jnp.mean(estimator(recon_key, x, posterior, decode_fn, likelihood))
  loss = (weights.beta_cont * kl_continuous + weights.beta_cat * kl_categorical
          - log_likelihood)
  terms = {'reconstruction': log_likelihood, 'kl_continuous': kl_continuous,
           'kl_categorical': kl_categorical}
  if reconstruction == 'expected':
    terms['elbo'] = log_likelihood - kl_continuous - kl_categorical
  if compute_information is None:
    compute_information = weights.beta_info > 0
  if compute_information:
    information = information_term(
        info_key, decode_fn, classify_fn, prior_means,
        x.shape[0] if num_info_samples is None else int(num_info_samples),
        likelihood, stratified_info)
    terms['information'] = information
    if weights.beta_info > 0:
      loss = loss + weights.beta_info * information
  terms['loss'] = loss
  return loss, terms
