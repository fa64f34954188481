"""Minibatch estimators of the information terms of IMAE (Gao et al., ICLR 2019 submission,
`../shared/papers/imae-paper.txt`) and of its peers: pure functions on arrays.

Notation: a batch of B examples x_j; p(y|x) a categorical code with K classes; p(z|x) =
N(mu(x), diag exp(logvar(x))) a factorial Gaussian code with D dimensions; the aggregate
(marginal) p(z) = E_x p(z|x).

Choice (the paper's appendix B): every aggregate is estimated on the minibatch itself,
p(z) ~ (1/B) sum_j p(z|x_j), with z_i ~ p(z|x_i) one sample per example, and the same for
each marginal p(z_k) and for p(y) = (1/B) sum_j p(y|x_j). Unlike Chen et al. (2018), no
dataset-size correction is applied; the estimates are consistent as B grows and biased for
small B (the tests measure how much).
"""

import math

import jax
import jax.numpy as jnp


def entropy(probs, axis=-1):
  """H(p) = -sum p log p in nats over `axis` (0 log 0 = 0)."""
  return -jnp.sum(jnp.where(probs > 0, probs * jnp.log(jnp.where(probs > 0, probs, 1.0)),
                            0.0), axis=axis)


def categorical_mutual_information(logits):
  """I(x; y) on a batch, eq. (7): H((1/N) sum_n p(y|x_n)) - (1/N) sum_n H(p(y|x_n)).

  Args:
    logits: (N, K) logits of p(y|x_n) for the N examples of a batch.

  Returns:
    (mutual information, H(y) of the batch-mean p(y), mean H(y|x)), each a scalar in nats;
    0 <= I <= log K.

  References:
    IMAE eq. (7) and Proposition 2; IMSAT (Hu et al. 2017) eq. (7).
  """
  probs = jax.nn.softmax(logits, axis=-1)
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  conditional = jnp.mean(-jnp.sum(probs * log_probs, axis=-1))
  marginal = entropy(jnp.mean(probs, axis=0))
  return marginal - conditional, marginal, conditional


def _normal_log_density(z, mean, logvar):
  """Elementwise log N(z; mean, exp(logvar)), broadcasting."""
  return -0.5 * (jnp.square(z - mean) * jnp.exp(-logvar) + logvar + math.log(2 * math.pi))


def pairwise_log_densities(z, mean, logvar):
  """log p(z_i,k | x_j) for every pair (i, j) and dimension k: (B, B, D).

  Args:
    z: (B, D) one sample z_i ~ p(z|x_i) per example.
    mean, logvar: (B, D) the Gaussian posteriors of the batch.
  """
  return _normal_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])


def aggregate_log_densities(z, mean, logvar):
  """Minibatch estimates of log p(z_i) and of log p(z_i,k) for each dimension k.

  log p(z_i) ~ log (1/B) sum_j p(z_i | x_j) and log p(z_ik) ~ log (1/B) sum_j p(z_ik | x_j)
  (IMAE appendix B, eq. 34), computed with logsumexp.

  Returns:
    (log_joint (B,), log_marginals (B, D)).
  """
  pairwise = pairwise_log_densities(z, mean, logvar)          # (B, B, D)
  log_batch = math.log(z.shape[0])
  log_joint = jax.nn.logsumexp(jnp.sum(pairwise, axis=-1), axis=1) - log_batch
  log_marginals = jax.nn.logsumexp(pairwise, axis=1) - log_batch
  return log_joint, log_marginals


def aggregate_divergences(z, mean, logvar, scale=1.0):
  """TC(z) and each KL(p(z_k) || N(0, scale^2)), from one pass over the pairwise densities.

  TC = mean_i [log p(z_i) - sum_k log p(z_ik)] (IMAE eq. 3 and 10) and KL_k = mean_i
  [log p(z_ik) - log r(z_ik)] (eq. 6), with the aggregates of `aggregate_log_densities`.

  Returns:
    (TC scalar, (D,) marginal KLs), nats. TC is 0 for independent coordinates up to the
    estimator's noise (it can be slightly negative on a small batch).
  """
  log_joint, log_marginals = aggregate_log_densities(z, mean, logvar)
  log_prior = _normal_log_density(z, 0.0, 2.0 * jnp.log(scale))
  total = jnp.mean(log_joint - jnp.sum(log_marginals, axis=-1))
  return total, jnp.mean(log_marginals - log_prior, axis=0)


def total_correlation(z, mean, logvar):
  """TC(z) = KL(p(z) || prod_k p(z_k)), estimated on the batch (`aggregate_divergences`)."""
  return aggregate_divergences(z, mean, logvar)[0]


def marginal_kl_to_normal(z, mean, logvar, scale=1.0):
  """sum_k KL(p(z_k) || r(z_k)) with r = N(0, scale^2), estimated on the batch (IMAE eq. 6).

  The IMAE surrogate for the informativeness of each continuous coordinate is minus this.
  Returns (total over k, (D,) per coordinate); see `aggregate_divergences`.
  """
  per_dimension = aggregate_divergences(z, mean, logvar, scale)[1]
  return jnp.sum(per_dimension), per_dimension


def gaussian_mutual_information_bound(mean, logvar):
  """IMAE Proposition 1, eq. (5): I(x; z_k) >= 0.5 log(1 + Var_x mu_k / E_x sigma_k^2),
  per coordinate, from a batch of posteriors: (D,) nats (equality when z_k is Gaussian)."""
  return 0.5 * jnp.log1p(jnp.var(mean, axis=0) / jnp.mean(jnp.exp(logvar), axis=0))
