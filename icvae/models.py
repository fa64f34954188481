"""Networks of CatVAE / InfoCatVAE (Flax NNX).

`CategoricalVAE` is one model for both CatVAE and InfoCatVAE (they differ only in the loss
weights). It is built from interchangeable parts:

- an *encoder trunk* `encoder(x, key) -> h` mapping (B, *event) data to (B, F) features;
- a *decoder* `decoder(z, key) -> outputs` mapping (..., d) codes to (..., *event) outputs
  (logits for a Bernoulli likelihood, means for a Gaussian one), for any leading axes, so all
  K codes of a batch decode in one call;
- the classifier q(c|x) = softmax(Linear(F -> K)(h)) and the Gaussian heads
  Q_mu, Q_sigma = Linear(F + K -> d) applied to concat(h, one-hot c), shared by all parts;
- a `BlockPrior` holding the K prior means.

Table 2's MLP parts are `MLPEncoder` and `MLPDecoder`; the recurrent parts of Table 3 plug in
behind the same two call signatures.

`AdversarialAutoencoder` is the Table 1 baseline's networks (its objective is
`icvae.objectives.aae`). `JointCodeAutoencoder` is the IMAE paper's Table 1 networks: p(y|x)
and one q(z|x) from a batch-normalised trunk, and a decoder on (y, z).

Dropout is explicit: every call takes an optional PRNG key, and `key=None` means evaluation
(dropout off). Unlike the published code, dropout is therefore never on at evaluation.
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from icvae import losses
from icvae import priors


COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


@jax.custom_vjp
def _bf16_matmul(x, kernel):
  """x @ kernel with bfloat16 inputs, float32 accumulation and output, both ways.

  The backward products also take bfloat16 inputs and accumulate in float32 (a plain
  dot_general with a float32 result would transpose into float32 products, and a bfloat16
  result would round every accumulation: both are slower on CPU).
  """
  return _bf16_matmul_fwd(x, kernel)[0]


def _bf16_dot(a, b, contracting):
  return jax.lax.dot_general(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16),
                             (contracting, ((), ())), preferred_element_type=jnp.float32)


def _bf16_matmul_fwd(x, kernel):
  return _bf16_dot(x, kernel, ((x.ndim - 1,), (0,))), (x, kernel)


def _bf16_matmul_bwd(residuals, grad):
  x, kernel = residuals
  grad_x = _bf16_dot(grad, kernel, ((grad.ndim - 1,), (1,)))
  batch_axes = tuple(range(x.ndim - 1))
  grad_kernel = _bf16_dot(x, grad, (batch_axes, batch_axes))
  return grad_x.astype(x.dtype), grad_kernel.astype(kernel.dtype)


_bf16_matmul.defvjp(_bf16_matmul_fwd, _bf16_matmul_bwd)


def _dense(linear, x, compute_dtype):
  """linear(x) in float32, or with `_bf16_matmul` when compute_dtype is bfloat16."""
  if compute_dtype == jnp.float32:
    return linear(x)
  return _bf16_matmul(x, linear.kernel[...]) + linear.bias[...]


def dropout_keep_mask(key, rate, shape):
  """Boolean keep-mask with P(keep) = 1 - rate, from as few random bits as is exact.

  Threefry costs one 32-bit word per draw, and on a CPU it is a visible part of a training
  step. When (1 - rate) * 256 is an integer (e.g. rate 0.25 -> keep if byte < 192) every
  32-bit word is cut into four independent uniform bytes, so a mask costs a quarter of the
  words, and P(keep) is still exactly 1 - rate; likewise 16-bit pieces when
  (1 - rate) * 65536 is an integer. Any other rate falls back to `jax.random.bernoulli`.
  """
  size = math.prod(shape)
  for bits, dtype in ((8, jnp.uint8), (16, jnp.uint16)):
    threshold = (1.0 - rate) * 2 ** bits
    if threshold == int(threshold):
      per_word = 32 // bits
      words = jax.random.bits(key, (-(-size // per_word),), jnp.uint32)
      pieces = jax.lax.bitcast_convert_type(words, dtype).reshape(-1)[:size]
      return (pieces < jnp.asarray(int(threshold), dtype)).reshape(shape)
  return jax.random.bernoulli(key, 1.0 - rate, shape)


def dropout(x, rate, key=None):
  """Inverted dropout: zero each unit with probability `rate`, scale the rest by 1/(1-rate).

  `key=None` (evaluation) or rate 0 returns x unchanged, so E[dropout(x)] = x either way.
  """
  if key is None or rate == 0:
    return x
  keep = dropout_keep_mask(key, rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


class MLPEncoder(nnx.Module):
  """Table 2 encoder trunk: FC(in -> hidden) + Dropout + ReLU.

  Dropout and ReLU commute (dropout scales by a positive 1/(1-rate) or zeroes), so the
  table's order needs no care.
  """

  def __init__(self, in_features=784, hidden_features=400, dropout_rate=0.25,
               compute_dtype=jnp.float32, *, rngs):
    self.in_features = in_features
    self.features = hidden_features
    self.dense = nnx.Linear(in_features, hidden_features, rngs=rngs)
    self.compute_dtype = compute_dtype
    self.dropout_rate = dropout_rate

  def __call__(self, x, key=None):
    """(B, *event) -> (B, hidden) float32 features. Flattens the event axes first."""
    h = _dense(self.dense, x.reshape(x.shape[0], -1), self.compute_dtype)
    return jax.nn.relu(dropout(h, self.dropout_rate, key))


class MLPDecoder(nnx.Module):
  """Table 2 decoder: FC(d -> hidden) + Dropout + ReLU, FC(hidden -> out) logits.

  Choice: Table 2 also lists a Dropout(0.25) before the output sigmoid. Dropping output
  logits would set random pixels to 0.5 at training time only, which the likelihood then
  scores; we follow the issue's specification and drop the hidden layer only. The sigmoid is
  not applied here: the Bernoulli likelihood works on logits for stability.
  """

  def __init__(self, latent_dim, hidden_features=400, out_shape=(784,), dropout_rate=0.25,
               compute_dtype=jnp.float32, *, rngs):
    self.out_shape = tuple(out_shape)
    out_features = 1
    for size in self.out_shape:
      out_features *= size
    self.hidden = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.out = nnx.Linear(hidden_features, out_features, rngs=rngs)
    self.compute_dtype = compute_dtype
    self.dropout_rate = dropout_rate

  def __call__(self, z, key=None):
    """(..., d) -> (..., *out_shape) float32 logits."""
    h = jax.nn.relu(dropout(_dense(self.hidden, z, self.compute_dtype), self.dropout_rate, key))
    return _dense(self.out, h, self.compute_dtype).reshape(*z.shape[:-1], *self.out_shape)


def _scan_cell(cell, carry, inputs, reverse=False):
  """Runs an nnx RNN cell over the time axis 1 of (B, T, F) inputs with `lax.scan`.

  Returns (final carry, (B, T, H) outputs). The cell is traced once, whatever T.
  """
  def step(carry, x):
    return cell(carry, x)

  carry, outputs = jax.lax.scan(step, carry, jnp.swapaxes(inputs, 0, 1), reverse=reverse)
  return carry, jnp.swapaxes(outputs, 0, 1)


class GRUEncoder(nnx.Module):
  """Table 3 encoder trunk: a bidirectional GRU over T steps of F features.

  Returns concat(final forward state, final backward state): (B, 2 * hidden), 256 features
  for the paper's hidden 128. Table 3 has no dropout; `key` is accepted and ignored.
  """

  def __init__(self, num_features=28, hidden_features=128, *, rngs):
    self.features = 2 * hidden_features
    self.hidden_features = hidden_features
    self.forward_cell = nnx.GRUCell(num_features, hidden_features, rngs=rngs)
    self.backward_cell = nnx.GRUCell(num_features, hidden_features, rngs=rngs)

  def __call__(self, x, key=None):
    """(B, T, F) sequences -> (B, 2 * hidden) features."""
    del key
    if x.ndim != 3:
      raise ValueError(f'GRUEncoder expects (batch, time, features) sequences, got shape '
                       f'{x.shape}; use data.as_sequences.')
    zeros = jnp.zeros((x.shape[0], self.hidden_features), x.dtype)
    forward, _ = _scan_cell(self.forward_cell, zeros, x)
    backward, _ = _scan_cell(self.backward_cell, zeros, x, reverse=True)
    return jnp.concatenate([forward, backward], axis=-1)


class GRUDecoder(nnx.Module):
  """Table 3 decoder: FC(d -> hidden) initial state, GRU(d -> hidden) + ReLU fed z at every
  step, FC(hidden -> F) + sigmoid per step; returns (..., T, F) means in [0, 1].

  Choice: Table 3 lists "FC 20 x 128" then "GRU 20 x 128": we read the FC as the GRU's
  initial hidden state (tanh, the range of a GRU state) and 20 as the GRU's input size, so z
  is the input at each of the T steps. The sigmoid is applied here: with the squared-error
  likelihood of appendix C the decoder outputs the mean itself.
  """

  def __init__(self, latent_dim, hidden_features=128, num_steps=28, num_features=28, *,
               rngs):
    self.num_steps = num_steps
    self.initial = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.cell = nnx.GRUCell(latent_dim, hidden_features, rngs=rngs)
    self.out = nnx.Linear(hidden_features, num_features, rngs=rngs)

  def __call__(self, z, key=None):
    """(..., d) codes -> (..., T, F) sigmoid means."""
    del key
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])
    inputs = jnp.broadcast_to(flat[:, None, :], (flat.shape[0], self.num_steps, flat.shape[-1]))
    _, hidden = _scan_cell(self.cell, jnp.tanh(self.initial(flat)), inputs)
    means = jax.nn.sigmoid(self.out(jax.nn.relu(hidden)))
    return means.reshape(*lead, *means.shape[1:])


def _linear_on_concat(linear, features, code):
  """linear(concat(features, code)) without materialising the concatenation.

  With kernel W = [W_h; W_c], concat(h, c) @ W + b = h @ W_h + c @ W_c + b. `features` and
  `code` broadcast against each other, so (B, 1, F) features with a (K, K) identity code give
  all K categories' outputs, (B, K, d), from one (B, F) x (F, d) product.
  """
  kernel = linear.kernel[...]
  split = features.shape[-1]
  return features @ kernel[:split] + code @ kernel[split:] + linear.bias[...]


class CategoricalVAE(nnx.Module):
  """Encoder trunk + classifier q(c|x) + Gaussian heads q(z|x,c) + decoder + prior."""

  def __init__(self, encoder, decoder, prior, *, rngs):
    """Builds the classifier and heads on top of `encoder` (which must expose `.features`).

    Args:
      encoder: trunk module, encoder(x, key) -> (B, F), with attribute `features` = F.
      decoder: decoder(z, key) -> (..., *event).
      prior: a `priors.BlockPrior`; its shape fixes K and d.
      rngs: `nnx.Rngs` for the new layers' initialisation.
    """
    self.encoder = encoder
    self.decoder = decoder
    self.prior = prior
    num_categories, latent_dim = prior.num_categories, prior.latent_dim
    self.num_categories = num_categories
    self.latent_dim = latent_dim
    self.classifier = nnx.Linear(encoder.features, num_categories, rngs=rngs)
    self.mean_head = nnx.Linear(encoder.features + num_categories, latent_dim, rngs=rngs)
    self.logvar_head = nnx.Linear(encoder.features + num_categories, latent_dim, rngs=rngs)

  def heads(self, features, code):
    """(mean, logvar) of q(z|x, code) for features (..., F) and a code (..., K)."""
    return (_linear_on_concat(self.mean_head, features, code),
            _linear_on_concat(self.logvar_head, features, code))

  def encode(self, x, key=None, soft_code=False):
    """q(c|x) and q(z|x,c) for all K categories at once.

    Args:
      x: (B, *event) data.
      key: dropout key, or None for evaluation.
      soft_code: also compute the heads on the soft code q(c|x) (published code's estimator).

    Returns:
      `losses.CategoricalPosterior` with (B, K) logits and (B, K, d) mean / logvar.
    """
    h = self.encoder(x, key)
    logits = self.classifier(h)
    one_hot = jnp.eye(self.num_categories, dtype=h.dtype)
    mean, logvar = self.heads(h[:, None, :], one_hot)
    soft_mean = soft_logvar = None
    if soft_code:
      soft_mean, soft_logvar = self.heads(h, jax.nn.softmax(logits, axis=-1))
    return losses.CategoricalPosterior(logits, mean, logvar, soft_mean, soft_logvar)

  def classify(self, x, key=None):
    """(N, *event) -> (N, K) logits of q(c|x)."""
    return self.classifier(self.encoder(x, key))

  def decode(self, z, key=None):
    """(..., d) codes -> (..., *event) decoder outputs (logits for Bernoulli)."""
    return self.decoder(z, key)

  def prior_means(self):
    """(K, d) means of p(z|c)."""
    return self.prior()


def mlp_catvae(*, num_categories=10, delta=2, prior_scale=2.0, input_shape=(784,),
               hidden_features=400, dropout_rate=0.25, learned_prior=False, seed=0,
               compute_dtype='float32'):
  """The MLP CatVAE / InfoCatVAE of Table 2 (appendix B), every size an argument.

  Defaults are the paper's MNIST setting: K = 10, d = K * delta = 20, lambda = 2, hidden 400,
  dropout 0.25, with the fixed block prior of eq. (8).

  compute_dtype: 'float32' (default, the paper's math) or 'bfloat16' for the four large
  layers (784 x 400 each): their inputs and kernels are rounded to bfloat16 for the matmul
  (mixed precision; parameters, optimiser state, the small heads, and every loss term stay
  float32, and the layers' outputs are cast back to float32). On CPUs with AMX, and on TPUs,
  this is several times faster; it is not the same arithmetic as float32.
  """
  if compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f'compute_dtype must be one of {tuple(COMPUTE_DTYPES)}, '
                     f'got {compute_dtype!r}.')
  dtype = COMPUTE_DTYPES[compute_dtype]
  rngs = nnx.Rngs(seed)
  prior = priors.BlockPrior(num_categories, delta, prior_scale, learned=learned_prior)
  in_features = 1
  for size in input_shape:
    in_features *= size
  encoder = MLPEncoder(in_features, hidden_features, dropout_rate, dtype, rngs=rngs)
  decoder = MLPDecoder(prior.latent_dim, hidden_features, input_shape, dropout_rate, dtype,
                       rngs=rngs)
  return CategoricalVAE(encoder, decoder, prior, rngs=rngs)


def gru_catvae(*, num_categories=10, delta=2, prior_scale=2.0, sequence_shape=(28, 28),
               hidden_features=128, learned_prior=False, seed=0):
  """The recurrent CatVAE / InfoCatVAE of Table 3 (appendix C), for (T, F) sequences.

  Bidirectional GRU encoder (hidden 128 each way, 256 features), classifier 256 -> K, heads
  on concat(256, one-hot c) -> d, GRU decoder (see `GRUDecoder`). Train it with the
  'squared_error' likelihood (appendix C). Row-by-row MNIST is T = F = 28.
  """
  num_steps, num_features = sequence_shape
  rngs = nnx.Rngs(seed)
  prior = priors.BlockPrior(num_categories, delta, prior_scale, learned=learned_prior)
  encoder = GRUEncoder(num_features, hidden_features, rngs=rngs)
  decoder = GRUDecoder(prior.latent_dim, hidden_features, num_steps, num_features, rngs=rngs)
  return CategoricalVAE(encoder, decoder, prior, rngs=rngs)


class AdversarialAutoencoder(nnx.Module):
  """The AAE baseline of Table 1 (Makhzani et al. 2016): Table 2 encoder and decoder with a
  deterministic d-dimensional code, and a discriminator on the code.

  Discriminator (the paper gives none): FC(d -> hidden) + ReLU + FC(hidden -> 1) logit.
  It also answers the `CategoricalVAE` calls the evaluation uses, as the K = 1 case: one
  category, the code as the mean of a near-deterministic q(z|x), and the N(0, I) prior.
  """

  def __init__(self, latent_dim=20, hidden_features=400, input_shape=(784,),
               dropout_rate=0.25, *, rngs):
    in_features = math.prod(input_shape)
    self.latent_dim = latent_dim
    self.num_categories = 1
    self.encoder = MLPEncoder(in_features, hidden_features, dropout_rate, rngs=rngs)
    self.code = nnx.Linear(hidden_features, latent_dim, rngs=rngs)
    self.decoder = MLPDecoder(latent_dim, hidden_features, input_shape, dropout_rate,
                              rngs=rngs)
    self.disc_hidden = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.disc_out = nnx.Linear(hidden_features, 1, rngs=rngs)
    self.prior = priors.PriorMeans(jnp.zeros((1, latent_dim)))  # N(0, I): K = 1, lambda = 0

  def embed(self, x, key=None):
    """(B, *event) -> (B, d) deterministic code."""
    return self.code(self.encoder(x, key))

  def decode(self, z, key=None):
    """(..., d) -> (..., *event) logits."""
    return self.decoder(z, key)

  def discriminate(self, z, frozen=False):
    """(N, d) -> (N,) logits of "z comes from the prior"; frozen: no gradient to D."""
    layers = [(self.disc_hidden.kernel[...], self.disc_hidden.bias[...]),
              (self.disc_out.kernel[...], self.disc_out.bias[...])]
    if frozen:
      layers = jax.lax.stop_gradient(layers)
    (w1, b1), (w2, b2) = layers
    return (jax.nn.relu(z @ w1 + b1) @ w2 + b2)[:, 0]

  def encode(self, x, key=None, soft_code=False):
    """A degenerate `CategoricalPosterior` (K = 1, the code as the mean, variance ~0)."""
    del soft_code
    z = self.embed(x, key)
    return losses.CategoricalPosterior(jnp.zeros((x.shape[0], 1)), z[:, None, :],
                                       jnp.full((x.shape[0], 1, self.latent_dim), -30.0))

  def classify(self, x, key=None):
    """K = 1: every example in cluster 0."""
    del key
    return jnp.zeros((x.shape[0], 1))

  def prior_means(self):
    """(1, d) zeros: the N(0, I) prior."""
    return self.prior[...]


def mlp_aae(*, latent_dim=20, input_shape=(784,), hidden_features=400, dropout_rate=0.25,
            seed=0):
  """The Table 1 AAE baseline's networks with the Table 2 sizes (d = 20 as the CatVAE's)."""
  return AdversarialAutoencoder(latent_dim, hidden_features, input_shape, dropout_rate,
                                rngs=nnx.Rngs(seed))


# How an encoder sees its input (`--input_scaling`): (scale, shift) of x' = scale x + shift
# on images in [0, 1]. 'imsat' is IMSAT's published code (`load_mnist.py`: pixel / 128 - 1 on
# pixel bytes 0..255, i.e. 255/128 x - 1, in [-1, 0.992]).
INPUT_SCALINGS = {'unit': (1.0, 0.0), 'imsat': (255.0 / 128.0, -1.0)}
# Weight initialisations (`--initialization`): 'lecun' is Flax's default (a truncated normal
# of variance 1 / fan_in, zero biases); 'imsat' is IMSAT's published code under Chainer
# 1.21, whose `Linear(wscale=w)` draws W ~ N(0, w / fan_in) (`HeNormal(sqrt(w / 2))`):
# w = 0.1 for the hidden layers and 1e-4 for the output layer, so the first p(y|x) are
# nearly uniform.
INITIALIZATIONS = ('lecun', 'imsat')
IMSAT_HIDDEN_WSCALE = 0.1
IMSAT_OUTPUT_WSCALE = 1e-4


def kernel_initializer(initialization, output=False):
  """The kernel initializer of a Linear layer for `--initialization` (`INITIALIZATIONS`);
  `output` marks a network's last layer (IMSAT's tiny one)."""
  if initialization == 'lecun':
    return nnx.initializers.lecun_normal()
  if initialization == 'imsat':
    scale = IMSAT_OUTPUT_WSCALE if output else IMSAT_HIDDEN_WSCALE
    return nnx.initializers.variance_scaling(scale, 'fan_in', 'normal')
  raise ValueError(f'initialization must be one of {INITIALIZATIONS}, got {initialization!r}.')


class BatchNormTrunk(nnx.Module):
  """FC + BatchNorm + ReLU layers (IMAE Table 1 encoder trunk: 784 -> 500 -> 500; IMSAT's
  784 -> 1200 -> 1200).

  Batch norm uses the batch's statistics and updates its running averages when called with
  a key (training), and the running averages when `key` is None (evaluation), the library's
  convention for "training mode". The running averages are `nnx.BatchStat` variables: the
  train step returns them updated with the state (`train.objective_loss`).

  Choice: momentum 0.9 (running = 0.9 running + 0.1 batch), PyTorch's BatchNorm1d default
  and Chainer's (IMSAT), as the IMAE paper gives none and its authors' framework is not
  known. Epsilon is Flax's 1e-5 (Chainer's is 2e-5; against a unit-scale variance the
  difference is immaterial), and the running variance is the biased one (Chainer and
  PyTorch keep the unbiased one: a factor B / (B - 1), 1.004 at IMSAT's batch of 250).

  Args:
    in_features: the flat input size.
    hidden_sizes: the widths of the layers.
    momentum: of the running averages.
    input_scaling: a key of `INPUT_SCALINGS`, applied to x before the first layer.
    initialization: a key of `INITIALIZATIONS`, for the layers' kernels.
  """

  def __init__(self, in_features, hidden_sizes=(500, 500), momentum=0.9, *,
               input_scaling='unit', initialization='lecun', rngs):
    sizes = (in_features,) + tuple(hidden_sizes)
    init = kernel_initializer(initialization)
    self.dense = nnx.List([nnx.Linear(a, b, kernel_init=init, rngs=rngs)
                           for a, b in zip(sizes, sizes[1:])])
    self.norm = nnx.List([nnx.BatchNorm(b, momentum=momentum, rngs=rngs)
                          for b in sizes[1:]])
    self.features = sizes[-1]
    self.input_scale, self.input_shift = INPUT_SCALINGS[input_scaling]

  def __call__(self, x, key=None, update_statistics=True):
    """(B, *event) -> (B, features); the batch's statistics when `key` is given.

    With update_statistics=False (and a key) the batch's statistics normalise as in
    training but the running averages are left as they are, and nothing is written to
    the module: a pure function, safe inside jax.grad (VAT's perturbed passes).
    """
    h = x.reshape(x.shape[0], -1)
    if (self.input_scale, self.input_shift) != (1.0, 0.0):
      h = self.input_scale * h + self.input_shift
    for dense, norm in zip(self.dense, self.norm):
      h = dense(h)
      if key is not None and not update_statistics:
        mean = jnp.mean(h, axis=0)
        variance = jnp.mean(jnp.square(h - mean), axis=0)  # biased, as nnx.BatchNorm
        h = (h - mean) * jax.lax.rsqrt(variance + norm.epsilon)
        h = h * norm.scale[...] + norm.bias[...]
      else:
        h = norm(h, use_running_average=key is None)
      h = jax.nn.relu(h)
    return h


class DenseTrunk(nnx.Module):
  """FC + ReLU layers without batch norm (IMAE Table 2 encoder trunk: 4096 -> 1200 x 3).

  Takes the same arguments as `BatchNormTrunk` (there are no statistics to update, and no
  dropout: the key is not used), so `JointCodeAutoencoder` holds either.
  """

  def __init__(self, in_features, hidden_sizes=(1200, 1200, 1200), *, rngs):
    sizes = (in_features,) + tuple(hidden_sizes)
    self.dense = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes, sizes[1:])])
    self.features = sizes[-1]

  def __call__(self, x, key=None, update_statistics=True):
    """(B, *event) -> (B, features)."""
    del key, update_statistics
    h = x.reshape(x.shape[0], -1)
    for dense in self.dense:
      h = jax.nn.relu(dense(h))
    return h


class Classifier(nnx.Module):
  """p(y|x) alone: a trunk and a Linear layer to K logits (IMSAT's d-1200-1200-K network,
  no decoder)."""

  def __init__(self, trunk, num_categories, *, initialization='lecun', rngs):
    self.trunk = trunk
    self.num_categories = num_categories
    self.head = nnx.Linear(trunk.features, num_categories,
                           kernel_init=kernel_initializer(initialization, output=True),
                           rngs=rngs)

  def classify(self, x, key=None, update_statistics=True):
    """(B, *event) -> (B, K) logits of p(y|x); a key means training mode (batch statistics,
    `BatchNormTrunk`)."""
    return self.head(self.trunk(x, key, update_statistics))

  def encode(self, x, key=None, update_statistics=True):
    """The model's code: the (B, K) logits of p(y|x) (there is no continuous code)."""
    return self.classify(x, key, update_statistics)


class JointCodeAutoencoder(nnx.Module):
  """p(y|x) (K logits) and q(z|x) = N(mean, diag exp(logvar)) (D dims) from one trunk; a
  decoder p(x|y, z) on concat(y, z) (IMAE Table 1; JointVAE's layout).

  With a `classifier` (a `Classifier`), p(y|x) comes from it instead, and the trunk and
  its heads give q(z|x) alone: the two codes share no weights (then VAT, which perturbs
  p(y|x) only, passes through the classifier alone).

  The decoder takes y as a vector: a one-hot, the probabilities, or a Gumbel-softmax
  sample, as the objective chooses.
  """

  def __init__(self, trunk, num_categories, latent_dim, decoder_sizes=(500, 500),
               out_shape=(784,), *, initialization='lecun', classifier=None, decoder=None,
               rngs):
    self.trunk = trunk
    self.num_categories = num_categories
    self.latent_dim = latent_dim
    self.out_shape = tuple(out_shape)
    self.classifier = classifier
    self.heads = nnx.Linear(trunk.features,
                            2 * latent_dim + (0 if classifier is not None else num_categories),
                            kernel_init=kernel_initializer(initialization, output=True),
                            rngs=rngs)
    if decoder is not None:  # a module of its own on concat(y, z) (`ConvDecoder`)
      self.image_decoder = decoder
      return
    sizes = (num_categories + latent_dim,) + tuple(decoder_sizes)
    self.decoder = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes, sizes[1:])])
    self.out = nnx.Linear(sizes[-1], math.prod(self.out_shape), rngs=rngs)

  def encode(self, x, key=None, update_statistics=True):
    """(B, *event) -> `losses.JointPosterior` with (B, K) logits and (B, D) mean, logvar.

    A key means training mode (batch statistics); see `BatchNormTrunk` for
    update_statistics.
    """
    heads = self.heads(self.trunk(x, key, update_statistics))
    d = self.latent_dim
    if self.classifier is not None:
      logits = self.classifier.classify(x, key, update_statistics)
    else:
      logits = heads[:, 2 * d:]
    return losses.JointPosterior(logits, heads[:, :d], heads[:, d:2 * d])

  def classify(self, x, key=None, update_statistics=True):
    """(B, *event) -> (B, K) logits of p(y|x)."""
    if self.classifier is not None:
      return self.classifier.classify(x, key, update_statistics)
    return self.encode(x, key, update_statistics).logits

  def decode(self, y, z, key=None):
    """(..., K) and (..., D) -> (..., *event) logits of the Bernoulli p(x|y, z)."""
    del key  # no dropout in Table 1
    h = jnp.concatenate([y, z], axis=-1)
    if hasattr(self, 'image_decoder'):
      return self.image_decoder(h).reshape(*h.shape[:-1], *self.out_shape)
    for dense in self.decoder:
      h = jax.nn.relu(dense(h))
    return self.out(h).reshape(*h.shape[:-1], *self.out_shape)


