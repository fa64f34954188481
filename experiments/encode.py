"""`python -m experiments.encode` in a checkout: the same program as `icvae encode`
(`icvae/cli/encode.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('encode', sys.argv)
