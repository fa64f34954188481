"""Observation models p(x|z): what a decoder's outputs mean, as small hashable objects.

Every likelihood has
- `log_prob(outputs, targets, event_ndims)`: log p(x|z) in nats, summed over the last
  `event_ndims` axes (one example's pixels, or time steps x features), leading axes kept;
- `mean(outputs)`: E[x|z], the image a figure shows and the information term classifies.

They are frozen dataclasses, so they compare by value and can be static arguments of a
jitted function or fields of an objective. `get` turns the names used in flags and older
configs ('bernoulli', 'gaussian', 'squared_error') into objects.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

NAMES = ('bernoulli', 'gaussian', 'squared_error')


def sum_event(values, event_ndims):
  """Sums the last `event_ndims` axes of `values` (one example's event)."""
  return jnp.sum(values, axis=tuple(range(values.ndim - event_ndims, values.ndim)))


def bernoulli_log_prob(logits, targets, event_ndims=1):
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
    InfoCatVAE eq. (3); appendix B (sigmoid output layer).
  """
  return sum_event(targets * logits - jax.nn.softplus(logits), event_ndims)


def gaussian_log_prob(mean, targets, scale=1.0, event_ndims=1):
  """log N(x; mean, scale^2 I), including its normalising constant.

  -0.5 ||x - mean||^2 / scale^2 - D log(scale) - D/2 log(2 pi) with D the event size, so
  with scale = 1 the gradient is that of half the summed squared error (InfoCatVAE
  section 3: under p(x|z) = N(mu(z), 1) the log-likelihood is the squared error up to a
  constant).

  Args:
    mean: (..., *event) decoder output (the mean of p(x|z)).
    targets: broadcastable to `mean`.
    scale: the fixed standard deviation.
    event_ndims: how many trailing axes are one example's event.

  Returns:
    log-likelihood in nats summed over the event axes; leading axes kept.
  """
  squared = jnp.square((targets - mean) / scale)
  log_norm = jnp.log(scale) + 0.5 * jnp.log(2.0 * jnp.pi)
  return sum_event(-0.5 * squared - log_norm, event_ndims)


@dataclasses.dataclass(frozen=True)
class Bernoulli:
  """Independent Bernoulli pixels; the decoder outputs logits (InfoCatVAE appendix B)."""

  def log_prob(self, outputs, targets, event_ndims=1):
    """See `bernoulli_log_prob`."""
    return bernoulli_log_prob(outputs, targets, event_ndims)

  def mean(self, outputs):
    """sigmoid(logits): the pixel probabilities."""
    return jax.nn.sigmoid(outputs)


@dataclasses.dataclass(frozen=True)
class Gaussian:
  """p(x|z) = N(x; decoder output, scale^2 I) with a fixed `scale`.

  For real-valued data the paper fixes the loss (appendix C) but not the noise level; the
  noise level sets the weight of the reconstruction against the beta-weighted KL terms:
  -log p(x|z) is SSE / (2 scale^2) + const, so halving the scale quadruples it.
  """
  scale: float = 1.0

  def __post_init__(self):
    if not (isinstance(self.scale, (int, float)) and not isinstance(self.scale, bool)
            and math.isfinite(self.scale) and self.scale > 0):
      raise ValueError(f'the Gaussian likelihood scale must be a finite number > 0, '
                       f'got {self.scale!r}.')

  def log_prob(self, outputs, targets, event_ndims=1):
    """See `gaussian_log_prob`."""
    return gaussian_log_prob(outputs, targets, self.scale, event_ndims)

  def mean(self, outputs):
    return outputs


@dataclasses.dataclass(frozen=True)
class SquaredError:
  """Appendix C's loss as a likelihood: minus the sum over time steps of the per-step MSE.

  For sequences with F features per step, -sum_t mean_f (x_tf - mean_tf)^2 is, up to a
  constant, log N(x; mean, (F / 2) I): `log_prob` is that normalised Gaussian (scale
  sqrt(F / 2), F read from the outputs' last axis), so its gradient is exactly that of the
  paper's loss and importance-weighted bounds stay bounds on a proper density.

  References:
    InfoCatVAE appendix C ("the sum of the mean squared error of each time step").
  """

  def log_prob(self, outputs, targets, event_ndims=2):
    scale = math.sqrt(outputs.shape[-1] / 2.0)
    return gaussian_log_prob(outputs, targets, scale, event_ndims)

  def mean(self, outputs):
    return outputs


def get(spec):
  """A likelihood object from a name in NAMES or an object with `log_prob` and `mean`.

  Raises:
    ValueError: for any other value, listing the names.
  """
  if isinstance(spec, str):
    if spec == 'bernoulli':
      return Bernoulli()
    if spec == 'gaussian':
      return Gaussian(1.0)
    if spec == 'squared_error':
      return SquaredError()
  elif callable(getattr(spec, 'log_prob', None)) and callable(getattr(spec, 'mean', None)):
    return spec
  raise ValueError(f'likelihood must be one of {NAMES} or an object with log_prob and mean '
                   f'(e.g. icvae.likelihoods.Gaussian(0.2)), got {spec!r}.')
