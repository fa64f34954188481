"""Settings that several model families read: each defined once, here.

A family lists the ones it uses in its `ModelFamily.settings`; `icvae.objectives.register`
checks that a name shared by two families is the same `Setting`.
"""

import hashlib
import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from icvae import models
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

# H(y) against H(y|x) in the information term of the categorical code, mu H(y) - H(y|x):
# IMAE's L(y) (eq. 7 and 9; mu = 1 is I(x; y)) and IMSAT's objective (eq. 7; mu = 4).
MARGINAL_ENTROPY_WEIGHT = Setting('marginal_entropy_weight', 1.0, 'mu: the information term '
                                  'of y is mu H(y) - H(y|x) (IMAE: 1, i.e. I(x; y); IMSAT: '
                                  '4).', check=settings_lib.non_negative)
# The encoder's input and initialisation (`models.INPUT_SCALINGS`, `models.INITIALIZATIONS`),
# for the families whose encoder is a batch-normalised MLP trunk (IMSAT, IMAE and its peers).
INPUT_SCALING = Setting('input_scaling', 'unit', 'How the encoder sees pixels x in [0, 1]: '
                        'unit: as they are; imsat: 255/128 x - 1 (IMSAT\'s published code). '
                        'VAT radii and --vat_xi stay in [0, 1] units.',
                        choices=tuple(models.INPUT_SCALINGS), inert='unit')
INITIALIZATION = Setting('initialization', 'lecun', "The encoder's weights: lecun: Flax's "
                         "default (variance 1/fan_in); imsat: IMSAT's Chainer N(0, w/fan_in), "
                         "w = 0.1 hidden, 1e-4 output layer.",
                         choices=models.INITIALIZATIONS, inert='lecun')
ENCODER_SETTINGS = (INPUT_SCALING, INITIALIZATION)

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
VAT_EPSILON_NEIGHBOUR = Setting('vat_epsilon_neighbour', 0, "VAT: if k > 0, each training "
                               "image's radius is --vat_epsilon times its distance to its "
                               "k-th nearest training image (IMSAT: k = 10, "
                               "--vat_epsilon=0.25); 0: the radius is --vat_epsilon.",
                               check=settings_lib.at_least(0), inert=0)
# The most training images the per-example VAT radius searches (O(N^2) distances).
MAX_NEIGHBOUR_SEARCH = 200000
VAT_SETTINGS = (VAT_WEIGHT, VAT_EPSILON, VAT_XI, VAT_POWER_ITERATIONS, VAT_EPSILON_NEIGHBOUR)


def vat_options(config):
  """{'vat_weight', 'vat_epsilon', ...} (`VAT_SETTINGS`) of a run config, as the keyword
  arguments of the objectives that read them."""
  return {s.name: config.get(s.name, s.default) for s in VAT_SETTINGS}


def vat_on(objective):
  """Whether the objective computes VAT: its weight is not 0, or is traced (a sweep over
  --vat_weight, `icvae.sweep`, computes VAT for every run and weighs it, so a run of such a
  sweep at weight 0 pays for a term that does not change its loss)."""
  return isinstance(objective.vat_weight, jax.Array) or bool(objective.vat_weight)


def vat_term(objective, key, x, logits_fn, clean_logits=None, epsilon=None):
  """objective.vat_weight * VAT(x) and the unweighted VAT KL (callers skip it unless
  `vat_on`).

  `objective` has the fields of `vat_options`; `logits_fn(x)` must be the same pure
  function in every call (fixed dropout keys; no batch-norm updates). `epsilon` overrides
  objective.vat_epsilon (e.g. per example, shaped (B, 1, ...)).
  """
  smoothness = vat.vat_loss(key, x, logits_fn,
                            objective.vat_epsilon if epsilon is None else epsilon,
                            objective.vat_xi, objective.vat_power_iterations, clean_logits)
  return objective.vat_weight * smoothness, smoothness


def validate_float32_without_dropout(values, networks):
  """Checks of `networks` (words for the message, e.g. "the GRU networks of Table 3") that
  have no dropout and compute in float32: --dropout_rate 0 or the flag's default (0.25, meant
  for the Table 2 MLP, so it is left as it is) and --compute_dtype=float32."""
  if values['dropout_rate'] not in (0.0, 0.25):  # 0.25: the general flag's default
    raise settings_lib.SettingError(
        f'--dropout_rate={values["dropout_rate"]}: {networks} of --model={values["model"]} '
        'have no dropout; pass --dropout_rate=0 or drop the flag.')
  if values['compute_dtype'] != 'float32':
    raise settings_lib.SettingError(
        f'--compute_dtype={values["compute_dtype"]}: {networks} of --model={values["model"]} '
        'compute in float32 (only the Table 2 MLP has bfloat16 matmuls); drop the flag.')
  return values


