r"""Trains CatVAE / InfoCatVAE on mnist (Table 2 MLP).

  python -m experiments.mnist --flagfile=experiments/flags/mnist_infocatvae.flags
"""

from absl import app

from experiments import common

if __name__ == '__main__':
  app.run(common.main_for('mnist'))