def mlp_joint_code(*, num_categories=10, latent_dim=10, input_shape=(784,),
                   hidden_sizes=(500, 500), input_scaling='unit', initialization='lecun',
                   classifier_sizes=None, seed=0):
  """The IMAE paper's Table 1 networks for MNIST and Fashion-MNIST (K = 10, D = 10).

  `input_scaling` and `initialization` apply to the encoder (`BatchNormTrunk`; the heads
  are its output layer); the decoder keeps Flax's initialisation and reads (y, z).
  `classifier_sizes` (widths) gives p(y|x) its own network (`mlp_classifier`'s, e.g.
  IMSAT's (1200, 1200)); None: y and z share the trunk (Table 1).
  """
  rngs = nnx.Rngs(seed)
  trunk = BatchNormTrunk(math.prod(input_shape), hidden_sizes, input_scaling=input_scaling,
                         initialization=initialization, rngs=rngs)
  classifier = None
  if classifier_sizes:
    classifier = Classifier(
        BatchNormTrunk(math.prod(input_shape), classifier_sizes, input_scaling=input_scaling,
                       initialization=initialization, rngs=rngs),
        num_categories, initialization=initialization, rngs=rngs)
  return JointCodeAutoencoder(trunk, num_categories, latent_dim, hidden_sizes, input_shape,
                              initialization=initialization, classifier=classifier, rngs=rngs)


