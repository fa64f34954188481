"""Clustering metrics against permutations, chance, hand computation and scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from icvae import metrics


def test_permuted_labelling_scores_one():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 10, 5000)
  clusters = rng.permutation(10)[labels]
  assert metrics.clustering_accuracy(clusters, labels) == 1.0
  assert metrics.normalized_mutual_information(clusters, labels) == pytest.approx(1.0)
  assert metrics.adjusted_rand_index(clusters, labels) == pytest.approx(1.0)


def test_random_labelling_scores_near_chance():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 10, 20000)
  clusters = rng.integers(0, 10, 20000)
  # The best of 10! matchings of a random labelling is a little above 1/K.
  assert 0.1 <= metrics.clustering_accuracy(clusters, labels) < 0.12
  assert metrics.normalized_mutual_information(clusters, labels) < 0.01
  assert abs(metrics.adjusted_rand_index(clusters, labels)) < 0.01


def test_hand_computed_three_clusters():
  # cluster 0 -> label 2 (3 right), cluster 1 -> label 0 (2 right), cluster 2 -> label 1
  # (1 right): 6 of 9.
  clusters = [0, 0, 0, 0, 1, 1, 1, 2, 2]
  labels = [2, 2, 2, 1, 0, 0, 1, 1, 0]
  assert metrics.clustering_accuracy(clusters, labels) == pytest.approx(6 / 9)
  # Many-to-one: every cluster takes its majority label: 3 + 2 + 1 (tie) = 6.
  assert metrics.many_to_one_accuracy(clusters, labels) == pytest.approx(6 / 9)


def test_more_clusters_than_classes():
  labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
  clusters = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # each class split in two pure clusters
  assert metrics.clustering_accuracy(clusters, labels, 4, 2) == 0.5  # one-to-one
  assert metrics.many_to_one_accuracy(clusters, labels, 4, 2) == 1.0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_nmi_and_ari_equal_scikit_learn(seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, 3000)
  clusters = np.where(rng.random(3000) < 0.6, labels, rng.integers(0, 7, 3000))
  assert metrics.normalized_mutual_information(clusters, labels) == pytest.approx(
      sk_metrics.normalized_mutual_info_score(labels, clusters), abs=1e-10)
  assert metrics.adjusted_rand_index(clusters, labels) == pytest.approx(
      sk_metrics.adjusted_rand_score(labels, clusters), abs=1e-10)


def test_report_has_usage_summing_to_one():
  report = metrics.clustering_report(np.array([0, 1, 1, 3]), np.array([0, 1, 1, 1]), 4)
  assert report['cluster_usage'] == [0.25, 0.5, 0.0, 0.25]
  assert set(report) == {'accuracy', 'many_to_one_accuracy', 'nmi', 'ari', 'cluster_usage'}
