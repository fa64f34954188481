"""Fully connected trunks and decoders: Table 2's MLP (dropout), the IMAE paper's
batch-normalised trunk (Table 1) and its plain dense trunk (Table 2, dSprites).
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from icvae.networks import kernels
from icvae.networks import layers
from icvae.networks import registry


class MLPEncoder(nnx.Module):
  """Table 2 encoder trunk: FC(in -> hidden) + Dropout + ReLU.

  Dropout and ReLU commute (dropout scales by a positive 1/(1-rate) or zeroes), so the
  table's order needs no care.
  """

  def __init__(self, in_features=784, hidden_features=400, dropout_rate=0.25,
               compute_dtype=jnp.float32, *, rngs):
    self.in_features = in_features
    self.features = hidden_features
    self.dense = nnx.Linear(in_features, hidden_features, rngs=rngs)
    self.compute_dtype = compute_dtype
    self.dropout_rate = dropout_rate

  def __call__(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> (B, hidden) float32 features. Flattens the event axes first; dropout
    in training (`key` draws it; `update_statistics` is not read: no batch norm)."""
    del update_statistics
    h = kernels.dense(self.dense, x.reshape(x.shape[0], -1), self.compute_dtype)
    return jax.nn.relu(layers.dropout(h, self.dropout_rate, key, training=training))


class MLPDecoder(nnx.Module):
  """Table 2 decoder: FC(d -> hidden) + Dropout + ReLU, FC(hidden -> out) logits.

  Choice: Table 2 also lists a Dropout(0.25) before the output sigmoid. Dropping output
  logits would set random pixels to 0.5 at training time only, which the likelihood then
  scores; we follow the issue's specification and drop the hidden layer only. The sigmoid is
  not applied here: the Bernoulli likelihood works on logits for stability.
  """

  def __init__(self, latent_dim, hidden_features=400, out_shape=(784,), dropout_rate=0.25,
               compute_dtype=jnp.float32, *, rngs):
    self.out_shape = tuple(out_shape)
    out_features = 1
    for size in self.out_shape:
      out_features *= size
    self.hidden = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.out = nnx.Linear(hidden_features, out_features, rngs=rngs)
    self.compute_dtype = compute_dtype
    self.dropout_rate = dropout_rate

  def __call__(self, z, key=None, *, training=None):
    """(..., d) -> (..., *out_shape) float32 logits; dropout in training."""
    h = kernels.dense(self.hidden, z, self.compute_dtype)
    h = jax.nn.relu(layers.dropout(h, self.dropout_rate, key, training=training))
    return kernels.dense(self.out, h, self.compute_dtype).reshape(*z.shape[:-1], *self.out_shape)


class BatchNormTrunk(nnx.Module):
  """FC + BatchNorm + ReLU layers (IMAE Table 1 encoder trunk: 784 -> 500 -> 500; IMSAT's
  784 -> 1200 -> 1200).

  Batch norm uses the batch's statistics and updates its running averages in training
  (`training=True`), and the running averages in evaluation. The running averages are
  `nnx.BatchStat` variables: the train step returns them updated with the state
  (`train.objective_loss`).

  Choice: momentum 0.9 (running = 0.9 running + 0.1 batch), PyTorch's BatchNorm1d default
  and Chainer's (IMSAT), as the IMAE paper gives none and its authors' framework is not
  known. Epsilon is Flax's 1e-5 (Chainer's is 2e-5; against a unit-scale variance the
  difference is immaterial), and the running variance is the biased one (Chainer and
  PyTorch keep the unbiased one: a factor B / (B - 1), 1.004 at IMSAT's batch of 250).

  Args:
    in_features: the flat input size.
    hidden_sizes: the widths of the layers.
    momentum: of the running averages.
    input_scaling: a key of `INPUT_SCALINGS`, applied to x before the first layer.
    initialization: a key of `INITIALIZATIONS`, for the layers' kernels.
  """

  def __init__(self, in_features, hidden_sizes=(500, 500), momentum=0.9, *,
               input_scaling='unit', initialization='lecun', rngs):
    sizes = (in_features,) + tuple(hidden_sizes)
    init = layers.kernel_initializer(initialization)
    self.dense = nnx.List([nnx.Linear(a, b, kernel_init=init, rngs=rngs)
                           for a, b in zip(sizes, sizes[1:])])
    self.norm = nnx.List([nnx.BatchNorm(b, momentum=momentum, rngs=rngs)
                          for b in sizes[1:]])
    self.features = sizes[-1]
    self.input_scale, self.input_shift = layers.INPUT_SCALINGS[input_scaling]

  def __call__(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> (B, features); the batch's statistics in training (`key` is not
    otherwise read: no randomness).

    With update_statistics=False (in training) the batch's statistics normalise as in
    training but the running averages are left as they are, and nothing is written to
    the module: a pure function, safe inside jax.grad (VAT's perturbed passes).
    """
    training = layers.is_training(key, training)
    h = x.reshape(x.shape[0], -1)
    if (self.input_scale, self.input_shift) != (1.0, 0.0):
      h = self.input_scale * h + self.input_shift
    for dense, norm in zip(self.dense, self.norm):
      h = jax.nn.relu(layers.normalised(norm, dense(h), training, update_statistics))
    return h


class DenseTrunk(nnx.Module):
  """FC + ReLU layers without batch norm (IMAE Table 2 encoder trunk: 4096 -> 1200 x 3).

  Takes the same arguments as `BatchNormTrunk` (there are no statistics to update, and no
  dropout: the key is not used), so `JointCodeAutoencoder` holds either.
  """

  def __init__(self, in_features, hidden_sizes=(1200, 1200, 1200), *, rngs):
    sizes = (in_features,) + tuple(hidden_sizes)
    self.dense = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes, sizes[1:])])
    self.features = sizes[-1]

  def __call__(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> (B, features), the same in training and evaluation."""
    del key, update_statistics, training
    h = x.reshape(x.shape[0], -1)
    for dense in self.dense:
      h = jax.nn.relu(dense(h))
    return h


def trunk(request, rngs):
  """The MLP trunk of a `registry.Request`: 'dropout' Table 2's `MLPEncoder` (width
  widths[0]), 'batch_norm' `BatchNormTrunk`, 'plain' `DenseTrunk` (every width)."""
  features = math.prod(request.shape)
  if request.style == 'dropout':
    return MLPEncoder(features, request.widths[0], request.dropout_rate,
                      kernels.COMPUTE_DTYPES[request.compute_dtype], rngs=rngs)
  if request.style == 'batch_norm':
    return BatchNormTrunk(features, request.widths, input_scaling=request.input_scaling,
                          initialization=request.initialization, rngs=rngs)
  return DenseTrunk(features, request.widths, rngs=rngs)


def decoder(request, rngs):
  """Table 2's `MLPDecoder` for the 'dropout' style (flat outputs); None for the others,
  whose families build their own MLP decoder (`JointCodeAutoencoder`'s)."""
  if request.style != 'dropout':
    return None
  return MLPDecoder(request.code_size, request.widths[0], (math.prod(request.shape),),
                    request.dropout_rate, kernels.COMPUTE_DTYPES[request.compute_dtype],
                    rngs=rngs)


NETWORK = registry.register(registry.Network(
    'mlp', "fully connected layers on flat examples (the papers' Tables; any data)",
    trunk=trunk, decoder=decoder))
