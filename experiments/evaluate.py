"""`python -m experiments.evaluate` in a checkout: the same program as `icvae evaluate`
(`icvae/cli/evaluate.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('evaluate', sys.argv)
