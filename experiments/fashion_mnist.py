r"""Trains CatVAE / InfoCatVAE on fashion-mnist (Table 2 MLP).

  python -m experiments.fashion_mnist --flagfile=experiments/flags/fashion_mnist_infocatvae.flags
"""

from absl import app

from experiments import common

if __name__ == '__main__':
  app.run(common.main_for('fashion_mnist'))
