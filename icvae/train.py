"""Jitted train and eval steps on a plain pytree state.

The model lives as (graphdef, params, constants): `graphdef` is static structure, `params`
the trainable `nnx.Param` values and `constants` everything else (e.g. a fixed prior's
means), both as plain nested dicts of arrays. `TrainState` bundles those dicts with the optax
state and the step counter, so `jax.jit`, `lax.scan`, sharding and Orbax all handle it.

Randomness: a step uses `jax.random.fold_in(key, state.step)`, so a run resumed at step n
draws exactly the numbers an uninterrupted run draws at step n.
"""

import dataclasses
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec

from icvae import losses


class TrainState(NamedTuple):
  """Everything a training run carries from step to step (a pytree of arrays)."""
  step: jax.Array
  params: Any
  constants: Any
  opt_state: Any


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Static choices of the objective (see `losses.infocatvae_loss`)."""
  weights: losses.LossWeights
  reconstruction: str = 'expected'
  likelihood: str = 'bernoulli'
  num_info_samples: Optional[int] = None
  stratified_info: bool = True

  def __post_init__(self):
    if self.reconstruction not in losses.RECONSTRUCTION_ESTIMATORS:
      raise ValueError(f'reconstruction must be one of {losses.RECONSTRUCTION_ESTIMATORS}, '
                       f'got {self.reconstruction!r}.')
    if not losses.is_likelihood(self.likelihood):
      raise ValueError(f'likelihood must be one of {losses.LIKELIHOODS} or a '
                       f'losses.GaussianLikelihood, got {self.likelihood!r}.')
    if self.num_info_samples is not None and self.num_info_samples < 1:
      raise ValueError(f'num_info_samples must be >= 1, got {self.num_info_samples}.')


def split_model(model):
  """model -> (graphdef, params, constants) with params/constants as plain dicts."""
  graphdef, params, constants = nnx.split(model, nnx.Param, ...)
  return graphdef, nnx.to_pure_dict(params), nnx.to_pure_dict(constants)


def create_train_state(model, optimizer):
  """Splits `model` and initialises `optimizer` on its params.

  Returns:
    (graphdef, TrainState) with step 0.
  """
  graphdef, params, constants = split_model(model)
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params, constants=constants,
                     opt_state=optimizer.init(params))
  return graphdef, state


def model_loss(graphdef, params, constants, x, key, config, *, training=True,
               compute_information=None):
  """Objective of `config` for a batch x; `training` turns dropout on (keys from `key`)."""
  model = nnx.merge(graphdef, params, constants)
  if hasattr(model, 'loss'):  # a model with its own objective (the AAE baseline)
    return model.loss(x, key, training=training, likelihood=config.likelihood)
  encode_key, loss_key = jax.random.split(key)
  dropout = (lambda k: k) if training else (lambda k: None)
  posterior = model.encode(x, dropout(encode_key),
                           soft_code=config.reconstruction == 'soft_code')
  return losses.infocatvae_loss(
      loss_key, x, posterior,
      lambda z, k: model.decode(z, dropout(k)),
      lambda images, k: model.classify(images, dropout(k)),
      model.prior_means(), config.weights,
      reconstruction=config.reconstruction, likelihood=config.likelihood,
      num_info_samples=config.num_info_samples, stratified_info=config.stratified_info,
      compute_information=compute_information)


def make_train_step(graphdef, optimizer, config, *, jit=True):
  """Builds train_step(state, batch, key) -> (state, metrics).

  Args:
    graphdef: from `create_train_state`.
    optimizer: an optax GradientTransformation (e.g. optax.adam(learning_rate)).
    config: `LossConfig`.
    jit: wrap in `jax.jit` with the state donated (set False to debug).

  Returns:
    A pure function; `batch` is the (B, *event) data array, `key` the run's base key (the
    step's key is fold_in(key, state.step)); metrics are the unweighted batch means of
    `losses.infocatvae_loss` plus 'grad_norm'.
  """

  def train_step(state, batch, key):
    step_key = jax.random.fold_in(key, state.step)
    grad_fn = jax.value_and_grad(model_loss, argnums=1, has_aux=True)
    (_, metrics), grads = grad_fn(graphdef, state.params, state.constants, batch, step_key,
                                  config)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = dict(metrics, grad_norm=optax.tree.norm(grads))
    return state._replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

  return jax.jit(train_step, donate_argnums=0) if jit else train_step


def make_eval_step(graphdef, config, *, jit=True):
  """Builds eval_step(state, batch, key) -> (metrics, category_logits), dropout off.

  The metrics always use the 'expected' estimator, so 'elbo' is the bound of Proposition 1
  whatever estimator training used, and always include the information cross-entropy (for
  CatVAE too, to compare as in section 10). `key` drives only the Monte Carlo samples of z
  and of the generated images.
  """
  eval_config = dataclasses.replace(config, reconstruction='expected')

  def eval_step(state, batch, key):
    _, metrics = model_loss(graphdef, state.params, state.constants, batch, key,
                            eval_config, training=False, compute_information=True)
    model = nnx.merge(graphdef, state.params, state.constants)
    return metrics, model.classify(batch)

  return jax.jit(eval_step) if jit else eval_step


def data_mesh(devices=None):
  """A 1-d mesh named 'data' over `devices` (default: all local devices)."""
  devices = jax.local_devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), ('data',), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh):
  """Places every array of `tree` on every device of `mesh`."""
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def make_train_epoch(graphdef, optimizer, config, batch_size, mesh):
  """Builds train_epoch(state, images, key, epoch) -> (state, metrics): one jitted call.

  The images stay on the devices (replicated); each epoch draws a permutation from
  fold_in(key, epoch), drops the last partial batch, and runs every step in one `lax.scan`,
  each batch sharded over the mesh's 'data' axis (data parallel; XLA inserts the gradient
  all-reduce). The state is donated. The metrics are the means over the epoch's steps, plus
  'finite' (1.0 when every step's loss was finite) — one small transfer per epoch.

  Keys: `key` is split into (permutation key, step key); steps use fold_in(step key,
  state.step) as in `make_train_step`, so resuming at an epoch boundary repeats exactly.
  """
  if batch_size % mesh.size:
    raise ValueError(f'batch_size {batch_size} must be a multiple of the number of devices '
                     f'({mesh.size}).')
  train_step = make_train_step(graphdef, optimizer, config, jit=False)
  batch_sharding = NamedSharding(mesh, PartitionSpec('data'))

  def train_epoch(state, images, key, epoch):
    permutation_key, step_key = jax.random.split(key)
    num_steps = images.shape[0] // batch_size
    order = jax.random.permutation(jax.random.fold_in(permutation_key, epoch), images.shape[0])
    order = order[:num_steps * batch_size].reshape(num_steps, batch_size)

    def body(state, indices):
      batch = jax.lax.with_sharding_constraint(images[indices], batch_sharding)
      return train_step(state, batch, step_key)

    state, metrics = jax.lax.scan(body, state, order)
    means = jax.tree.map(jnp.mean, metrics)
    means['finite'] = jnp.all(jnp.isfinite(metrics['loss'])).astype(jnp.float32)
    return state, means

  return jax.jit(train_epoch, donate_argnums=0)


def _divisor_batch_size(count, requested, multiple_of):
  """Largest b <= requested dividing `count` with b a multiple of `multiple_of`."""
  for size in range(min(requested, count), 0, -1):
    if count % size == 0 and size % multiple_of == 0:
      return size
  raise ValueError(f'{count} examples cannot be split into batches that are multiples of '
                   f'{multiple_of} devices; evaluate on a multiple of {multiple_of} examples.')


def make_evaluate(graphdef, config, batch_size, mesh):
  """Builds evaluate(state, images, key) -> (metrics, clusters), one jitted call.

  Runs `make_eval_step` over all the images in equal batches (the largest size <=
  `batch_size` that divides the number of images and the device count, so every example
  counts once and the means are exact), returning the mean of the batch metrics and the
  argmax cluster of every image. Dropout is off; `key` drives the Monte Carlo samples, with
  fold_in(key, batch index) per batch. The information term uses as many generated images
  per batch as the config says (default: the batch size).
  """
  eval_step = make_eval_step(graphdef, config, jit=False)
  batch_sharding = NamedSharding(mesh, PartitionSpec('data'))

  def evaluate(state, images, key):
    size = _divisor_batch_size(images.shape[0], batch_size, mesh.size)
    batches = images.reshape(images.shape[0] // size, size, *images.shape[1:])

    def body(_, inputs):
      index, batch = inputs
      batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
      metrics, logits = eval_step(state, batch, jax.random.fold_in(key, index))
      return None, (metrics, logits.argmax(-1))

    _, (metrics, clusters) = jax.lax.scan(body, None,
                                          (jnp.arange(batches.shape[0]), batches))
    return jax.tree.map(jnp.mean, metrics), clusters.reshape(-1)

  return jax.jit(evaluate)
