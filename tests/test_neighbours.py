"""The neighbour-consistency term (`objectives.shared.neighbour_term`, SCAN eq. 2) against the
formula by hand, its nearest-neighbour search against scikit-learn, the neighbours the loop
batches, its refusals, and training through the loop for each family with p(y|x)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import fakes
import icvae
from icvae import data as data_lib
from icvae import loop
from icvae import vat
from icvae.objectives import shared


def test_nearest_neighbours_match_scikit_learn():
  x = np.random.default_rng(0).uniform(size=(503, 20)).astype(np.float32)
  distances, indices = vat.nearest_neighbours(x, 7, chunk_size=100)
  want_distances, want_indices = NearestNeighbors(n_neighbors=8).fit(x).kneighbors(x)
  np.testing.assert_array_equal(np.asarray(indices), want_indices[:, 1:])  # not itself
  np.testing.assert_allclose(np.asarray(distances), want_distances[:, 1:], rtol=1e-4,
                             atol=1e-4)
  # VAT's radius is the last column.
  np.testing.assert_array_equal(vat.nearest_neighbour_distances(x, 7, chunk_size=100),
                                distances[:, -1])


@dataclasses.dataclass(frozen=True)
class _Holder:
  neighbour_weight: float


def _softmax(logits):
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def test_the_term_is_minus_the_log_of_the_posteriors_dot_product():
  rng = np.random.default_rng(1)
  x = rng.uniform(size=(6, 12)).astype(np.float32)
  neighbours = rng.uniform(size=(6, 1, 12)).astype(np.float32)  # k = 1: no draw
  weights = rng.normal(size=(12, 3)).astype(np.float32)
  logits_fn = lambda images: images @ weights
  weighted, value = shared.neighbour_term(_Holder(0.5), jax.random.key(0), neighbours,
                                          logits_fn, logits_fn(x))
  p, q = _softmax(x @ weights), _softmax(neighbours[:, 0] @ weights)
  expected = -np.mean(np.log(np.sum(p * q, axis=-1)))  # SCAN eq. 2, by hand
  assert float(value) == pytest.approx(expected, rel=1e-5)
  assert float(weighted) == pytest.approx(0.5 * expected, rel=1e-5)
  # Gradients reach both sides (SCAN trains both): the clean logits get one too.
  grad = jax.grad(lambda clean: shared.neighbour_term(
      _Holder(1.0), jax.random.key(0), neighbours, logits_fn, clean)[0])(logits_fn(x))
  assert np.all(np.abs(np.asarray(grad)).sum(-1) > 0)


def test_the_term_is_zero_for_one_sure_category_and_log_k_for_uniform_posteriors():
  neighbours = np.zeros((4, 3, 2), np.float32)
  sure = lambda images: jnp.tile(jnp.array([[60.0, 0.0, 0.0, 0.0]]), (images.shape[0], 1))
  _, value = shared.neighbour_term(_Holder(1.0), jax.random.key(1), neighbours, sure,
                                   sure(neighbours[:, 0]))
  assert float(value) == pytest.approx(0.0, abs=1e-6)
  flat = lambda images: jnp.zeros((images.shape[0], 4))
  _, value = shared.neighbour_term(_Holder(1.0), jax.random.key(1), neighbours, flat,
                                   flat(neighbours[:, 0]))
  assert float(value) == pytest.approx(np.log(4), rel=1e-6)


def test_each_example_draws_one_of_its_own_neighbours():
  # Neighbours j of example n hold the value 10 n + j: the logits read it back.
  count, k = 64, 3
  neighbours = (10 * np.arange(count)[:, None] + np.arange(k)[None]).astype(np.float32)
  seen = []
  logits_fn = lambda chosen: (seen.append(chosen), jnp.zeros((count, 2)))[1]
  shared.neighbour_term(_Holder(1.0), jax.random.key(3), neighbours[..., None], logits_fn,
                        jnp.zeros((count, 2)))
  chosen = np.asarray(seen[0])[:, 0]
  assert np.all(chosen // 10 == np.arange(count))  # its own
  assert set(np.unique(chosen % 10)) == {0, 1, 2}  # all of the k, drawn


@dataclasses.dataclass(frozen=True)
class _Objective:
  neighbour_weight: float = 1.0
  neighbours: int = 2
  vat_weight: float = 0.0
  vat_epsilon_neighbour: int = 0


def test_training_data_holds_the_neighbours_as_bytes_for_the_loaders_floats(
    tmp_path, monkeypatch):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path))
  rng = np.random.default_rng(2)
  images = data_lib.as_float(rng.integers(0, 256, (40, 5, 5), dtype=np.uint8))
  data = shared.training_data(_Objective(), images)
  assert data['neighbours'].dtype == np.uint8 and data['neighbours'].shape == (40, 2, 5, 5)
  indices = NearestNeighbors(n_neighbors=3).fit(images.reshape(40, -1)).kneighbors(
      images.reshape(40, -1))[1][:, 1:]
  np.testing.assert_array_equal(data_lib.as_float(data['neighbours']), images[indices])
  assert data['images'] is images
  # Other floats are kept as they are; read again from the cache, the same.
  other = images + np.float32(1e-3)
  again = shared.training_data(_Objective(), other)
  assert again['neighbours'].dtype == np.float32
  np.testing.assert_array_equal(again['neighbours'], other[indices])
  assert list((tmp_path / 'neighbours').glob('knn_*_40_k2.npy'))
  # Off: the images alone, as before.
  assert shared.training_data(_Objective(neighbour_weight=0.0), images) is images


def test_refusals_name_the_flag(tmp_path, monkeypatch):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path))
  images = np.random.default_rng(0).uniform(size=(10, 4)).astype(np.float32)
  with pytest.raises(icvae.config.SettingError, match='--neighbours=10: must be below'):
    shared.training_data(_Objective(neighbours=10), images)
  monkeypatch.setattr(shared, 'MAX_NEIGHBOUR_BYTES', 100)
  with pytest.raises(icvae.config.SettingError, match='--neighbours=2: .* GiB'):
    shared.training_data(_Objective(), images)
  with pytest.raises(icvae.config.SettingError, match='--neighbour_weight > 0'):
    icvae.RunConfig(model='imsat', dataset='mnist', neighbours=3)
  with pytest.raises(icvae.config.SettingError, match='--neighbour_weight'):
    icvae.RunConfig(model='imsat', dataset='mnist', neighbour_weight=-1.0)


@pytest.mark.parametrize('model', ['imae', 'imsat', 'infocatvae'])
def test_the_term_trains_through_the_loop_for_every_family_with_a_categorical_code(
    tmp_path, monkeypatch, model):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path / 'cache'))
  config = fakes.tiny_config(tmp_path / model, model=model, num_epochs=1,
                             neighbour_weight=1.0, neighbours=3)
  loop.train_and_evaluate(config, fakes.tiny_dataset())
  record = json.loads((tmp_path / model / 'metrics.jsonl').read_text().splitlines()[0])
  assert record['train/neighbour'] > 0 and np.isfinite(record['train/loss'])
