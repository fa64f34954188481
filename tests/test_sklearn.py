"""The scikit-learn estimators (`icvae.sklearn`): clusters of well-separated blobs against
their labels, the estimator API (clone, params, pickle, Pipeline, GridSearchCV), and
scikit-learn's own estimator checks."""

import pickle

import numpy as np
import pytest

pytest.importorskip('sklearn')
from sklearn.base import clone  # pylint: disable=g-import-not-at-top
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from icvae import metrics
from icvae.sklearn import IMAEClustering
from icvae.sklearn import InfoCatVAEClustering

# The checks that set n_clusters=1, which icvae refuses (module docstring of icvae.sklearn).
EXPECTED_FAILURES = {'check_dont_overwrite_parameters', 'check_methods_subset_invariance',
                     'check_fit2d_1feature', 'check_fit2d_predict1d'}


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


@pytest.mark.slow
def test_scikit_learn_estimator_checks():
  estimator = IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=1, batch_size=16,
                             hidden_features=8)
  results = check_estimator(estimator, on_fail=None)
  failed = {r['check_name'] for r in results if r['status'] == 'failed'}
  assert failed == EXPECTED_FAILURES, {r['check_name']: str(r['exception'])[:300]
                                       for r in results if r['status'] == 'failed'}
  assert sum(r['status'] == 'passed' for r in results) >= 40
