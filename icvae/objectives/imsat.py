"""IMSAT (Hu et al. 2017, "Learning Discrete Representations via Information Maximizing
Self-Augmented Training", ICML): clustering by a classifier p(y|x) alone, no decoder.

The loss, to minimise (their eq. 5 and 7 with VAT as the self-augmentation, eq. 4):

    vat_weight * mean_n KL(p(y|x_n) || p(y|x_n + r_n)) + lambda * (H(y|x) - mu * H(y))

with H(y|x) the batch mean of each p(y|x_n)'s entropy and H(y) the entropy of the batch
mean of p(y|x_n) (`information.categorical_mutual_information`): the same VAT and
information terms as IMAE's L(y) (`objectives.imae`), which is why IMSAT's published
accuracy (98.4 % on MNIST) checks them.

Choices, from the published code (github.com/weihua916/imsat, `imsat_cluster.py`, Chainer
1.21) where the paper leaves them open; the flagfiles `*_imsat.flags` set them:
- lambda = 0.1 (`--information_weight`), mu = 4 (`--marginal_entropy_weight`), VAT weight 1.
- VAT's radius per example: 0.25 x the distance to the 10th nearest image
  (`--vat_epsilon=0.25 --vat_epsilon_neighbour=10`, as the paper says; the code's
  `sorted_dist[10]` skips the image itself by setting its distance to 1000, so it takes the
  11th, a radius a few percent larger). One power iteration with xi = 10 in the code's
  input units (pixel / 128 - 1), which is 10 x 128/255 = 5.02 in icvae's [0, 1] units
  (`--vat_xi=5.02`): the network scales its input itself (`--input_scaling=imsat`), so
  radii and xi stay in [0, 1] units and every perturbation is the code's exactly.
- The KL's target p(y|x) is the clean pass's, held fixed (`vat.vat_loss`); the perturbed
  passes normalise with their own batch's statistics and leave the running averages
  alone; the clean pass updates them (`icvae.networks.BatchNormTrunk`), as the code's `call_bn`.
- Network d-1200-1200-K, batch norm and ReLU, IMSAT's Chainer initialisation
  (`--initialization=imsat`, `icvae.networks.kernel_initializer`), Adam 2e-3, batch 250, 50 epochs
  (`mnist_imsat.flags`); training and the reported accuracy on all 70,000 images
  (`--protocol=all`), or icvae's protocol (train on 60,000, report the 10,000 test images).
- The entropies take exact logs (log_softmax) where the code adds 1e-8 inside them.
- Batches are an epoch's permutation (icvae's loop); the code draws each batch of 250 from a
  fresh permutation, i.e. with replacement across batches.
- Adam is optax's (epsilon added to the bias-corrected sqrt(v)); Chainer adds it to the
  uncorrected one, a difference only while v is tiny.
"""

import dataclasses
from typing import Any

import jax

from icvae import augment
from icvae import information
from icvae import networks as networks_lib
from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import shared
from icvae.settings import Setting

INFORMATION_WEIGHT = Setting('information_weight', 0.1, 'lambda: the weight of H(y|x) - mu '
                             'H(y) against VAT (IMSAT eq. 7: 0.1).',
                             check=settings_lib.non_negative)
SETTINGS = ((shared.NUM_CATEGORIES, INFORMATION_WEIGHT, shared.MARGINAL_ENTROPY_WEIGHT)
            + shared.VAT_SETTINGS + shared.ENCODER_SETTINGS + shared.CONSISTENCY_SETTINGS)


def information_loss(logits, marginal_entropy_weight):
  """H(y|x) - mu H(y) on a batch of (B, K) logits, and the terms it is made of.

  Returns:
    (scalar, {'conditional_entropy_y', 'entropy_y', 'mutual_information_y'}), nats; with
    mu = 1 the scalar is -I(x; y) (IMSAT eq. 7, IMAE eq. 7).
  """
  mutual_information, entropy_y, conditional_entropy = (
      information.categorical_mutual_information(logits))
  value = conditional_entropy - marginal_entropy_weight * entropy_y
  return value, {'conditional_entropy_y': conditional_entropy, 'entropy_y': entropy_y,
                 'mutual_information_y': mutual_information}


