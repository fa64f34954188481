"""The SAP score, Separated Attribute Predictability (Kumar et al. 2018, "Variational Inference
of Disentangled Latent Concepts from Unlabeled Observations", section 3), as
disentanglement_lib computes it (`evaluation/metrics/sap_score.py`).

S[j, k] is how well code j alone predicts factor k: for discrete factors, the test accuracy
of a linear SVM on that one code (`sklearn.svm.LinearSVC(C=0.01, class_weight='balanced')`,
trained on the training split); for continuous factors, the squared correlation
cov(c_j, v_k)^2 / (var c_j var v_k) on the training split (0 where var c_j <= 1e-12). Then

  SAP = (1/F) sum_k [S_(1)k - S_(2)k],

the mean over factors of the gap between the two most predictive codes.
"""

import numpy as np


def score_matrix(codes_train, factors_train, codes_test, factors_test,
                 continuous_factors=False):
  """S (D, F) of the module docstring."""
  from sklearn import svm
  codes_train, codes_test = np.asarray(codes_train), np.asarray(codes_test)
  factors_train, factors_test = np.asarray(factors_train), np.asarray(factors_test)
  num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
  scores = np.zeros((num_codes, num_factors))
  for j in range(num_codes):
    for k in range(num_factors):
      code, factor = codes_train[:, j], factors_train[:, k]
      if continuous_factors:
        covariance = np.cov(code, factor, ddof=1)
        if covariance[0, 0] > 1e-12:  # the reference's guard on the code's variance
          scores[j, k] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
      else:
        classifier = svm.LinearSVC(C=0.01, class_weight='balanced')
        classifier.fit(code[:, None], factor)
        predicted = classifier.predict(codes_test[:, j][:, None])
        scores[j, k] = np.mean(predicted == factors_test[:, k])
  return scores


def top_two_gap(scores):
  """mean over columns of (largest - second largest) of S (D, F); needs D >= 2."""
  ordered = np.sort(np.asarray(scores), axis=0)
  return float(np.mean(ordered[-1, :] - ordered[-2, :]))


def sap(codes_train, factors_train, codes_test, factors_test, continuous_factors=False):
  """The SAP score of codes (N, D) and factor classes (N, F) (disentanglement_lib: 10,000
  training and 5,000 test points, discrete factors).

  Returns:
    {'sap': float, 'score_matrix': (D, F)}.
  """
  if np.shape(codes_train)[1] < 2:
    raise ValueError('SAP compares the two most predictive codes: it needs 2 codes or more.')
  scores = score_matrix(codes_train, factors_train, codes_test, factors_test,
                        continuous_factors)
  return {'sap': top_two_gap(scores), 'score_matrix': scores}
