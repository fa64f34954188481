"""I(x; y) of the categorical code on all test images (IMAE eq. 7 on the whole set, with H(y)
and H(y|x)); for a model whose `encode` gives a `losses.JointPosterior`, also I(x; z_k) per
dimension (IMAE Proposition 1: 0.5 log(1 + Var mu_k / E sigma_k^2), a lower bound, exact for
Gaussian means; 'informative_dimensions' counts those above 0.1 nats) and the total
correlation TC(z) and marginal KLs, minibatch estimates (appendix B) averaged over test
batches of --eval_batch_size ('codes').
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from icvae import information
from icvae import losses
from icvae.evaluators import base


def code_information(model, objective, images, batch_size, key):
  """The 'codes' section (module docstring) of `model` on `images`, a dict of floats and
  per-dimension lists (nats); batches of `batch_size`, or of every image when there are
  fewer."""
  batch_size = min(batch_size, len(images))
  chunks = range(0, len(images), batch_size)
  cluster_logits = jax.jit(lambda x: objective.cluster_logits(model, x))
  logits = jnp.concatenate([cluster_logits(images[i:i + batch_size]) for i in chunks])
  mutual_information, entropy_y, conditional_entropy = (
      information.categorical_mutual_information(logits))
  result = {'mutual_information_y': float(mutual_information), 'entropy_y': float(entropy_y),
            'conditional_entropy_y': float(conditional_entropy),
            'log_num_categories': math.log(logits.shape[-1])}
  posterior = jax.eval_shape(model.encode, images[:1])
  if not isinstance(posterior, losses.JointPosterior):
    return result

  @jax.jit
  def batch_statistics(x, key):
    posterior = model.encode(x)
    z = losses.reparameterize(key, posterior.mean, posterior.logvar)
    total_correlation, marginal_kl = information.aggregate_divergences(
        z, posterior.mean, posterior.logvar)
    return posterior.mean, posterior.logvar, total_correlation, marginal_kl

  outputs = [batch_statistics(images[i:i + batch_size], jax.random.fold_in(key, i))
             for i in chunks if i + batch_size <= len(images)]  # equal batches only
  means = jnp.concatenate([o[0] for o in outputs])
  logvars = jnp.concatenate([o[1] for o in outputs])
  per_dimension = information.gaussian_mutual_information_bound(means, logvars)
  result.update({
      'mutual_information_z': [float(v) for v in per_dimension],
      'mutual_information_z_total': float(jnp.sum(per_dimension)),
      'informative_dimensions': int(jnp.sum(per_dimension > 0.1)),
      'total_correlation': float(np.mean([float(o[2]) for o in outputs])),
      'marginal_kl_z': np.mean([np.asarray(o[3]) for o in outputs], axis=0).tolist(),
      'batch_size': batch_size})
  return result


def run(context):
  yield 'codes', code_information(context.model, context.objective, context.test_images,
                                  context.config.eval_batch_size, context.key('info'))


base.register(base.Evaluator('codes', run, applies=lambda context: 'codes' in context.sections,
                             sections=('codes',)))
