"""`python -m experiments.summarize_results` in a checkout: the same program as `icvae sweep-summary`
(`icvae/cli/summarize_results.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('sweep-summary', sys.argv)
