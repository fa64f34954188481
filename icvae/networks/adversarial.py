"""The adversarial autoencoder of InfoCatVAE's Table 1 baseline (its objective is
`icvae.objectives.aae`).
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from icvae import losses
from icvae import priors
from icvae.networks import mlp


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
    self.encoder = mlp.MLPEncoder(in_features, hidden_features, dropout_rate, rngs=rngs)
    self.code = nnx.Linear(hidden_features, latent_dim, rngs=rngs)
    self.decoder = mlp.MLPDecoder(latent_dim, hidden_features, input_shape, dropout_rate,
                              rngs=rngs)
    self.disc_hidden = nnx.Linear(latent_dim, hidden_features, rngs=rngs)
    self.disc_out = nnx.Linear(hidden_features, 1, rngs=rngs)
    self.prior = priors.PriorMeans(jnp.zeros((1, latent_dim)))  # N(0, I): K = 1, lambda = 0

  def embed(self, x, key=None, *, training=None):
    """(B, *event) -> (B, d) deterministic code; dropout in training (`key` draws it)."""
    return self.code(self.encoder(x, key, training=training))

  def decode(self, z, key=None, *, training=None):
    """(..., d) -> (..., *event) logits; dropout in training."""
    return self.decoder(z, key, training=training)

  def discriminate(self, z, frozen=False):
    """(N, d) -> (N,) logits of "z comes from the prior"; frozen: no gradient to D."""
    layers = [(self.disc_hidden.kernel[...], self.disc_hidden.bias[...]),
              (self.disc_out.kernel[...], self.disc_out.bias[...])]
    if frozen:
      layers = jax.lax.stop_gradient(layers)
    (w1, b1), (w2, b2) = layers
    return (jax.nn.relu(z @ w1 + b1) @ w2 + b2)[:, 0]

  def encode(self, x, key=None, soft_code=False, *, training=None):
    """A degenerate `CategoricalPosterior` (K = 1, the code as the mean, variance ~0)."""
    del soft_code
    z = self.embed(x, key, training=training)
    return losses.CategoricalPosterior(jnp.zeros((x.shape[0], 1)), z[:, None, :],
                                       jnp.full((x.shape[0], 1, self.latent_dim), -30.0))

  def classify(self, x, key=None, *, training=None):
    """K = 1: every example in cluster 0."""
    del key, training
    return jnp.zeros((x.shape[0], 1))

  def prior_means(self):
    """(1, d) zeros: the N(0, I) prior."""
    return self.prior[...]
