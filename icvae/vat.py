"""Virtual adversarial training (Miyato et al. 2018) on a categorical code, IMAE eq. (11).

The local smoothness term of IMAE's L(y): max_{||eta|| <= eps} KL(p(y|x) || p(y|x + eta)),
with the inner maximum approximated by power iteration on the KL's curvature around x.
"""

import jax
import jax.numpy as jnp


def unit_directions(d):
  """Each example's perturbation scaled to unit L2 norm over its event axes."""
  norms = jnp.sqrt(jnp.sum(jnp.square(d.reshape(d.shape[0], -1)), axis=-1))
  return d / jnp.maximum(norms, 1e-12).reshape((-1,) + (1,) * (d.ndim - 1))


def categorical_kl(p_logits, q_logits):
  """KL(p || q) per example from logits, (N, K) -> (N,)."""
  p_log = jax.nn.log_softmax(p_logits, axis=-1)
  q_log = jax.nn.log_softmax(q_logits, axis=-1)
  return jnp.sum(jnp.exp(p_log) * (p_log - q_log), axis=-1)


def adversarial_direction(key, x, logits_fn, xi=10.0, power_iterations=1, clean_logits=None):
  """The unit direction d that (approximately) maximises KL(p(y|x) || p(y|x + eps d)).

  Starts from a random unit direction and takes `power_iterations` steps of
  d <- normalize(grad_r KL(p(y|x) || p(y|x + r)) at r = xi d), per example; for small eps
  this is the top eigenvector of the KL's Hessian at x.

  Args:
    key: PRNG key for the random start.
    x: (N, *event) inputs.
    logits_fn: logits_fn(x) -> (N, K), the classifier p(y|x) (evaluation mode or with fixed
      dropout keys: it must be the same function in every call).
    xi: the finite-difference step of the power iteration (IMAE: 10; Miyato et al.: 1e-6).
    power_iterations: how many steps (IMAE and Miyato et al.: 1).
    clean_logits: logits_fn(x) when the caller has them already (saves a forward pass).

  Returns:
    (N, *event) unit directions, without gradient.

  References:
    Miyato et al. 2018, eqs. (12)-(14); IMAE eq. (11).
  """
  clean = jax.lax.stop_gradient(logits_fn(x) if clean_logits is None else clean_logits)
  d = unit_directions(jax.random.normal(key, x.shape, x.dtype))

  def step(d, _):
    grad = jax.grad(lambda r: jnp.sum(categorical_kl(clean, logits_fn(x + r))))(xi * d)
    return unit_directions(grad), None

  d, _ = jax.lax.scan(step, d, None, length=power_iterations)
  return jax.lax.stop_gradient(d)


def vat_loss(key, x, logits_fn, epsilon=1.0, xi=10.0, power_iterations=1, clean_logits=None):
  """mean_n KL(p(y|x_n) || p(y|x_n + eps d_n)), the term to minimise (IMAE eq. 11).

  p(y|x) is held fixed (stop-gradient) as in Miyato et al.; gradients reach the classifier
  through p(y|x + eps d).

  Args:
    epsilon: the radius of the perturbation (a scalar, or (N, 1, ...) per example as
      IMSAT's distance to the 10th nearest neighbour).
    Others: see `adversarial_direction`.

  Returns:
    Scalar in nats.
  """
  clean = jax.lax.stop_gradient(logits_fn(x) if clean_logits is None else clean_logits)
  d = adversarial_direction(key, x, logits_fn, xi, power_iterations, clean)
  return jnp.mean(categorical_kl(clean, logits_fn(x + epsilon * d)))


def nearest_neighbour_distances(images, k, chunk_size=500):
  """The L2 distance from each image to its k-th nearest other image of the set: (N,).

  IMSAT's per-example VAT radius is 0.25 times this with k = 10 (Hu et al. 2017, section
  4.1). `nearest_neighbours`' last column.

  Args:
    images: (N, *event) array.
    k: which neighbour, 1 <= k < N.
    chunk_size: rows per matmul (memory: chunk_size * N floats).
  """
  return nearest_neighbours(images, k, chunk_size)[0][:, k - 1]


def nearest_neighbours(images, k, chunk_size=500):
  """The k nearest other images of each image of the set: (distances (N, k), indices (N, k)),
  nearest first.

  Exact, in chunks of `chunk_size` rows, from ||a||^2 + ||b||^2 - 2 a.b (float32; the image
  itself, at distance 0, is excluded; duplicates of it are not). Ties go to the lower index.

  Args:
    images: (N, *event) array.
    k: how many, 1 <= k < N.
    chunk_size: rows per matmul (memory: chunk_size * N floats).
  """
  flat = jnp.asarray(images, jnp.float32).reshape(images.shape[0], -1)
  count = flat.shape[0]
  if not 1 <= k < count:
    raise ValueError(f'k must be in [1, {count - 1}] for {count} images, got {k}.')
  norms = jnp.sum(jnp.square(flat), axis=-1)

  @jax.jit
  def nearest(start):
    rows = jax.lax.dynamic_slice_in_dim(flat, start, chunk_size)
    squared = (jnp.sum(jnp.square(rows), axis=-1)[:, None] + norms[None, :]
               - 2.0 * jnp.matmul(rows, flat.T, precision=jax.lax.Precision.HIGHEST))
    own = start + jnp.arange(chunk_size)
    squared = squared.at[jnp.arange(chunk_size), own].set(jnp.inf)  # not itself
    values, indices = jax.lax.top_k(-squared, k)
    return jnp.sqrt(jnp.maximum(-values, 0.0)), indices.astype(jnp.int32)

  chunk_size = min(chunk_size, count)
  starts = list(range(0, count - chunk_size + 1, chunk_size))
  if starts[-1] + chunk_size < count:
    starts.append(count - chunk_size)  # the last chunk overlaps the one before
  distances = jnp.zeros((count, k))
  indices = jnp.zeros((count, k), jnp.int32)
  for start in starts:
    chunk_distances, chunk_indices = nearest(start)
    distances = jax.lax.dynamic_update_slice_in_dim(distances, chunk_distances, start, 0)
    indices = jax.lax.dynamic_update_slice_in_dim(indices, chunk_indices, start, 0)
  return distances, indices
