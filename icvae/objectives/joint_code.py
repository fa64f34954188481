"""What IMAE and its peers (β-VAE, InfoVAE, JointVAE) share: a categorical code y and a
factorial Gaussian code z from one encoder (`icvae.networks.JointCodeAutoencoder`, IMAE Table 1),
a decoder p(x|y, z), the code statistics every one of them is written in, and VAT.

Each family is one module (`imae`, `beta_vae`, `info_vae`, `joint_vae`) that subclasses
`JointCodeObjective` and writes only its regulariser, `penalty(stats, step)`, in terms of
the minibatch statistics of `code_statistics`. IMAE's Figure 1 writes the four objectives
with the ELBO's decomposition (① = E log q(x|y,z), ② = I(x;y), ③ = KL(p(y)||r(y)),
④ = I(x;z), ⑤ = KL(p(z)||r(z)); r(y) uniform, r(z) = N(0, I)).

The loss, to minimise, is

    - mean_b log q(x_b | y_b, z_b) + penalty(stats, step) + vat_weight * VAT

with one reparameterised z_b ~ q(z|x_b) and y_b a Gumbel-softmax relaxation of p(y|x_b).

Choices (the paper leaves them open):
- y enters the decoder as a Gumbel-softmax sample (`losses.gumbel_softmax_sample`) at
  temperature tau(t) = tau_0 * (tau_final / tau_0)^min(t / T, 1): constant tau_0 when
  `temperature_final` is 0 (the default, 0.67 as JointVAE), else a geometric anneal over T
  = `temperature_anneal_steps` optimiser steps.
- The reconstruction term can enter late (`reconstruction_weight_at`: after a delay, over a
  linear warm-up), so that the categorical code forms under the information and VAT terms
  first; by default it is there from the first step, as in the paper.
- Evaluation decodes the deterministic code: y = one-hot(argmax p(y|x)), z = the mean.
- Batch norm (Table 1) uses the batch's statistics in training. VAT's extra passes through
  the encoder also use their own batch's statistics, but leave the running averages as the
  clean pass set them (Miyato et al.'s implementation does not update them either).
- Statistics of the aggregate posteriors are minibatch estimates (IMAE appendix B,
  `icvae.information`).
"""

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from icvae import augment
from icvae import data as data_lib
from icvae import information
from icvae import likelihoods
from icvae import losses
from icvae import networks as networks_lib
from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import shared
from icvae.settings import Setting

CONTINUOUS_DIM = Setting('continuous_dim', 10, 'D, the dimensions of the continuous code z '
                         '(IMAE Table 1: 10).', check=settings_lib.at_least(1),
                         architecture=True)
BETA = Setting('beta', 1.0, 'beta: the weight of the regulariser (IMAE Figure 1 and eq. 10).',
               check=settings_lib.non_negative)
TEMPERATURE = Setting('temperature', 0.67, 'Gumbel-softmax temperature of the y fed to the '
                      'decoder in training (JointVAE: 0.67).', check=settings_lib.positive)
TEMPERATURE_FINAL = Setting('temperature_final', 0.0, 'If > 0, anneal the temperature '
                            'geometrically to this value over --temperature_anneal_steps.',
                            check=settings_lib.non_negative, inert=0.0)
TEMPERATURE_ANNEAL_STEPS = Setting('temperature_anneal_steps', 0, 'Optimiser steps of the '
                                   'temperature anneal.', check=settings_lib.at_least(0),
                                   inert=0)
RECONSTRUCTION_DELAY_STEPS = Setting('reconstruction_delay_steps', 0, 'Optimiser steps '
                                     'before the reconstruction term enters the loss (weight '
                                     '0 until then).', check=settings_lib.at_least(0),
                                     inert=0)
RECONSTRUCTION_WARMUP_STEPS = Setting('reconstruction_warmup_steps', 0, 'Optimiser steps over '
                                      'which the reconstruction weight then rises linearly '
                                      'from 0 to 1; 0: at once.',
                                      check=settings_lib.at_least(0), inert=0)
