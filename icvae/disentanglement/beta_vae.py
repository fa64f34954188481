"""The BetaVAE score (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework", section 3), as disentanglement_lib computes it
(`evaluation/metrics/beta_vae.py`, `compute_beta_vae_sklearn`).

A training point: draw a factor k uniformly; draw two batches of L factor vectors, the second
sharing the first's value of factor k row by row; encode both batches' observations; the
point's feature is z_diff = (1/L) sum_l |r(x_l) - r(x'_l)| (the paper's eq. in section 3) and
its label k. A logistic regression (`sklearn.linear_model.LogisticRegression`, defaults)
predicts k from z_diff; the score is its accuracy on points it was trained on and on fresh
ones (disentanglement_lib: L = 64, 10,000 training and 5,000 evaluation points).
"""

import numpy as np


def feature_vector(codes_a, codes_b):
  """z_diff = mean over the batch of |codes_a - codes_b|: (L, D), (L, D) -> (D,)."""
  return np.mean(np.abs(np.asarray(codes_a) - np.asarray(codes_b)), axis=0)


def training_points(num_factors, sample_factors, observe, represent, batch_size, num_points,
                    random_state):
  """(features (num_points, D), labels (num_points,)) drawn as the module docstring says.

  Args:
    num_factors: F.
    sample_factors: (n, random_state) -> (n, F) integer factor classes.
    observe: (factors, random_state) -> observations of those factors.
    represent: observations -> (n, D) codes.
    batch_size: L.
    num_points: how many points.
    random_state: a `numpy.random.RandomState`, drawn from in the reference's order (the
      factor, the first batch, the second batch, then each batch's observations).
  """
  features, labels = [], []
  for _ in range(num_points):
    index = random_state.randint(num_factors)
    factors_a = sample_factors(batch_size, random_state)
    factors_b = sample_factors(batch_size, random_state)
    factors_b[:, index] = factors_a[:, index]
    observations_a = observe(factors_a, random_state)
    observations_b = observe(factors_b, random_state)
    features.append(feature_vector(represent(observations_a), represent(observations_b)))
    labels.append(index)
  return np.stack(features), np.asarray(labels)


def score(train_features, train_labels, eval_features, eval_labels, random_state=None):
  """{'train_accuracy', 'eval_accuracy'} of a logistic regression from the points' features
  to their fixed factor."""
  from sklearn import linear_model
  model = linear_model.LogisticRegression(random_state=random_state)
  model.fit(train_features, train_labels)
  return {'train_accuracy': float(np.mean(model.predict(train_features) == train_labels)),
          'eval_accuracy': float(np.mean(model.predict(eval_features) == eval_labels))}
