r"""Writes the codes of new data under a trained model: cluster, p(y|x), z mean and log-variance.

  icvae encode --workdir=runs/my_images_imae --data=new_images/ \
      --output=codes.npz          # or codes.csv

--data is read as `icvae train` reads it (`icvae.files`; every example, no split) and
must have the examples' shape the run was trained on; a feature table is standardised with
the statistics saved in the workdir. The .npz holds 'cluster' (N,), 'probabilities' (N, K),
'z_mean' and 'z_logvar' (N, d) where the model has them (and 'label' when the data have
labels); the .csv has one row per example: cluster, p_0..p_{K-1}, z_mean_0.., z_logvar_0..
"""

import csv
import os
import pathlib
import sys

import numpy as np
from absl import app
from absl import flags
from absl import logging

from icvae import checkpoints
from icvae import data as data_lib
from icvae import files
from icvae import settings

flags.DEFINE_string('workdir', None, 'The workdir of a training run.')
flags.DEFINE_string('data', None, 'The data to encode: an .npz (x_train and x_test, if any, '
                    'in that order), .npy, .csv, .parquet or a folder of images.')
flags.DEFINE_string('output', 'codes.npz', 'Where to write the codes: a .npz or .csv file.')
flags.DEFINE_integer('batch_size', 1000, 'Examples per jitted batch.')
FLAGS = flags.FLAGS


def read_examples(path, config):
  """(examples, labels or None) of every example in `path`, in the files' order, read with
  the run's options (`icvae.files.read_examples`)."""
  image_size = (data_lib.parse_shape(config.image_size)
                if config.get('image_size') else None)
  x, y, _ = files.read_examples(path, image_size=image_size,
                                label_column=config.get('label_column', ''))
  return x, y


def write_codes(path, codes, labels=None):
  """Writes `codes` (`LoadedModel.codes`) to a .npz or .csv file, atomically."""
  path = pathlib.Path(path)
  partial = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  if path.suffix == '.npz':
    arrays = dict(codes, **({'label': labels} if labels is not None else {}))
    with open(partial, 'wb') as f:
      np.savez(f, **arrays)
  elif path.suffix == '.csv':
    columns = [('cluster', codes['cluster'][:, None])] if 'cluster' in codes else []
    if labels is not None:
      columns.append(('label', labels[:, None]))
    for key, prefix in (('probabilities', 'p'), ('z_mean', 'z_mean'), ('z_logvar', 'z_logvar')):
      if key in codes:
        columns += [(f'{prefix}_{j}', codes[key][:, j:j + 1]) for j in range(codes[key].shape[1])]
    with open(partial, 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow([name for name, _ in columns])
      table = np.concatenate([values.astype(np.float64) for _, values in columns], axis=1)
      integer = [name in ('cluster', 'label') for name, _ in columns]
      for row in table:
        writer.writerow([int(v) if is_int else repr(float(v)) for v, is_int in zip(row, integer)])
  else:
    raise ValueError(f'--output={path}: must end in .npz or .csv.')
  os.replace(partial, path)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  for name in ('workdir', 'data'):
    if not FLAGS[name].value:
      raise app.UsageError(f'--{name} is required.')
  if pathlib.Path(FLAGS.output).suffix not in ('.npz', '.csv'):
    raise app.UsageError(f'--output={FLAGS.output}: must end in .npz or .csv.')
  logging.set_verbosity(logging.WARNING)  # Orbax's restore is not news
  try:
    loaded = checkpoints.load_model(FLAGS.workdir)
    x, labels = read_examples(FLAGS.data, loaded.config)
    codes = loaded.codes(x, FLAGS.batch_size)
  except (checkpoints.CheckpointError, settings.DataError, ValueError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  write_codes(FLAGS.output, codes, labels)
  print(f'{len(x)} examples encoded by {FLAGS.workdir} (epoch {loaded.epoch}): '
        f'{", ".join(f"{k} {v.shape}" for k, v in codes.items())} -> {FLAGS.output}')
