r"""Trains CatVAE / InfoCatVAE on fashion-mnist (Table 2 MLP).

  python -m experiments.fashion_mnist --flagfile=experiments/flags/fashion_mnist_infocatvae.flags
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('fashion_mnist', sys.argv, __doc__)
