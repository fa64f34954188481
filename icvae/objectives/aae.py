"""The adversarial autoencoder baseline of section 9 / Table 1 (Makhzani et al. 2016).

The networks (`icvae.networks.AdversarialAutoencoder`): a deterministic encoder x -> z and
decoder z -> x with the networks of Table 2, and a discriminator on the code that pushes the
aggregate code distribution towards the prior N(0, I), the K = 1 case of Table 1.

Two players, two parameter groups, two optimisers (`parameter_groups`): the autoencoder
(encoder, code layer, decoder) minimises
    -log p(x | dec(enc(x))) + adversarial_weight * BCE(D(enc(x)), real)
and the discriminator minimises
    adversarial_weight * [BCE(D(z_prior), real) + BCE(D(enc(x)), fake)].
`loss` returns the sum of the two, with stop-gradients so that each group's gradient is that
of its own loss (D is frozen inside the generator term, the code is a constant inside the
discriminator's): one backward pass gives both players their gradients, and each group's
Adam steps on its own, simultaneously (the original alternates three phases).

Choice (the paper gives none beyond "the same encoder and decoder"): the adversarial terms
are weighted (default 10, as the paper's beta_cont and beta_cat). `experiments.probes.aae_weight`
(numbers in RESULTS.md): weight 10 improved the test reconstruction from -201 to -148 nats
in 4 epochs while the code mean's norm fell from 3.9 to 1.2; with weight 100 the adversarial
game dominates and the reconstruction stays near -217 nats.
"""

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from icvae import likelihoods
from icvae import losses
from icvae import networks as networks_lib
from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import shared
from icvae.settings import Setting

ADVERSARIAL_WEIGHT = Setting('adversarial_weight', 10.0, 'AAE only: weight of the generator '
                             'and discriminator losses against the reconstruction.',
                             check=settings_lib.non_negative)

DISCRIMINATOR_LAYERS = ('disc_hidden', 'disc_out')


def binary_cross_entropy_from_logits(logits, real):
  """Mean over the batch of -log sigmoid(l) (real samples) or -log(1 - sigmoid(l)) (fake)."""
  return jnp.mean(jax.nn.softplus(-logits) if real else jax.nn.softplus(logits))


@dataclasses.dataclass(frozen=True)
class AdversarialAutoencoder(registry.Objective):
  """The AAE objective on an `icvae.networks.AdversarialAutoencoder` (see the module docstring)."""
  adversarial_weight: float = 10.0
  likelihood: Any = 'bernoulli'

  SETTINGS = (ADVERSARIAL_WEIGHT,)

  def __post_init__(self):
    self.check_fields()
    object.__setattr__(self, 'likelihood', likelihoods.get(self.likelihood))

  def _loss(self, networks, batch, key, training):
    encode_key, decode_key, prior_key = jax.random.split(key, 3)
    z = networks.embed(batch, encode_key, training=training)
    outputs = networks.decode(z, decode_key, training=training)
    reconstruction = jnp.mean(self.likelihood.log_prob(outputs, batch, batch.ndim - 1))
    z_prior = jax.random.normal(prior_key, z.shape, z.dtype)
    discriminator = (binary_cross_entropy_from_logits(networks.discriminate(z_prior), True)
                     + binary_cross_entropy_from_logits(
                         networks.discriminate(jax.lax.stop_gradient(z)), False))
    generator = binary_cross_entropy_from_logits(networks.discriminate(z, frozen=True), True)
    loss = -reconstruction + self.adversarial_weight * (generator + discriminator)
    code_mean = jnp.mean(z, axis=0)
    return loss, {'loss': loss, 'reconstruction': reconstruction,
                  'discriminator_loss': discriminator, 'generator_loss': generator,
                  'code_mean_norm': jnp.sqrt(jnp.sum(jnp.square(code_mean))),
                  'code_std': jnp.mean(jnp.std(z, axis=0))}

  def loss(self, networks, batch, key, step):
    del step
    return self._loss(networks, batch, key, training=True)

  def evaluate(self, networks, batch, key):
    return self._loss(networks, batch, key, training=False)[1]

  def continuous_code(self, networks, batch):
    """The deterministic code, as the mean of a near-deterministic q(z|x) (log-variance
    -30, `networks.AdversarialAutoencoder.encode`)."""
    return losses.most_probable_code(networks.encode(batch, training=False))

  def parameter_groups(self):
    return {'autoencoder': lambda path: path[0] not in DISCRIMINATOR_LAYERS,
            'discriminator': lambda path: path[0] in DISCRIMINATOR_LAYERS}


def _validate(values):
  if values['num_categories'] != 1:
    raise settings_lib.SettingError(
        f'--num_categories={values["num_categories"]}: the AAE baseline has no categories; '
        'pass --num_categories=1 and the code size as --delta (or --latent_dim).')
  if values['compute_dtype'] != 'float32':
    raise settings_lib.SettingError(
        f'--compute_dtype={values["compute_dtype"]}: the AAE computes in float32 only; drop '
        '--compute_dtype.')
  if values.get('latent_dim'):
    if values['delta'] not in (shared.DELTA.default, values['latent_dim']):
      raise settings_lib.SettingError(
          f'--latent_dim={values["latent_dim"]} disagrees with --delta={values["delta"]} '
          '(the AAE code size); pass only one of them.')
    values['delta'], values['latent_dim'] = values['latent_dim'], 0
  return values


AAE = registry.register(registry.ModelFamily(
    name='aae',
    description='the adversarial autoencoder baseline of Table 1 (K = 1, d = --delta)',
    settings=(shared.NUM_CATEGORIES, shared.DELTA, shared.LATENT_DIM, ADVERSARIAL_WEIGHT),
    build_networks=lambda config: networks_lib.mlp_aae(
        latent_dim=config.num_categories * config.delta,
        input_shape=(math.prod(config.image_shape),),
        hidden_features=config.hidden_features, dropout_rate=config.dropout_rate,
        seed=config.seed),
    build_objective=lambda config: AdversarialAutoencoder(config.adversarial_weight,
                                                          config.likelihood),
    validate=_validate,
    report_sections=('reconstruction', 'parzen'),
    figures='autoencoder_figures'))
