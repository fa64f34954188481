r"""Trains any model on Fashion-MNIST: `icvae train --dataset=fashion_mnist` in a checkout's terms.

  python -m experiments.fashion_mnist --flagfile=experiments/flags/fashion_mnist_infocatvae.flags
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('fashion_mnist', sys.argv, __doc__)
