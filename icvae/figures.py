"""PNG figures of a trained model (matplotlib, no display needed).

`image_grid` and `training_curves` draw numpy arrays and metrics files, for any model.
`decode_mean` turns codes into the mean images of p(x|z). `categorical_figures` (the
CatVAE paper's Figures 3 and 4, conditional samples, reconstructions) and
`autoencoder_figures` (the AAE's samples and reconstructions) and `joint_code_figures`
(IMAE and its peers: samples per category, latent traversals, reconstructions) are the figure sets that model
families name in their `ModelFamily.figures`; each writes PNGs with titles and labels,
readable without the paper, and returns {figure name: file name}.
"""

import functools
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from icvae import data as data_lib
from icvae import information
from icvae import likelihoods
from icvae import priors


def save(figure, path, title, dpi=80):
  """Titles `figure`, lays it out, writes it to `path` as PNG at `dpi` and closes it."""
  figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  figure.savefig(path, dpi=dpi)
  plt.close(figure)


def image_grid(path, images, title, row_labels=None, column_labels=None, image_shape=None):
  """Writes a (rows, columns) grid of grey images to `path`.

  Args:
    path: output PNG.
    images: (rows, columns, H * W) or (rows, columns, H, W) values in [0, 1].
    title: figure title.
    row_labels: one string per row (left of the row), or None.
    column_labels: one string per column (above the first row), or None.
    image_shape: (H, W) of flat grey images, (H, W, 3) of colour ones; default: square
      grey.
  """
  images = np.asarray(images)
  rows, columns = images.shape[:2]
  if image_shape is None:
    side = math.isqrt(math.prod(images.shape[2:]))
    image_shape = (side, side)
  images = images.reshape(rows, columns, *image_shape)
  colour = len(image_shape) == 3 and image_shape[-1] == 3
  if len(image_shape) == 3 and not colour:
    images = images[..., 0]
  canvas = tile(np.clip(images, 0, 1))
  height, width = image_shape[:2]
  figure, axis = plt.subplots(figsize=(0.8 * columns + 1.2, 0.8 * rows + 0.8))
  axis.imshow(canvas, cmap=None if colour else 'gray', vmin=0, vmax=1,
              interpolation='nearest')
  axis.set_xticks([c * (width + GAP) + width / 2 - 0.5 for c in range(columns)],
                  column_labels if column_labels is not None else [], fontsize=8)
  axis.xaxis.tick_top()
  axis.set_yticks([r * (height + GAP) + height / 2 - 0.5 for r in range(rows)],
                  row_labels if row_labels is not None else [], fontsize=8)
  axis.tick_params(length=0)
  for side in axis.spines.values():
    side.set_visible(False)
  save(figure, path, title)


GAP = 2
"""Pixels between the images of a grid (`tile`), in the background colour."""


def tile(images, background=1.0):
  """(rows, columns, H, W[, 3]) images as one (rows * (H + gap) - gap, ...) canvas, the
  images `GAP` pixels apart on `background` (white): a grid drawn as one image, which
  matplotlib renders in a fraction of the time of one axis per image."""
  rows, columns, height, width = images.shape[:4]
  canvas = np.full((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP,
                    *images.shape[4:]), background, dtype=np.float32)
  for r in range(rows):
    for c in range(columns):
      top, left = r * (height + GAP), c * (width + GAP)
      canvas[top:top + height, left:left + width] = images[r, c]
  return canvas


