"""CatVAE and InfoCatVAE (Pineau & Lelarge, arXiv 1806.08240): objective and model family.

    loss = beta_cont * mean_b E_q(c|x) KL(q(z|x,c) || p(z|c))        (eq. 5/6, 2nd term)
         + beta_cat  * mean_b KL(q(c|x) || p(c))                      (eq. 5/6, 1st term)
         - mean_b [reconstruction log-likelihood]                      (eq. 3)
         + beta_info * mean_n CE(c_n, q(c | x_gen(z_n)))               (minus eq. 7)

CatVAE is InfoCatVAE with beta_info = 0: the two families share this module and differ in
whether `--beta_info` is read. The terms themselves are in `icvae.losses`.
"""

import dataclasses
from typing import Any, Optional

import jax
import jax.numpy as jnp

from icvae import augment
from icvae import likelihoods
from icvae import losses
from icvae import networks as networks_lib
from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import shared
from icvae.objectives.shared import DELTA
from icvae.objectives.shared import LATENT_DIM
from icvae.objectives.shared import NUM_CATEGORIES
from icvae.settings import Setting

PRIOR_SCALE = Setting('prior_scale', 2.0, 'lambda, the height of the prior blocks (eq. 8).',
                      check=settings_lib.positive)
LEARNED_PRIOR = Setting('learned_prior', False, 'Learn the prior means (free prior '
                        'baseline, section 11).', architecture=True)
BETA_CONT = Setting('beta_cont', 10.0, 'Weight of E_q(c|x) KL(q(z|x,c) || p(z|c)).',
                    check=settings_lib.non_negative)
BETA_CAT = Setting('beta_cat', 10.0, 'Weight of KL(q(c|x) || p(c)).',
                   check=settings_lib.non_negative)
BETA_INFO = Setting('beta_info', 100.0, 'Weight of the information term (InfoCatVAE only; '
                    'CatVAE is beta_info = 0).', check=settings_lib.non_negative, inert=0.0)
NUM_INFO_SAMPLES = Setting('num_info_samples', 0, 'Generated images per step for the '
                           'information term; 0: the batch size.',
                           check=settings_lib.at_least(0), inert=0)
RECONSTRUCTION = Setting('reconstruction', 'expected', "Reconstruction estimator: the "
                         "paper's (expected over all K) or the published code's (soft code).",
                         choices=losses.RECONSTRUCTION_ESTIMATORS)


def infocatvae_loss(key, x, posterior, decode_fn, classify_fn, prior_means, *, beta_cont,
                    beta_cat, beta_info, reconstruction='expected', likelihood='bernoulli',
                    num_info_samples=None, stratified_info=True, compute_information=None):
  """The training objective of CatVAE / InfoCatVAE (eqs. 3 + 6 + 7), to minimise.

  See the module docstring for the formula. Reductions: every per-example term is summed
  over pixels / latent coordinates / categories and averaged over the batch; the information
  term is averaged over its generated images. So the betas weigh per-example quantities
  against the per-example reconstruction, whose weight is 1.

  With beta_info = 0 (CatVAE) and compute_information left at None the generator pass is not
  traced at all: CatVAE does not pay for it.

  Args:
    key: PRNG key for every sample drawn here and for dropout inside decode/classify.
    x: (B, *event) data, in [0, 1] for the Bernoulli likelihood.
    posterior: `losses.CategoricalPosterior` of x.
    decode_fn: decode_fn(z, key) -> outputs (logits for Bernoulli, means for Gaussian).
    classify_fn: classify_fn(x, key) -> (N, K) logits of q(c|x).
    prior_means: (K, d) means of p(z|c).
    beta_cont, beta_cat, beta_info: the weights (appendix B: 10, 10, 100).
    reconstruction: 'expected' (the paper's estimator, `losses.expected_reconstruction`) or
      'soft_code' (the published code's, `losses.soft_code_reconstruction`).
    likelihood: an `icvae.likelihoods` object or name.
    num_info_samples: generated images for the information term (default: the batch size).
    stratified_info: equal label counts in the information term.
    compute_information: force the information term on (for evaluation of a CatVAE) or off;
      None means "when beta_info > 0". A traced beta_info (a sweep over it, `icvae.sweep`)
      counts as > 0: every run of the sweep computes the term and weighs it by its own
      beta_info, so a run at beta_info = 0 has the loss and gradients of CatVAE and logs
      the information term besides.

  Returns:
    (loss, terms): the scalar loss and a dict of unweighted batch means:
    'reconstruction' (log-likelihood, nats), 'kl_continuous', 'kl_categorical', 'loss',
    'information' (cross-entropy, when computed), and 'elbo' (= reconstruction -
    kl_continuous - kl_categorical, a lower bound on log p(x) by Proposition 1) when the
    estimator is 'expected'.

  References:
    Pineau & Lelarge, arXiv 1806.08240: eqs. (3), (5), (6), (7); Proposition 1.
  """
  if reconstruction not in losses.RECONSTRUCTION_ESTIMATORS:
    raise ValueError(f'reconstruction must be one of {losses.RECONSTRUCTION_ESTIMATORS}, '
                     f'got {reconstruction!r}.')
  recon_key, info_key = jax.random.split(key)
  probs = jax.nn.softmax(posterior.logits, axis=-1)
  kl_continuous = jnp.mean(
      losses.expected_gaussian_kl(probs, posterior.mean, posterior.logvar, prior_means))
  kl_categorical = jnp.mean(losses.categorical_kl_to_uniform(posterior.logits))
  estimator = (losses.expected_reconstruction if reconstruction == 'expected'
               else losses.soft_code_reconstruction)
  log_likelihood = jnp.mean(estimator(recon_key, x, posterior, decode_fn, likelihood))
  loss = beta_cont * kl_continuous + beta_cat * kl_categorical - log_likelihood
  terms = {'reconstruction': log_likelihood, 'kl_continuous': kl_continuous,
           'kl_categorical': kl_categorical}
  if reconstruction == 'expected':
    terms['elbo'] = log_likelihood - kl_continuous - kl_categorical
  traced = isinstance(beta_info, jax.Array)
  if compute_information is None:
    compute_information = traced or beta_info > 0
  if compute_information:
    information = losses.information_term(
        info_key, decode_fn, classify_fn, prior_means,
        x.shape[0] if num_info_samples is None else int(num_info_samples),
        likelihood, stratified_info)
    terms['information'] = information
    if traced or beta_info > 0:
      loss = loss + beta_info * information
  terms['loss'] = loss
  return loss, terms


