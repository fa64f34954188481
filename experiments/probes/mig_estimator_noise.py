r"""How much the two MIG estimators move with their own randomness, on one trained model.

  python -m experiments.probes.mig_estimator_noise \
      --workdir=runs/dsprites_figure5_cpu/imae/gamma=4,beta=2,vat_weight=2/seed=0 \
      --position_stride=2 --samples=1000,10000 --repeats=3

Encodes the dSprites grid once (every `--position_stride`-th x and y position), then
computes Chen et al.'s MIG (continuous factors, z) with `--repeats` keys for each number of
samples S, and the histogram MIG with `--repeats` draws of its 10,000 points. Prints a
table of mean, std and range per setting: the spread is the estimators' noise alone, with
the model fixed (seed noise comes on top of it).
"""

import time

import jax
import numpy as np
from absl import app
from absl import flags

import icvae
from icvae import data
from icvae import disentanglement
from icvae import report

flags.DEFINE_string('workdir', None, 'A trained dSprites run.', required=True)
flags.DEFINE_integer('position_stride', 2, 'Every k-th x and y position of the grid.')
flags.DEFINE_list('samples', ['1000', '10000'], 'S values of Chen et al.\'s estimator.')
flags.DEFINE_integer('repeats', 3, 'Keys (or point draws) per setting.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  loaded = icvae.load_model(FLAGS.workdir)
  dataset = data.load('dsprites', loaded.config.data_dir or None)
  rows, classes, sizes = report.factor_grid(dataset, FLAGS.position_stride)
  encode = jax.jit(lambda x: loaded.model.encode(data.as_float(x)))
  parts = [jax.device_get(encode(loaded.config.view(dataset.train_images[rows[i:i + 2000]])))
           for i in range(0, len(rows), 2000)]
  mean = np.concatenate([p.mean for p in parts])
  logvar = np.concatenate([p.logvar for p in parts])
  print(f'{FLAGS.workdir}: {len(rows)} images, factor sizes {sizes}\n')
  print('| estimator | setting | repeats | mean MIG | std | min | max | s per call |\n'
        '|---|---|---|---|---|---|---|---|')
  continuous = [1, 2, 3, 4]
  for samples in (int(s) for s in FLAGS.samples):
    values, started = [], time.perf_counter()
    for repeat in range(FLAGS.repeats):
      values.append(disentanglement.mig_chen(jax.random.key(repeat), mean, logvar, classes,
                                             sizes, factor_indices=continuous,
                                             num_samples=samples)['mig'])
    seconds = (time.perf_counter() - started) / FLAGS.repeats
    _row('Chen et al. (sampled)', f'S = {samples}', values, seconds)
  values, started = [], time.perf_counter()
  for repeat in range(FLAGS.repeats):
    points = disentanglement.sample_points(np.random.default_rng(repeat), 10000, len(rows))
    values.append(disentanglement.mig_histogram(mean[points], classes[points])['mig'])
  _row('histogram (disentanglement_lib)', '10,000 points, 20 bins', values,
       (time.perf_counter() - started) / FLAGS.repeats)


def _row(name, setting, values, seconds):
  values = np.asarray(values)
  print(f'| {name} | {setting} | {len(values)} | {values.mean():.4f} | '
        f'{values.std(ddof=1) if len(values) > 1 else 0:.4f} | {values.min():.4f} | '
        f'{values.max():.4f} | {seconds:.1f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