@dataclasses.dataclass(frozen=True)
class IMSAT(registry.Objective):
  """IMSAT's objective (module docstring).

  The defaults are IMSAT's published objective on MNIST (lambda = 0.1, mu = 4, VAT weight 1
  at radius 0.25 x the distance to the 10th neighbour), the values of `mnist_imsat.flags`.
  The command line starts instead from the settings every family shares
  (`objectives.shared`: mu = 1, no VAT), which a flagfile sets.

  Attributes:
    information_weight: lambda.
    marginal_entropy_weight: mu.
    vat_weight, vat_epsilon, vat_xi, vat_power_iterations, vat_epsilon_neighbour: VAT on
      p(y|x) (`objectives.shared`); weight 0 leaves the information term alone (RIM).
    consistency_weight, augmentation, image_shape: the augmentation-consistency term on
      p(y|x) (`objectives.shared.consistency_term`); weight 0: off.
    neighbour_weight, neighbours: the neighbour-consistency term on p(y|x)
      (`objectives.shared.neighbour_term`); weight 0: off.
  """
  information_weight: float = 0.1
  marginal_entropy_weight: float = 4.0
  vat_weight: float = 1.0
  vat_epsilon: float = 0.25
  vat_xi: float = 10.0
  vat_power_iterations: int = 1
  vat_epsilon_neighbour: int = 10
  consistency_weight: float = shared.CONSISTENCY_WEIGHT.default
  augmentation: Any = augment.Augmentation()
  image_shape: tuple = ()
  neighbour_weight: float = shared.NEIGHBOUR_WEIGHT.default
  neighbours: int = shared.NEIGHBOURS.default

  SETTINGS = SETTINGS

  def __post_init__(self):
    self.check_fields()

  def training_data(self, images):
    """The images, with each one's VAT radius and nearest neighbours where those are on."""
    return shared.training_data(self, images)

  def loss(self, networks, batch, key, step):
    del step
    batch, epsilon, neighbours = shared.batch_parts(self, batch)
    train_key, vat_key = jax.random.split(key)  # the network draws nothing from train_key
    logits = networks.classify(batch, train_key, training=True)
    value, terms = information_loss(logits, self.marginal_entropy_weight)
    loss = self.information_weight * value
    if shared.vat_on(self):
      weighted, smoothness = shared.vat_term(
          self, vat_key, batch,
          lambda x: networks.classify(x, train_key, update_statistics=False, training=True),
          clean_logits=logits, epsilon=epsilon)
      loss = loss + weighted
      terms['vat'] = smoothness
    if shared.consistency_on(self):
      weighted, divergence = shared.consistency_term(
          self, jax.random.fold_in(vat_key, 1), batch,
          lambda x: networks.classify(x, train_key, update_statistics=False, training=True),
          clean_logits=logits)
      loss = loss + weighted
      terms['consistency'] = divergence
    if shared.neighbour_on(self):
      weighted, disagreement = shared.neighbour_term(
          self, jax.random.fold_in(vat_key, 2), neighbours,
          lambda x: networks.classify(x, train_key, update_statistics=False, training=True), logits)
      loss = loss + weighted
      terms['neighbour'] = disagreement
    terms['objective_information_y'] = -value
    terms['loss'] = loss
    return loss, terms

  def evaluate(self, networks, batch, key):
    """The information terms of the batch in evaluation mode (running averages)."""
    del key
    value, terms = information_loss(networks.classify(batch, training=False),
                                    self.marginal_entropy_weight)
    return dict(terms, objective_information_y=-value, loss=self.information_weight * value)

  def cluster_logits(self, networks, batch):
    return networks.classify(batch, training=False)


def build_networks(config):
  """IMSAT's network on --network's 'batch_norm' trunk (`icvae.networks.compose.classifier`;
  the MLP: `icvae.networks.mlp_classifier`, two hidden layers of --hidden_features)."""
  width = config.hidden_features
  request = networks_lib.Request(config.image_shape, 'batch_norm', (width, width),
                                 input_scaling=config.input_scaling,
                                 initialization=config.initialization)
  return networks_lib.compose.classifier(networks_lib.get(config.network), request,
                                         num_categories=config.num_categories, seed=config.seed)


def build_objective(config):
  return IMSAT(information_weight=config.information_weight,
               marginal_entropy_weight=config.marginal_entropy_weight,
               **shared.vat_options(config), **shared.consistency_options(config))


def validate(values):
  """IMSAT's cross-setting checks."""
  shared.validate_batch_norm_classifier(values, "IMSAT's network")
  shared.validate_consistency(values)
  return shared.validate_vat(values)


FAMILY = registry.register(registry.ModelFamily(
    name='imsat',
    description='IMSAT: a classifier trained by VAT and H(y|x) - mu H(y), no decoder (Hu et '
                'al. 2017, eq. 7)',
    settings=SETTINGS, build_networks=build_networks, build_objective=build_objective,
    validate=validate, report_sections=('clustering', 'codes'), figures='cluster_figures',
    networks=None, network_style='batch_norm'))