_SHARED = (NUM_CATEGORIES, DELTA, LATENT_DIM, PRIOR_SCALE, LEARNED_PRIOR, BETA_CONT, BETA_CAT,
           RECONSTRUCTION) + shared.VAT_SETTINGS + shared.CONSISTENCY_SETTINGS


@dataclasses.dataclass(frozen=True)
class InfoCatVAE(registry.Objective):
  """The CatVAE / InfoCatVAE objective on an `icvae.networks.CategoricalVAE`
  (`infocatvae_loss`).

  Attributes:
    beta_cont, beta_cat, beta_info: the weights of section 5. CatVAE is beta_info = 0;
      beta_cont = beta_cat = 1, beta_info = 0 is the plain ELBO of Proposition 1. Appendix B:
      10, 10, 100; the authors' published code: 1, 1, 100 on the mean over 100 images.
    reconstruction: 'expected' or 'soft_code' (training only; evaluation always uses the
      paper's 'expected' estimator, so the test 'elbo' is the bound of Proposition 1).
    likelihood: an `icvae.likelihoods` object or name.
    num_info_samples: generated images per step for the information term (None: batch).
    stratified_info: equal label counts in the information term.
    vat_weight, vat_epsilon, vat_xi, vat_power_iterations, vat_epsilon_neighbour: virtual
      adversarial training on
      q(c|x) (IMAE eq. 11; `objectives.shared.vat_term`), an addition to the paper; the
      perturbed pass uses the same dropout masks as the clean one. 0 weight: off, and the
      random draws are those of a run without it.
    consistency_weight, augmentation, image_shape: the augmentation-consistency term on
      q(c|x) (`objectives.shared.consistency_term`), an addition to the paper, with the same
      dropout masks on both views; weight 0: off, the draws those of a run without it.
    neighbour_weight, neighbours: the neighbour-consistency term on q(c|x)
      (`objectives.shared.neighbour_term`), an addition to the paper, with the same dropout
      masks on both; weight 0: off.

  Evaluation always includes the information cross-entropy (for CatVAE too, to compare as
  in section 10).
  """
  beta_cont: float = BETA_CONT.default
  beta_cat: float = BETA_CAT.default
  beta_info: float = BETA_INFO.default
  reconstruction: str = RECONSTRUCTION.default
  likelihood: Any = 'bernoulli'
  num_info_samples: Optional[int] = None
  stratified_info: bool = True
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

  SETTINGS = _SHARED + (BETA_INFO, NUM_INFO_SAMPLES)

  def __post_init__(self):
    self.check_fields()
    if self.num_info_samples is not None and self.num_info_samples < 1:
      raise settings_lib.SettingError(
          f'--num_info_samples={self.num_info_samples}: must be >= 1 here (None: the batch '
          'size; the flag\'s 0 means None).')
    object.__setattr__(self, 'likelihood', likelihoods.get(self.likelihood))

  def _loss(self, networks, batch, key, *, training, reconstruction, compute_information):
    encode_key, loss_key = jax.random.split(key)
    posterior = networks.encode(batch, encode_key, soft_code=reconstruction == 'soft_code',
                                training=training)
    return infocatvae_loss(
        loss_key, batch, posterior,
        lambda z, k: networks.decode(z, k, training=training),
        lambda images, k: networks.classify(images, k, training=training),
        networks.prior_means(), beta_cont=self.beta_cont, beta_cat=self.beta_cat,
        beta_info=self.beta_info, reconstruction=reconstruction,
        likelihood=self.likelihood, num_info_samples=self.num_info_samples,
        stratified_info=self.stratified_info, compute_information=compute_information)

  def training_data(self, images):
    return shared.training_data(self, images)

  def loss(self, networks, batch, key, step):
    del step  # no schedule
    batch, epsilon, neighbours = shared.batch_parts(self, batch)
    if not (shared.vat_on(self) or shared.consistency_on(self) or shared.neighbour_on(self)):
      return self._loss(networks, batch, key, training=True,
                        reconstruction=self.reconstruction, compute_information=None)
    key, vat_key, dropout_key = jax.random.split(key, 3)
    loss, terms = self._loss(networks, batch, key, training=True,
                             reconstruction=self.reconstruction, compute_information=None)
    classify = lambda images: networks.classify(images, dropout_key, training=True)
    if shared.vat_on(self):
      penalty, smoothness = shared.vat_term(self, vat_key, batch, classify, epsilon=epsilon)
      loss = loss + penalty
      terms = dict(terms, vat=smoothness)
    if shared.consistency_on(self) or shared.neighbour_on(self):
      clean_logits = classify(batch)  # one pass for both terms
    if shared.consistency_on(self):
      penalty, divergence = shared.consistency_term(
          self, jax.random.fold_in(vat_key, 1), batch, classify, clean_logits=clean_logits)
      loss = loss + penalty
      terms = dict(terms, consistency=divergence)
    if shared.neighbour_on(self):
      penalty, disagreement = shared.neighbour_term(
          self, jax.random.fold_in(vat_key, 2), neighbours, classify, clean_logits)
      loss = loss + penalty
      terms = dict(terms, neighbour=disagreement)
    return loss, dict(terms, loss=loss)

  def evaluate(self, networks, batch, key):
    _, terms = self._loss(networks, batch, key, training=False, reconstruction='expected',
                          compute_information=True)
    return terms

  def cluster_logits(self, networks, batch):
    return networks.classify(batch, training=False)

  def continuous_code(self, networks, batch):
    """q(z|x, c*) of the most probable category (`losses.most_probable_code`)."""
    return losses.most_probable_code(networks.encode(batch, training=False))


