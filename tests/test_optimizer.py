"""--optimizer, --momentum and --learning_rate_decay: the updates against hand computation,
the schedule across a resume, and the refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import icvae
from icvae import inference
from icvae import loop
from icvae import objectives
from icvae import settings
from icvae import train

from tests import fakes


class _Quadratic(objectives.Objective):
  """loss = sum(a * theta^2) / 2 with a fixed a, so the gradient a * theta is known."""


def _steps(optimizer, theta, a, count):
  state = optimizer.init(theta)
  path = []
  for _ in range(count):
    updates, state = optimizer.update(a * theta, state, theta)
    theta = theta + updates
    path.append(np.asarray(theta))
  return path


def test_momentum_with_decay_is_heavy_ball_sgd_with_a_per_epoch_staircase():
  a = jnp.asarray([0.5, 2.0, -1.0])
  theta0 = jnp.asarray([1.0, -3.0, 2.0])
  optimizer = train.make_optimizer(_Quadratic(), 0.1, kind='momentum', momentum=0.8,
                                   decay=0.5, steps_per_epoch=3)
  path = _steps(optimizer, theta0, a, 7)
  theta, velocity = np.asarray(theta0, np.float64), np.zeros(3)
  for step in range(7):
    rate = 0.1 * 0.5 ** (step // 3)  # 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025
    velocity = 0.8 * velocity + np.asarray(a) * theta
    theta = theta - rate * velocity
    np.testing.assert_allclose(path[step], theta, rtol=1e-5)


def test_adam_without_decay_is_plain_adam_with_its_state_layout():
  theta = {'w': jnp.ones(4)}
  plain = icvae.train.make_optimizer(_Quadratic(), 1e-3)
  state = plain.init(theta)
  import optax
  reference = optax.adam(1e-3).init(theta)
  assert jax.tree.structure(state) == jax.tree.structure(reference)


def test_adam_with_decay_scales_each_epoch_s_steps():
  # With a constant gradient, Adam's normalised step is lr_t in every coordinate.
  a = jnp.ones(2)
  optimizer = train.make_optimizer(_Quadratic(), 1.0, decay=0.9, steps_per_epoch=2)
  state = optimizer.init(jnp.zeros(2))
  sizes = []
  for _ in range(6):
    updates, state = optimizer.update(a, state)
    sizes.append(float(-updates[0]))
  np.testing.assert_allclose(sizes, [1, 1, 0.9, 0.9, 0.81, 0.81], rtol=1e-4)


@pytest.mark.parametrize('values,flag', [
    (dict(optimizer='sgd'), '--optimizer=sgd'),
    (dict(optimizer='adam', momentum=0.5), '--momentum=0.5'),
    (dict(optimizer='momentum', momentum=1.0), '--momentum=1.0'),
    (dict(learning_rate_decay=0.0), '--learning_rate_decay=0.0'),
    (dict(learning_rate_decay=1.5), '--learning_rate_decay=1.5'),
])
def test_bad_optimizer_settings_are_refused_naming_the_flag(values, flag):
  with pytest.raises(settings.SettingError, match=flag):
    icvae.RunConfig(**values)


def test_steps_per_epoch_follow_the_training_examples():
  assert icvae.RunConfig(batch_size=250).steps_per_epoch == 240
  assert icvae.RunConfig(batch_size=250, protocol='all').steps_per_epoch == 280
  assert icvae.RunConfig(batch_size=100, train_examples=1000).steps_per_epoch == 10


def test_a_resumed_run_keeps_its_optimiser_and_schedule(tmp_path):
  dataset = fakes.tiny_dataset()
  options = dict(model='imae', hidden_features=16, optimizer='momentum', momentum=0.9,
                 learning_rate=0.05, learning_rate_decay=0.5)
  whole = fakes.tiny_config(tmp_path / 'whole', num_epochs=3, **options)
  final = loop.train_and_evaluate(whole, dataset)
  split = tmp_path / 'split'
  loop.train_and_evaluate(fakes.tiny_config(split, num_epochs=2, **options), dataset)
  resumed = loop.train_and_evaluate(fakes.tiny_config(split, num_epochs=3, **options), dataset)
  for got, want in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(final.params)):
    np.testing.assert_array_equal(got, want)
  # The schedule's count is in the checkpoint: 4 steps per epoch, 3 epochs.
  loaded = inference.load_model(split)
  counts = [int(leaf) for leaf in jax.tree.leaves(loaded.state.opt_state)
            if jnp.ndim(leaf) == 0 and jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.integer)]
  assert counts and set(counts) == {12}
  # Another optimiser on the same workdir is refused, naming the setting.
  with pytest.raises(loop.ExperimentError, match='learning_rate_decay'):
    loop.train_and_evaluate(fakes.tiny_config(split, num_epochs=4, **dict(
        options, learning_rate_decay=0.9)), dataset)
