"""disentanglement_lib's protocol: each metric's points drawn from a dataset with ground-truth
factors and encoded by a representation function, then scored by the metric's pure function.

A `FactorSource` is what the reference calls ground-truth data: the factor sizes, `sample_
factors(n, random_state)` ((n, F) integer classes, each factor uniform) and `observe(factors,
random_state)` (their observations). `represent(observations)` gives the (n, D) codes (the
encoder's means, as the reference's representation function). Every draw goes through one
`numpy.random.RandomState`, in the reference's order, so the same source, function and seed
give the reference's samples; `evaluate` gives each metric a fresh `RandomState(seed)`, as
disentanglement_lib evaluates each metric in its own run (`evaluation.random_seed = 0`).

The sizes are the study's (Locatello et al. 2019; disentanglement_lib's
`config/unsupervised_study_v1/metric_configs/*.gin`), in `PROTOCOL`.
"""

from typing import Callable, Protocol

import numpy as np

from icvae.disentanglement import beta_vae
from icvae.disentanglement import dci
from icvae.disentanglement import factor_vae
from icvae.disentanglement import mig
from icvae.disentanglement import modularity
from icvae.disentanglement import sap
from icvae.disentanglement import unsupervised


class FactorSource(Protocol):
  """A dataset with ground-truth factors, as the metrics sample it."""
  factor_sizes: tuple

  def sample_factors(self, num, random_state):
    """(num, F) int64 factor classes, factor by factor `random_state.randint(size, size=num)`."""

  def observe(self, factors, random_state):
    """The observations (num, *shape) of `factors` (random_state for any nuisance draw)."""


# The study's sizes per metric (the metric configs' gin bindings; `batch_size` of the
# factor-code batches is the functions' default, 16).
PROTOCOL = {
    'beta_vae': dict(batch_size=64, num_train=10000, num_eval=5000),
    'factor_vae': dict(batch_size=64, num_train=10000, num_eval=5000,
                       num_variance_estimate=10000),
    'dci': dict(num_train=10000, num_test=5000),
    'sap': dict(num_train=10000, num_test=5000),
    'modularity_explicitness': dict(num_train=10000, num_test=5000),
    'mig': dict(num_train=10000),
    'unsupervised': dict(num_train=10000),
}
REPRESENTATION_BATCH = 64  # `factor_vae._compute_variances`' eval_batch_size


def factor_codes(source, represent, num_points, random_state, batch_size=16):
  """(codes (N, D), factors (N, F)) of `num_points` points drawn in batches of `batch_size`
  (the reference's `utils.generate_batch_factor_code`: each batch's factors, then their
  observations, then the codes)."""
  codes, factors = [], []
  for start in range(0, num_points, batch_size):
    batch = source.sample_factors(min(batch_size, num_points - start), random_state)
    factors.append(batch)
    codes.append(np.asarray(represent(source.observe(batch, random_state))))
  return np.concatenate(codes), np.concatenate(factors)


def beta_vae_score(source, represent, random_state, batch_size=64, num_train=10000,
                   num_eval=5000):
  """`beta_vae`'s score: {'train_accuracy', 'eval_accuracy'}."""
  draw = lambda num: beta_vae.training_points(len(source.factor_sizes), source.sample_factors,
                                              source.observe, represent, batch_size, num,
                                              random_state)
  train_features, train_labels = draw(num_train)
  eval_features, eval_labels = draw(num_eval)
  return beta_vae.score(train_features, train_labels, eval_features, eval_labels,
                        random_state=random_state)


