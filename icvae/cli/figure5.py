r"""Figure 5 of the paper: samples per category from several trained models, side by side.

  icvae figure5 --out=figure5.png \
      --workdirs=runs/results/seq_mnist_catvae_free_prior_seed0,runs/results/seq_mnist_catvae_seed0,runs/results/seq_mnist_infocatvae_seed0 \
      --titles="free-prior CatVAE,CatVAE,InfoCatVAE"

Each panel: one row per category c, ten decoded samples of z ~ p(z|c) (with the model's own,
possibly learned, prior means), from each run's latest checkpoint.
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
from icvae import priors

flags.DEFINE_list('workdirs', None, 'Training workdirs, one panel each.')
flags.DEFINE_list('titles', None, 'Panel titles (default: the workdir names).')
flags.DEFINE_string('out', 'figure5.png', 'Output PNG.')
flags.DEFINE_integer('samples', 10, 'Samples per category.')
flags.DEFINE_integer('seed', 0, 'Seed of the samples.')
FLAGS = flags.FLAGS


def category_samples(workdir, samples, seed):
  """(K, samples, H, W) decoded mean images of z ~ p(z|c) for every category c."""
  loaded = icvae.load_model(workdir)
  means = loaded.model.prior_means()
  z = priors.sample_conditional(jax.random.key(seed), means, samples)
  images = icvae.decode_mean(loaded.model, z, loaded.config.likelihood)
  return images.reshape(means.shape[0], samples, 28, 28)


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
    k, n = panel.shape[:2]
    mosaic = panel.transpose(0, 2, 1, 3).reshape(k * 28, n * 28)
    axis.imshow(np.clip(mosaic, 0, 1), cmap='gray', vmin=0, vmax=1)
    axis.set_yticks(np.arange(k) * 28 + 14)
    axis.set_yticklabels([f'c={c}' for c in range(k)], fontsize=7)
    axis.set_xticks([])
    axis.set_title(title, fontsize=10)
  figure.suptitle('Figure 5: samples per category (rows), z ~ p(z|c)', fontsize=11)
  figure.tight_layout()
  figure.savefig(FLAGS.out, dpi=90)
  print(f'wrote {FLAGS.out}')
