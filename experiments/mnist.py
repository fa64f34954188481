r"""Trains CatVAE / InfoCatVAE on mnist (Table 2 MLP).

  python -m experiments.mnist --flagfile=experiments/flags/mnist_infocatvae.flags
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('mnist', sys.argv, __doc__)
