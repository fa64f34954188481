"""Models made of a trunk, a decoder and heads: `CategoricalVAE` (q(c|x) and q(z|x, c)
on a trunk, CatVAE / InfoCatVAE), `Classifier` (p(y|x) alone: IMSAT, and IMAE's own
classifier) and `JointCodeAutoencoder` (p(y|x) and q(z|x), IMAE and its peers).
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from icvae import losses
from icvae.networks import layers


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

  def encode(self, x, key=None, soft_code=False, *, training=None):
    """q(c|x) and q(z|x,c) for all K categories at once.

    Args:
      x: (B, *event) data.
      key: the dropout key (training).
      soft_code: also compute the heads on the soft code q(c|x) (published code's estimator).
      training: True in training (dropout on), False in evaluation; None: a key means
        training (`layers.is_training`, the rule before icvae 0.4).

    Returns:
      `losses.CategoricalPosterior` with (B, K) logits and (B, K, d) mean / logvar.
    """
    h = self.encoder(x, key, training=layers.is_training(key, training))
    logits = self.classifier(h)
    one_hot = jnp.eye(self.num_categories, dtype=h.dtype)
    mean, logvar = self.heads(h[:, None, :], one_hot)
    soft_mean = soft_logvar = None
    if soft_code:
      soft_mean, soft_logvar = self.heads(h, jax.nn.softmax(logits, axis=-1))
    return losses.CategoricalPosterior(logits, mean, logvar, soft_mean, soft_logvar)

  def classify(self, x, key=None, *, training=None):
    """(N, *event) -> (N, K) logits of q(c|x)."""
    return self.classifier(self.encoder(x, key, training=layers.is_training(key, training)))

  def decode(self, z, key=None, *, training=None):
    """(..., d) codes -> (..., *event) decoder outputs (logits for Bernoulli)."""
    return self.decoder(z, key, training=layers.is_training(key, training))

  def prior_means(self):
    """(K, d) means of p(z|c)."""
    return self.prior()


class Classifier(nnx.Module):
  """p(y|x) alone: a trunk and a Linear layer to K logits (IMSAT's d-1200-1200-K network,
  no decoder)."""

  def __init__(self, trunk, num_categories, *, initialization='lecun', rngs):
    self.trunk = trunk
    self.num_categories = num_categories
    self.head = nnx.Linear(trunk.features, num_categories,
                           kernel_init=layers.kernel_initializer(initialization, output=True),
                           rngs=rngs)

  def classify(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> (B, K) logits of p(y|x); in training, the batch's statistics
    (`BatchNormTrunk`)."""
    return self.head(self.trunk(x, key, update_statistics,
                                training=layers.is_training(key, training)))

  def encode(self, x, key=None, update_statistics=True, *, training=None):
    """The model's code: the (B, K) logits of p(y|x) (there is no continuous code)."""
    return self.classify(x, key, update_statistics, training=training)


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
                            kernel_init=layers.kernel_initializer(initialization, output=True),
                            rngs=rngs)
    # A network's own decoder on concat(y, z) (`ConvDecoder`), or None: Table 1's MLP,
    # `decoder` and `out` (the attribute names are the checkpoints' parameter paths).
    self.image_decoder = decoder
    if decoder is None:
      sizes = (num_categories + latent_dim,) + tuple(decoder_sizes)
      self.decoder = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes, sizes[1:])])
      self.out = nnx.Linear(sizes[-1], math.prod(self.out_shape), rngs=rngs)

  def encode(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> `losses.JointPosterior` with (B, K) logits and (B, D) mean, logvar.

    In training, the batch's statistics; see `BatchNormTrunk` for update_statistics.
    """
    training = layers.is_training(key, training)
    heads = self.heads(self.trunk(x, key, update_statistics, training=training))
    d = self.latent_dim
    if self.classifier is not None:
      logits = self.classifier.classify(x, key, update_statistics, training=training)
    else:
      logits = heads[:, 2 * d:]
    return losses.JointPosterior(logits, heads[:, :d], heads[:, d:2 * d])

  def classify(self, x, key=None, update_statistics=True, *, training=None):
    """(B, *event) -> (B, K) logits of p(y|x)."""
    if self.classifier is not None:
      return self.classifier.classify(x, key, update_statistics, training=training)
    return self.encode(x, key, update_statistics, training=training).logits

  def decode(self, y, z, key=None, *, training=None):
    """(..., K) and (..., D) -> (..., *event) logits of the Bernoulli p(x|y, z) (Table 1's
    MLP has no dropout: the same in training and evaluation)."""
    h = jnp.concatenate([y, z], axis=-1)
    if self.image_decoder is not None:
      return self.image_decoder(h, key, training=layers.is_training(key, training)).reshape(
          *h.shape[:-1], *self.out_shape)
    for dense in self.decoder:
      h = jax.nn.relu(dense(h))
    return self.out(h).reshape(*h.shape[:-1], *self.out_shape)