def _reconstruction_rows(originals, reconstructions):
  """(rows, columns, pixels) alternating rows of originals and their reconstructions, ten
  per row, at most two pairs of rows (fewer with fewer test images); and the row labels."""
  originals = np.asarray(originals).reshape(len(originals), -1)
  reconstructions = np.asarray(reconstructions).reshape(len(originals), -1)
  per_row = min(10, len(originals))
  rows = []
  for start in range(0, min(len(originals), 20) - per_row + 1, per_row):
    rows += [originals[start:start + per_row], reconstructions[start:start + per_row]]
  return np.stack(rows), ['original', 'reconstruction'] * (len(rows) // 2)


def _grid(config):
  """`image_grid` for the images of a run: their shape from its configuration."""
  return functools.partial(image_grid, image_shape=tuple(config.image_shape))


def training_curves(path, metrics_path, title):
  """Plots every train/* and test/* scalar of metrics.jsonl against the epoch."""
  records = [json.loads(line) for line in pathlib.Path(metrics_path).read_text().splitlines()
             if line.strip()]
  names = ['train/loss', 'train/reconstruction', 'train/kl_continuous',
           'train/kl_categorical', 'train/information', 'test/elbo',
           'test/clustering_accuracy', 'test/information']
  names = [n for n in names if any(n in r for r in records)]
  names += sorted({k for r in records for k in r
                   if k.startswith(('train/', 'test/')) and k not in names
                   and k not in ('train/seconds', 'train/examples_per_second')})
  columns = 4
  rows = -(-len(names) // columns)
  figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.5 * rows),
                              squeeze=False)
  for axis, name in zip(axes.flat, names):
    points = [(r['epoch'], r[name]) for r in records if name in r]
    axis.plot(*zip(*points), marker='.' if len(points) < 30 else None)
    axis.set_title(name, fontsize=9)
    axis.set_xlabel('epoch', fontsize=8)
    axis.set_ylabel(_unit(name), fontsize=8)
  for axis in list(axes.flat)[len(names):]:
    axis.axis('off')
  save(figure, path, title)


_UNITS = {
    'loss': 'objective (to minimise)',
    'reconstruction': 'log p(x|z), nats / example',
    'elbo': 'nats / example',
    'kl_continuous': 'KL, nats / example',
    'kl_categorical': 'KL, nats / example',
    'information': 'cross-entropy, nats',
    'clustering_accuracy': 'accuracy (Hungarian)',
    'grad_norm': 'global L2 norm',
    'discriminator_loss': 'BCE, nats',
    'generator_loss': 'BCE, nats',
    'code_mean_norm': 'L2 norm',
    'code_std': 'std per coordinate',
}


def _unit(name):
  """The y-axis label of a metric: what it measures, in which unit."""
  return _UNITS.get(name.split('/', 1)[-1], name.split('/', 1)[-1])


def decode_mean(model, z, likelihood='bernoulli'):
  """Mean images E[x|z] of the decoder, as numpy, flattened per image.

  Args:
    model: networks with `decode(z)` (evaluation mode).
    z: (..., d) codes.
    likelihood: the `icvae.likelihoods` object (or name) the decoder's outputs are for.

  Returns:
    float32 numpy (..., event size).
  """
  likelihood = likelihoods.get(likelihood)
  z = jnp.asarray(z, jnp.float32)
  means = np.asarray(likelihood.mean(model.decode(z)))
  return means.reshape(*z.shape[:-1], -1)


def write_training_curves(out, workdir, names):
  """Adds the training curves of workdir/metrics.jsonl (when present) to `names`."""
  metrics_path = pathlib.Path(workdir) / 'metrics.jsonl'
  if metrics_path.exists():
    names['training_curves'] = 'training_curves.png'
    training_curves(pathlib.Path(out) / names['training_curves'], metrics_path,
                    f'Training curves of {pathlib.Path(workdir).name}')
  return names


