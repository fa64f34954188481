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
from icvae import networks as networks_lib
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
# The encoder's input and initialisation (`icvae.networks.INPUT_SCALINGS`,
# `icvae.networks.INITIALIZATIONS`), for the families whose encoder is a batch-normalised MLP
# trunk (IMSAT, IMAE and its peers).
INPUT_SCALING = Setting('input_scaling', 'unit', 'How the encoder sees pixels x in [0, 1]: '
                        'unit: as they are; imsat: 255/128 x - 1 (IMSAT\'s published code). '
                        'VAT radii and --vat_xi stay in [0, 1] units.',
                        choices=tuple(networks_lib.INPUT_SCALINGS), inert='unit')
INITIALIZATION = Setting('initialization', 'lecun', "The encoder's weights: lecun: Flax's "
                         "default (variance 1/fan_in); imsat: IMSAT's Chainer N(0, w/fan_in), "
                         "w = 0.1 hidden, 1e-4 output layer.",
                         choices=networks_lib.INITIALIZATIONS, inert='lecun')
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

# Neighbour consistency on p(y|x) (issue 31): an image and one of its k nearest training
# images share their category, SCAN's consistency term (Van Gansbeke et al. 2020, eq. 2):
# the neighbour is an augmentation drawn from the data rather than from a transform.
NEIGHBOUR_WEIGHT = Setting('neighbour_weight', 0.0, 'Weight of the neighbour-consistency '
                           'term on p(y|x): mean_n -log sum_y p(y|x_n) p(y|x\'_n), x\'_n one '
                           'of the --neighbours nearest training images of x_n (L2 on the '
                           'pixels), drawn each step (SCAN, Van Gansbeke et al. 2020, eq. 2); '
                           '0: off.', check=settings_lib.non_negative, inert=0.0)
NEIGHBOURS = Setting('neighbours', 5, 'Neighbour consistency: how many nearest training '
                     'images of each one the neighbour is drawn from (SCAN: 20).',
                     check=settings_lib.at_least(1), inert=5)
NEIGHBOUR_SETTINGS = (NEIGHBOUR_WEIGHT, NEIGHBOURS)
# The neighbours' copies of the training images are held with them (k copies): at most this.
MAX_NEIGHBOUR_BYTES = 4 * 2**30
CONSISTENCY_SETTINGS = (CONSISTENCY_WEIGHT,) + AUGMENT_SETTINGS + NEIGHBOUR_SETTINGS


