r"""Probe: how much does the Parzen-window protocol move Table 1's log-likelihood?

  python -m experiments.probes.parzen_protocol --data_dir=../shared/data/mnist \
      --workdirs=runs/results/mnist_catvae_seed0,runs/results/mnist_infocatvae_seed0

The paper reports CatVAE 111.2 and InfoCatVAE 113.8 nats (Table 1) but not its protocol: what
is scored (mean images or sampled binary images), what the KDE is fitted on (grey levels or
binarised images), and the bandwidth grid. For each trained workdir this scores 10,000
generated images under four protocols, each with its own 5-fold CV bandwidth
(`evaluation.kde_bandwidth_search`) over the grid of `icvae.EvalOptions`:

- mean / grey:   decoded mean images, KDE on grey-level training images (what
                 `experiments.evaluate` reports);
- binary / grey: one Bernoulli sample of each mean image, KDE on grey-level training images;
- binary / binary: Bernoulli samples, KDE on training images binarised at 0.5;
- mean / binary: mean images, KDE on binarised training images;

and, as references that need no model, the 10,000 test images under the grey-level KDE (what a
generator that reproduced the test set would score) and under the binarised one. A
diagnostic for issue 5's Parzen gap, not a result.
"""

import json
import pathlib

from absl import app
from absl import flags
import jax
import numpy as np

import icvae
from icvae import data
from icvae import evaluation
from icvae import priors

flags.DEFINE_list('workdirs', None, 'Trained workdirs (Bernoulli-likelihood MLP models).')
flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_integer('num_generated', 10000, 'Generated images per protocol.')
flags.DEFINE_integer('seed', 0, 'Seed of the generated images and the Bernoulli draws.')
flags.DEFINE_string('out', '', 'Optional JSON file for the table.')
FLAGS = flags.FLAGS


def parzen(points, fitted_on, grid):
  """(mean log-likelihood, its standard error, CV bandwidth, whether it is at the grid edge)."""
  bandwidth, _ = evaluation.kde_bandwidth_search(fitted_on, grid)
  log_density = np.asarray(evaluation.kde_log_density(points, fitted_on, [bandwidth]))[0]
  return {'log_likelihood': float(log_density.mean()),
          'std_error': float(log_density.std() / np.sqrt(len(log_density))),
          'bandwidth': bandwidth, 'at_grid_edge': bandwidth in (grid[0], grid[-1])}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not FLAGS.workdirs:
    raise app.UsageError('--workdirs is required.')
  grid = list(icvae.EvalOptions().kde_bandwidths)
  dataset = data.load('mnist', FLAGS.data_dir)
  grey = data.as_flat(dataset.train_images)
  binary = (grey > 0.5).astype(np.float32)
  test = data.as_flat(dataset.test_images)[:FLAGS.num_generated]
  table = {'reference': {'test images / grey': parzen(test, grey, grid),
                         'binarised test images / binary':
                             parzen((test > 0.5).astype(np.float32), binary, grid)}}
  for workdir in FLAGS.workdirs:
    loaded = icvae.load_model(workdir)
    model, epoch = loaded.model, loaded.epoch
    if loaded.config.likelihood != icvae.likelihoods.Bernoulli():
      raise app.UsageError(f'{workdir}: a Bernoulli-likelihood (MLP) run is needed.')
    key = jax.random.key(FLAGS.seed)
    _, z = priors.sample_prior(key, model.prior_means(), FLAGS.num_generated)
    means = np.concatenate([icvae.decode_mean(model, z[i:i + 2000])
                            for i in range(0, len(z), 2000)])
    sampled = (np.random.default_rng(FLAGS.seed).random(means.shape) < means).astype(np.float32)
    table[f'{workdir} (epoch {epoch})'] = {
        'mean / grey': parzen(means, grey, grid),
        'binary / grey': parzen(sampled, grey, grid),
        'binary / binary': parzen(sampled, binary, grid),
        'mean / binary': parzen(means, binary, grid)}
  print('| scored / KDE fitted on | ' + ' | '.join(table) + ' |')
  print('|---' * (len(table) + 1) + '|')
  protocols = sorted({p for rows in table.values() for p in rows})
  for protocol in protocols:
    cells = []
    for rows in table.values():
      row = rows.get(protocol)
      cells.append('' if row is None else f"{row['log_likelihood']:.1f} ± {row['std_error']:.1f}"
                   f" (h={row['bandwidth']:.3f}{', edge' if row['at_grid_edge'] else ''})")
    print(f'| {protocol} | ' + ' | '.join(cells) + ' |')
  if FLAGS.out:
    pathlib.Path(FLAGS.out).write_text(json.dumps(table, indent=2) + '\n')


if __name__ == '__main__':
  app.run(main)
