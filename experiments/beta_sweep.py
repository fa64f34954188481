"""`python -m experiments.beta_sweep` in a checkout: the same program as `icvae beta-sweep`
(`icvae/cli/beta_sweep.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('beta-sweep', sys.argv)