CLASSIFIER_FEATURES = Setting('classifier_features', 0, 'If > 0, p(y|x) has a network of its '
                              'own (two batch-normalised layers this wide, IMSAT\'s: 1200) '
                              'sharing nothing with q(z|x); 0: one trunk for both (Table 1).',
                              check=settings_lib.at_least(0), architecture=True, inert=0)
CLASSIFIER_FROM = Setting('classifier_from', '', 'Start p(y|x) (with --classifier_features) '
                          'from the latest checkpoint of this workdir of an --model=imsat run '
                          'of the same width (a warm start; a resumed run ignores it).',
                          resumable=True, inert='')
SETTINGS = ((shared.NUM_CATEGORIES, CONTINUOUS_DIM, BETA, TEMPERATURE, TEMPERATURE_FINAL,
             TEMPERATURE_ANNEAL_STEPS, RECONSTRUCTION_DELAY_STEPS, RECONSTRUCTION_WARMUP_STEPS,
             CLASSIFIER_FEATURES, CLASSIFIER_FROM) + shared.VAT_SETTINGS
            + shared.ENCODER_SETTINGS + shared.CONSISTENCY_SETTINGS)
REPORT_SECTIONS = ('clustering', 'codes', 'disentanglement')


def temperature_at(step, initial, final=0.0, anneal_steps=0):
  """tau(t) of the module docstring: `initial` when final is 0 or anneal_steps is 0."""
  if not final or not anneal_steps:
    return jnp.asarray(initial, jnp.float32)
  fraction = jnp.minimum(jnp.asarray(step, jnp.float32) / anneal_steps, 1.0)
  return initial * (final / initial) ** fraction


def reconstruction_weight_at(step, delay=0, warmup=0):
  """w(t) = clip((t - delay) / warmup, 0, 1): 0 before `delay` steps, then a linear rise
  over `warmup` steps (a step to 1 at `delay` when warmup is 0); 1 throughout when both
  are 0."""
  if not delay and not warmup:
    return jnp.asarray(1.0, jnp.float32)
  elapsed = jnp.asarray(step, jnp.float32) - delay
  if not warmup:
    return (elapsed >= 0).astype(jnp.float32)
  return jnp.clip(elapsed / warmup, 0.0, 1.0)


def code_statistics(posterior, z):
  """Every minibatch statistic the four objectives are written in, nats, batch means.

  Args:
    posterior: `losses.JointPosterior` of the batch ((B, K) logits, (B, D) mean, logvar).
    z: (B, D) one sample z_b ~ q(z|x_b).

  Returns:
    dict with
    - 'mutual_information_y' = 'entropy_y' - 'conditional_entropy_y': I(x;y) (eq. 7), with
      H(y) of the batch-mean p(y) and the mean H(y|x);
    - 'kl_y': mean_b KL(p(y|x_b) || uniform) = ② + ③ = log K - H(y|x);
    - 'marginal_kl_y': KL(p(y) || uniform) = ③ = log K - H(y);
    - 'kl_z': mean_b KL(q(z|x_b) || N(0, I)) = ④ + ⑤ (closed form);
    - 'total_correlation': TC(z) = KL(p(z) || prod_k p(z_k)) (eq. 3);
    - 'marginal_kl_z': sum_k KL(p(z_k) || N(0, 1)) (eq. 6);
    - 'aggregate_kl_z': KL(p(z) || N(0, I)) = ⑤ = TC + sum_k KL(p(z_k) || N(0,1)) (the
      minibatch estimates decompose exactly so).
  """
  num_categories = posterior.logits.shape[-1]
  mutual_information, entropy_y, conditional_entropy = (
      information.categorical_mutual_information(posterior.logits))
  total_correlation, marginal_kls = information.aggregate_divergences(z, posterior.mean,
                                                                    posterior.logvar)
  marginal_kl_z = jnp.sum(marginal_kls)
  kl_z = jnp.mean(losses.gaussian_kl(posterior.mean, posterior.logvar, 0.0))
  return {
      'mutual_information_y': mutual_information,
      'entropy_y': entropy_y,
      'conditional_entropy_y': conditional_entropy,
      'kl_y': math.log(num_categories) - conditional_entropy,
      'marginal_kl_y': math.log(num_categories) - entropy_y,
      'kl_z': kl_z,
      'total_correlation': total_correlation,
      'marginal_kl_z': marginal_kl_z,
      'aggregate_kl_z': total_correlation + marginal_kl_z,
  }


