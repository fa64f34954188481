"""`python -m experiments.dsprites_figure5` in a checkout: the same program as `icvae dsprites-figure5`
(`icvae/cli/dsprites_figure5.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('dsprites-figure5', sys.argv)
