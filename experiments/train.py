"""`python -m experiments.train` in a checkout: the same program as `icvae train`
(`icvae/cli/train.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('train', sys.argv)
