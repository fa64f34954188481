r"""Trains any model on any dataset: a registered one, or your own files with no code.

  python -m experiments.train --data=my_images/ --model=imae --num_epochs=20
  python -m experiments.train --data=features.csv --label_column=species --model=imae
  python -m experiments.train --dataset=mnist --flagfile=experiments/flags/mnist_imae.flags

--data is an .npz (x_train, optional y_train, x_test, y_test), an .npy, a CSV or Parquet
table of numeric features (--label_column names the labels), or a folder of images (class
subfolders give labels; --image_size=H,W resizes). See README, "Your own data", and
`icvae.files` for what is read and refused. The workdir (default runs/<data name>_<model>)
records the examples' shape, and a feature table's standardisation, for `experiments.encode`.
"""

from absl import app
from absl import flags

from experiments import common
from icvae import data

_REGISTERED = ', '.join(n for n in data.sources() if n != 'custom')
flags.DEFINE_string('dataset', 'custom', 'The data: custom (your own files, --data) or a '
                    f'registered dataset ({_REGISTERED}).')
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if FLAGS.dataset not in data.sources():
    raise app.UsageError(f'--dataset={FLAGS.dataset}: must be one of '
                         f'{", ".join(data.sources())}.')
  if FLAGS.dataset == 'custom' and not FLAGS.data:
    raise app.UsageError('--data=PATH is required (an .npz, .npy, .csv, .parquet or a folder '
                         'of images), or name a registered --dataset.')
  common.run(FLAGS.dataset)


if __name__ == '__main__':
  app.run(main)
