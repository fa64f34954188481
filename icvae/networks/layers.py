"""Pieces every network kind shares: dropout as explicit masks, the input scalings and
initialisations of --input_scaling and --initialization, batch norm without updates.
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx


def dropout_keep_mask(key, rate, shape):
  """Boolean keep-mask with P(keep) = 1 - rate, from as few random bits as is exact.

  Threefry costs one 32-bit word per draw, and on a CPU it is a visible part of a training
  step. When (1 - rate) * 256 is an integer (e.g. rate 0.25 -> keep if byte < 192) every
  32-bit word is cut into four independent uniform bytes, so a mask costs a quarter of the
  words, and P(keep) is still exactly 1 - rate; likewise 16-bit pieces when
  (1 - rate) * 65536 is an integer. Any other rate falls back to `jax.random.bernoulli`.
  """
  size = math.prod(shape)
  for bits, dtype in ((8, jnp.uint8), (16, jnp.uint16)):
    threshold = (1.0 - rate) * 2 ** bits
    if threshold == int(threshold):
      per_word = 32 // bits
      words = jax.random.bits(key, (-(-size // per_word),), jnp.uint32)
      pieces = jax.lax.bitcast_convert_type(words, dtype).reshape(-1)[:size]
      return (pieces < jnp.asarray(int(threshold), dtype)).reshape(shape)
  return jax.random.bernoulli(key, 1.0 - rate, shape)


def is_training(key, training=None):
  """The mode of a network call: `training` when given. When it is not (None), a key means
  training and no key evaluation: the rule before icvae 0.4, kept for code written to it;
  icvae's own calls pass `training`."""
  return key is not None if training is None else bool(training)


def dropout(x, rate, key=None, *, training=None):
  """Inverted dropout: zero each unit with probability `rate`, scale the rest by 1/(1-rate).

  In evaluation (`training` False, `is_training`) or at rate 0 it returns x unchanged, so
  E[dropout(x)] = x either way.

  Raises:
    ValueError: training with a rate > 0 and no key.
  """
  if not is_training(key, training) or rate == 0:
    return x
  if key is None:
    raise ValueError('dropout in training needs a PRNG key: pass key=..., or training=False '
                     'for evaluation.')
  keep = dropout_keep_mask(key, rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


# How an encoder sees its input (`--input_scaling`): (scale, shift) of x' = scale x + shift
# on images in [0, 1]. 'imsat' is IMSAT's published code (`load_mnist.py`: pixel / 128 - 1 on
# pixel bytes 0..255, i.e. 255/128 x - 1, in [-1, 0.992]).
INPUT_SCALINGS = {'unit': (1.0, 0.0), 'imsat': (255.0 / 128.0, -1.0)}
# Weight initialisations (`--initialization`): 'lecun' is Flax's default (a truncated normal
# of variance 1 / fan_in, zero biases); 'imsat' is IMSAT's published code under Chainer
# 1.21, whose `Linear(wscale=w)` draws W ~ N(0, w / fan_in) (`HeNormal(sqrt(w / 2))`):
# w = 0.1 for the hidden layers and 1e-4 for the output layer, so the first p(y|x) are
# nearly uniform.
INITIALIZATIONS = ('lecun', 'imsat')
IMSAT_HIDDEN_WSCALE = 0.1
IMSAT_OUTPUT_WSCALE = 1e-4


def kernel_initializer(initialization, output=False):
  """The kernel initializer of a Linear layer for `--initialization` (`INITIALIZATIONS`);
  `output` marks a network's last layer (IMSAT's tiny one)."""
  if initialization == 'lecun':
    return nnx.initializers.lecun_normal()
  if initialization == 'imsat':
    scale = IMSAT_OUTPUT_WSCALE if output else IMSAT_HIDDEN_WSCALE
    return nnx.initializers.variance_scaling(scale, 'fan_in', 'normal')
  raise ValueError(f'initialization must be one of {INITIALIZATIONS}, got {initialization!r}.')


def normalised(norm, h, training, update_statistics):
  """Batch norm over every axis but the last: the running averages in evaluation
  (`training` False); in training the batch's statistics, updating the averages unless
  `update_statistics` is False (then a pure function, for VAT's perturbed passes)."""
  if training and not update_statistics:
    axes = tuple(range(h.ndim - 1))
    mean = jnp.mean(h, axis=axes)
    variance = jnp.mean(jnp.square(h - mean), axis=axes)
    return (h - mean) * jax.lax.rsqrt(variance + norm.epsilon) * norm.scale[...] + norm.bias[...]
  return norm(h, use_running_average=not training)
