"""`icvae.augment`: each transform against numpy's exact equivalent (flip, integer shifts,
quarter turns), identity bit for bit, values kept in [0, 1], draws from the key alone; and
the augmentation-consistency term (`objectives.shared.consistency_term`) against the KL
computed by hand, through the loop for each family with a categorical code."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fakes
import icvae
from icvae import augment
from icvae import loop
from icvae.objectives import shared


def _images(count=4, shape=(9, 9), seed=0):
  return np.random.default_rng(seed).uniform(size=(count, *shape)).astype(np.float32)


def test_default_settings_return_the_input_itself():
  x = jnp.asarray(_images())
  assert augment.Augmentation()(jax.random.key(0), x) is x
  assert not augment.Augmentation().active and augment.Augmentation(flip=True).active


def test_flip_and_integer_shifts_are_numpys():
  image = _images(1, (7, 8))[0]
  flipped = augment.warp(jnp.asarray(image), 0.0, 1.0, jnp.zeros(2), 1.0)
  np.testing.assert_array_equal(flipped, image[:, ::-1])
  shifted = augment.warp(jnp.asarray(image), 0.0, 1.0, jnp.array([2.0, -1.0]), 0.0)
  expected = np.zeros_like(image)
  expected[2:, :-1] = image[:-2, 1:]  # down 2 rows, left 1 column; 0 comes in
  np.testing.assert_array_equal(shifted, expected)


def test_a_quarter_turn_is_rot90_and_colour_channels_move_together():
  image = _images(1, (9, 9, 3))[0]
  turned = augment.warp(jnp.asarray(image), np.pi / 2, 1.0, jnp.zeros(2), 0.0)
  candidates = [np.rot90(image, k, axes=(0, 1)) for k in (1, 3)]
  assert any(np.allclose(turned, c, atol=1e-5) for c in candidates)


def test_scaling_keeps_the_centre_and_halving_reads_every_other_pixel():
  image = _images(1, (9, 9))[0]
  doubled = augment.warp(jnp.asarray(image), 0.0, 2.0, jnp.zeros(2), 0.0)
  assert doubled[4, 4] == image[4, 4]
  halved = augment.warp(jnp.asarray(image), 0.0, 0.5, jnp.zeros(2), 0.0)
  np.testing.assert_allclose(halved[2:7, 2:7], image[0:9:2, 0:9:2], atol=1e-6)
  assert np.all(np.asarray(halved)[0] == 0)  # read from outside the image: background


def test_random_transforms_keep_shape_range_and_are_drawn_from_the_key():
  x = jnp.asarray(_images(6, (12, 10)))
  augmentation = augment.Augmentation(translate=2, rotate=15, scale=0.1, elastic=2,
                                      elastic_sigma=3, flip=True)
  run = jax.jit(augmentation.__call__)
  first, again = run(jax.random.key(1), x), run(jax.random.key(1), x)
  np.testing.assert_array_equal(first, again)
  assert first.shape == x.shape and first.dtype == x.dtype
  assert float(first.min()) >= 0 and float(first.max()) <= 1
  assert not np.array_equal(first, run(jax.random.key(2), x))
  assert not np.array_equal(first[0], first[1])  # each image its own draw


def test_elastic_displacement_is_smooth_noise_scaled_by_alpha():
  one = augment.elastic_displacement(jax.random.key(0), (16, 16), 1.0, 2.0)
  three = augment.elastic_displacement(jax.random.key(0), (16, 16), 3.0, 2.0)
  np.testing.assert_allclose(three, 3 * one, rtol=1e-5)
  noise = jax.random.uniform(jax.random.key(0), (2, 16, 16), minval=-1, maxval=1)
  # smoothing: neighbouring displacements agree far more than the raw noise does
  assert np.abs(np.diff(one, axis=1)).mean() < 0.5 * np.abs(np.diff(noise, axis=1)).mean()
  kernel = augment.gaussian_kernel(2.0)
  assert len(kernel) == 13 and float(kernel.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize('setting', [dict(translate=-1), dict(scale=1.0), dict(rotate=-2),
                                     dict(elastic_sigma=0)])
def test_invalid_settings_are_refused(setting):
  with pytest.raises(ValueError):
    augment.Augmentation(**setting)


# --- the augmentation-consistency term (icvae.objectives.shared) -------------------------


@dataclasses.dataclass(frozen=True)
class _Holder:
  consistency_weight: float
  augmentation: augment.Augmentation
  image_shape: tuple


def test_consistency_is_the_kl_from_the_clean_to_the_augmented_posterior():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.uniform(size=(5, 36)).astype(np.float32))
  weights = jnp.asarray(rng.normal(size=(36, 4)).astype(np.float32))
  logits_fn = lambda images: images @ weights
  holder = _Holder(2.5, augment.Augmentation(flip=True, translate=1.0), (6, 6))
  key = jax.random.key(7)
  weighted, divergence = shared.consistency_term(holder, key, x, logits_fn, logits_fn(x))
  augmented = np.asarray(holder.augmentation(key, x.reshape(5, 6, 6))).reshape(5, 36)
  log_p = np.log(np.exp(x @ weights) / np.exp(x @ weights).sum(-1, keepdims=True))
  log_q = np.log(np.exp(augmented @ weights) / np.exp(augmented @ weights).sum(-1,
                                                                                 keepdims=True))
  expected = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), -1))  # by hand
  assert float(divergence) == pytest.approx(expected, rel=1e-5)
  assert float(weighted) == pytest.approx(2.5 * expected, rel=1e-5)
  # the clean side is held fixed: no gradient reaches the clean logits
  grad = jax.grad(lambda clean: shared.consistency_term(holder, key, x, logits_fn, clean)[0])(
      logits_fn(x))
  np.testing.assert_array_equal(grad, 0.0)
  # a posterior the transform cannot change costs nothing
  invariant = lambda images: jnp.stack([images.sum(-1), -images.sum(-1)], axis=-1) * 0.0
  assert float(shared.consistency_term(holder, key, x, invariant, invariant(x))[1]) == 0.0


@pytest.mark.parametrize('model', ['imae', 'imsat', 'infocatvae'])
def test_consistency_trains_through_the_loop_for_every_family_with_a_categorical_code(
    tmp_path, model):
  config = fakes.tiny_config(tmp_path / model, model=model, num_epochs=1,
                             consistency_weight=1.0, augment_rotate=10.0, augment_translate=1.0)
  loop.train_and_evaluate(config, fakes.tiny_dataset())
  record = json.loads((tmp_path / model / 'metrics.jsonl').read_text().splitlines()[0])
  assert record['train/consistency'] > 0 and np.isfinite(record['train/loss'])
  with pytest.raises(icvae.config.SettingError, match='feature vectors'):
    icvae.RunConfig(model=model, dataset='custom', data_shape='5', consistency_weight=1.0,
                    augment_flip=True, workdir=str(tmp_path / 'x'))