def validate_categories(values):
  """--num_categories of a family with a categorical code: at least 2."""
  if values['num_categories'] < 2:
    raise settings_lib.SettingError(
        f'--num_categories={values["num_categories"]}: need at least 2 categories; pass '
        '--num_categories=2 or more (10 for MNIST\'s digits).')
  return values


def validate_batch_norm_classifier(values, networks):
  """Checks of a family whose `networks` (words for the message, e.g. "the Table 1 networks")
  have batch norm, no dropout, float32 arithmetic and a categorical code of K >= 2."""
  validate_float32_without_dropout(values, networks)
  return validate_categories(values)


def validate_vat(values):
  """Cross-setting check of the VAT settings (a family's `validate` calls it)."""
  if values.get('vat_epsilon_neighbour') and not values.get('vat_weight'):
    raise settings_lib.SettingError(
        f'--vat_epsilon_neighbour={values["vat_epsilon_neighbour"]} sets the VAT radius, '
        'but VAT is off (--vat_weight=0): set --vat_weight > 0 or drop the flag.')
  return values


def vat_training_data(objective, images):
  """`Objective.training_data` for VAT: the images, or with `vat_epsilon_neighbour` = k > 0
  {'images': images, 'vat_epsilon': (N, 1, ...) radii} with radius vat_epsilon times the
  distance to the k-th nearest training image (`vat.nearest_neighbour_distances`, computed
  once per run; about a minute for MNIST's 60,000 images on 2 CPU cores)."""
  if not (objective.vat_weight and objective.vat_epsilon_neighbour):
    return images
  if images.shape[0] > MAX_NEIGHBOUR_SEARCH:
    raise settings_lib.SettingError(
        f'--vat_epsilon_neighbour={objective.vat_epsilon_neighbour}: the nearest-neighbour '
        f'search over {images.shape[0]} training images is quadratic; use at most '
        f'{MAX_NEIGHBOUR_SEARCH} (--train_examples) or a fixed radius (drop the flag).')
  if images.dtype == np.uint8:  # pixel bytes (dSprites): the radii are in [0, 1] units
    images = jnp.asarray(np.asarray(images).astype(np.float32) / np.float32(255))
  started = time.time()
  distances, cached = _cached_distances(images, objective.vat_epsilon_neighbour)
  logging.getLogger('icvae').info(
      'VAT radius: %g x the distance to the %d-th nearest training image (mean %.3f, range '
      '%.3f..%.3f), %s in %.0f s', objective.vat_epsilon, objective.vat_epsilon_neighbour,
      float(distances.mean()), float(distances.min()), float(distances.max()),
      f'read from {cached}' if cached else 'computed', time.time() - started)
  radius = objective.vat_epsilon * distances
  return {'images': images, 'vat_epsilon': radius.reshape((-1,) + (1,) * (images.ndim - 1))}


def _cached_distances(images, k):
  """`vat.nearest_neighbour_distances`, cached in <settings.default_cache_dir()>/vat-radii
  under the SHA-256 of the images; (distances, cache file read or None). An unreadable or
  mismatched cache file is recomputed and replaced; an unwritable folder is skipped."""
  array = np.asarray(images, np.float32)
  digest = hashlib.sha256(array.tobytes()).hexdigest()[:16]
  folder = settings_lib.default_cache_dir() / 'vat-radii'
  path = folder / f'knn_{digest}_{array.shape[0]}_k{k}.npy'
  try:
    distances = np.load(path)
    if distances.shape == (array.shape[0],) and np.all(np.isfinite(distances)):
      return jnp.asarray(distances), path
  except (OSError, ValueError):
    pass
  distances = vat.nearest_neighbour_distances(images, k)
  try:
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f'.{os.getpid()}.tmp.npy')
    np.save(partial, np.asarray(distances))
    os.replace(partial, path)
  except OSError as e:
    logging.getLogger('icvae').warning('could not cache the VAT radii in %s (%s)', folder, e)
  return distances, None


def vat_batch(objective, batch):
  """(images, VAT radius) of a training batch: per example when `training_data` added
  them, else objective.vat_epsilon."""
  if isinstance(batch, dict):
    return batch['images'], batch['vat_epsilon']
  return batch, objective.vat_epsilon
