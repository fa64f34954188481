"""The unsupervised scores of Locatello et al. 2019 ("Challenging Common Assumptions in the
Unsupervised Learning of Disentangled Representations", section 5), as disentanglement_lib
computes them (`evaluation/metrics/unsupervised_metrics.py`) from the codes alone (no
factors), on the covariance Sigma of the mean codes (numpy's, ddof 1):

  Gaussian total correlation  TC = KL(N(0, Sigma) || N(0, diag Sigma))
                                 = 0.5 (sum_j log Sigma_jj - log det Sigma);
  Wasserstein dependency      W = 2 tr Sigma - 2 tr (Sigma diag(Sigma))^(1/2)
                              (the squared 2-Wasserstein distance between N(0, Sigma) and
                              N(0, diag Sigma)), also divided by tr Sigma;
  mutual information score    the mean over pairs j != j' of the plug-in I(bin(c_j); bin(c_j'))
                              (20 equal-width bins, `mig.histogram_discretize`).
"""

import numpy as np
import scipy.linalg

from icvae.disentanglement import mig


def gaussian_total_correlation(covariance):
  """TC of the module docstring (nats)."""
  covariance = np.asarray(covariance, np.float64)
  return float(0.5 * (np.sum(np.log(np.diag(covariance)))
                      - np.linalg.slogdet(covariance)[1]))


def gaussian_wasserstein_correlation(covariance):
  """W of the module docstring."""
  covariance = np.asarray(covariance, np.float64)
  root = scipy.linalg.sqrtm(covariance * np.expand_dims(np.diag(covariance), axis=1))
  return float(np.real(2 * np.trace(covariance) - 2 * np.trace(root)))


def mutual_information_score(codes, num_bins=20):
  """The mean plug-in mutual information between two different binned codes (nats)."""
  binned = mig.histogram_discretize(codes, num_bins)
  num_codes = binned.shape[1]
  matrix = mig.discrete_mutual_information_matrix(binned, binned)
  np.fill_diagonal(matrix, 0.0)
  return float(np.sum(matrix) / (num_codes ** 2 - num_codes))


def unsupervised_scores(codes, num_bins=20):
  """The three scores of codes (N, D), D >= 2 (disentanglement_lib: 10,000 points).

  Returns:
    {'gaussian_total_correlation', 'gaussian_wasserstein_correlation',
    'gaussian_wasserstein_correlation_norm', 'mutual_info_score'} floats.
  """
  codes = np.asarray(codes, np.float64)
  if codes.ndim != 2 or codes.shape[1] < 2:
    raise ValueError(f'codes must be (N, D) with D >= 2, got shape {codes.shape}.')
  covariance = np.cov(codes.T)
  wasserstein = gaussian_wasserstein_correlation(covariance)
  return {'gaussian_total_correlation': gaussian_total_correlation(covariance),
          'gaussian_wasserstein_correlation': wasserstein,
          'gaussian_wasserstein_correlation_norm': wasserstein / float(np.trace(covariance)),
          'mutual_info_score': mutual_information_score(codes, num_bins)}
