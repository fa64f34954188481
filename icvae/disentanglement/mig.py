"""The Mutual Information Gap (MIG) two ways on a whole labelled dataset, and the per-dimension
code quantities of IMAE (`../shared/papers/imae-paper.txt`).

Notation: N images x_n with ground-truth factors v = (v_1, ..., v_F), factor k taking the
integer values 0..|V_k|-1; q(z|x_n) = N(mu_n, diag exp(logvar_n)) a factorial Gaussian code
with D dimensions; optionally a categorical code p(y|x_n) with K classes.

MIG (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", section 5):
  MIG = (1/F) sum_k (1/H(v_k)) [I(z_j(1); v_k) - I(z_j(2); v_k)],
where j(1), j(2) are the codes with the largest and second largest mutual information with
v_k. The two public implementations estimate I differently:

- `mig_chen`: rtqichen/beta-tcvae `disentanglement_metrics.py` (`estimate_entropies`,
  `mutual_info_metric_shapes`) and `metric_helpers/mi_metric.py`. Sampled, on every image:
  I(z_j; v_k) = H(z_j) - H(z_j | v_k), each entropy a Monte Carlo average of -log of the
  mixture q(z_j) = (1/N) sum_n q(z_j|x_n). Normaliser log|V_k|. This is the estimator the IMAE
  paper cites (section 4.2.2).
- `mig_histogram`: google-research/disentanglement_lib `evaluation/metrics/mig.py` and
  `evaluation/metrics/utils.py`. Encoder means of 10 000 random points, 20 equal-width bins
  per code, plug-in discrete mutual information, normaliser the plug-in entropy of the
  sampled factor.

The sampled estimator costs S * N * D Gaussian densities; it is chunked over samples and
over mixture components with a running logsumexp, so memory is O(chunk^2 * D), not O(S N D).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from icvae import information


# ------------------------------------------------------------------------------------------
# Validation and the gap itself (shared by both estimators).

def check_factors(factors, sizes):
  """Returns `factors` as an (N, F) int numpy array after checking it against `sizes`.

  Every value 0..sizes[k]-1 of every factor must occur (the conditional entropies average
  over the values); the rows need not form a full grid.

  Raises:
    ValueError: naming the factor and what to pass instead.
  """
  factors = np.asarray(factors)
  if factors.ndim != 2 or not np.issubdtype(factors.dtype, np.integer):
    raise ValueError(f'factors must be an (N, F) integer array of class indices, got '
                     f'{factors.dtype} {factors.shape}: pass the dataset\'s factor classes')
  if factors.shape[1] != len(sizes):
    raise ValueError(f'factors has {factors.shape[1]} columns but sizes has {len(sizes)} '
                     'entries: pass one size per factor column')
  for k, size in enumerate(sizes):
    column = factors[:, k]
    if column.min() < 0 or column.max() >= size:
      raise ValueError(f'factor {k} has values in [{column.min()}, {column.max()}] outside '
                       f'0..{size - 1}: pass class indices, not physical values')
    missing = np.flatnonzero(np.bincount(column, minlength=size) == 0)
    if missing.size:
      raise ValueError(f'factor {k} (size {size}) has no row with value(s) '
                       f'{missing[:10].tolist()}: pass rows that cover every value, or '
                       'relabel the factor to the values present and pass that size')
  return factors


def mutual_information_gap(mutual_information, factor_entropies):
  """Normalised gap per factor: (I_(1) - I_(2)) / H(v_k) (Chen et al. 2018, MIG).

  Args:
    mutual_information: (F, C) I(c_j; v_k) for F factors and C >= 2 candidate codes, nats.
    factor_entropies: (F,) the normalisers H(v_k), nats, positive.

  Returns:
    (F,) numpy array; its mean over factors is the MIG.
  """
  mutual_information = np.asarray(mutual_information, np.float64)
  if mutual_information.ndim != 2 or mutual_information.shape[1] < 2:
    raise ValueError(f'the gap needs at least two candidate codes per factor, got a '
                     f'mutual information matrix of shape {mutual_information.shape}')
  top_two = -np.sort(-mutual_information, axis=1)[:, :2]
  return (top_two[:, 0] - top_two[:, 1]) / np.asarray(factor_entropies, np.float64)


# ------------------------------------------------------------------------------------------
# Chen et al. (2018): sampled entropies of the dataset mixture, in JAX.

def _chunk_layout(length, chunk):
  """(number of chunks, chunk size) covering `length` with the least padding."""
  count = -(-length // max(1, min(chunk, length)))
  return count, -(-length // count)


def _pad_rows(array, rows, value=0.0):
  """Pads axis 0 of `array` to `rows` with `value`."""
  widths = [(0, rows - array.shape[0])] + [(0, 0)] * (array.ndim - 1)
  return jnp.pad(array, widths, constant_values=value)


def _mixture_entropies(key, samples, mean, logvar, valid, num_samples, sample_chunk,
                       component_chunk):
  """Per-dimension H(z_j) of the mixture over the `valid` rows (see `marginal_entropies`).

  min(num_samples, number of valid rows) samples are drawn without replacement among the
  valid rows; rows not valid are neither samples nor mixture components. Shapes are static,
  so one compilation serves every subset of the same padded size.
  """
  rows, dims = samples.shape
  count = jnp.sum(valid)
  drawn = min(num_samples, rows)
  priority = jnp.where(valid, jax.random.uniform(key, (rows,)), 2.0)
  chosen = jnp.argsort(priority)[:drawn]
  drawn_valid = jnp.arange(drawn) < jnp.minimum(num_samples, count)

  sample_chunks, sample_size = _chunk_layout(drawn, sample_chunk)
  padded = sample_chunks * sample_size
  z = _pad_rows(samples[chosen], padded).reshape(sample_chunks, sample_size, dims)
  z_valid = _pad_rows(drawn_valid, padded, False).reshape(sample_chunks, sample_size)

  component_chunks, component_size = _chunk_layout(rows, component_chunk)
  padded = component_chunks * component_size
  log_weight = jnp.where(valid, -jnp.log(count.astype(samples.dtype)), -jnp.inf)
  # log N(z; m, s^2) / N = offset - half_precision (z - m)^2: only the square and one exp
  # per (sample, component, dimension) remain in the inner loop.
  offset = log_weight[:, None] - 0.5 * (logvar + math.log(2 * math.pi))
  components = tuple(
      _pad_rows(array, padded, value).reshape(component_chunks, component_size, dims)
      for array, value in ((mean, 0.0), (0.5 * jnp.exp(-logvar), 0.0), (offset, -jnp.inf)))

  def log_mixture(z_chunk):
    """log (1/N) sum_n q(z_sj | x_n): (sample_size, D), a running logsumexp over chunks."""
    def add_chunk(running, component):
      chunk_mean, half_precision, chunk_offset = component
      log_density = chunk_offset[None] - half_precision[None] * jnp.square(
          z_chunk[:, None, :] - chunk_mean[None])
      return jnp.logaddexp(running, jax.nn.logsumexp(log_density, axis=1)), None
    return jax.lax.scan(add_chunk, jnp.full(z_chunk.shape, -jnp.inf), components)[0]

  log_q = jax.lax.map(log_mixture, z)
  total = jnp.sum(jnp.where(z_valid[..., None], -log_q, 0.0), axis=(0, 1))
  return total / jnp.sum(z_valid)


_STATIC = ('num_samples', 'sample_chunk', 'component_chunk')


@functools.partial(jax.jit, static_argnames=_STATIC)
def _all_rows_entropies(key, samples, mean, logvar, num_samples, sample_chunk, component_chunk):
  valid = jnp.ones(samples.shape[0], bool)
  return _mixture_entropies(key, samples, mean, logvar, valid, num_samples, sample_chunk,
                            component_chunk)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _grouped_entropies(key, samples, mean, logvar, rows, valid, num_samples, sample_chunk,
                       component_chunk):
  """(V, D) entropies of the V row groups `rows` (V, M) (padding marked by `valid`)."""
  def one_group(args):
    group_key, group_rows, group_valid = args
    return _mixture_entropies(group_key, samples[group_rows], mean[group_rows],
                              logvar[group_rows], group_valid, num_samples, sample_chunk,
                              component_chunk)
  keys = jax.random.split(key, rows.shape[0])
  return jax.lax.map(one_group, (keys, rows, valid))


def _check_codes(samples, mean, logvar):
  if not (jnp.shape(samples) == jnp.shape(mean) == jnp.shape(logvar)) or jnp.ndim(mean) != 2:
    raise ValueError(f'samples, mean and logvar must all be (N, D), got {jnp.shape(samples)}, '
                     f'{jnp.shape(mean)}, {jnp.shape(logvar)}')


def marginal_entropies(key, samples, mean, logvar, num_samples=10000, sample_chunk=128,
                       component_chunk=1024):
  """Chen et al.'s Monte Carlo estimate of each marginal entropy H(z_j), (D,) nats.

  H^(z_j) = (1/S) sum_s [log N - logsumexp_n log N(z_j^(s); mu_nj, sigma^2_nj)],

  the mixture q(z_j) = (1/N) sum_n q(z_j|x_n) over all N rows, each dimension separately
  (beta-tcvae `estimate_entropies`). The S = min(num_samples, N) points z^(s) are drawn with
  `key` without replacement among the given one-per-image samples z^(n) ~ q(z|x_n).

  Args:
    key: PRNG key choosing the S samples.
    samples: (N, D) one sample per image, row n drawn from q(z|x_n).
    mean, logvar: (N, D) the Gaussian posteriors of the same rows.
    num_samples: S (Chen: 10 000).
    sample_chunk, component_chunk: block sizes; memory is about
      sample_chunk * component_chunk * D floats. The result does not depend on them.
  """
  _check_codes(samples, mean, logvar)
  return _all_rows_entropies(key, samples, mean, logvar, num_samples=num_samples,
                             sample_chunk=sample_chunk, component_chunk=component_chunk)


def factor_groups(factor_column, size):
  """Rows of each factor value, padded: (rows (size, M) int, valid (size, M) bool).

  M is the largest group; padding points at row 0 and is marked invalid.
  """
  factor_column = np.asarray(factor_column)
  counts = np.bincount(factor_column, minlength=size)
  order = np.argsort(factor_column, kind='stable')
  values = factor_column[order]
  rank = np.arange(len(order)) - np.concatenate([[0], np.cumsum(counts)[:-1]])[values]
  rows = np.zeros((size, counts.max()), np.int32)
  valid = np.zeros((size, counts.max()), bool)
  rows[values, rank] = order
  valid[values, rank] = True
  return rows, valid


def conditional_entropies(key, samples, mean, logvar, factor_column, size, num_samples=10000,
                          sample_chunk=128, component_chunk=1024):
  """Chen et al.'s conditional entropy H(z_j | v_k) for one factor, (D,) nats.

  H^(z_j | v_k) = (1/|V_k|) sum_i H^_i(z_j),

  where H^_i is `marginal_entropies` restricted to the rows with v_k = i: both the
  min(num_samples, n_i) samples and the mixture (1/n_i) sum_{n: v_k = i} q(z_j|x_n) come from
  that subset (beta-tcvae `mutual_info_metric_shapes`). The values are weighted uniformly,
  1/|V_k|, as Chen's p(v_k) for a full grid, whatever the row counts n_i.

  Args:
    key: PRNG key (split over the values).
    samples, mean, logvar: (N, D) as in `marginal_entropies`.
    factor_column: (N,) int values 0..size-1 of factor k, every value present.
    size: |V_k|.
    num_samples, sample_chunk, component_chunk: as in `marginal_entropies`.
  """
  _check_codes(samples, mean, logvar)
  factor_column = check_factors(np.asarray(factor_column)[:, None], (size,))[:, 0]
  if len(factor_column) != jnp.shape(mean)[0]:
    raise ValueError(f'factor_column has {len(factor_column)} rows but the codes have '
                     f'{jnp.shape(mean)[0]}: pass the factors of the same images')
  rows, valid = factor_groups(factor_column, size)
  per_value = _grouped_entropies(key, samples, mean, logvar, rows, valid,
                                 num_samples=num_samples, sample_chunk=sample_chunk,
                                 component_chunk=component_chunk)
  return jnp.mean(per_value, axis=0)


def categorical_factor_mutual_information(probs, factor_column, size):
  """Exact I(y; v_k) of a categorical code on the dataset, nats (our choice of formula).

  I(y; v_k) = H(mean_n p(y|x_n)) - (1/|V_k|) sum_i H(mean_{n: v_k = i} p(y|x_n)),

  the plug-in on the aggregate p(y) and on each value's aggregate, with the values weighted
  1/|V_k| as in `conditional_entropies`. The IMAE paper (appendix E, Figure 7) scores y
  without a formula; this is the discrete analogue of Chen's H(z_j) - H(z_j | v_k).

  Args:
    probs: (N, K) p(y|x_n).
    factor_column: (N,) int values 0..size-1, every value present.
    size: |V_k|.
  """
  probs = jnp.asarray(probs)
  column = jnp.asarray(factor_column)
  sums = jax.ops.segment_sum(probs, column, num_segments=size)
  counts = jax.ops.segment_sum(jnp.ones_like(column, probs.dtype), column, num_segments=size)
  conditional = jnp.mean(information.entropy(sums / counts[:, None]))
  return information.entropy(jnp.mean(probs, axis=0)) - conditional


def mig_chen(key, mean, logvar, factors, sizes, factor_indices=None, num_samples=10000,
             categorical_probs=None, sample_chunk=128, component_chunk=1024):
  """Chen et al. (2018) MIG with their sampled estimator (beta-tcvae), on every image.

  I(z_j; v_k) = max(0, H^(z_j) - H^(z_j | v_k)) (Chen's I_n; `marginal_entropies`,
  `conditional_entropies`), clamped at 0 as Chen's `compute_metric_shapes`, and
  MIG = mean_k (I_(1) - I_(2)) / log|V_k| over the chosen factors; log|V_k| = H(v_k) for a
  uniform factor, Chen's normaliser. One sample z^(n) ~ q(z|x_n) per image is drawn here.

  Factors: Chen's dSprites code and IMAE Figure 5 (its footnote 4) score scale, orientation,
  pos_x, pos_y, not shape: pass factor_indices=(1, 2, 3, 4). Orientation's 40 values count
  as distinct (0 and 2 pi included), as Chen's.

  "With the discrete factor" (IMAE appendix E, Figure 7, "with respect to both y and z"; our
  reading): include shape in factor_indices and pass `categorical_probs`; y is then one more
  candidate code (the last column), with I(y; v_k) exact
  (`categorical_factor_mutual_information`).

  Args:
    key: PRNG key (samples and their subsets).
    mean, logvar: (N, D) Gaussian posteriors of every image.
    factors: (N, F) int classes, factor k in 0..sizes[k]-1, every value present.
    sizes: F ints |V_k|.
    factor_indices: the factors scored (default all).
    num_samples: S per entropy (Chen: 10 000).
    categorical_probs: optional (N, K) p(y|x_n).
    sample_chunk, component_chunk: see `marginal_entropies`.

  Returns:
    dict of numpy values: 'mig' float; 'gap_per_factor' (F',); 'mutual_information'
    (F', C) nats, C = D (+1 with y); 'entropy_per_code' (C,) H^(z_j) (and H(y) last).
  """
  mean, logvar = jnp.asarray(mean), jnp.asarray(logvar)
  factors = check_factors(factors, sizes)
  if factors.shape[0] != mean.shape[0]:
    raise ValueError(f'factors has {factors.shape[0]} rows but the codes have {mean.shape[0]}: '
                     'pass the factors of the same images')
  chosen = tuple(range(len(sizes))) if factor_indices is None else tuple(factor_indices)
  if any(sizes[k] < 2 for k in chosen):
    raise ValueError(f'factors with one value have no entropy to normalise by: drop them from '
                     f'factor_indices (sizes {[sizes[k] for k in chosen]})')
  sample_key, marginal_key, conditional_key = jax.random.split(key, 3)
  samples = mean + jnp.exp(0.5 * logvar) * jax.random.normal(sample_key, mean.shape, mean.dtype)
  chunks = dict(num_samples=num_samples, sample_chunk=sample_chunk,
                component_chunk=component_chunk)
  marginal = marginal_entropies(marginal_key, samples, mean, logvar, **chunks)
  conditional = jnp.stack([
      conditional_entropies(jax.random.fold_in(conditional_key, k), samples, mean, logvar,
                            factors[:, k], sizes[k], **chunks) for k in chosen])
  mutual_information = jnp.maximum(marginal[None, :] - conditional, 0.0)
  entropy_per_code = marginal
  if categorical_probs is not None:
    if jnp.shape(categorical_probs)[0] != mean.shape[0]:
      raise ValueError(f'categorical_probs has {jnp.shape(categorical_probs)[0]} rows but the '
                       f'codes have {mean.shape[0]}: pass p(y|x) of the same images')
    y_information = jnp.stack([
        categorical_factor_mutual_information(categorical_probs, factors[:, k], sizes[k])
        for k in chosen])
    mutual_information = jnp.concatenate(
        [mutual_information, jnp.maximum(y_information, 0.0)[:, None]], axis=1)
    y_entropy = information.entropy(jnp.mean(jnp.asarray(categorical_probs), axis=0))
    entropy_per_code = jnp.append(entropy_per_code, y_entropy)
  gaps = mutual_information_gap(mutual_information, np.log([sizes[k] for k in chosen]))
  return {'mig': float(np.mean(gaps)), 'gap_per_factor': gaps,
          'mutual_information': np.asarray(mutual_information),
          'entropy_per_code': np.asarray(entropy_per_code)}


# ------------------------------------------------------------------------------------------
# disentanglement_lib: histogram MIG on sampled points, in numpy.

def sample_points(rng, num_points, num_images):
  """Row indices of `num_points` random images, uniform with replacement (numpy Generator).

  disentanglement_lib's `utils.generate_batch_factor_code` draws each factor uniformly and
  independently (with replacement) and looks the image up; on a dataset that holds every
  factor combination once (dSprites), a uniform random row is the same draw. Its MIG uses
  num_train = 10 000 points and the encoder means of those images.
  """
  return rng.integers(0, num_images, size=num_points)


def histogram_discretize(codes, num_bins=20):
  """Equal-width bins per column: `np.digitize(x, np.histogram(x, num_bins)[1][:-1])`.

  disentanglement_lib `utils._histogram_discretize` (gin num_bins = 20): bins span each
  column's min to max; labels 1..num_bins. codes (N, D) -> (N, D) int.
  """
  codes = np.asarray(codes)
  return np.stack([np.digitize(column, np.histogram(column, num_bins)[1][:-1])
                   for column in codes.T], axis=1)


def discrete_mutual_information(labels_a, labels_b):
  """Plug-in I(a; b) = sum_ab p(a, b) log(p(a, b) / (p(a) p(b))) of the contingency table.

  What disentanglement_lib computes with sklearn.metrics.mutual_info_score (nats, >= 0);
  I(a; a) is the plug-in entropy of a.
  """
  _, a = np.unique(np.asarray(labels_a), return_inverse=True)
  _, b = np.unique(np.asarray(labels_b), return_inverse=True)
  num_a, num_b = a.max() + 1, b.max() + 1
  joint = np.bincount(a * num_b + b, minlength=num_a * num_b).reshape(num_a, num_b)
  joint = joint / joint.sum()
  outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
  nonzero = joint > 0
  return max(0.0, float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero]))))


def discrete_mutual_information_matrix(columns_a, columns_b):
  """m[i, j] = plug-in I(a_i; b_j) (`discrete_mutual_information`) of the columns of (N, A)
  and (N, B) label arrays: (A, B) nats (disentanglement_lib's `utils.discrete_mutual_info`)."""
  return np.array([[discrete_mutual_information(a, b) for b in np.asarray(columns_b).T]
                   for a in np.asarray(columns_a).T])


def mig_histogram(codes, factors, num_bins=20):
  """disentanglement_lib's MIG (`evaluation/metrics/mig.py`, `_compute_mig`).

  m[k, j] = plug-in I(v_k; bin(c_j)) (`histogram_discretize`, `discrete_mutual_information`),
  H_k = plug-in entropy of the sampled factor (not log|V_k|), and
  MIG = mean_k (m_(1)k - m_(2)k) / H_k over all the factor columns passed.

  Args:
    codes: (P, D) codes of the P points (disentanglement_lib: encoder means of 10 000 random
      images, see `sample_points`).
    factors: (P, F) the points' factor classes (pass only the factors to score).
    num_bins: bins per code (20).

  Returns:
    dict of numpy values: 'mig' float, 'gap_per_factor' (F,), 'mutual_information' (F, D)
    nats, 'entropy_per_factor' (F,) nats.
  """
  codes, factors = np.asarray(codes), np.asarray(factors)
  if codes.ndim != 2 or factors.ndim != 2 or codes.shape[0] != factors.shape[0]:
    raise ValueError(f'codes (P, D) and factors (P, F) must have the same rows, got '
                     f'{codes.shape} and {factors.shape}')
  binned = histogram_discretize(codes, num_bins)
  mutual_information = discrete_mutual_information_matrix(factors, binned)
  entropies = np.array([discrete_mutual_information(factor, factor) for factor in factors.T])
  if np.any(entropies == 0):
    raise ValueError(f'factor(s) {np.flatnonzero(entropies == 0).tolist()} take one value '
                     'among the points: sample more points or leave those factors out')
  gaps = mutual_information_gap(mutual_information, entropies)
  return {'mig': float(np.mean(gaps)), 'gap_per_factor': gaps,
          'mutual_information': mutual_information, 'entropy_per_factor': entropies}


# ------------------------------------------------------------------------------------------
# IMAE's per-dimension quantities (section 3, Proposition 1; Figure 4).

def code_quantities(mean, logvar, categorical_logits=None):
  """Per-dimension statistics of the code over a whole dataset (not a minibatch).

  - 'mean_variance' (D,): E_x sigma_k^2(x), the mean posterior variance;
  - 'variance_of_mean' (D,): Var_x mu_k(x);
  - 'mutual_information_z' (D,): IMAE Proposition 1, eq. (5),
    I(x; z_k) >= 0.5 log(1 + Var_x mu_k / E_x sigma_k^2)
    (`information.gaussian_mutual_information_bound`);
  - with `categorical_logits`: 'mutual_information_y' I(x; y) = H(E_x p(y|x)) - E_x H(p(y|x))
    (eq. 7, `information.categorical_mutual_information`), and its two terms 'entropy_y',
    'conditional_entropy_y'.

  Means and variances over all N rows at once: they need O(N (D + K)) memory, the size of
  the inputs themselves, so no chunking is needed.

  Args:
    mean, logvar: (N, D) Gaussian posteriors of every image.
    categorical_logits: optional (N, K) logits of p(y|x).
  """
  mean, logvar = jnp.asarray(mean), jnp.asarray(logvar)
  quantities = {
      'mean_variance': jnp.mean(jnp.exp(logvar), axis=0),
      'variance_of_mean': jnp.var(mean, axis=0),
      'mutual_information_z': information.gaussian_mutual_information_bound(mean, logvar),
  }
  if categorical_logits is not None:
    mutual_information, marginal, conditional = information.categorical_mutual_information(
        jnp.asarray(categorical_logits))
    quantities.update(mutual_information_y=mutual_information, entropy_y=marginal,
                      conditional_entropy_y=conditional)
  return quantities
