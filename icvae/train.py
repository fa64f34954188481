"""Jitted train and eval steps on a plain pytree state, for any objective.

Every model trains through these functions: the step calls `objective.loss(networks,
batch, key, step)` (see `icvae.objectives`), the scanned epoch runs the step over an epoch
in one call, and the evaluation calls `objective.evaluate` and `objective.cluster_logits`.

The model lives as (graphdef, params, constants): `graphdef` is static structure, `params`
the trainable `nnx.Param` values and `constants` everything else (e.g. a fixed prior's
means), both as plain nested dicts of arrays. `TrainState` bundles those dicts with the optax
state and the step counter, so `jax.jit`, `lax.scan`, sharding and Orbax all handle it.

Randomness: a step uses `jax.random.fold_in(key, state.step)`, so a run resumed at step n
draws exactly the numbers an uninterrupted run draws at step n.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec

from icvae import data as data_lib
from icvae import networks as networks_lib


class TrainState(NamedTuple):
  """Everything a training run carries from step to step (a pytree of arrays)."""
  step: jax.Array
  params: Any
  constants: Any
  opt_state: Any


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


def learning_rate_schedule(learning_rate, decay=1.0, steps_per_epoch=1):
  """The learning rate of step t: learning_rate * decay ** floor(t / steps_per_epoch), i.e.
  multiplied by `decay` after every epoch (the IMAE paper: 0.98); `learning_rate` itself
  (a constant) when decay is 1. Every epoch has exactly `steps_per_epoch` steps (the loop
  drops the last partial batch), so the staircase falls on epoch boundaries."""
  if decay == 1:
    return learning_rate
  return optax.exponential_decay(learning_rate, transition_steps=steps_per_epoch,
                                 decay_rate=decay, staircase=True)


def make_optimizer(objective, learning_rate, *, kind='adam', momentum=0.9, decay=1.0,
                   steps_per_epoch=1):
  """The optimiser of a run: one per parameter group of `objective`.

  Args:
    objective: its `parameter_groups()` say which parameters each optimiser updates.
    learning_rate: the first epoch's (a float, or traced in a sweep).
    kind: 'adam' (optax's defaults) or 'momentum' (SGD with heavy-ball momentum, the
      IMAE paper's: v <- momentum v + g, theta <- theta - lr v, as PyTorch's SGD).
    momentum: the momentum coefficient of 'momentum'.
    decay, steps_per_epoch: the per-epoch decay of the learning rate
      (`learning_rate_schedule`); its step count lives in the optimiser state, so a
      resumed run goes on with the rate where it stopped.

  With no groups (`objective.parameter_groups()` is None) one optimiser updates every
  parameter. Otherwise each group gets its own (`optax.multi_transform`); every parameter
  must belong to exactly one group. Adam and momentum are elementwise, so per-group
  optimisers with the same settings take the same steps as one would, and each player's
  state (step counts, moments) is its own.
  """
  schedule = learning_rate_schedule(learning_rate, decay, steps_per_epoch)

  def one():
    if kind == 'adam':
      return optax.adam(schedule)
    if kind == 'momentum':
      return optax.sgd(schedule, momentum=momentum)
    raise ValueError(f'optimizer kind must be adam or momentum, got {kind!r}.')

  groups = objective.parameter_groups()
  if not groups:
    return one()

  def labels(params):
    def label(path, _):
      names = tuple(getattr(k, 'key', getattr(k, 'name', k)) for k in path)
      matches = [group for group, owns in groups.items() if owns(names)]
      if len(matches) != 1:
        raise ValueError(f'parameter {"/".join(map(str, names))} belongs to '
                         f'{len(matches)} parameter groups ({matches}); it must belong to '
                         'exactly one: fix the objective\'s parameter_groups().')
      return matches[0]
    return jax.tree_util.tree_map_with_path(label, params)

  return optax.multi_transform({group: one() for group in groups}, labels)


def objective_loss(objective, graphdef, params, constants, batch, key, step):
  """`objective.loss` on the model rebuilt from (graphdef, params, constants).

  Returns:
    (loss, (terms, constants after the call)): the constants come back so that network
    state that changes in training (e.g. batch-norm statistics) is carried by the state.
  """
  networks = nnx.merge(graphdef, params, constants)
  loss, terms = objective.loss(networks, batch, key, step)
  _, _, constants = nnx.split(networks, nnx.Param, ...)
  return loss, (terms, nnx.to_pure_dict(constants))


def make_train_step(graphdef, optimizer, objective, *, jit=True):
  """Builds train_step(state, batch, key) -> (state, metrics).

  Args:
    graphdef: from `create_train_state`.
    optimizer: an optax GradientTransformation (`make_optimizer`).
    objective: an `icvae.objectives.Objective`.
    jit: wrap in `jax.jit` with the state donated (set False to debug).

  Returns:
    A pure function; `batch` is the (B, *event) data array, `key` the run's base key (the
    step's key is fold_in(key, state.step)); metrics are the objective's terms plus
    'loss' (the scalar minimised) and 'grad_norm'.
  """

  def train_step(state, batch, key):
    step_key = jax.random.fold_in(key, state.step)
    grad_fn = jax.value_and_grad(objective_loss, argnums=2, has_aux=True)
    (loss, (metrics, constants)), grads = grad_fn(objective, graphdef, state.params,
                                                  state.constants, batch, step_key,
                                                  state.step)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
    return state._replace(step=state.step + 1, params=params, constants=constants,
                          opt_state=opt_state), metrics

  return jax.jit(train_step, donate_argnums=0) if jit else train_step


def make_eval_step(graphdef, objective, *, jit=True):
  """Builds eval_step(state, batch, key) -> (metrics, cluster logits or None), dropout off.

  The metrics are `objective.evaluate`'s terms; `key` drives only their Monte Carlo draws.
  """

  def eval_step(state, batch, key):
    networks = nnx.merge(graphdef, state.params, state.constants)
    return objective.evaluate(networks, batch, key), objective.cluster_logits(networks, batch)

  return jax.jit(eval_step) if jit else eval_step


def data_mesh(devices=None):
  """A 1-d mesh named 'data' over `devices` (default: every device of every process, which
  is the local devices unless `jax.distributed` joined several processes)."""
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), ('data',), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))


def devices_dividing(*counts, devices=None):
  """The first n of `devices` (default: the local devices), n the largest number that divides
  every one of `counts` (a batch, a test set: equal shares on every device); at least one."""
  devices = list(jax.local_devices() if devices is None else devices)
  n = len(devices)
  while n > 1 and any(count % n for count in counts):
    n -= 1
  return devices[:n]


def replicate(tree, mesh):
  """Places every array of `tree` on every device of `mesh`.

  With several processes (`jax.distributed`) the mesh spans them all: every process passes
  the same values and holds the copies on its own devices (a global, replicated array).
  PRNG keys travel as their key data.
  """
  sharding = NamedSharding(mesh, PartitionSpec())

  def place(leaf):
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      impl = jax.random.key_impl(leaf)
      data = jax.device_put(np.asarray(jax.random.key_data(leaf)), sharding)
      return jax.jit(lambda d: jax.random.wrap_key_data(d, impl=impl),
                     out_shardings=sharding)(data)
    if jax.process_count() > 1 and not (isinstance(leaf, jax.Array)
                                        and not leaf.is_fully_addressable):
      leaf = np.asarray(leaf)  # a process-local value becomes global from numpy
    return jax.device_put(leaf, sharding)

  return jax.tree.map(place, tree)


def replicated_sharding(mesh):
  """The sharding of an array held whole on every device of `mesh`."""
  return NamedSharding(mesh, PartitionSpec())


def fetch(tree):
  """The values of a tree of arrays on the host (numpy), also for a global array that
  spans several processes, which must then be replicated (as every metric is)."""
  def get(leaf):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      if not leaf.sharding.is_fully_replicated:
        raise ValueError('fetch: a global array that is not replicated; gather it first.')
      return np.asarray(leaf.addressable_data(0))
    return jax.device_get(leaf)
  return jax.tree.map(get, tree)


def make_train_epoch(graphdef, optimizer, objective, batch_size, mesh, *, donate=True,
                     stepwise=False):
  """Builds train_epoch(state, images, key, epoch) -> (state, metrics): one jitted call.

  `images` is the array of training examples, or a dict of per-example arrays
  (`Objective.training_data`), batched together. uint8 images stay uint8 on the devices and
  are converted batch by batch (`data.as_float`).

  The images stay on the devices (replicated); each epoch draws a permutation from
  fold_in(key, epoch), drops the last partial batch, and runs every step in one `lax.scan`,
  each batch sharded over the mesh's 'data' axis (data parallel; XLA inserts the gradient
  all-reduce). The state is donated unless `donate` is False (the loop keeps the last
  finished epoch's state, to save it on Ctrl-C). The metrics are the means over the epoch's
  steps, plus
  'finite' (1.0 when every step's loss was finite) — one small transfer per epoch.

  Keys: `key` is split into (permutation key, step key); steps use fold_in(step key,
  state.step) as in `make_train_step`, so resuming at an epoch boundary repeats exactly.

  `stepwise=True` runs the same steps (the same permutation, batches and keys) as one jitted
  call per step from a Python loop instead of one `lax.scan`: for XLA on CPU, which runs a
  convolution inside a loop body up to 60x slower than outside one (jax-ml/jax#12868;
  `stepwise_epochs` says when). The numbers agree with the scanned epoch's up to
  floating-point rounding (the two are compiled differently).
  """
  if batch_size % mesh.size:
    raise ValueError(f'batch_size {batch_size} must be a multiple of the number of devices '
                     f'({mesh.size}).')
  batch_sharding = NamedSharding(mesh, PartitionSpec('data'))
  replicated = NamedSharding(mesh, PartitionSpec())
  if stepwise:
    return _stepwise_epoch(graphdef, optimizer, objective, batch_size, batch_sharding,
                           replicated, donate)
  train_step = make_train_step(graphdef, optimizer, objective, jit=False)
  train_epoch = _epoch_function(train_step, batch_size, batch_sharding)
  return jax.jit(train_epoch, donate_argnums=0 if donate else (), out_shardings=replicated)


def _epoch_order(images, key, epoch, batch_size):
  """(order, step key) of an epoch: (num_steps, batch_size) example indices, a permutation
  drawn from fold_in(permutation key, epoch) with the last partial batch dropped."""
  permutation_key, step_key = jax.random.split(key)
  count = jax.tree.leaves(images)[0].shape[0]
  num_steps = count // batch_size
  order = jax.random.permutation(jax.random.fold_in(permutation_key, epoch), count)
  return order[:num_steps * batch_size].reshape(num_steps, batch_size), step_key


def stepwise_epochs(network, backend=None):
  """Whether `make_train_epoch` should run its steps from Python (`stepwise`): the network's
  `stepwise_on` backends (the conv networks on a CPU, jax-ml/jax#12868); everything else
  scans."""
  return (backend or jax.default_backend()) in networks_lib.get(network).stepwise_on


def _stepwise_epoch(graphdef, optimizer, objective, batch_size, batch_sharding, replicated,
                    donate):
  """`make_train_epoch`'s epoch as a Python loop over jitted steps (see its `stepwise`)."""
  train_step = make_train_step(graphdef, optimizer, objective, jit=False)

  @functools.partial(jax.jit, out_shardings=replicated)
  def batch_order(images, key, epoch):
    order, step_key = _epoch_order(images, key, epoch, batch_size)
    # One array per step, made on the devices: the loop runs under
    # jax_transfer_guard('disallow'), where indexing `order` from Python would copy an index.
    return tuple(order[i] for i in range(order.shape[0])), step_key

  @functools.partial(jax.jit, donate_argnums=0, out_shardings=replicated)
  def step(state, images, indices, step_key):
    batch = jax.tree.map(lambda a: data_lib.as_float(a[indices]), images)
    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    return train_step(state, batch, step_key)

  @functools.partial(jax.jit, out_shardings=replicated)
  def summary(metrics):
    stacked = jax.tree.map(lambda *m: jnp.stack(m), *metrics)
    means = jax.tree.map(jnp.mean, stacked)
    means['finite'] = jnp.all(jnp.isfinite(stacked['loss'])).astype(jnp.float32)
    return means

  def train_epoch(state, images, key, epoch):
    batches, step_key = batch_order(images, key, epoch)
    if not donate:  # the caller keeps `state`: the steps donate a copy of it
      state = jax.tree.map(jnp.copy, state)
    metrics = []
    for indices in batches:
      state, step_metrics = step(state, images, indices, step_key)
      metrics.append(step_metrics)
    return state, summary(metrics)

  return train_epoch


def _epoch_function(train_step, batch_size, batch_sharding):
  """The unjitted train_epoch of `make_train_epoch` (batch_sharding None: no constraint)."""

  def train_epoch(state, images, key, epoch):
    order, step_key = _epoch_order(images, key, epoch, batch_size)

    def body(state, indices):
      batch = jax.tree.map(lambda a: data_lib.as_float(a[indices]), images)
      if batch_sharding is not None:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
      return train_step(state, batch, step_key)

    state, metrics = jax.lax.scan(body, state, order)
    means = jax.tree.map(jnp.mean, metrics)
    means['finite'] = jnp.all(jnp.isfinite(metrics['loss'])).astype(jnp.float32)
    return state, means

  return train_epoch


def run_mesh(num_runs, devices=None):
  """A 1-d mesh named 'runs' over the most devices (of `devices`, default all local ones)
  whose count divides `num_runs`, for `make_sweep_epoch`."""
  devices = jax.local_devices() if devices is None else list(devices)
  count = max(d for d in range(1, len(devices) + 1) if num_runs % d == 0)
  return jax.make_mesh((count,), ('runs',), devices=devices[:count],
                       axis_types=(jax.sharding.AxisType.Auto,))


def place_runs(tree, mesh):
  """Places the arrays of `tree`, each with a leading axis of runs, split over the mesh's
  'runs' axis (each device holds whole runs)."""
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec('runs')))


def make_sweep_epoch(graphdef, make_parts, batch_size, data_axes, *, donate=True,
                     sequential=None):
  """Builds train_epoch(states, data, keys, epoch, values) -> (states, metrics) for R runs
  in one jitted call: `make_train_epoch`'s epoch, vmapped over the runs.

  Args:
    graphdef: the networks' structure, the same in every run.
    make_parts: make_parts(values) -> (optimizer, objective) of one run, where `values` is
      {setting name: scalar} of that run's swept settings (traced: the objective and
      optimiser must use them only in arithmetic).
    batch_size: of every run.
    data_axes: `jax.vmap` in_axes of the training data: None for an array (or leaf) that
      every run shares, 0 for one stacked per run.
    donate: donate the states (see `make_train_epoch`).
    sequential: train the runs one after another inside the program (`lax.map`, each run
      unbatched) instead of batched together (`jax.vmap`). None: sequential on CPU, where
      XLA's batched matmuls are slower than the plain ones (BENCHMARKS.md, "Sweeps"), and
      batched on GPU and TPU. Keep it False to split the runs over several devices.

  Returns:
    A jitted function. `states` and `keys` have a leading axis of R runs (place them with
    `place_runs` to split the runs over devices), `epoch` is shared, `values` is
    {name: (R,) array}; the metrics come back as (R,) arrays. Run r computes what
    `make_train_epoch` computes for its state, key and values alone, up to floating-point
    rounding (XLA may order a batched matmul's sums differently).
  """

  def one_run(state, data, key, epoch, values):
    optimizer, objective = make_parts(values)
    train_step = make_train_step(graphdef, optimizer, objective, jit=False)
    return _epoch_function(train_step, batch_size, None)(state, data, key, epoch)

  if sequential is None:
    sequential = jax.default_backend() == 'cpu'
  return jax.jit(_over_runs(one_run, (0, data_axes, 0, None, 0), sequential),
                 donate_argnums=0 if donate else ())


def _over_runs(function, in_axes, sequential=False):
  """`function` over a leading axis of runs: `jax.vmap(function, in_axes)`, or with
  `sequential` a `lax.map` (one run after another inside the one program, each computed
  unbatched). A single run (a leading axis of size 1) is computed unbatched either way and
  given its axis back. XLA's CPU backend runs batched matmuls markedly slower than plain ones
  (BENCHMARKS.md, "Sweeps"), so on CPU the sequential form is the faster."""
  vmapped = jax.vmap(function, in_axes=in_axes)

  def over_runs(*args):
    flat = []
    mapped = []
    for arg, axis in zip(args, in_axes):
      leaves, treedef = jax.tree.flatten(arg)
      axes = _axes_like(axis, arg)
      flat.append((treedef, leaves, axes))
      mapped += [leaf for leaf, leaf_axis in zip(leaves, axes) if leaf_axis == 0]
    sizes = {leaf.shape[0] for leaf in mapped}
    if sizes != {1} and not sequential:
      return vmapped(*args)

    def one(slices):
      slices = iter(slices)
      return function(*[treedef.unflatten([next(slices) if leaf_axis == 0 else leaf
                                           for leaf, leaf_axis in zip(leaves, axes)])
                        for treedef, leaves, axes in flat])

    if sizes == {1}:
      return jax.tree.map(lambda leaf: leaf[None], one([leaf[0] for leaf in mapped]))
    return jax.lax.map(one, mapped)

  return over_runs


def _axes_tree(axis, tree):
  """`axis` (an int, None, or a tree of them as vmap's in_axes allow) broadcast over `tree`."""
  if axis is None or isinstance(axis, int):
    return jax.tree.map(lambda _: axis, tree)
  return jax.tree.map(lambda a, _: a, axis, tree, is_leaf=lambda a: a is None)


def _axes_like(axis, tree):
  """The axis of each leaf of `tree` (in `jax.tree.leaves` order)."""
  if axis is None or isinstance(axis, int):
    return [axis] * len(jax.tree.leaves(tree))
  return jax.tree.leaves(_axes_tree(axis, tree), is_leaf=lambda a: a is None)


def evaluation_batch_size(count, requested, multiple_of):
  """Largest b <= requested dividing `count` with b a multiple of `multiple_of` (the
  devices), so every example is evaluated once in equal batches; ValueError if none."""
  for size in range(min(requested, count), 0, -1):
    if count % size == 0 and size % multiple_of == 0:
      return size
  raise ValueError(f'{count} examples cannot be split into equal batches over '
                   f'{multiple_of} devices: use a number of devices that divides {count}.')


def cluster_count(graphdef, objective, state, batch):
  """K, the size of the objective's categorical code (None without one), from shapes only."""
  def logits(state, batch):
    return objective.cluster_logits(nnx.merge(graphdef, state.params, state.constants), batch)
  shape = jax.eval_shape(logits, state, batch[:1])
  return None if shape is None else shape.shape[-1]


def make_evaluate(graphdef, objective, batch_size, mesh):
  """Builds evaluate(state, images, key) -> (metrics, clusters or None), one jitted call.

  Runs `make_eval_step` over all the images in equal batches (the largest size <=
  `batch_size` that divides the number of images and the device count, so every example
  counts once and the means are exact), returning the mean of the batch metrics and the
  argmax cluster of every image (None when the objective has no categorical code). Dropout
  is off; `key` drives the Monte Carlo samples, with fold_in(key, batch index) per batch.
  """
  return jax.jit(_evaluate_function(make_eval_step(graphdef, objective, jit=False),
                                    batch_size, mesh.size,
                                    NamedSharding(mesh, PartitionSpec('data'))),
                 out_shardings=NamedSharding(mesh, PartitionSpec()))


def _evaluate_function(eval_step, batch_size, multiple_of, batch_sharding):
  """The unjitted evaluate of `make_evaluate` (batch_sharding None: no constraint)."""

  def evaluate(state, images, key):
    size = evaluation_batch_size(images.shape[0], batch_size, multiple_of)
    batches = images.reshape(images.shape[0] // size, size, *images.shape[1:])

    def body(_, inputs):
      index, batch = inputs
      if batch_sharding is not None:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
      metrics, logits = eval_step(state, batch, jax.random.fold_in(key, index))
      return None, (metrics, None if logits is None else logits.argmax(-1))

    _, (metrics, clusters) = jax.lax.scan(body, None,
                                          (jnp.arange(batches.shape[0]), batches))
    return (jax.tree.map(jnp.mean, metrics),
            None if clusters is None else clusters.reshape(-1))

  return evaluate


def make_sweep_evaluate(graphdef, make_parts, batch_size, sequential=None):
  """Builds evaluate(states, images, keys, values) -> (metrics, clusters or None) for R
  runs in one jitted call: `make_evaluate` vmapped over the runs (see `make_sweep_epoch`
  for `make_parts`, `values` and `sequential`); the images are shared, metrics come back as
  (R,) arrays and clusters as (R, N)."""

  def one_run(state, images, key, values):
    _, objective = make_parts(values)
    evaluate = _evaluate_function(make_eval_step(graphdef, objective, jit=False),
                                  batch_size, 1, None)
    return evaluate(state, images, key)

  if sequential is None:
    sequential = jax.default_backend() == 'cpu'
  return jax.jit(_over_runs(one_run, (0, None, 0, 0), sequential))
