"""disentanglement_lib's metrics on arrays (`icvae.disentanglement`), against closed forms and
hand computation: a perfect code scores 1, a code mixing factors or a constant code the value
computed by hand, and each score's pieces (importance entropies, top-two gaps, modularity's
delta, the Gaussian dependencies) on matrices worked out here."""

import math

import numpy as np
import pytest

from icvae.disentanglement import beta_vae
from icvae.disentanglement import dci
from icvae.disentanglement import factor_vae
from icvae.disentanglement import modularity
from icvae.disentanglement import sap
from icvae.disentanglement import unsupervised

SIZES = (3, 4, 5)


def _sample_factors(n, random_state):
  return np.stack([random_state.randint(size, size=n) for size in SIZES], axis=1)


def _observe(factors, random_state):
  del random_state
  return factors.astype(np.float64)


def _factors(n, seed):
  return _sample_factors(n, np.random.RandomState(seed))


# --- DCI -----------------------------------------------------------------------------------

def test_dci_of_importance_matrices_by_hand():
  assert dci.disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
  assert dci.completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
  # Every code equally important for both factors: each code's entropy is 1 bit in base 2.
  assert dci.disentanglement(np.ones((2, 2))) == pytest.approx(0.0, abs=1e-8)
  # Both codes serve factor 0 only: disentangled codes (1), factor 0 spread over two codes
  # (entropy 1 in base 2) and factor 1 served by none (weight 0): completeness 0.
  both = np.array([[1.0, 0.0], [1.0, 0.0]])
  assert dci.disentanglement(both) == pytest.approx(1.0, abs=1e-8)
  assert dci.completeness(both) == pytest.approx(0.0, abs=1e-8)
  # Code 0 serves factors 0 and 1 equally (D_0 = 1 - log3(2)), code 1 factor 2 alone, with
  # weights 2/3 and 1/3.
  mixed = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  expected = (2 / 3) * (1 - math.log(2, 3)) + (1 / 3) * 1.0
  assert dci.disentanglement(mixed) == pytest.approx(expected, abs=1e-8)
  assert dci.completeness(mixed) == pytest.approx(1.0, abs=1e-8)  # each factor one code


def test_dci_of_a_perfect_code_and_of_a_permuted_one():
  train, test = _factors(600, 0), _factors(300, 1)
  for codes_train, codes_test in ((train, test), (train[:, ::-1], test[:, ::-1])):
    scores = dci.dci(codes_train + 0.0, train, codes_test + 0.0, test)
    assert scores['informativeness_train'] == 1.0 and scores['informativeness_test'] == 1.0
    assert scores['disentanglement'] > 0.99 and scores['completeness'] > 0.99


def test_dci_of_a_constant_code():
  train, test = _factors(300, 0), _factors(100, 1)
  scores = dci.dci(np.zeros((300, 3)), train, np.zeros((100, 3)), test)
  np.testing.assert_array_equal(scores['importance_matrix'], 0.0)
  # Zero importances: every entropy is that of a uniform vector (1 - 1 = 0) whatever the
  # weights: D = C = 0; the classifiers predict one class.
  assert scores['disentanglement'] == pytest.approx(0.0, abs=1e-8)
  assert scores['completeness'] == pytest.approx(0.0, abs=1e-8)
  assert scores['informativeness_test'] < 0.5


# --- SAP -----------------------------------------------------------------------------------

def test_sap_top_two_gap_by_hand():
  assert sap.top_two_gap(np.array([[0.9, 0.2], [0.5, 0.6]])) == pytest.approx(0.4)
  assert sap.top_two_gap(np.array([[0.3, 0.3], [0.3, 0.3], [0.1, 0.0]])) == 0.0


def test_sap_of_a_perfect_code_continuous_and_discrete():
  train, test = _factors(500, 0), _factors(300, 1)
  continuous = sap.sap(train + 0.0, train, test + 0.0, test, continuous_factors=True)
  # S[j, k] = corr(v_j, v_k)^2: 1 on the diagonal, near 0 off it.
  np.testing.assert_allclose(np.diag(continuous['score_matrix']), 1.0)
  assert continuous['sap'] > 0.95
  discrete = sap.sap(train + 0.0, train, test + 0.0, test)
  # A 1-D linear SVM cannot single out a middle class, so a perfect code is not 1 here; each
  # factor's own code still predicts it best, by a margin.
  scores = discrete['score_matrix']
  np.testing.assert_array_equal(scores.argmax(axis=0), [0, 1, 2])
  assert discrete['sap'] == pytest.approx(sap.top_two_gap(scores)) and discrete['sap'] > 0.2
  with pytest.raises(ValueError, match='2 codes or more'):
    sap.sap(train[:, :1], train, test[:, :1], test)


