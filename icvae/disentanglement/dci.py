"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A
Framework for the Quantitative Evaluation of Disentangled Representations"), as
disentanglement_lib computes it (`evaluation/metrics/dci.py`).

One gradient-boosted tree classifier per factor k predicts v_k from the code; the absolute
feature importances give R[j, k], the relative importance of code j for factor k (section 2,
with sklearn's impurity importances in place of the paper's lasso/random-forest weights).
With P_jk = R[j, k] / sum_k' R[j, k']:

  disentanglement   D = sum_j rho_j (1 - H_F(P_j.)),  rho_j = sum_k R[j, k] / sum R  (eq. 2-3)
  completeness      C = sum_k rho_k (1 - H_D(P~_.k)), P~_jk = R[j, k] / sum_j' R[j', k],
                        rho_k = sum_j R[j, k] / sum R                                  (eq. 4)
  informativeness   the mean accuracy of the K classifiers (train and test)              (eq. 5)

where H_F is the entropy in base F (the number of factors) and H_D in base D (the number of
codes), computed on R + 1e-11 as the reference does.
"""

import numpy as np
import scipy.stats


def importance_matrix(codes_train, factors_train, codes_test, factors_test, random_state=0):
  """(R (D, F) absolute importances, train accuracies (F,), test accuracies (F,)).

  One `sklearn.ensemble.GradientBoostingClassifier()` per factor with sklearn's defaults
  (disentanglement_lib's `compute_importance_gbt`). The reference leaves them unseeded, so
  they draw from numpy's global random state one after the other; here one
  `numpy.random.RandomState(random_state)` is shared by the F fits in the same way, so the
  result is a function of the arrays and equals the reference's after
  `np.random.seed(random_state)`.
  """
  from sklearn import ensemble
  codes_train, codes_test = np.asarray(codes_train), np.asarray(codes_test)
  factors_train, factors_test = np.asarray(factors_train), np.asarray(factors_test)
  num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
  importance = np.zeros((num_codes, num_factors))
  train_accuracy, test_accuracy = [], []
  if not isinstance(random_state, np.random.RandomState):
    random_state = np.random.RandomState(random_state)
  for k in range(num_factors):
    model = ensemble.GradientBoostingClassifier(random_state=random_state)
    model.fit(codes_train, factors_train[:, k])
    importance[:, k] = np.abs(model.feature_importances_)
    train_accuracy.append(np.mean(model.predict(codes_train) == factors_train[:, k]))
    test_accuracy.append(np.mean(model.predict(codes_test) == factors_test[:, k]))
  return importance, np.array(train_accuracy), np.array(test_accuracy)


def disentanglement(importance):
  """D of the module docstring from R (D codes, F factors)."""
  importance = np.asarray(importance, np.float64)
  per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
  if importance.sum() == 0.0:
    importance = np.ones_like(importance)
  code_weight = importance.sum(axis=1) / importance.sum()
  return float(np.sum(per_code * code_weight))


def completeness(importance):
  """C of the module docstring from R (D codes, F factors)."""
  importance = np.asarray(importance, np.float64)
  per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])
  if importance.sum() == 0.0:
    importance = np.ones_like(importance)
  factor_weight = importance.sum(axis=0) / importance.sum()
  return float(np.sum(per_factor * factor_weight))


def dci(codes_train, factors_train, codes_test, factors_test, random_state=0):
  """The three DCI scores of codes (N, D) and factor classes (N, F), trained on the first
  split and scored on both (disentanglement_lib: 10,000 training and 5,000 test points).

  Returns:
    {'informativeness_train', 'informativeness_test', 'disentanglement', 'completeness'}
    floats, and 'importance_matrix' (D, F).
  """
  importance, train_accuracy, test_accuracy = importance_matrix(
      codes_train, factors_train, codes_test, factors_test, random_state)
  return {'informativeness_train': float(np.mean(train_accuracy)),
          'informativeness_test': float(np.mean(test_accuracy)),
          'disentanglement': disentanglement(importance),
          'completeness': completeness(importance),
          'importance_matrix': importance}
