"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings
with the F-Statistic Loss", section 4), as disentanglement_lib computes them
(`evaluation/metrics/modularity_explicitness.py`).

Modularity: with m[j, k] = I(c_j; v_k) the plug-in mutual information of the binned code j
(`mig.histogram_discretize`, 20 bins) and factor k, and theta_j = max_k m[j, k],

  delta_j = sum_{k != argmax} m[j, k]^2 / (theta_j^2 (F - 1)),  modularity = mean_j (1 - delta_j),

a code whose mutual information is all with one factor scoring 1 (and a code with none, 0).

Explicitness: the codes standardised by the training split's mean and standard deviation per
code (`normalize`); per factor, a logistic regression (`sklearn.linear_model.
LogisticRegression()`, defaults) from the whole code to the factor's classes, scored by the
ROC AUC of its predicted probabilities against the one-hot classes (sklearn's macro average);
explicitness is the mean over factors, on the training and the test split.
"""

import numpy as np

from icvae.disentanglement import mig


def mutual_information_matrix(codes, factors, num_bins=20):
  """m (D, F): plug-in I(bin(c_j); v_k) in nats."""
  return mig.discrete_mutual_information_matrix(mig.histogram_discretize(codes, num_bins),
                                                factors)


def modularity(mutual_information):
  """Ridgeway & Mozer's modularity of m (D codes, F factors): mean_j (1 - delta_j), a code
  with no mutual information with any factor scoring 0."""
  squared = np.square(np.asarray(mutual_information, np.float64))
  largest = np.max(squared, axis=1)
  with np.errstate(divide='ignore', invalid='ignore'):
    delta = (np.sum(squared, axis=1) - largest) / (largest * (squared.shape[1] - 1.0))
  scores = 1.0 - delta
  scores[largest == 0.0] = 0.0
  return float(np.mean(scores))


def normalize(codes, mean=None, std=None):
  """(codes standardised per column, mean, std): by `mean` and `std` when given (a test split
  by its training split's), else by the codes' own (numpy's std, ddof 0)."""
  codes = np.asarray(codes, np.float64)
  mean = codes.mean(axis=0) if mean is None else mean
  std = codes.std(axis=0) if std is None else std
  return (codes - mean) / std, mean, std


def explicitness_per_factor(codes_train, factor_train, codes_test, factor_test):
  """(train, test) ROC AUC of a logistic regression from the code to one factor's classes.

  As the reference, the test labels are one-hot encoded by their own classes
  (`MultiLabelBinarizer.fit_transform` on the test split too): a test split missing a class
  of the training split is refused by sklearn, naming the shapes.
  """
  from sklearn import linear_model
  from sklearn import metrics as sk_metrics
  from sklearn import preprocessing
  classifier = linear_model.LogisticRegression().fit(codes_train, factor_train)
  binarizer = preprocessing.MultiLabelBinarizer()
  train_labels = binarizer.fit_transform(np.expand_dims(factor_train, 1))
  test_labels = binarizer.fit_transform(np.expand_dims(factor_test, 1))
  return (sk_metrics.roc_auc_score(train_labels, classifier.predict_proba(codes_train)),
          sk_metrics.roc_auc_score(test_labels, classifier.predict_proba(codes_test)))


def modularity_explicitness(codes_train, factors_train, codes_test, factors_test, num_bins=20):
  """Both scores of codes (N, D) and factor classes (N, F) (disentanglement_lib: 10,000
  training and 5,000 test points; the mutual information on the training split).

  Returns:
    {'modularity', 'explicitness_train', 'explicitness_test'} floats.
  """
  factors_train, factors_test = np.asarray(factors_train), np.asarray(factors_test)
  constant = np.flatnonzero(np.std(np.asarray(codes_train, np.float64), axis=0) == 0)
  if constant.size:
    raise ValueError(f'explicitness: code(s) {constant.tolist()} are constant over the '
                     'training points (a collapsed dimension), which the standardisation '
                     'divides by; score the other codes.')
  train_normal, mean, std = normalize(codes_train)
  test_normal, _, _ = normalize(codes_test, mean, std)
  scores = []
  for k in range(factors_train.shape[1]):
    train_classes, test_classes = (np.unique(factors_train[:, k]),
                                   np.unique(factors_test[:, k]))
    if not np.array_equal(train_classes, test_classes):
      raise ValueError(f'explicitness: factor {k} takes {len(train_classes)} values in the '
                       f'training points and {len(test_classes)} in the test points; the '
                       "reference's one-hot labels need the same: draw more points.")
    scores.append(explicitness_per_factor(train_normal, factors_train[:, k], test_normal,
                                          factors_test[:, k]))
  return {'modularity': modularity(mutual_information_matrix(codes_train, factors_train,
                                                              num_bins)),
          'explicitness_train': float(np.mean([s[0] for s in scores])),
          'explicitness_test': float(np.mean([s[1] for s in scores]))}