@dataclasses.dataclass(frozen=True)
class JointCodeObjective(registry.Objective):
  """Base of the joint-code objectives (module docstring); subclasses define `penalty`.

  Attributes:
    beta: the regulariser's weight.
    temperature, temperature_final, temperature_anneal_steps: the Gumbel-softmax schedule.
    reconstruction_delay_steps, reconstruction_warmup_steps: the reconstruction term's
      weight `reconstruction_weight_at(step)` (1 throughout by default; evaluation uses 1).
    vat_weight, vat_epsilon, vat_xi, vat_power_iterations: VAT on p(y|x)
      (`objectives.shared`).
    vat_epsilon_neighbour: k > 0 makes the VAT radius per example, vat_epsilon times the
      distance to the k-th nearest training image (IMSAT's adaptive radius; computed once
      by `training_data`, `vat.nearest_neighbour_distances`).
    consistency_weight, augmentation, image_shape: the augmentation-consistency term on
      p(y|x) (`objectives.shared.consistency_term`); weight 0: off.
    neighbour_weight, neighbours: the neighbour-consistency term on p(y|x)
      (`objectives.shared.neighbour_term`); weight 0: off.
    likelihood: of the pixels given the decoder's output (Bernoulli, Table 1's sigmoid).
  """
  beta: float = BETA.default
  temperature: float = TEMPERATURE.default
  temperature_final: float = TEMPERATURE_FINAL.default
  temperature_anneal_steps: int = TEMPERATURE_ANNEAL_STEPS.default
  reconstruction_delay_steps: int = RECONSTRUCTION_DELAY_STEPS.default
  reconstruction_warmup_steps: int = RECONSTRUCTION_WARMUP_STEPS.default
  vat_weight: float = shared.VAT_WEIGHT.default
  vat_epsilon: float = shared.VAT_EPSILON.default
  vat_xi: float = shared.VAT_XI.default
  vat_power_iterations: int = shared.VAT_POWER_ITERATIONS.default
  vat_epsilon_neighbour: int = shared.VAT_EPSILON_NEIGHBOUR.default
  consistency_weight: float = shared.CONSISTENCY_WEIGHT.default
  augmentation: Any = augment.Augmentation()
  image_shape: tuple = ()
  neighbour_weight: float = shared.NEIGHBOUR_WEIGHT.default
  neighbours: int = shared.NEIGHBOURS.default
  likelihood: Any = 'bernoulli'

  SETTINGS = SETTINGS

  def __post_init__(self):
    self.check_fields()
    object.__setattr__(self, 'likelihood', likelihoods.get(self.likelihood))

  def penalty(self, stats, step):
    """(scalar added to the loss, dict of extra terms to log) from `code_statistics`."""
    raise NotImplementedError

  def training_data(self, images):
    """The images, with each one's VAT radius and nearest neighbours where those are on."""
    return shared.training_data(self, images)

  def loss(self, networks, batch, key, step):
    """The family's loss on a minibatch, a scalar to minimise, and its terms (a dict):
    `penalty` (of `code_statistics`, minibatch estimates) - w(t) * mean_b log q(x_b|y_b, z_b)
    + vat_weight * VAT. y is a Gumbel-softmax sample at the step's temperature, z the
    reparameterised sample; w(t) is the reconstruction's schedule (0, then a linear ramp to
    1; 1 without one). Each term is a mean over the minibatch, the log-likelihood summed
    over pixels."""
    batch, epsilon, neighbours = shared.batch_parts(self, batch)
    encode_key, z_key, y_key, vat_key = jax.random.split(key, 4)
    posterior = networks.encode(batch, encode_key, training=True)
    z = losses.reparameterize(z_key, posterior.mean, posterior.logvar)
    temperature = temperature_at(step, self.temperature, self.temperature_final,
                                 self.temperature_anneal_steps)
    y = losses.gumbel_softmax_sample(y_key, posterior.logits, temperature)
    reconstruction = jnp.mean(self.likelihood.log_prob(networks.decode(y, z, training=True), batch,
                                                        batch.ndim - 1))
    stats = code_statistics(posterior, z)
    penalty, extra = self.penalty(stats, step)
    weight = reconstruction_weight_at(step, self.reconstruction_delay_steps,
                                      self.reconstruction_warmup_steps)
    loss = penalty - weight * reconstruction
    terms = dict(stats, **extra, reconstruction=reconstruction, temperature=temperature)
    if self.reconstruction_delay_steps or self.reconstruction_warmup_steps:
      terms['reconstruction_weight'] = weight
    if shared.vat_on(self):
      weighted, smoothness = shared.vat_term(
          self, vat_key, batch,
          lambda x: networks.classify(x, encode_key, update_statistics=False, training=True),
          clean_logits=posterior.logits, epsilon=epsilon)
      loss = loss + weighted
      terms['vat'] = smoothness
    if shared.consistency_on(self):
      weighted, divergence = shared.consistency_term(
          self, jax.random.fold_in(vat_key, 1), batch,
          lambda x: networks.classify(x, encode_key, update_statistics=False, training=True),
          clean_logits=posterior.logits)
      loss = loss + weighted
      terms['consistency'] = divergence
    if shared.neighbour_on(self):
      weighted, disagreement = shared.neighbour_term(
          self, jax.random.fold_in(vat_key, 2), neighbours,
          lambda x: networks.classify(x, encode_key, update_statistics=False, training=True),
          posterior.logits)
      loss = loss + weighted
      terms['neighbour'] = disagreement
    terms['loss'] = loss
    return loss, terms

  def evaluate(self, networks, batch, key):
    """The statistics in evaluation mode (running averages), the penalty with its schedules
    at their end (JointVAE's full capacities), and the reconstruction of the deterministic
    code (log-likelihood and summed squared error)."""
    posterior = networks.encode(batch, training=False)
    z = losses.reparameterize(key, posterior.mean, posterior.logvar)
    y = jax.nn.one_hot(jnp.argmax(posterior.logits, axis=-1), posterior.logits.shape[-1])
    outputs = networks.decode(y, posterior.mean, training=False)
    x = batch.reshape(outputs.shape)
    reconstruction = jnp.mean(self.likelihood.log_prob(outputs, x, x.ndim - 1))
    mean_image = self.likelihood.mean(outputs)
    squared_error = jnp.mean(jnp.sum(jnp.square(x - mean_image).reshape(x.shape[0], -1),
                                     axis=-1))
    stats = code_statistics(posterior, z)
    penalty, extra = self.penalty(stats, jnp.asarray(jnp.iinfo(jnp.int32).max))
    return dict(stats, **extra, reconstruction=reconstruction,
                reconstruction_squared_error=squared_error, loss=penalty - reconstruction)

  def cluster_logits(self, networks, batch):
    return networks.classify(batch, training=False)

  def continuous_code(self, networks, batch):
    """q(z|x): IMAE's factorial Gaussian code."""
    posterior = networks.encode(batch, training=False)
    return posterior.mean, posterior.logvar


