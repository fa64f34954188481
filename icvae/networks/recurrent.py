"""The recurrent encoder and decoder of InfoCatVAE's Table 3 (GRUs over image rows).
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from icvae.networks import registry


def _scan_cell(cell, carry, inputs, reverse=False):
  """Runs an nnx RNN cell over the time axis 1 of (B, T, F) inputs with `lax.scan`.

  Returns (final carry, (B, T, H) outputs). The cell is traced once, whatever T.
  """
  def step(carry, x):
    return cell(carry, x)

  carry, outputs = jax.lax.scan(step, carry, jnp.swapaxes(inputs, 0, 1), reverse=reverse)
  return carry, jnp.swapaxes(outputs, 0, 1)


class GRUEncoder(nnx.Module):
  """Table 3 encoder trunk: a bidirectional GRU over T steps of F features.

  Returns concat(final forward state, final backward state): (B, 2 * hidden), 256 features
  for the paper's hidden 128. Table 3 has no dropout; `key` is accepted and ignored.
  """

  def __init__(self, num_features=28, hidden_features=128, *, rngs):
    self.features = 2 * hidden_features
    self.hidden_features = hidden_features
    self.forward_cell = nnx.GRUCell(num_features, hidden_features, rngs=rngs)
    self.backward_cell = nnx.GRUCell(num_features, hidden_features, rngs=rngs)

  def __call__(self, x, key=None, update_statistics=True, *, training=None):
    """(B, T, F) sequences -> (B, 2 * hidden) features, the same in training and
    evaluation."""
    del key, update_statistics, training
    if x.ndim != 3:
      raise ValueError(f'GRUEncoder expects (batch, time, features) sequences, got shape '
                       f'{x.shape}; use data.as_sequences.')
    zeros = jnp.zeros((x.shape[0], self.hidden_features), x.dtype)
    forward, _ = _scan_cell(self.forward_cell, zeros, x)
    backward, _ = _scan_cell(self.backward_cell, zeros, x, reverse=True)
    return jnp.concatenate([forward, backward], axis=-1)


class GRUDecoder(nnx.Module):
  """Table 3 decoder: FC(d -> hidden) initial state, GRU(d -> hidden) + ReLU fed z at every
  step, FC(hidden -> F) + sigmoid per step; returns (..., T, F) means in [0, 1].

  Choice: Table 3 lists "FC 20 x 128" then "GRU 20 x 128": we read the FC as the GRU's
  initial hidden state (tanh, the range of a GRU state) and 20 as the GRU's input size, so z
  is the input at each of the T steps. The sigmoid is applied here: with the squared-error
  likelihood of appendix C the decoder outputs the mean itself.
  """

  def __init__(self, latent_dim, hidden_features=128, num_steps=28, num_features=28, *,
               rngs):
    self.num_steps = num_steps
    self.initial = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.cell = nnx.GRUCell(latent_dim, hidden_features, rngs=rngs)
    self.out = nnx.Linear(hidden_features, num_features, rngs=rngs)

  def __call__(self, z, key=None, *, training=None):
    """(..., d) codes -> (..., T, F) sigmoid means, the same in training and evaluation."""
    del key, training
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])
    inputs = jnp.broadcast_to(flat[:, None, :], (flat.shape[0], self.num_steps, flat.shape[-1]))
    _, hidden = _scan_cell(self.cell, jnp.tanh(self.initial(flat)), inputs)
    means = jax.nn.sigmoid(self.out(jax.nn.relu(hidden)))
    return means.reshape(*lead, *means.shape[1:])


def trunk(request, rngs):
  """Table 3's `GRUEncoder` over the rows of (rows, columns[, channels]) images, hidden
  widths[0] each way."""
  return GRUEncoder(math.prod(request.shape[1:]), request.widths[0], rngs=rngs)


def decoder(request, rngs):
  """Table 3's `GRUDecoder`: one step per image row, hidden widths[0]."""
  return GRUDecoder(request.code_size, request.widths[0], request.shape[0],
                    math.prod(request.shape[1:]), rngs=rngs)


NETWORK = registry.register(registry.Network(
    'gru', 'recurrent, image rows as a sequence (InfoCatVAE Table 3; images)',
    trunk=trunk, decoder=decoder, reads=('image',), view='sequence', styles=('dropout',),
    dropout=False, likelihood='squared_error'))