# --- Modularity and explicitness -----------------------------------------------------------

def test_modularity_by_hand():
  # Code 0: one factor (delta 0, score 1); code 1: two factors equally (delta 1, score 0);
  # code 2: no information (score 0 by definition).
  m = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
  assert modularity.modularity(m) == pytest.approx(1 / 3)
  # Three factors: squared m = (4, 1, 1) / 16 -> delta = (2/16) / (4/16 * 2) = 0.25.
  assert modularity.modularity(np.array([[0.5, 0.25, 0.25]])) == pytest.approx(0.75)


def test_modularity_and_explicitness_of_a_perfect_code():
  train, test = _factors(2000, 0), _factors(1000, 1)
  scores = modularity.modularity_explicitness(train + 0.0, train, test + 0.0, test)
  assert scores['modularity'] > 0.9
  assert scores['explicitness_train'] > 0.9 and scores['explicitness_test'] > 0.9
  collapsed = np.concatenate([train + 0.0, np.ones((2000, 1))], 1)
  with pytest.raises(ValueError, match=r'code\(s\) \[3\] are constant'):
    modularity.modularity_explicitness(collapsed, train, collapsed[:1000], test)
  normal, mean, std = modularity.normalize(train)
  np.testing.assert_allclose(normal.mean(0), 0, atol=1e-12)
  np.testing.assert_allclose(normal.std(0), 1)


# --- Unsupervised scores -------------------------------------------------------------------

@pytest.mark.parametrize('rho', [0.0, 0.3, -0.8])
def test_gaussian_dependencies_in_closed_form(rho):
  covariance = np.array([[1.0, rho], [rho, 1.0]])
  assert unsupervised.gaussian_total_correlation(covariance) == pytest.approx(
      -0.5 * math.log(1 - rho ** 2), abs=1e-12)
  expected = 4 - 2 * (math.sqrt(1 + rho) + math.sqrt(1 - rho))  # tr Sigma^(1/2), diag = 1
  assert unsupervised.gaussian_wasserstein_correlation(covariance) == pytest.approx(
      expected, abs=1e-10)
  scaled = np.diag([4.0, 9.0])  # independent: no dependency at any scale
  assert unsupervised.gaussian_total_correlation(scaled) == pytest.approx(0.0, abs=1e-12)
  assert unsupervised.gaussian_wasserstein_correlation(scaled) == pytest.approx(0.0, abs=1e-9)


def test_unsupervised_scores_of_independent_and_duplicated_codes():
  rng = np.random.default_rng(0)
  independent = unsupervised.unsupervised_scores(rng.normal(size=(20000, 3)))
  assert abs(independent['gaussian_total_correlation']) < 1e-3
  assert independent['mutual_info_score'] < 0.02  # the plug-in bias of 20 x 20 bins
  x = rng.normal(size=20000)
  duplicated = unsupervised.unsupervised_scores(np.stack([x, x + 1e-3 * rng.normal(size=20000)],
                                                         1))
  assert duplicated['gaussian_total_correlation'] > 5
  assert duplicated['mutual_info_score'] > 2.0


# --- BetaVAE and FactorVAE scores ----------------------------------------------------------

def test_beta_vae_feature_by_hand():
  a = np.array([[0.0, 1.0], [2.0, 3.0]])
  b = np.array([[1.0, 1.0], [0.0, 5.0]])
  np.testing.assert_allclose(beta_vae.feature_vector(a, b), [1.5, 1.0])


def test_beta_vae_score_of_a_perfect_and_of_a_constant_code():
  def points(represent, num, seed):
    return beta_vae.training_points(len(SIZES), _sample_factors, _observe, represent, 64,
                                    num, np.random.RandomState(seed))
  perfect = beta_vae.score(*points(lambda x: x, 300, 0), *points(lambda x: x, 200, 1))
  assert perfect == {'train_accuracy': 1.0, 'eval_accuracy': 1.0}
  features, labels = points(lambda x: np.zeros((len(x), 2)), 300, 0)
  np.testing.assert_array_equal(features, 0.0)
  constant = beta_vae.score(features, labels, *points(lambda x: np.zeros((len(x), 2)), 200, 1))
  # All features equal: one class predicted, the most frequent one in training.
  assert constant['train_accuracy'] == pytest.approx(np.bincount(labels).max() / 300)


