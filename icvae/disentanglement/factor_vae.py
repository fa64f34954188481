"""The FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising", section 4), as
disentanglement_lib computes it (`evaluation/metrics/factor_vae.py`).

Each code is scaled by its empirical standard deviation over the data (`global_variances`, from
`num_variance_estimate` random images; numpy's variance, ddof 1). A vote: draw a factor k,
draw a batch of L factor vectors all sharing one value of k, encode the batch, and vote for
the code with the smallest variance over the batch relative to its global one (among the
active codes). The majority-vote classifier maps each code to the factor it was most often
the vote of; the score is the share of votes it gets right, on the votes it was built from
and on fresh ones (disentanglement_lib: L = 64, 10,000 training and 5,000 evaluation votes,
10,000 images for the variances).

Choices kept from the reference: a code is active when its standard deviation over the data is
>= 0.05 (the study's `prune_dims.threshold`; the function's own default is 0); the vote is the
index of the smallest ratio among the *active* codes, used as a column of the full (F, D)
vote table (so with a pruned code, votes land in the columns of the first active ones).
"""

import numpy as np


PRUNE_THRESHOLD = 0.05  # disentanglement_lib's study configs (factor_vae_metric.gin)


def active_codes(global_variances, threshold=PRUNE_THRESHOLD):
  """Which codes are active: sqrt(variance) >= threshold (the reference's `_prune_dims`)."""
  return np.sqrt(np.asarray(global_variances)) >= threshold


def vote(codes, global_variances, active):
  """The vote of one batch: argmin over the active codes of var_batch(c_j) / var(c_j)."""
  local = np.var(np.asarray(codes), axis=0, ddof=1)
  return int(np.argmin(local[active] / np.asarray(global_variances)[active]))


def votes(num_factors, sample_factors, observe, represent, batch_size, num_points,
          random_state, global_variances, active):
  """The (F, D) table of votes: votes[k, j] counts the batches with factor k fixed that voted
  for code j (arguments as `beta_vae.training_points`)."""
  table = np.zeros((num_factors, np.shape(global_variances)[0]), dtype=np.int64)
  for _ in range(num_points):
    index = random_state.randint(num_factors)
    factors = sample_factors(batch_size, random_state)
    factors[:, index] = factors[0, index]
    codes = represent(observe(factors, random_state))
    table[index, vote(codes, global_variances, active)] += 1
  return table


def accuracy(table, classifier):
  """The share of the votes in `table` (F, D) that the classifier (code -> factor, (D,)) gets
  right."""
  table = np.asarray(table)
  return float(np.sum(table[classifier, np.arange(table.shape[1])]) / np.sum(table))


def score(train_votes, eval_votes):
  """{'train_accuracy', 'eval_accuracy'} of the majority-vote classifier built on
  `train_votes` (each code's most frequent factor)."""
  classifier = np.argmax(np.asarray(train_votes), axis=0)
  return {'train_accuracy': accuracy(train_votes, classifier),
          'eval_accuracy': accuracy(eval_votes, classifier)}