def categorical_figures(out, model, config, dataset, key):
  """Figures 3 and 4 of the paper, conditional samples and reconstructions of a
  `CategoricalVAE`; returns {figure name: file name} (files in `out`)."""
  out = pathlib.Path(out)
  k = model.num_categories
  likelihood = config.likelihood
  means = np.asarray(model.prior_means())
  names = {}
  # Figure 3: centroid c, nine points on the segment, centroid c + 1.
  t = np.linspace(0.0, 1.0, 11)
  paths = np.stack([means[c] + t[:, None] * (means[(c + 1) % k] - means[c]) for c in range(k)])
  names['figure3_centroid_paths'] = 'figure3_centroid_paths.png'
  _grid(config)(out / names['figure3_centroid_paths'], decode_mean(model, paths, likelihood),
             'Figure 3: decoded centroids mu_c (left, right) and the 9 points between '
             'consecutive ones', [f'{c} -> {(c + 1) % k}' for c in range(k)],
             ['mu_c'] + [f'{x:.1f}' for x in t[1:-1]] + ['mu_c+1'])
  # Figure 4: the block of category c set to lambda, lambda = 0..9.
  blocks = (means != 0).astype(np.float32) if np.any(means) else np.eye(k, means.shape[1])
  lambdas = np.arange(10, dtype=np.float32)
  scaled = blocks[:, None, :] * lambdas[None, :, None]
  names['figure4_prior_scale'] = 'figure4_prior_scale.png'
  _grid(config)(out / names['figure4_prior_scale'], decode_mean(model, scaled, likelihood),
             'Figure 4: decoded z = lambda on the block of category c',
             [f'c = {c}' for c in range(k)], [f'lambda={int(v)}' for v in lambdas])
  # Conditional samples: z ~ p(z|c), 10 per category.
  z = priors.sample_conditional(key, means, 10)
  names['conditional_samples'] = 'conditional_samples.png'
  _grid(config)(out / names['conditional_samples'], decode_mean(model, z, likelihood),
             'Samples from p(x|z), z ~ p(z|c) (decoded means)', [f'c = {c}' for c in range(k)])
  # Reconstructions: originals and the decoded mean of q(z|x, argmax c).
  x = jnp.asarray(data_lib.as_float(config.view(dataset.test_images[:20])))
  posterior = model.encode(x)
  best = np.asarray(jnp.argmax(posterior.logits, -1))
  codes = np.asarray(posterior.mean)[np.arange(len(x)), best]
  recon = decode_mean(model, codes, likelihood)
  grid, row_labels = _reconstruction_rows(x, recon)
  names['reconstructions'] = 'reconstructions.png'
  _grid(config)(out / names['reconstructions'], grid,
             'Test images and their reconstructions (mean code of the argmax category)',
             row_labels, [f'c={c}' for c in best[:grid.shape[1]]])
  return names


def autoencoder_figures(out, model, config, dataset, key):
  """Samples from the N(0, I) prior and reconstructions of an autoencoder with a
  d-dimensional code (`embed`, `decode`); returns {figure name: file name}."""
  del key  # numpy's generator, as the figures made before the objectives' split
  out = pathlib.Path(out)
  likelihood = config.likelihood
  rng = np.random.default_rng(0)
  z = rng.standard_normal((5, 10, model.latent_dim)).astype(np.float32)
  names = {'samples': 'samples.png'}
  _grid(config)(out / names['samples'], decode_mean(model, z, likelihood),
             'AAE samples: decoded z ~ N(0, I)')
  x = jnp.asarray(data_lib.as_float(config.view(dataset.test_images[:10])))
  recon = decode_mean(model, model.embed(x), likelihood)
  names['reconstructions'] = 'reconstructions.png'
  grid, row_labels = _reconstruction_rows(x, recon)
  _grid(config)(out / names['reconstructions'], grid,
             'Test images and their AAE reconstructions', row_labels)
  return names