def test_factor_vae_votes_and_accuracy_by_hand():
  table = np.array([[3, 1], [0, 4]])
  # code 0 -> factor 0 (3 of 3), code 1 -> factor 1 (4 of 5): 7 of 8 votes right.
  assert factor_vae.score(table, table) == {'train_accuracy': 0.875, 'eval_accuracy': 0.875}
  assert factor_vae.vote(np.array([[0.0, 1.0], [0.0, 3.0]]), np.array([1.0, 1.0]),
                         np.array([True, True])) == 0
  # The vote indexes the active codes, as the reference does.
  assert factor_vae.vote(np.array([[5.0, 0.0, 1.0], [1.0, 0.0, 1.0]]), np.ones(3),
                         np.array([True, False, True])) == 1


def test_factor_vae_score_of_a_perfect_code():
  random_state = np.random.RandomState(0)
  codes = _observe(_sample_factors(10000, random_state), None)
  variances = np.var(codes, axis=0, ddof=1)
  active = factor_vae.active_codes(variances)
  assert active.all()
  train = factor_vae.votes(len(SIZES), _sample_factors, _observe, lambda x: x, 64, 300,
                           random_state, variances, active)
  assert np.count_nonzero(train - np.diag(np.diag(train))) == 0  # only diagonal votes
  assert factor_vae.score(train, train)['train_accuracy'] == 1.0


# --- The protocol: sampling from a factor source -------------------------------------------

class _Source:
  """Factors of SIZES observed as themselves (floats)."""
  factor_sizes = SIZES

  def sample_factors(self, num, random_state):
    return _sample_factors(num, random_state)

  def observe(self, factors, random_state):
    return _observe(factors, random_state)


def test_factor_codes_draw_in_the_references_order():
  from icvae.disentanglement import suite
  codes, factors = suite.factor_codes(_Source(), lambda x: 2 * x, 40, np.random.RandomState(3),
                                      batch_size=16)
  random_state = np.random.RandomState(3)  # batches of 16, 16 and 8, factor by factor
  expected = np.concatenate([_sample_factors(n, random_state) for n in (16, 16, 8)])
  np.testing.assert_array_equal(factors, expected)
  np.testing.assert_array_equal(codes, 2.0 * expected)


def test_the_suite_on_a_perfect_code_and_its_refusals():
  from icvae.disentanglement import suite
  small = {name: {k: (64 if k == 'batch_size' else 300) for k in sizes}
           for name, sizes in suite.PROTOCOL.items()}
  scores = suite.evaluate(_Source(), lambda x: x + 0.0, sizes=small)
  assert set(scores) == set(suite.METRICS)
  assert scores['beta_vae']['eval_accuracy'] == 1.0
  assert scores['factor_vae']['eval_accuracy'] == 1.0
  assert scores['factor_vae']['num_active_dims'] == 3
  assert scores['dci']['disentanglement'] > 0.99 and scores['dci']['completeness'] > 0.99
  assert scores['mig']['mig'] > 0.9 and scores['modularity_explicitness']['modularity'] > 0.9
  assert abs(scores['unsupervised']['gaussian_total_correlation']) < 0.05
  again = suite.evaluate(_Source(), lambda x: x + 0.0, metrics=('mig', 'sap'), sizes=small)
  assert again['mig'] == scores['mig'] and again['sap'] == scores['sap']
  # A collapsed code: no active code, FactorVAE's score is 0 as the reference's.
  collapsed = suite.evaluate(_Source(), lambda x: np.zeros((len(x), 3)),
                             metrics=('factor_vae',), sizes=small)
  assert collapsed['factor_vae'] == {'train_accuracy': 0.0, 'eval_accuracy': 0.0,
                                     'num_active_dims': 0}
  with pytest.raises(ValueError, match=r"unknown metric\(s\) \['beta'\]"):
    suite.evaluate(_Source(), lambda x: x, metrics=('beta',))
