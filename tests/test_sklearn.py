"""The scikit-learn estimators (`icvae.sklearn`): clusters of well-separated blobs against
their labels, the estimator API (clone, params, pickle, Pipeline, GridSearchCV), deployment
(self-contained pickles, no folders left, refit afresh, warm start), the checks of new X,
and scikit-learn's own estimator checks (with the n_clusters=1 ones tested at K = 2)."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('sklearn')
import joblib  # pylint: disable=g-import-not-at-top
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from icvae import metrics
from icvae.sklearn import IMAEClustering
from icvae.sklearn import InfoCatVAEClustering

# The checks that set n_clusters=1, which icvae refuses (module docstring of icvae.sklearn);
# `test_at_two_clusters_the_properties_of_the_n_clusters_1_checks` tests them at K = 2.
EXPECTED_FAILURES = {
    name: 'sets n_clusters=1; icvae needs K >= 2 (tested at K = 2 in this file)'
    for name in ('check_dont_overwrite_parameters', 'check_methods_subset_invariance',
                 'check_fit2d_1feature', 'check_fit2d_predict1d')}
SMALL = dict(max_epochs=1, batch_size=16, hidden_features=8)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path / 'cache'))
  monkeypatch.setenv('TMPDIR', str(tmp_path))


def _blobs():
  return make_blobs(n_samples=600, centers=3, n_features=4, cluster_std=1.0, random_state=0)


def test_imae_finds_separated_blobs_and_the_api_holds(tmp_path):
  X, y = _blobs()
  estimator = IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=15, batch_size=64,
                             hidden_features=32)
  with pytest.raises(NotFittedError):
    estimator.predict(X)
  labels = estimator.fit_predict(X)
  assert metrics.clustering_accuracy(labels, y) >= 0.95
  np.testing.assert_array_equal(labels, estimator.labels_)
  probabilities = estimator.predict_proba(X)
  assert probabilities.shape == (600, 3)
  np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
  assert estimator.transform(X).shape == (600, 2)
  assert estimator.score(X, y) == pytest.approx(metrics.clustering_accuracy(labels, y))
  assert 0.9 < estimator.score(X) <= np.log(3) + 1e-6  # I(x; y) of balanced, sure clusters
  with pytest.raises(ValueError, match='X has 3 features, but IMAEClustering is expecting 4'):
    estimator.predict(X[:, :3])
  again = pickle.loads(pickle.dumps(estimator))
  np.testing.assert_array_equal(again.predict(X), labels)
  twin = clone(estimator)
  assert twin.get_params() == estimator.get_params() and not hasattr(twin, 'model_')
  twin.set_params(n_clusters=4, settings={'vat_weight': 2.0})
  assert twin.get_params()['n_clusters'] == 4


def test_refusals_name_the_setting():
  X, _ = _blobs()
  with pytest.raises(ValueError, match='--num_categories=1: need at least 2'):
    IMAEClustering(n_clusters=1, max_epochs=1).fit(X)
  with pytest.raises(ValueError, match='--latent_dim=5 is not a multiple'):
    InfoCatVAEClustering(n_clusters=3, latent_dim=5, max_epochs=1).fit(X)
  with pytest.raises(ValueError, match='NaN'):
    IMAEClustering(max_epochs=1).fit(np.full((10, 3), np.nan))


@pytest.mark.slow
def test_pipeline_and_grid_search_with_a_label_scorer_and_an_unsupervised_one():
  X, y = _blobs()
  pipeline = make_pipeline(MinMaxScaler(), InfoCatVAEClustering(
      n_clusters=3, latent_dim=6, max_epochs=2, batch_size=64, hidden_features=16))
  assert pipeline.fit(X).predict(X).shape == (600,)
  search = GridSearchCV(IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=2,
                                       batch_size=64, hidden_features=16),
                        {'learning_rate': [1e-3, 3e-3]}, cv=2)
  search.fit(X, y)  # score(X, y): clustering accuracy against y
  assert search.best_params_['learning_rate'] in (1e-3, 3e-3)
  assert len(search.cv_results_['mean_test_score']) == 2
  unsupervised = GridSearchCV(IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=2,
                                             batch_size=64, hidden_features=16),
                              {'beta': [1.0, 5.0]}, cv=2, refit=False)
  unsupervised.fit(X)  # score(X): I(x; y) in nats
  assert np.all(unsupervised.cv_results_['mean_test_score'] <= np.log(3) + 1e-6)


def test_pickle_is_self_contained_and_fit_leaves_no_folders(tmp_path):
  X, _ = _blobs()
  estimator = IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=2, batch_size=64,
                             hidden_features=16).fit(X)
  assert not list(tmp_path.glob('icvae-sklearn-*'))  # TMPDIR is tmp_path: nothing left
  assert estimator.workdir_ is None
  joblib.dump(estimator, tmp_path / 'model.joblib')
  np.save(tmp_path / 'X.npy', X)
  # Another machine: a new process with its own HOME, TMPDIR, cache and working folder.
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  env = dict(os.environ, HOME=str(elsewhere), TMPDIR=str(elsewhere),
             ICVAE_CACHE_DIR=str(elsewhere / 'cache'), JAX_PLATFORMS='cpu')
  script = ('import sys, joblib, numpy as np; model = joblib.load(sys.argv[1]); '
            'np.save(sys.argv[3], model.predict_proba(np.load(sys.argv[2])))')
  subprocess.run([sys.executable, '-c', script, str(tmp_path / 'model.joblib'),
                  str(tmp_path / 'X.npy'), str(elsewhere / 'p.npy')], env=env, cwd=elsewhere,
                 check=True)
  np.testing.assert_allclose(np.load(elsewhere / 'p.npy'), estimator.predict_proba(X),
                             rtol=1e-6)


def test_fit_with_a_workdir_trains_afresh_and_warm_start_resumes(tmp_path):
  X, _ = _blobs()
  other = X[::-1] * 2.0
  params = dict(n_clusters=3, latent_dim=2, batch_size=64, hidden_features=16)
  folder = tmp_path / 'run'
  estimator = IMAEClustering(max_epochs=1, workdir=str(folder), **params).fit(X)
  assert (folder / 'config.json').exists()  # kept for inspection
  estimator.fit(other)  # afresh: the run on X is replaced, not resumed
  fresh = IMAEClustering(max_epochs=1, **params).fit(other)
  np.testing.assert_array_equal(estimator.predict_proba(other), fresh.predict_proba(other))
  estimator.set_params(max_epochs=2, warm_start=True).fit(other)  # resumes epoch 1 -> 2
  straight = IMAEClustering(max_epochs=2, **params).fit(other)
  np.testing.assert_array_equal(estimator.predict_proba(other), straight.predict_proba(other))
  epochs = [json.loads(line)['epoch'] for line in
            (folder / 'metrics.jsonl').read_text().splitlines() if '"train/loss"' in line]
  assert epochs == [1, 2]
  mine = tmp_path / 'mine'
  mine.mkdir()
  (mine / 'notes.txt').write_text('not an icvae run')
  with pytest.raises(ValueError, match=r'holds files that are not an icvae run \(notes.txt\)'):
    IMAEClustering(workdir=str(mine), **params).fit(X)
  assert (mine / 'notes.txt').exists()
  # a config.json beside other files is not enough: nothing is deleted
  (mine / 'config.json').write_text('{}')
  (mine / 'src').mkdir()
  (mine / 'src' / 'thesis.tex').write_text('important')
  with pytest.raises(ValueError, match='not an icvae run'):
    IMAEClustering(workdir=str(mine), **params).fit(X)
  assert (mine / 'src' / 'thesis.tex').exists()
  # a refused setting leaves the previous run in place
  with pytest.raises(ValueError, match='--num_categories=1'):
    IMAEClustering(workdir=str(folder), **dict(params, n_clusters=1)).fit(X)
  assert (folder / 'checkpoints').is_dir()
  with pytest.raises(ValueError, match='warm_start=True resumes the run in workdir'):
    IMAEClustering(warm_start=True, **params).fit(X)


def test_random_state_as_scikit_learn_documents_it():
  assert IMAEClustering(random_state=7)._seed() == 7
  assert (IMAEClustering(random_state=np.random.RandomState(3))._seed()
          == IMAEClustering(random_state=np.random.RandomState(3))._seed())
  draws = {IMAEClustering(random_state=None)._seed() for _ in range(5)}
  assert len(draws) > 1  # None: a new seed each time


def test_new_x_is_checked_as_training_data_is():
  rng = np.random.default_rng(0)
  images = ((rng.random((40, 4, 5)) > 0.5) * 255).astype(np.uint8)
  estimator = IMAEClustering(n_clusters=2, latent_dim=3, **SMALL).fit(images)
  assert estimator.n_features_in_ == 20
  assert list(estimator.get_feature_names_out()) == [
      'imaeclustering0', 'imaeclustering1', 'imaeclustering2']
  floats = images / 255.0
  expected = estimator.predict_proba(floats)
  # int 0..255 images are intensities, scaled as uint8 ones (not fed unscaled)
  np.testing.assert_allclose(estimator.predict_proba(images.astype(np.int64)), expected,
                             rtol=1e-6)
  np.testing.assert_allclose(estimator.predict_proba(images[..., None]), expected, rtol=1e-6)
  with pytest.raises(ValueError, match=r'float pixel values from 0 to 255.*\[0, 1\]'):
    estimator.predict(images.astype(np.float64))
  with pytest.raises(ValueError, match='channels-first'):
    estimator.predict(images[:, None])
  with pytest.raises(ValueError, match='NaN'):
    estimator.predict(np.where(images > 0, np.nan, 0.0))
  model = estimator.model_  # the library's LoadedModel applies the same rule
  np.testing.assert_allclose(model.predict_proba(images.astype(np.int32)), expected,
                             rtol=1e-6)
  for bad, match in ((np.full((2, 4, 5), np.nan), 'not a finite number'),
                     (images.astype(np.float32), 'float pixel values'),
                     (images[:, None], 'channels-first')):
    with pytest.raises(ValueError, match=match):
      model.predict(bad)


def test_score_takes_labels_of_any_kind():
  X, y = _blobs()
  estimator = IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=2, batch_size=64,
                             hidden_features=16).fit(X)
  names = np.array(['setosa', 'versicolor', 'virginica'])[y]
  assert estimator.score(X, names) == estimator.score(X, y) == estimator.score(X, y + 2024)


@pytest.mark.parametrize('estimator_class,latent_dim', [(IMAEClustering, 2),
                                                        (InfoCatVAEClustering, 4)])
def test_at_two_clusters_the_properties_of_the_n_clusters_1_checks(estimator_class, latent_dim):
  X, _ = make_blobs(n_samples=60, centers=2, n_features=3, random_state=1)
  estimator = estimator_class(n_clusters=2, latent_dim=latent_dim, **SMALL)
  params = estimator.get_params()
  estimator.fit(X)
  assert estimator.get_params() == params  # check_dont_overwrite_parameters
  for method in ('predict', 'predict_proba', 'transform'):  # check_methods_subset_invariance
    whole = getattr(estimator, method)(X)
    parts = np.concatenate([getattr(estimator, method)(X[i:i + 7]) for i in range(0, 60, 7)])
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)
  again = clone(estimator).fit(X)  # check_fit_idempotent, at K = 2
  np.testing.assert_array_equal(again.predict_proba(X), estimator.predict_proba(X))
  restored = pickle.loads(pickle.dumps(estimator))  # check_estimators_pickle
  np.testing.assert_array_equal(restored.predict_proba(X), estimator.predict_proba(X))
  one_feature = estimator_class(n_clusters=2, latent_dim=latent_dim, **SMALL).fit(X[:, :1])
  assert one_feature.predict(X[:, :1]).shape == (60,)  # check_fit2d_1feature
  with pytest.raises(ValueError, match='Reshape your data'):  # check_fit2d_predict1d
    estimator.predict(X[0])


@pytest.mark.parametrize('estimator_class,latent_dim', [(IMAEClustering, 2),
                                                        (InfoCatVAEClustering, 6)])
def test_scikit_learn_estimator_checks(estimator_class, latent_dim):
  estimator = estimator_class(n_clusters=3, latent_dim=latent_dim, **SMALL)
  results = check_estimator(estimator, on_fail=None, expected_failed_checks=EXPECTED_FAILURES)
  failed = {r['check_name']: str(r['exception'])[:300] for r in results
            if r['status'] == 'failed'}
  assert not failed, failed
  assert {r['check_name'] for r in results if r['status'] == 'xfail'} == set(EXPECTED_FAILURES)
  assert sum(r['status'] == 'passed' for r in results) >= 40