def mlp_classifier(*, num_categories=10, input_shape=(784,), hidden_sizes=(1200, 1200),
                   input_scaling='unit', initialization='lecun', seed=0):
  """IMSAT's network (Hu et al. 2017, section 4.1; `imsat_cluster.py`): d -> 1200 BN ReLU
  -> 1200 BN ReLU -> K logits, every layer with a bias, no batch norm on the output."""
  rngs = nnx.Rngs(seed)
  trunk = BatchNormTrunk(math.prod(input_shape), hidden_sizes, input_scaling=input_scaling,
                         initialization=initialization, rngs=rngs)
  return Classifier(trunk, num_categories, initialization=initialization, rngs=rngs)


def mlp_joint_code_dsprites(*, num_categories=3, latent_dim=10, input_shape=(4096,),
                            width=1200, seed=0):
  """The IMAE paper's Table 2 networks for dSprites (K = 3, D = 10), read as follows.

  Encoder 4096 -> 1200 ReLU -> 1200 ReLU -> 1200 ReLU -> heads (2 D for mu and log sigma^2
  of z, K logits of y); decoder (y, z) -> 1200 ReLU -> 1200 ReLU -> 1200 ReLU -> 4096
  Bernoulli logits (the sigmoid). No batch norm, unlike Table 1.

  Choices: each row of the table is one layer, as icvae reads Table 1 (its rows "FC. 500"
  and "FC. 2 x 500" are the trunk's two 500 layers), so Table 2's three rows "FC. 1200",
  "FC. 1200", "FC. 2 x 1200" are three 1200 layers, as many as its decoder has (Chen et
  al.'s dSprites encoder has two); its decoder output "28 x 28" is a copy of Table 1's and
  is 64 x 64 here.
  """
  rngs = nnx.Rngs(seed)
  trunk = DenseTrunk(math.prod(input_shape), (width,) * 3, rngs=rngs)
  return JointCodeAutoencoder(trunk, num_categories, latent_dim, (width,) * 3, input_shape,
                              rngs=rngs)


