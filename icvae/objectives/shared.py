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

from icvae import augment
from icvae import data as data_lib
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


# Augmentation consistency on p(y|x), for every model with a categorical code (issue 31):
# the categorical posterior of a randomly transformed image (`icvae.augment`) must match the
# clean one, the clean side held fixed, as in UDA (Xie et al. 2020, eq. 1) and IIC/DCCS's
# invariance of the category to augmentation. Beside or instead of VAT.
CONSISTENCY_WEIGHT = Setting('consistency_weight', 0.0, 'Weight of the augmentation-'
                             'consistency term on p(y|x): mean_n KL(p(y|x_n) || p(y|a(x_n))) '
                             'for a random transform a (--augment_*), the clean side held '
                             'fixed (UDA, Xie et al. 2020, eq. 1); 0: off.',
                             check=settings_lib.non_negative, inert=0.0)


def _scale_range(value):
  return None if 0 <= value < 1 else 'must be in [0, 1).'


AUGMENT_TRANSLATE = Setting('augment_translate', 0.0, 'Consistency augmentation: the largest '
                            'shift along each axis, in pixels.',
                            check=settings_lib.non_negative, inert=0.0)
AUGMENT_ROTATE = Setting('augment_rotate', 0.0, 'Consistency augmentation: the largest '
                         'rotation either way, in degrees.', check=settings_lib.non_negative,
                         inert=0.0)
AUGMENT_SCALE = Setting('augment_scale', 0.0, 'Consistency augmentation: scale by a factor in '
                        '[1 - s, 1 + s].', check=_scale_range, inert=0.0)
AUGMENT_ELASTIC = Setting('augment_elastic', 0.0, 'Consistency augmentation: elastic '
                          'distortion of this many pixels (Simard et al. 2003\'s alpha).',
                          check=settings_lib.non_negative, inert=0.0)
AUGMENT_ELASTIC_SIGMA = Setting('augment_elastic_sigma', 4.0, 'Consistency augmentation: the '
                                'smoothing of the elastic field, in pixels (Simard: 4).',
                                check=settings_lib.positive, inert=4.0)
AUGMENT_FLIP = Setting('augment_flip', False, 'Consistency augmentation: flip left-right with '
                       'probability 1/2 (where it keeps the class: clothes, not digits).',
                       inert=False)
AUGMENT_SETTINGS = (AUGMENT_TRANSLATE, AUGMENT_ROTATE, AUGMENT_SCALE, AUGMENT_ELASTIC,
                    AUGMENT_ELASTIC_SIGMA, AUGMENT_FLIP)
CONSISTENCY_SETTINGS = (CONSISTENCY_WEIGHT,) + AUGMENT_SETTINGS


def consistency_options(config):
  """{'consistency_weight', 'augmentation', 'image_shape'} of a run config, the keyword
  arguments of the objectives with a categorical code."""
  value = lambda setting: config.get(setting.name, setting.default)
  return {'consistency_weight': value(CONSISTENCY_WEIGHT),
          'augmentation': augment.Augmentation(
              translate=value(AUGMENT_TRANSLATE), rotate=value(AUGMENT_ROTATE),
              scale=value(AUGMENT_SCALE), elastic=value(AUGMENT_ELASTIC),
              elastic_sigma=value(AUGMENT_ELASTIC_SIGMA), flip=value(AUGMENT_FLIP)),
          'image_shape': _known_shape(config)}


def _known_shape(config):
  """config.image_shape, or () while the data of --dataset=custom are not read yet."""
  try:
    return tuple(config.image_shape)
  except settings_lib.SettingError:
    return ()


def consistency_on(objective):
  """Whether the objective computes the consistency term (weight not 0, or traced)."""
  return isinstance(objective.consistency_weight, jax.Array) or bool(
      objective.consistency_weight)


def consistency_term(objective, key, x, logits_fn, clean_logits):
  """objective.consistency_weight * C(x) and C(x) = mean_n KL(p(y|x_n) || p(y|a_n(x_n))).

  The clean distribution is held fixed (`jax.lax.stop_gradient`), so the term moves the
  augmented view's posterior towards the clean one, not the reverse (UDA, Xie et al. 2020,
  eq. 1). a_n is `objective.augmentation` drawn from `key`, on x viewed as
  `objective.image_shape`. Nats, a mean over the batch.

  Args:
    objective: has `consistency_weight`, `augmentation`, `image_shape`.
    key: the draws of the transforms.
    x: (B, ...) the batch as the networks read it, values in [0, 1].
    logits_fn: x -> (B, K) logits of p(y|x), in training mode.
    clean_logits: (B, K) logits of the clean batch.
  """
  images = x.reshape((x.shape[0],) + tuple(objective.image_shape))
  augmented = objective.augmentation(key, images).reshape(x.shape)
  clean = jax.lax.stop_gradient(jax.nn.log_softmax(clean_logits, axis=-1))
  noisy = jax.nn.log_softmax(logits_fn(augmented), axis=-1)
  divergence = jnp.mean(jnp.sum(jnp.exp(clean) * (clean - noisy), axis=-1))
  return objective.consistency_weight * divergence, divergence


def validate_consistency(values):
  """Cross-setting checks of the consistency settings: a weight needs a transform and images
  (a shape of 2 or 3 axes, when known), a transform needs a weight."""
  image_shape = (data_lib.parse_shape(values['data_shape']) if values.get('data_shape')
                 else data_lib.get_source(values['dataset']).shape)
  changed = [s for s in AUGMENT_SETTINGS if values.get(s.name, s.default) != s.default]
  weight = values.get('consistency_weight', 0.0)
  if changed and not weight:
    raise settings_lib.SettingError(
        f'--{changed[0].name}={values[changed[0].name]}: the augmentation feeds the '
        'consistency term only, which is off (--consistency_weight=0): set '
        '--consistency_weight > 0 or drop the flag.')
  if weight and not [s for s in changed if s is not AUGMENT_ELASTIC_SIGMA]:
    raise settings_lib.SettingError(
        f'--consistency_weight={weight}: no transform is on; set one of --augment_translate, '
        '--augment_rotate, --augment_scale, --augment_elastic, --augment_flip.')
  if weight and image_shape and len(image_shape) == 1:
    raise settings_lib.SettingError(
        f'--consistency_weight={weight}: the transforms are of images, and these data are '
        f'feature vectors of shape {tuple(image_shape)}: drop the flag.')
  return values


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
