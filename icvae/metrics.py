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


def _entropy(counts):
  p = counts[counts > 0] / counts.sum()
  return float(-np.sum(p * np.log(p)))


def normalized_mutual_information(clusters, labels):
  """NMI = I(clusters; labels) / mean(H(clusters), H(labels)) in nats, from the contingency
  table (the arithmetic-mean normalisation, scikit-learn's default). 1.0 for any relabelling
  of the truth; 0 for independent labellings. Both constant: 1.0 by convention."""
  clusters, labels = np.asarray(clusters), np.asarray(labels)
  _, cluster_ids = np.unique(clusters, return_inverse=True)
  _, label_ids = np.unique(labels, return_inverse=True)
  counts = confusion_counts(cluster_ids, label_ids, cluster_ids.max() + 1, label_ids.max() + 1)
  h_clusters, h_labels = _entropy(counts.sum(1)), _entropy(counts.sum(0))
  if h_clusters == 0 and h_labels == 0:
    return 1.0
  n = counts.sum()
  joint = counts / n
  outer = np.outer(counts.sum(1), counts.sum(0)) / n ** 2
  nonzero = joint > 0
  mutual = float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))
  return max(0.0, mutual / (0.5 * (h_clusters + h_labels)))


def adjusted_rand_index(clusters, labels):
  """Adjusted Rand index (Hubert & Arabie 1985): pair-counting agreement corrected for
  chance; 1.0 for any relabelling of the truth, about 0 for random labellings."""
  clusters, labels = np.asarray(clusters), np.asarray(labels)
  _, cluster_ids = np.unique(clusters, return_inverse=True)
  _, label_ids = np.unique(labels, return_inverse=True)
  counts = confusion_counts(cluster_ids, label_ids, cluster_ids.max() + 1,
                            label_ids.max() + 1).astype(np.float64)
  pairs = lambda x: x * (x - 1) / 2
  index = pairs(counts).sum()
  rows, cols = pairs(counts.sum(1)).sum(), pairs(counts.sum(0)).sum()
  expected = rows * cols / pairs(counts.sum())
  maximum = 0.5 * (rows + cols)
  if maximum == expected:
    return 1.0
  return float((index - expected) / (maximum - expected))


def clustering_report(clusters, labels, num_clusters):
  """Every clustering number of `experiments.evaluate`, as a dict of floats."""
  num_classes = int(np.max(labels)) + 1
  return {
      'accuracy': clustering_accuracy(clusters, labels, num_clusters, num_classes),
      'many_to_one_accuracy': many_to_one_accuracy(clusters, labels, num_clusters,
                                                   num_classes),
      'nmi': normalized_mutual_information(clusters, labels),
      'ari': adjusted_rand_index(clusters, labels),
      'cluster_usage': cluster_usage(clusters, num_clusters).tolist(),
  }
