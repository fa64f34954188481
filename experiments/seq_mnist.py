r"""Trains the recurrent CatVAE / InfoCatVAE of Table 3 on MNIST read row by row (section 11).

  python -m experiments.seq_mnist --flagfile=experiments/flags/seq_mnist_infocatvae.flags

Each image is a sequence of 28 time steps of 28 features (`--network=gru` by default); the
free-prior baseline is --learned_prior. Row-by-row Fashion-MNIST:
python -m experiments.fashion_mnist --network=gru ...
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('mnist', sys.argv, __doc__, network='gru')
