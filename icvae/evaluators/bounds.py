"""The importance-weighted bound on log p(x) with S = --iwae_samples ('iwae') and the squared
error of the decoded mean code ('reconstruction'), on the test images; both go into the
report's 'test' section."""

import jax
import jax.numpy as jnp
import numpy as np

from icvae import evaluation
from icvae.evaluators import base


def bounds_and_errors(model, config, test_images, key, options, with_bound):
  """The importance-weighted bound (when `with_bound`) and the reconstruction error."""
  likelihood = config.likelihood
  count = options.iwae_examples or len(test_images)
  per_call = max(1, 20000 // options.iwae_samples)
  prior_means = model.prior_means()
  # Evaluation mode by every network's rule: no key (`training` is not passed, so a plug-in's
  # networks written before icvae 0.4 work too).
  decode = model.decode

  @jax.jit
  def bounds_and_errors(x, key):
    posterior = model.encode(x)
    error = evaluation.reconstruction_error(x, posterior, decode, likelihood)
    if not with_bound:
      return jnp.zeros(x.shape[0]), error
    bound = evaluation.importance_weighted_bound(key, x, posterior, decode, prior_means,
                                                 options.iwae_samples, likelihood)
    return bound, error

  results = []
  description = f'IWAE bound, S={options.iwae_samples}' if with_bound else 'reconstructions'
  with base.progress_bar(count, description) as bar:
    for i in range(0, count, per_call):
      results.append(bounds_and_errors(test_images[i:i + per_call],
                                       jax.random.fold_in(key, i)))
      jax.block_until_ready(results[-1])
      bar.update(min(per_call, count - i))
  bounds = np.concatenate([np.asarray(b) for b, _ in results])
  errors = np.concatenate([np.asarray(e) for _, e in results])
  terms = {'reconstruction_squared_error': float(errors.mean()),
           'reconstruction_squared_error_std': float(errors.std())}
  if with_bound:
    terms.update({'iwae_bound': float(bounds.mean()), 'iwae_samples': options.iwae_samples,
                  'iwae_examples': int(count)})
  return terms


def _applies(context):
  return bool({'iwae', 'reconstruction'} & set(context.sections))


def run(context):
  yield 'test', bounds_and_errors(context.model, context.config, context.test_images,
                                  context.key('iwae'), context.options,
                                  'iwae' in context.sections)


base.register(base.Evaluator('bounds_and_reconstructions', run, applies=_applies,
                             sections=('iwae', 'reconstruction')))
