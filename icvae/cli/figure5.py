r"""Figure 5 of the paper: samples per category from several trained models, side by side.

  icvae figure5 --out=figure5.png \
      --workdirs=runs/results/seq_mnist_catvae_free_prior_seed0,runs/results/seq_mnist_catvae_seed0,runs/results/seq_mnist_infocatvae_seed0 \
      --titles="free-prior CatVAE,CatVAE,InfoCatVAE"

Each panel: one row per category c, ten decoded samples of z ~ p(z|c) (with the model's own,
possibly learned, prior means), from each run's latest checkpoint. The runs must be of a
family with a conditional prior p(z|c) (CatVAE, InfoCatVAE: the families whose report has
the information section); images keep their shape (grey or colour).
"""

import sys

from absl import app
from absl import flags
import jax
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

import icvae
from icvae import figures
from icvae import objectives
from icvae import priors


def define_flags():
  """The binary's flags (defined when run, so that importing this module defines none)."""
  flags.DEFINE_list('workdirs', None, 'Training workdirs, one panel each.')
  flags.DEFINE_list('titles', None, 'Panel titles (default: the workdir names).')
  flags.DEFINE_string('out', 'figure5.png', 'Output PNG.')
  flags.DEFINE_integer('samples', 10, 'Samples per category.')
  flags.DEFINE_integer('seed', 0, 'Seed of the samples.')


FLAGS = flags.FLAGS


def category_samples(workdir, samples, seed):
  """(K, samples, H, W[, C]) decoded mean images of z ~ p(z|c) for every category c.

  Raises:
    app.UsageError: the run's family has no conditional prior p(z|c), or its images are
      not images (a feature table).
  """
  loaded = icvae.load_model(workdir)
  config = loaded.config
  if 'information' not in objectives.get(config.model).report_sections:
    raise app.UsageError(
        f'{workdir} is a {config.model} run, which has no prior p(z|c) to sample: figure5 '
        'draws CatVAE and InfoCatVAE runs (`icvae evaluate` draws any run\'s samples per '
        'category).')
  if len(config.image_shape) not in (2, 3):
    raise app.UsageError(f'{workdir} models {config.image_shape}-shaped features, not images: '
                         'figure5 draws images only.')
  means = loaded.model.prior_means()
  z = priors.sample_conditional(jax.random.key(seed), means, samples)
  images = icvae.decode_mean(loaded.model, z, config.likelihood)
  return np.asarray(images).reshape(means.shape[0], samples, *config.image_shape)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdirs:
    raise app.UsageError('--workdirs is required (comma-separated training workdirs).')
  titles = FLAGS.titles or [w.rstrip('/').split('/')[-1] for w in FLAGS.workdirs]
  if len(titles) != len(FLAGS.workdirs):
    raise app.UsageError('--titles needs one title per --workdirs entry.')
  try:
    panels = [category_samples(w, FLAGS.samples, FLAGS.seed) for w in FLAGS.workdirs]
  except icvae.checkpoints.CheckpointError as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
  for axis, panel, title in zip(axes[0], panels, titles):
    k, height = panel.shape[0], panel.shape[2]
    axis.imshow(np.clip(figures.tile(panel), 0, 1), cmap='gray', vmin=0, vmax=1)
    axis.set_yticks(np.arange(k) * (height + figures.GAP) + height / 2)
    axis.set_yticklabels([f'c={c}' for c in range(k)], fontsize=7)
    axis.set_xticks([])
    axis.set_title(title, fontsize=10)
  figures.save(figure, FLAGS.out, 'Figure 5: samples per category (rows), z ~ p(z|c)', dpi=90)
  print(f'wrote {FLAGS.out}')
