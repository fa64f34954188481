r"""Trains any model on any dataset: a shipped config, a registered dataset, or your own files.

  icvae train --config=mnist_imae --data_dir=../shared/data/mnist
  icvae train --data=my_images/ --model=imae --num_epochs=20
  icvae train --data=features.csv --label_column=species --model=imae
  icvae train --dataset=mnist --flagfile=my_flags.flags

(`python -m experiments.train ...` in a checkout.) --config names a shipped flagfile
(`icvae list-configs`); it sets the dataset too, and flags after it override it. --data is an
.npz (x_train, optional y_train, x_test, y_test), an .npy, a CSV or Parquet table of numeric
features (--label_column names the labels), or a folder of images (class subfolders give
labels; --image_size=H,W resizes). See the guide "Your own data" and `icvae.files` for what
is read and refused. The workdir (default runs/<data name>_<model>) records the examples'
shape, and a feature table's standardisation, for `icvae encode`.
"""

from absl import app

from icvae.cli import common

FLAGS = common.FLAGS
FLAG_MODULES = ('icvae.cli.common',)  # where its flags are defined, for --help


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  dataset = common.dataset_from_flags('custom')
  if dataset == 'custom' and not FLAGS.data:
    raise app.UsageError('--data=PATH is required (an .npz, .npy, .csv, .parquet or a folder '
                         'of images), or name a registered --dataset, or a --config.')
  common.run(dataset)