def joint_code_figures(out, model, config, dataset, key):
  """Figures of a model with a categorical y and a Gaussian z (`JointCodeAutoencoder`: IMAE
  and its peers): samples per category, IMAE Figure 2's traversals of the three most
  informative z_k, and reconstructions; returns {figure name: file name}.

  Every image is the decoded mean of p(x|y, z) with y one-hot.
  """
  out = pathlib.Path(out)
  likelihood = likelihoods.get(config.likelihood)
  k, d = model.num_categories, model.latent_dim
  eye = np.eye(k, dtype=np.float32)

  def decode(y, z):
    y, z = jnp.asarray(y, jnp.float32), jnp.asarray(z, jnp.float32)
    means = np.asarray(likelihood.mean(model.decode(y, z)))
    return means.reshape(*z.shape[:-1], -1)

  names = {}
  z = np.asarray(jax.random.normal(key, (k, 10, d)))
  names['samples_per_category'] = 'samples_per_category.png'
  _grid(config)(out / names['samples_per_category'],
             decode(np.broadcast_to(eye[:, None], (k, 10, k)), z),
             'Samples: y = one-hot category (rows), z ~ N(0, I) (decoded means)',
             [f'y = {c}' for c in range(k)])
  # IMAE Figure 2: each row starts from the code of a test image of that category.
  x = jnp.asarray(data_lib.as_float(config.view(dataset.test_images[:2000])))
  posterior = model.encode(x)
  categories = np.asarray(jnp.argmax(posterior.logits, -1))
  means = np.asarray(posterior.mean)
  information_bound = np.asarray(information.gaussian_mutual_information_bound(
      posterior.mean, posterior.logvar))
  starts = np.stack([means[np.flatnonzero(categories == c)[0]] if np.any(categories == c)
                     else np.zeros(d, np.float32) for c in range(k)])
  values = np.linspace(-2.0, 2.0, 9, dtype=np.float32)
  for dim in np.argsort(-information_bound)[:3]:
    codes = np.repeat(starts[:, None], len(values), axis=1)
    codes[:, :, dim] = values[None, :]
    name = f'traversal_z{dim}'
    names[name] = f'{name}.png'
    _grid(config)(out / names[name], decode(np.broadcast_to(eye[:, None], (k, 9, k)), codes),
               f'z_{dim} from -2 to 2, I(x; z_{dim}) >= {information_bound[dim]:.2f} nats '
               '(rows: y; other coordinates from a test image of that y)',
               [f'y = {c}' for c in range(k)], [f'{v:.1f}' for v in values])
  # IMAE Figures 6 and 7: every z_k traversed, one figure per category y.
  for c in range(k):
    codes = np.repeat(np.repeat(starts[c][None, None], d, axis=0), len(values), axis=1)
    codes[np.arange(d), :, np.arange(d)] = values[None, :]
    name = f'traversals_y{c}'
    names[name] = f'{name}.png'
    order = np.argsort(-information_bound)
    _grid(config)(out / names[name], decode(np.broadcast_to(eye[c], (d, len(values), k)),
                                         codes[order]),
               f'y = {c}: each z_k from -2 to 2 (rows, most informative first), the others '
               'from a test image of that y',
               [f'z_{j} ({information_bound[j]:.2f})' for j in order],
               [f'{v:.1f}' for v in values])
  y = eye[categories[:20]]
  recon = decode(y, means[:20])
  names['reconstructions'] = 'reconstructions.png'
  grid, row_labels = _reconstruction_rows(x[:20], recon)
  _grid(config)(out / names['reconstructions'], grid,
             'Test images and their reconstructions (argmax y, mean z)', row_labels,
             [f'y={c}' for c in categories[:grid.shape[1]]])
  return names


def cluster_figures(out, model, config, dataset, key):
  """The test images that a classifier p(y|x) (`model.classify`, e.g. IMSAT's) puts in each
  cluster most confidently, ten per cluster, on the first 10,000 test images; returns
  {figure name: file name}."""
  del key  # nothing is drawn
  out = pathlib.Path(out)
  images = data_lib.as_float(config.view(dataset.test_images[:10000]))
  classify = jax.jit(model.classify)
  probs = np.concatenate([np.asarray(jax.nn.softmax(classify(jnp.asarray(images[i:i + 1000]))))
                          for i in range(0, len(images), 1000)])
  clusters = probs.argmax(-1)
  k = probs.shape[-1]
  flat = np.asarray(images).reshape(len(images), -1)
  rows = np.zeros((k, 10, flat.shape[1]), np.float32)
  for c in range(k):
    members = np.flatnonzero(clusters == c)
    best = members[np.argsort(-probs[members, c])][:10]
    rows[c, :len(best)] = flat[best]
  names = {'cluster_examples': 'cluster_examples.png'}
  _grid(config)(out / names['cluster_examples'], rows,
             'The ten test images each cluster holds most confidently (max p(y|x))',
             [f'y = {c} ({np.sum(clusters == c)})' for c in range(k)],
             image_shape=config.image_shape)
  return names