def factor_vae_score(source, represent, random_state, batch_size=64, num_train=10000,
                     num_eval=5000, num_variance_estimate=10000,
                     threshold=factor_vae.PRUNE_THRESHOLD):
  """`factor_vae`'s score: {'train_accuracy', 'eval_accuracy', 'num_active_dims'} (the
  reference's count: the number of codes, active or not, unless none is active: 0)."""
  observations = source.observe(source.sample_factors(num_variance_estimate, random_state),
                                random_state)
  codes = np.concatenate([np.asarray(represent(observations[i:i + REPRESENTATION_BATCH]))
                          for i in range(0, num_variance_estimate, REPRESENTATION_BATCH)])
  variances = np.var(codes, axis=0, ddof=1)
  active = factor_vae.active_codes(variances, threshold)
  if not active.any():
    return {'train_accuracy': 0.0, 'eval_accuracy': 0.0, 'num_active_dims': 0}
  draw = lambda num: factor_vae.votes(len(source.factor_sizes), source.sample_factors,
                                      source.observe, represent, batch_size, num,
                                      random_state, variances, active)
  train_votes = draw(num_train)
  scores = factor_vae.score(train_votes, draw(num_eval))
  return dict(scores, num_active_dims=len(active))


def _split_codes(source, represent, random_state, num_train, num_test):
  train = factor_codes(source, represent, num_train, random_state)
  test = factor_codes(source, represent, num_test, random_state)
  return train[0], train[1], test[0], test[1]


def dci_score(source, represent, random_state, num_train=10000, num_test=5000,
              classifier_seed=0):
  """`dci`'s scores (the importance matrix dropped); `classifier_seed` seeds the classifiers
  (the reference's: numpy's global random state, `dci.importance_matrix`)."""
  scores = dci.dci(*_split_codes(source, represent, random_state, num_train, num_test),
                   random_state=classifier_seed)
  return {k: v for k, v in scores.items() if k != 'importance_matrix'}


def sap_score(source, represent, random_state, num_train=10000, num_test=5000,
              continuous_factors=False):
  """`sap`'s score: {'sap'}."""
  scores = sap.sap(*_split_codes(source, represent, random_state, num_train, num_test),
                   continuous_factors=continuous_factors)
  return {'sap': scores['sap']}


def modularity_explicitness_score(source, represent, random_state, num_train=10000,
                                  num_test=5000):
  """`modularity`'s scores: {'modularity', 'explicitness_train', 'explicitness_test'}."""
  return modularity.modularity_explicitness(
      *_split_codes(source, represent, random_state, num_train, num_test))


def mig_score(source, represent, random_state, num_train=10000):
  """disentanglement_lib's MIG (`mig.mig_histogram`): {'mig'} and the per-factor gaps."""
  codes, factors = factor_codes(source, represent, num_train, random_state)
  scores = mig.mig_histogram(codes, factors)
  return {'mig': scores['mig'], 'gap_per_factor': scores['gap_per_factor'].tolist()}


def unsupervised_score(source, represent, random_state, num_train=10000):
  """`unsupervised`'s scores."""
  codes, _ = factor_codes(source, represent, num_train, random_state)
  return unsupervised.unsupervised_scores(codes)


METRICS = {
    'beta_vae': beta_vae_score,
    'factor_vae': factor_vae_score,
    'dci': dci_score,
    'sap': sap_score,
    'modularity_explicitness': modularity_explicitness_score,
    'mig': mig_score,
    'unsupervised': unsupervised_score,
}


def evaluate(source, represent: Callable, metrics=tuple(METRICS), seed=0, sizes=None):
  """{metric: scores} for each name in `metrics`, each with a fresh `RandomState(seed)` and the
  study's sizes (`PROTOCOL`), or `sizes[metric]` ({argument: value}) where given.

  Raises:
    ValueError: an unknown metric name, listing the known ones.
  """
  unknown = [name for name in metrics if name not in METRICS]
  if unknown:
    raise ValueError(f'unknown metric(s) {unknown}; known: {", ".join(METRICS)}.')
  sizes = sizes or {}
  return {name: METRICS[name](source, represent, np.random.RandomState(seed),
                              **dict(PROTOCOL[name], **sizes.get(name, {})))
          for name in metrics}
