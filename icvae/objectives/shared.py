"""Settings that several model families read: each defined once, here.

A family lists the ones it uses in its `ModelFamily.settings`; `icvae.objectives.register`
checks that a name shared by two families is the same `Setting`.
"""

from icvae import settings as settings_lib
from icvae import vat
from icvae.settings import Setting

NUM_CATEGORIES = Setting('num_categories', 10, 'K, the number of categories.',
                         check=settings_lib.at_least(1), architecture=True)
DELTA = Setting('delta', 2, 'Latent coordinates per category; d = K * delta (eq. 8).',
                check=settings_lib.at_least(1), architecture=True)
LATENT_DIM = Setting('latent_dim', 0, 'd; if set, must be a multiple of --num_categories '
                     '(then delta = d / K). 0: K * delta.', check=settings_lib.at_least(0),
                     inert=0)

# Virtual adversarial training on p(y|x) (IMAE eq. 11), for every model with a categorical
# code. The term added to the loss is vat_weight * mean_n KL(p(y|x_n) || p(y|x_n + eps d_n))
# (`icvae.vat.vat_loss`). IMAE's eq. (10) weighs L(y), VAT included, by beta: its recipe
# sets --vat_weight equal to --beta; the paper gives no weight for the other models.
VAT_WEIGHT = Setting('vat_weight', 0.0, 'Weight of the VAT smoothness term on p(y|x) '
                     '(IMAE eq. 11); 0: off.', check=settings_lib.non_negative, inert=0.0)
VAT_EPSILON = Setting('vat_epsilon', 1.0, 'VAT: L2 radius of the adversarial perturbation '
                      'of an image (IMAE: 1).', check=settings_lib.positive)
VAT_XI = Setting('vat_xi', 10.0, 'VAT: finite-difference step of the power iteration '
                 '(IMAE: 10; Miyato et al.: 1e-6).', check=settings_lib.positive)
VAT_POWER_ITERATIONS = Setting('vat_power_iterations', 1, 'VAT: power iterations for the '
                               'adversarial direction (IMAE, Miyato et al.: 1).',
                               check=settings_lib.at_least(1))
VAT_SETTINGS = (VAT_WEIGHT, VAT_EPSILON, VAT_XI, VAT_POWER_ITERATIONS)


def vat_options(config):
  """{'vat_weight', 'vat_epsilon', 'vat_xi', 'vat_power_iterations'} of a run config, as
  the keyword arguments of the objectives that read them."""
  return {s.name: config.get(s.name, s.default) for s in VAT_SETTINGS}


def vat_term(objective, key, x, logits_fn, clean_logits=None, epsilon=None):
  """objective.vat_weight * VAT(x) and the unweighted VAT KL ((0, None) when off).

  `objective` has the fields of `vat_options`; `logits_fn(x)` must be the same pure
  function in every call (fixed dropout keys; no batch-norm updates). `epsilon` overrides
  objective.vat_epsilon (e.g. per example, shaped (B, 1, ...)).
  """
  if objective.vat_weight == 0:
    return 0.0, None
  smoothness = vat.vat_loss(key, x, logits_fn,
                            objective.vat_epsilon if epsilon is None else epsilon,
                            objective.vat_xi, objective.vat_power_iterations, clean_logits)
  return objective.vat_weight * smoothness, smoothness