# --- convolutional networks (--network=conv) ----------------------------------------------

# The networks a run may ask for (--network), each family saying which it builds
# (`objectives.ModelFamily.networks`).
NETWORKS = {
    'mlp': 'fully connected layers on flat examples (the papers\' Tables; any data)',
    'gru': 'recurrent, image rows as a sequence (InfoCatVAE Table 3; images)',
    'conv': '4x4 stride-2 convolutions and their transposes (the disentanglement '
            'literature\'s; images of any size, grey or colour)',
}

# The disentanglement literature's image encoder (Burgess et al. 2018, Locatello et al. 2019:
# four 4x4 convolutions of stride 2 with 32, 32, 64, 64 channels, then FC 256) and its
# transposed decoder; `conv_layout` takes as many of the four as the image's size allows.
CONV_CHANNELS = (32, 32, 64, 64)
CONV_FEATURES = 256


def conv_layout(image_shape):
  """(channels per stride-2 layer, spatial sizes [(H, W), then after each layer]) of the
  conv networks for (H, W) or (H, W, C) images: layers while both sides exceed 4 (64x64:
  four layers to 4x4, as the literature's; 28x28 and 32x32: three, to 4x4), at least one.

  Raises:
    ValueError: not an image shape.
  """
  if len(image_shape) not in (2, 3):
    raise ValueError(f'--network=conv reads images (H, W[, C]), not examples of shape '
                     f'{tuple(image_shape)}: use --network=mlp for feature vectors.')
  sizes = [tuple(image_shape[:2])]
  while len(sizes) <= len(CONV_CHANNELS) and (min(sizes[-1]) > 4 or len(sizes) == 1):
    sizes.append(tuple(-(-n // 2) for n in sizes[-1]))  # SAME padding, stride 2
  return CONV_CHANNELS[:len(sizes) - 1], sizes


def _normalised(norm, h, key, update_statistics):
  """Batch norm over every axis but the last, as `BatchNormTrunk`'s layers: running
  averages without a key; the batch's statistics with one, updating the averages unless
  `update_statistics` is False (then a pure function, for VAT's perturbed passes)."""
  if key is not None and not update_statistics:
    axes = tuple(range(h.ndim - 1))
    mean = jnp.mean(h, axis=axes)
    variance = jnp.mean(jnp.square(h - mean), axis=axes)
    return (h - mean) * jax.lax.rsqrt(variance + norm.epsilon) * norm.scale[...] + norm.bias[...]
  return norm(h, use_running_average=key is None)


class ConvTrunk(nnx.Module):
  """Conv encoder trunk: stride-2 4x4 convolutions (`conv_layout`), ReLU, FC 256 ReLU, on
  flat images (B, H * W * C) reshaped to (B, H, W, C); with `batch_norm`, each layer is
  followed by batch norm (as `BatchNormTrunk`, for the joint-code families), without it
  there is none (CatVAE's encoder, which has dropout on its MLP only).

  Has the call signatures of both `MLPEncoder` (x, key) and `BatchNormTrunk` (x, key,
  update_statistics), and `features`.
  """

  def __init__(self, image_shape, features=CONV_FEATURES, *, batch_norm=True,
               input_scaling='unit', initialization='lecun', rngs):
    self.image_shape = (tuple(image_shape) if len(image_shape) == 3
                        else tuple(image_shape) + (1,))
    channels, sizes = conv_layout(image_shape)
    init = kernel_initializer(initialization)
    ins = (self.image_shape[-1],) + tuple(channels)
    self.convs = nnx.List([nnx.Conv(a, b, (4, 4), strides=(2, 2), padding='SAME',
                                    kernel_init=init, rngs=rngs) for a, b in zip(ins, ins[1:])])
    flat = sizes[-1][0] * sizes[-1][1] * ins[-1]
    self.dense = nnx.Linear(flat, features, kernel_init=init, rngs=rngs)
    self.batch_norm = batch_norm
    self.norms = nnx.List([nnx.BatchNorm(n, momentum=0.9, rngs=rngs)
                           for n in tuple(channels) + (features,)] if batch_norm else [])
    self.features = features
    self.input_scale, self.input_shift = INPUT_SCALINGS[input_scaling]

  def __call__(self, x, key=None, update_statistics=True):
    """(B, H * W * C) or (B, H, W[, C]) -> (B, features)."""
    h = x.reshape(x.shape[0], *self.image_shape)
    if (self.input_scale, self.input_shift) != (1.0, 0.0):
      h = self.input_scale * h + self.input_shift
    layers = list(self.convs) + [self.dense]
    for i, layer in enumerate(layers):
      if layer is self.dense:
        h = h.reshape(h.shape[0], -1)
      h = layer(h)
      if self.batch_norm:
        h = _normalised(self.norms[i], h, key, update_statistics)
      h = jax.nn.relu(h)
    return h


def transposed_conv(h, kernel, bias):
  """What `nnx.ConvTranspose(kernel_size=(4, 4), strides=(2, 2), padding='SAME')` computes
  (`lax.conv_transpose`, no kernel flip), as one stride-1 convolution and a depth-to-space.

  XLA on CPU runs the transposed convolution as an input-dilated one, about 30x slower
  forward and 800x slower in its kernel gradient than a plain convolution of the same size
  (2.05 s against 2.6 ms at batch 128 on 14x14x32 maps). Output pixel (2m + a, 2n + b) reads
  input rows m - 1, m (a = 0; kernel rows 0, 2) or m, m + 1 (a = 1; rows 1, 3), and the
  same for columns: each of the four phases is a 2x2 sub-kernel `kernel[a::2, b::2]` placed
  in a 3x3 window over the input padded by 1, so one convolution gives all four, and the
  phases are interleaved into the (2H, 2W) map.

  Args:
    h: (N, H, W, C_in).
    kernel: (4, 4, C_in, C_out), the ConvTranspose's.
    bias: (C_out,) or None.
  Returns:
    (N, 2H, 2W, C_out).
  """
  c_in, c_out = kernel.shape[2:]
  window = jnp.zeros((3, 3, c_in, 2, 2, c_out), kernel.dtype)
  for a in (0, 1):
    for b in (0, 1):
      window = window.at[a:a + 2, b:b + 2, :, a, b, :].set(kernel[a::2, b::2])
  phases = jax.lax.conv_general_dilated(
      h, window.reshape(3, 3, c_in, 4 * c_out), (1, 1), ((1, 1), (1, 1)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  n, rows, columns = h.shape[:3]
  out = phases.reshape(n, rows, columns, 2, 2, c_out).transpose(0, 1, 3, 2, 4, 5)
  out = out.reshape(n, 2 * rows, 2 * columns, c_out)
  return out if bias is None else out + bias


class ConvDecoder(nnx.Module):
  """The conv encoder's mirror: FC 256 ReLU, FC to the smallest feature map, 4x4 transposed
  convolutions of stride 2 (ReLU between), the last to the image's channels, each cropped
  to the encoder's size at that depth (28 -> 14 -> 7 -> 4 is undone as 4 -> 7 -> 14 -> 28).
  Outputs flat (..., H * W * C) logits (or means), as the MLP decoders do.
  """

  def __init__(self, in_features, image_shape, features=CONV_FEATURES, *, rngs):
    self.image_shape = (tuple(image_shape) if len(image_shape) == 3
                        else tuple(image_shape) + (1,))
    channels, sizes = conv_layout(image_shape)
    self.sizes = tuple(sizes)
    self.hidden = nnx.Linear(in_features, features, rngs=rngs)
    self.start_channels = channels[-1]
    self.to_map = nnx.Linear(features, sizes[-1][0] * sizes[-1][1] * channels[-1], rngs=rngs)
    outs = tuple(reversed(channels[:-1])) + (self.image_shape[-1],)
    ins = (channels[-1],) + outs[:-1]
    self.deconvs = nnx.List([nnx.ConvTranspose(a, b, (4, 4), strides=(2, 2), padding='SAME',
                                               rngs=rngs) for a, b in zip(ins, outs)])

  def __call__(self, code, key=None):
    """(..., in_features) -> (..., H * W * C)."""
    del key  # no dropout
    lead = code.shape[:-1]
    h = jax.nn.relu(self.hidden(code.reshape(-1, code.shape[-1])))
    h = jax.nn.relu(self.to_map(h))
    h = h.reshape(h.shape[0], *self.sizes[-1], self.start_channels)
    targets = list(reversed(self.sizes[:-1]))
    for i, (deconv, (rows, columns)) in enumerate(zip(self.deconvs, targets)):
      h = transposed_conv(h, deconv.kernel[...], deconv.bias[...])[:, :rows, :columns]
      if i + 1 < len(self.deconvs):
        h = jax.nn.relu(h)
    return h.reshape(*lead, -1)


def conv_catvae(*, num_categories=10, delta=2, prior_scale=2.0, image_shape=(28, 28),
                learned_prior=False, seed=0):
  """CatVAE / InfoCatVAE with the conv encoder (`ConvTrunk`, no batch norm) and decoder
  (`ConvDecoder`): the paper's MLP replaced for larger and colour images."""
  rngs = nnx.Rngs(seed)
  prior = priors.BlockPrior(num_categories, delta, prior_scale, learned=learned_prior)
  encoder = ConvTrunk(image_shape, batch_norm=False, rngs=rngs)
  decoder = ConvDecoder(prior.latent_dim, image_shape, rngs=rngs)
  return CategoricalVAE(encoder, decoder, prior, rngs=rngs)


def conv_joint_code(*, num_categories=10, latent_dim=10, image_shape=(28, 28),
                    input_scaling='unit', initialization='lecun', classifier=False, seed=0):
  """IMAE and its peers with the conv encoder (`ConvTrunk`, batch norm as Table 1's) and
  decoder (`ConvDecoder` on concat(y, z)); `classifier`: p(y|x) gets a conv network of its
  own (as --classifier_features does for the MLP)."""
  rngs = nnx.Rngs(seed)
  trunk = ConvTrunk(image_shape, input_scaling=input_scaling, initialization=initialization,
                    rngs=rngs)
  own = None
  if classifier:
    own = Classifier(ConvTrunk(image_shape, input_scaling=input_scaling,
                               initialization=initialization, rngs=rngs),
                     num_categories, initialization=initialization, rngs=rngs)
  decoder = ConvDecoder(num_categories + latent_dim, image_shape, rngs=rngs)
  return JointCodeAutoencoder(trunk, num_categories, latent_dim, (),
                              (math.prod(image_shape),), initialization=initialization,
                              classifier=own, decoder=decoder, rngs=rngs)


def conv_classifier(*, num_categories=10, image_shape=(28, 28), input_scaling='unit',
                    initialization='lecun', seed=0):
  """IMSAT's classifier with the conv trunk (`ConvTrunk`, batch norm) instead of the MLP."""
  rngs = nnx.Rngs(seed)
  return Classifier(ConvTrunk(image_shape, input_scaling=input_scaling,
                              initialization=initialization, rngs=rngs),
                    num_categories, initialization=initialization, rngs=rngs)
