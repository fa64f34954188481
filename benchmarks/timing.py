"""What the benchmark scripts share: the benchmarked model and a timed epoch."""

import time

import jax
import optax

import icvae


def setup(reconstruction, beta_info, compute_dtype='float32'):
  """(graphdef, state, optimizer, objective) of the benchmarked model: the Table 2 MLP,
  betas 10/10/beta_info, Adam 1e-3."""
  optimizer = optax.adam(1e-3)
  config = icvae.InfoCatVAE(10.0, 10.0, beta_info, reconstruction=reconstruction)
  graphdef, state = icvae.create_train_state(icvae.mlp_catvae(compute_dtype=compute_dtype),
                                             optimizer)
  return graphdef, state, optimizer, config


def timed_epoch(epoch, state, images, key, index):
  """Runs epoch `index` to completion; returns (state, metrics, seconds)."""
  started = time.perf_counter()
  state, metrics = epoch(state, images, key, index)
  jax.block_until_ready(metrics)
  return state, metrics, time.perf_counter() - started
