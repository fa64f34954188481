r"""Trains any model on MNIST: `icvae train --dataset=mnist` in a checkout's terms.

  python -m experiments.mnist --flagfile=experiments/flags/mnist_infocatvae.flags
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('mnist', sys.argv, __doc__)
