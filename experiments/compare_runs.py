"""`python -m experiments.compare_runs` in a checkout: the same program as `icvae compare-runs`
(`icvae/cli/compare_runs.py`, where its documentation is)."""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run('compare-runs', sys.argv)
