"""The adversarial autoencoder baseline of section 9 / Table 1 (Makhzani et al. 2016).

A deterministic encoder x -> z and decoder z -> x with the networks of Table 2, and a
discriminator on the code that pushes the aggregate code distribution towards the prior
N(0, I), the K = 1 case of Table 1 (no categories). It plugs into the same training loop,
evaluation and metrics as `CategoricalVAE`: `train.model_loss` calls its `loss` method, and it
exposes `encode` / `decode` / `classify` / `prior_means` with K = 1.

Choices (the paper gives none beyond "the same encoder and decoder"):
- Discriminator: FC(d -> hidden) + ReLU + FC(hidden -> 1) logit, hidden as the autoencoder's.
- One training step updates every network at once from one objective
    -log p(x | dec(enc(x)))                        (reconstruction, autoencoder)
  + adversarial_weight * BCE(D(enc(x)), real)      (generator, encoder only: D is frozen)
  + adversarial_weight * [BCE(D(z_prior), real) + BCE(D(sg(enc(x))), fake)]  (D only)
  instead of the original's three alternating phases with separate optimisers; stop-gradients
  keep each player's gradient to its own parameters, so this is simultaneous gradient play.
  Because one Adam normalises the encoder's summed gradient, the adversarial terms are
  weighted (default 10, as the paper's beta_cont and beta_cat). `experiments.probe_aae_weight`
  (numbers in RESULTS.md): weight 10 improved the test reconstruction from -201 to -148 nats
  in 4 epochs while the code mean's norm fell from 3.9 to 1.2; with weight 100 the
  adversarial game dominates and the reconstruction stays near -217 nats.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from icvae import losses
from icvae import models
from icvae import priors


def _binary_cross_entropy_from_logits(logits, real):
  """-log sigmoid(l) for real samples, -log(1 - sigmoid(l)) for fake ones; mean."""
  return jnp.mean(jax.nn.softplus(-logits) if real else jax.nn.softplus(logits))


class AdversarialAutoencoder(nnx.Module):
  """Table 2 encoder / decoder with a deterministic d-dimensional code and a discriminator."""

  def __init__(self, latent_dim=20, hidden_features=400, input_shape=(784,),
               dropout_rate=0.25, adversarial_weight=10.0, *, rngs):
    in_features = 1
    for size in input_shape:
      in_features *= size
    self.latent_dim = latent_dim
    self.num_categories = 1
    self.adversarial_weight = adversarial_weight
    self.encoder = models.MLPEncoder(in_features, hidden_features, dropout_rate, rngs=rngs)
    self.code = nnx.Linear(hidden_features, latent_dim, rngs=rngs)
    self.decoder = models.MLPDecoder(latent_dim, hidden_features, input_shape, dropout_rate,
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
    """A degenerate `CategoricalPosterior` (K = 1, the code as the mean, variance ~0), so the
    evaluation code (reconstruction error, figures) works unchanged."""
    del soft_code
    z = self.embed(x, key)
    return losses.CategoricalPosterior(jnp.zeros((x.shape[0], 1)), z[:, None, :],
                                       jnp.full((x.shape[0], 1, self.latent_dim), -30.0))

  def classify(self, x, key=None):
    """K = 1: every example in cluster 0."""
    del key
    return jnp.zeros((x.shape[0], 1))

  def prior_means(self):
    return self.prior[...]

  def loss(self, x, key, training=True, likelihood='bernoulli'):
    """(loss, metrics) of one step; see the module docstring. Dropout only when training."""
    encode_key, decode_key, prior_key = jax.random.split(key, 3)
    log_likelihood, _ = losses._likelihood(likelihood)  # pylint: disable=protected-access
    z = self.embed(x, encode_key if training else None)
    reconstruction = jnp.mean(log_likelihood(self.decode(z, decode_key if training else None),
                                             x, x.ndim - 1))
    z_prior = jax.random.normal(prior_key, z.shape, z.dtype)
    discriminator = (_binary_cross_entropy_from_logits(self.discriminate(z_prior), True)
                     + _binary_cross_entropy_from_logits(
                         self.discriminate(jax.lax.stop_gradient(z)), False))
    generator = _binary_cross_entropy_from_logits(self.discriminate(z, frozen=True), True)
    loss = -reconstruction + self.adversarial_weight * (generator + discriminator)
    code_mean = jnp.mean(z, axis=0)
    return loss, {'loss': loss, 'reconstruction': reconstruction,
                  'discriminator_loss': discriminator, 'generator_loss': generator,
                  'code_mean_norm': jnp.sqrt(jnp.sum(jnp.square(code_mean))),
                  'code_std': jnp.mean(jnp.std(z, axis=0))}


def mlp_aae(*, latent_dim=20, input_shape=(784,), hidden_features=400, dropout_rate=0.25,
            adversarial_weight=10.0, seed=0):
  """The Table 1 AAE baseline with the Table 2 networks (d = 20 as the CatVAE's)."""
  return AdversarialAutoencoder(latent_dim, hidden_features, input_shape, dropout_rate,
                                adversarial_weight, rngs=nnx.Rngs(seed))
