"""Evaluation metrics computed on the host from model outputs."""

import numpy as np
from scipy import optimize


def confusion_counts(clusters, labels, num_clusters, num_classes):
  """(num_clusters, num_classes) counts of (cluster, label) pairs."""
  counts = np.zeros((num_clusters, num_classes), np.int64)
  np.add.at(counts, (np.asarray(clusters), np.asarray(labels)), 1)
  return counts


def clustering_accuracy(clusters, labels, num_clusters=None, num_classes=None):
  """Unsupervised clustering accuracy with the Hungarian one-to-one matching.

  The clusters are matched to the labels by the assignment that maximises the number of
  agreeing examples (scipy's `linear_sum_assignment` on the confusion counts); accuracy is
  that number over the number of examples. With more clusters than classes, the unmatched
  clusters count as errors (see `many_to_one_accuracy` for the other convention).

  Args:
    clusters: (N,) integer cluster of each example.
    labels: (N,) integer true label of each example.
    num_clusters, num_classes: defaults: 1 + the largest value seen.

  Returns:
    A float in [0, 1].
  """
  clusters, labels = np.asarray(clusters), np.asarray(labels)
  num_clusters = num_clusters or int(clusters.max()) + 1
  num_classes = num_classes or int(labels.max()) + 1
  counts = confusion_counts(clusters, labels, num_clusters, num_classes)
  rows, cols = optimize.linear_sum_assignment(counts, maximize=True)
  return float(counts[rows, cols].sum() / len(labels))


def many_to_one_accuracy(clusters, labels, num_clusters=None, num_classes=None):
  """Accuracy when each cluster is mapped to its majority label (several clusters may share
  one label): the usual convention when K exceeds the number of classes."""
  clusters, labels = np.asarray(clusters), np.asarray(labels)
  num_clusters = num_clusters or int(clusters.max()) + 1
  num_classes = num_classes or int(labels.max()) + 1
  counts = confusion_counts(clusters, labels, num_clusters, num_classes)
  return float(counts.max(axis=1).sum() / len(labels))


def cluster_usage(clusters, num_clusters):
  """Fraction of examples in each cluster, shape (num_clusters,)."""
  return np.bincount(np.asarray(clusters), minlength=num_clusters) / len(clusters)