def build_networks(config):
  """The paper's networks for the dataset on --network's trunk (`icvae.networks.compose`),
  widths from --hidden_features.

  MNIST, Fashion-MNIST (Table 1, the 'batch_norm' trunk): 784 -> 500 BN ReLU -> 500 BN ReLU
  -> (mu, log sigma^2 of z; logits of y); (y, z) -> 500 -> 500 -> 784; with
  --classifier_features=F the logits of y come from a network of their own, 784 -> F BN ReLU
  -> F BN ReLU -> K. dSprites (Table 2, the 'plain' trunk where the network has one;
  `icvae.networks.mlp_joint_code_dsprites`): 4096 -> 1200 x 3 -> heads; (y, z) -> 1200 x 3
  -> 4096, no batch norm. A network with a decoder of its own (conv) decodes instead of the
  MLP.
  """
  network = networks_lib.get(config.network)
  width = config.hidden_features
  style, widths = 'batch_norm', (width, width)
  if (data_lib.get_source(config.dataset).paper_networks == 'imae_table2'
      and 'plain' in network.styles):
    style, widths = 'plain', (width,) * 3
  request = networks_lib.Request(config.image_shape, style, widths,
                                 input_scaling=config.input_scaling,
                                 initialization=config.initialization)
  own = config.classifier_features
  return networks_lib.compose.joint_code_autoencoder(
      network, request, num_categories=config.num_categories, latent_dim=config.continuous_dim,
      classifier_widths=(own, own) if own else None, seed=config.seed)