def _validate(values):
  """Cross-setting checks and the --latent_dim spelling of delta."""
  shared.validate_vat(values)
  shared.validate_consistency(values)
  if not networks_lib.get(values['network']).dropout:
    shared.validate_float32_without_dropout(values, f'the {values["network"]} networks')
  shared.validate_categories(values)
  num_categories = values['num_categories']
  latent_dim = values.get('latent_dim', 0)
  if latent_dim:
    if latent_dim % num_categories:
      raise settings_lib.SettingError(
          f'--latent_dim={latent_dim} is not a multiple of --num_categories='
          f'{num_categories}: the block prior (eq. 8) needs d = K * delta.')
    if values['delta'] not in (DELTA.default, latent_dim // num_categories):
      raise settings_lib.SettingError(
          f'--latent_dim={latent_dim} disagrees with --delta={values["delta"]} * '
          f'--num_categories={num_categories}; pass only one of them.')
    values['delta'] = latent_dim // num_categories
    values['latent_dim'] = 0  # saved as delta: one spelling in config.json
  return values


def build_networks(config):
  """The `CategoricalVAE` on --network's 'dropout' trunk and decoder (`icvae.networks.compose`):
  Table 2's MLP ('mlp'), Table 3's GRU ('gru', image rows as steps), the conv networks
  ('conv')."""
  request = networks_lib.Request(config.image_shape, 'dropout', (config.hidden_features,),
                                 config.dropout_rate, config.compute_dtype)
  return networks_lib.compose.categorical_vae(
      networks_lib.get(config.network), request, num_categories=config.num_categories,
      delta=config.delta, prior_scale=config.prior_scale, learned_prior=config.learned_prior,
      seed=config.seed)


def build_objective(config, beta_info=None):
  """The `InfoCatVAE` objective of a run configuration (beta_info: CatVAE's 0)."""
  return InfoCatVAE(beta_cont=config.beta_cont, beta_cat=config.beta_cat,
                    beta_info=config.beta_info if beta_info is None else beta_info,
                    reconstruction=config.reconstruction, likelihood=config.likelihood,
                    num_info_samples=config.get('num_info_samples') or None,
                    **shared.vat_options(config), **shared.consistency_options(config))


_SECTIONS = ('clustering', 'codes', 'information', 'iwae', 'reconstruction', 'parzen')

CATVAE = registry.register(registry.ModelFamily(
    name='catvae',
    description='CatVAE: the ELBO with a categorical and a continuous code (no information '
                'term)',
    settings=_SHARED,
    build_networks=build_networks,
    build_objective=lambda config: build_objective(config, beta_info=0.0),
    validate=_validate,
    report_sections=_SECTIONS,
    figures='categorical_figures',
    networks=None, network_style='dropout'))

INFOCATVAE = registry.register(registry.ModelFamily(
    name='infocatvae',
    description='InfoCatVAE: CatVAE plus the information term of eq. (7)',
    settings=InfoCatVAE.SETTINGS,
    build_networks=build_networks,
    build_objective=build_objective,
    validate=_validate,
    report_sections=_SECTIONS,
    figures='categorical_figures',
    networks=None, network_style='dropout'))