def consistency_options(config):
  """{'consistency_weight', 'augmentation', 'image_shape', 'neighbour_weight', 'neighbours'}
  of a run config, the keyword arguments of the objectives with a categorical code."""
  value = lambda setting: config.get(setting.name, setting.default)
  return {'consistency_weight': value(CONSISTENCY_WEIGHT),
          'neighbour_weight': value(NEIGHBOUR_WEIGHT), 'neighbours': value(NEIGHBOURS),
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


def neighbour_on(objective):
  """Whether the objective computes the neighbour term (weight not 0, or traced)."""
  return isinstance(objective.neighbour_weight, jax.Array) or bool(objective.neighbour_weight)


def neighbour_term(objective, key, neighbours, logits_fn, logits):
  """objective.neighbour_weight * N(x) and N(x) = -mean_n log sum_y p(y|x_n) p(y|x'_n).

  SCAN's consistency term (Van Gansbeke et al. 2020, eq. 2, its first part; the entropy of
  the marginal, its second, is the information term's H(y)): the dot product of the two
  posteriors is 1 only when both put all their mass on one category, the same. Gradients
  flow through both sides, as in SCAN. x'_n is one of x_n's k nearest training images,
  drawn uniformly from `key` at each step. Nats, a mean over the batch.

  Args:
    objective: has `neighbour_weight`.
    key: the draw of the neighbour of each example.
    neighbours: (B, k, ...) the k nearest training images of each example of the batch.
    logits_fn: x -> (B, K) logits of p(y|x), in training mode.
    logits: (B, K) logits of the batch.
  """
  count, k = neighbours.shape[:2]
  pick = jax.random.randint(key, (count,), 0, k)
  chosen = neighbours[jnp.arange(count), pick]
  log_p = jax.nn.log_softmax(logits, axis=-1)
  log_q = jax.nn.log_softmax(logits_fn(chosen), axis=-1)
  value = -jnp.mean(jax.nn.logsumexp(log_p + log_q, axis=-1))
  return objective.neighbour_weight * value, value


def validate_consistency(values):
  """Cross-setting checks of the consistency settings: a weight needs a transform and images
  (a shape of 2 or 3 axes, when known), a transform needs a weight; --neighbours needs
  --neighbour_weight."""
  if values.get('neighbours', NEIGHBOURS.default) != NEIGHBOURS.default and not values.get(
      'neighbour_weight'):
    raise settings_lib.SettingError(
        f'--neighbours={values["neighbours"]}: the neighbours feed the neighbour term only, '
        'which is off (--neighbour_weight=0): set --neighbour_weight > 0 or drop the flag.')
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


def training_data(objective, images):
  """`Objective.training_data` of the families with a categorical code: the images, or a
  dict {'images': images} with, per image, the VAT radius (`vat_training_data`) and the
  nearest training images of the neighbour term (`neighbour_training_data`) where those
  are on."""
  data = {'images': images}
  if objective.vat_weight and objective.vat_epsilon_neighbour:
    data.update(vat_training_data(objective, images))
  if objective.neighbour_weight:
    data.update(neighbour_training_data(objective, images))
  return data if len(data) > 1 else images


def batch_parts(objective, batch):
  """(images, VAT radius, neighbours or None) of a training batch made of `training_data`:
  the radius per example where it was added, else objective.vat_epsilon."""
  if isinstance(batch, dict):
    return batch['images'], batch.get('vat_epsilon', objective.vat_epsilon), batch.get(
        'neighbours')
  return batch, objective.vat_epsilon, None


def _check_search(images, flag):
  if images.shape[0] > MAX_NEIGHBOUR_SEARCH:
    raise settings_lib.SettingError(
        f'{flag}: the nearest-neighbour search over {images.shape[0]} training images is '
        f'quadratic; use at most {MAX_NEIGHBOUR_SEARCH} (--train_examples) or drop the flag.')


def neighbour_training_data(objective, images):
  """{'neighbours': (N, k, ...)}: each training image's k nearest other
  training images (L2 on the pixels, `vat.nearest_neighbours`, found once and cached under
  the images' SHA-256): k copies of the set, held as bytes where the images are bytes / 255
  (the loaders' floats, read back exactly by the batches' `data.as_float`).

  Raises:
    settings.SettingError: more images than the search takes, k >= N, or copies larger
      than `MAX_NEIGHBOUR_BYTES`.
  """
  k = objective.neighbours
  flag = f'--neighbour_weight={objective.neighbour_weight}'
  _check_search(images, flag)
  if not k < images.shape[0]:
    raise settings_lib.SettingError(f'--neighbours={k}: must be below the {images.shape[0]} '
                                    'training images.')
  held = _as_bytes_if_exact(images)
  size = held.size * held.dtype.itemsize * k
  if size > MAX_NEIGHBOUR_BYTES:
    raise settings_lib.SettingError(
        f'--neighbours={k}: the neighbours of {images.shape[0]} training images take '
        f'{size / 2**30:.1f} GiB (k copies); use fewer (--neighbours) or fewer images '
        f'(--train_examples), at most {MAX_NEIGHBOUR_BYTES / 2**30:g} GiB.')
  search = images
  if images.dtype == np.uint8:  # the distances in [0, 1] units
    search = jnp.asarray(np.asarray(images).astype(np.float32) / np.float32(255))
  started = time.time()
  indices, cached = _cached_search(search, k, 'neighbours',
                                   lambda: vat.nearest_neighbours(search, k)[1])
  neighbours = held[np.asarray(indices)]
  logging.getLogger('icvae').info(
      'neighbour term: the %d nearest training images of each of %d, %s in %.0f s (%.0f MB)',
      k, images.shape[0], f'read from {cached}' if cached else 'computed',
      time.time() - started, neighbours.nbytes / 1e6)
  return {'neighbours': neighbours}


def _as_bytes_if_exact(images):
  """`images` as uint8 when they are bytes / 255 exactly as `data.as_float` makes them (the
  loaders' floats), so that k copies take a quarter of the memory and read back the same."""
  images = np.asarray(images)
  if images.dtype != np.float32:
    return images
  as_bytes = np.clip(np.round(images * np.float32(255)), 0, 255).astype(np.uint8)
  return as_bytes if np.array_equal(data_lib.as_float(as_bytes), images) else images


def vat_training_data(objective, images):
  """{'images': images, 'vat_epsilon': (N, 1, ...) radii} with radius vat_epsilon times the
  distance to the k-th nearest training image (k = `vat_epsilon_neighbour`;
  `vat.nearest_neighbour_distances`, computed once per run; about a minute for MNIST's
  60,000 images on 2 CPU cores)."""
  _check_search(images, f'--vat_epsilon_neighbour={objective.vat_epsilon_neighbour}')
  if images.dtype == np.uint8:  # pixel bytes (dSprites): the radii are in [0, 1] units
    images = jnp.asarray(np.asarray(images).astype(np.float32) / np.float32(255))
  started = time.time()
  k = objective.vat_epsilon_neighbour
  distances, cached = _cached_search(images, k, 'vat-radii',
                                     lambda: vat.nearest_neighbour_distances(images, k))
  logging.getLogger('icvae').info(
      'VAT radius: %g x the distance to the %d-th nearest training image (mean %.3f, range '
      '%.3f..%.3f), %s in %.0f s', objective.vat_epsilon, objective.vat_epsilon_neighbour,
      float(distances.mean()), float(distances.min()), float(distances.max()),
      f'read from {cached}' if cached else 'computed', time.time() - started)
  radius = objective.vat_epsilon * distances
  return {'images': images, 'vat_epsilon': radius.reshape((-1,) + (1,) * (images.ndim - 1))}


def _cached_search(images, k, kind, compute):
  """compute() of the images, a nearest-neighbour search, cached in
  <settings.default_cache_dir()>/<kind> under the SHA-256 of the images: VAT's k-th distances
  (N,) in 'vat-radii', the neighbour term's indices (N, k) in 'neighbours'; (result, cache
  file read or None). An unreadable or mismatched cache file is recomputed and replaced; an
  unwritable folder is skipped."""
  array = np.asarray(images, np.float32)
  count = array.shape[0]
  digest = hashlib.sha256(array.tobytes()).hexdigest()[:16]
  folder = settings_lib.default_cache_dir() / kind
  path = folder / f'knn_{digest}_{count}_k{k}.npy'
  shape = (count,) if kind == 'vat-radii' else (count, k)
  try:
    result = np.load(path)
    valid = (np.all(np.isfinite(result)) if kind == 'vat-radii'
             else result.min() >= 0 and result.max() < count)
    if result.shape == shape and valid:
      return jnp.asarray(result), path
  except (OSError, ValueError):
    pass
  result = compute()
  try:
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f'.{os.getpid()}.tmp.npy')
    np.save(partial, np.asarray(result))
    os.replace(partial, path)
  except OSError as e:
    logging.getLogger('icvae').warning('could not cache the nearest neighbours in %s (%s)',
                                       folder, e)
  return result, None