def objective_options(config):
  """The `JointCodeObjective` fields every joint-code family reads from a run config."""
  return dict(beta=config.beta, temperature=config.temperature,
              temperature_final=config.temperature_final,
              temperature_anneal_steps=config.temperature_anneal_steps,
              reconstruction_delay_steps=config.reconstruction_delay_steps,
              reconstruction_warmup_steps=config.reconstruction_warmup_steps,
              likelihood=config.likelihood, **shared.vat_options(config),
              **shared.consistency_options(config))


def validate(values):
  """Checks across settings shared by the joint-code families."""
  shared.validate_batch_norm_classifier(values, 'the Table 1 networks')
  shared.validate_vat(values)
  shared.validate_consistency(values)
  if values['classifier_from'] and values['restore_from']:
    raise settings_lib.SettingError(
        f'--classifier_from={values["classifier_from"]}: --restore_from starts every weight '
        'from another run already; use one of the two.')
  if values['classifier_from'] and not values['classifier_features']:
    raise settings_lib.SettingError(
        f'--classifier_from={values["classifier_from"]}: a warm start of p(y|x) needs its own '
        'network: set --classifier_features to the width of that run (IMSAT: 1200).')
  if (data_lib.get_source(values['dataset']).paper_networks == 'imae_table2'
      and values['network'] == 'mlp'):
    for setting in shared.ENCODER_SETTINGS + (CLASSIFIER_FEATURES,):
      if values[setting.name] != setting.default:
        raise settings_lib.SettingError(
            f'--{setting.name}={values[setting.name]}: the Table 2 networks of dSprites take '
            f'only --{setting.name}={setting.default}; drop the flag.')
  if bool(values['temperature_final']) != bool(values['temperature_anneal_steps']):
    raise settings_lib.SettingError(
        f'--temperature_final={values["temperature_final"]} and '
        f'--temperature_anneal_steps={values["temperature_anneal_steps"]}: an anneal needs '
        'both (> 0), a constant temperature neither.')
  return values


def family(name, description, settings, build_objective, validate_more=None):
  """A `ModelFamily` for a joint-code objective: Table 1 networks, the shared settings plus
  `settings`, the 'clustering' and 'codes' report sections and `figures.joint_code_figures`."""
  def check(values):
    values = validate(values)
    return validate_more(values) if validate_more else values
  return registry.ModelFamily(
      name=name, description=description, settings=SETTINGS + tuple(settings),
      build_networks=build_networks, build_objective=build_objective, validate=check,
      report_sections=REPORT_SECTIONS, figures='joint_code_figures', networks=None,
      network_style='batch_norm')
