r"""How often a training image's nearest training images (L2 on the pixels) share its class:
the signal the neighbour-consistency term (--neighbour_weight) trains on.

  python -m experiments.probes.neighbour_purity --dataset=fashion_mnist --ks=1,5,10,20
  python -m experiments.probes.neighbour_purity --dataset=mnist --data_dir=../shared/data/mnist

Prints, per k, the fraction of (image, one of its k nearest) pairs of the same class, over the
60,000 training images (`icvae.vat.nearest_neighbours`, exact; a minute or two on 2 cores).
"""

from absl import app
from absl import flags
import numpy as np

import icvae
from icvae import data as data_lib
from icvae import vat

flags.DEFINE_string('dataset', 'fashion_mnist', 'A registered dataset with labels.')
flags.DEFINE_string('data_dir', None, 'Where its files are (MNIST: the four IDX gz files).')
flags.DEFINE_list('ks', ['1', '5', '10', '20'], 'The numbers of neighbours.')
FLAGS = flags.FLAGS


def purity(labels, indices, k):
  """The fraction of the pairs (n, one of its k nearest) whose labels agree."""
  return float(np.mean(labels[indices[:, :k]] == labels[:, None]))


def main(argv):
  del argv
  config = icvae.RunConfig(model='imsat', dataset=FLAGS.dataset, data_dir=FLAGS.data_dir or '')
  dataset = data_lib.load_for(config)
  images = data_lib.as_float(np.asarray(dataset.train_images)).reshape(
      len(dataset.train_images), -1)
  ks = sorted(int(k) for k in FLAGS.ks)
  _, indices = vat.nearest_neighbours(images, ks[-1])
  indices = np.asarray(indices)
  print(f'{FLAGS.dataset}: {len(images)} training images')
  print('| k | same class |\n|---|---|')
  for k in ks:
    print(f'| {k} | {purity(dataset.train_labels, indices, k):.3f} |')


if __name__ == '__main__':
  app.run(main)
