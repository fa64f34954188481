"""`python -m experiments.figure5` in a checkout: the same program as `icvae figure5`
(`icvae/cli/figure5.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('figure5', sys.argv)
