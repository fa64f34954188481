r"""Writes the codes of new data under a trained model: cluster, p(y|x), z mean and log-variance.

  icvae encode --workdir=runs/my_images_imae --data=new_images/ \
      --output=codes.npz          # or codes.csv

--data is read as `icvae train` reads it (`icvae.files`; every example, no split) and
must have the examples' shape the run was trained on; a table's columns are matched to the
run's by name (any order; a missing or extra column is refused, naming it) and standardised
with the statistics saved in the workdir. New rows need no labels: a table without the
run's --label_column is encoded unlabelled. Labels that are there keep the run's classes:
they are matched by name to the class names the run saved (`data.json`), so new data with
only some of the classes, or in other folders' order, get the run's indices (-1 for a class
the run never saw, logged).

The .npz holds 'cluster' (N,), 'probabilities' (N, K), 'z_mean' and 'z_logvar' (N, d) where
the model has them, and, when the data have labels, 'label' (N,) (the run's class indices),
'label_name' (N,) and 'class_names' (the run's classes); the .csv has one row per example:
cluster, label (its name) when there are labels, p_0..p_{K-1}, z_mean_0.., z_logvar_0..
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
from icvae import examples as examples_lib
from icvae import files
from icvae import inference
from icvae import settings
from icvae import tables

flags.DEFINE_string('workdir', None, 'The workdir of a training run.')
flags.DEFINE_string('data', None, 'The data to encode: an .npz (x_train and x_test, if any, '
                    'in that order), .npy, .csv, .parquet or a folder of images.')
flags.DEFINE_string('output', 'codes.npz', 'Where to write the codes: a .npz or .csv file.')
flags.DEFINE_integer('batch_size', 1000, 'Examples per jitted batch.')
FLAGS = flags.FLAGS


def read_examples(path, config):
  """`files.Examples` of every example in `path`, in the files' order, read with the run's
  options that apply to its kind (`icvae.files.read_examples`: --image_size to a folder,
  --label_column to a table, which need not have the column)."""
  image_size = (data_lib.parse_shape(config.image_size)
                if config.get('image_size') else None)
  return files.read_examples(path, image_size=image_size,
                             label_column=config.get('label_column', ''),
                             table_header=config.get('table_header', 'auto'),
                             only_applicable=True)


def run_labels(examples, class_names, where):
  """(indices into the run's `class_names`, label names) of the examples' labels, or
  (None, None) without labels. A run without saved class names (before icvae 0.5) keeps the
  data's own indices."""
  if examples.labels is None:
    return None, None
  names = np.asarray(examples.class_names)[examples.labels] if examples.class_names else (
      examples.labels.astype(str))
  if not class_names:
    return examples.labels, names
  return examples_lib.class_indices(names, class_names, where), names


def write_codes(path, codes, labels=None, label_names=None, class_names=()):
  """Writes `codes` (`LoadedModel.codes`) to a .npz or .csv file, atomically: with labels,
  the .npz gets 'label' (indices), 'label_name' and 'class_names', the .csv the names."""
  path = pathlib.Path(path)
  partial = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  if labels is not None and label_names is None:
    label_names = labels.astype(str)
  if path.suffix == '.npz':
    arrays = dict(codes)
    if labels is not None:
      arrays.update(label=np.asarray(labels, np.int32),
                    label_name=np.asarray(label_names, str))
      if class_names:
        arrays['class_names'] = np.asarray(class_names, str)
    with open(partial, 'wb') as f:
      np.savez(f, **arrays)
  elif path.suffix == '.csv':
    numbers = [('cluster', codes['cluster'][:, None])] if 'cluster' in codes else []
    for key, prefix in (('probabilities', 'p'), ('z_mean', 'z_mean'), ('z_logvar', 'z_logvar')):
      if key in codes:
        numbers += [(f'{prefix}_{j}', codes[key][:, j:j + 1]) for j in range(codes[key].shape[1])]
    header = [name for name, _ in numbers]
    if labels is not None:
      header.insert(1 if 'cluster' in codes else 0, 'label')
    table = np.concatenate([values.astype(np.float64) for _, values in numbers], axis=1)
    integer = [name == 'cluster' for name, _ in numbers]
    with open(partial, 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(header)
      for i, row in enumerate(table):
        cells = [int(v) if is_int else repr(float(v)) for v, is_int in zip(row, integer)]
        if labels is not None:
          cells.insert(1 if 'cluster' in codes else 0, str(label_names[i]))
        writer.writerow(cells)
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
    loaded = inference.load_model(FLAGS.workdir)
    examples = read_examples(FLAGS.data, loaded.config)
    x = examples.x
    if examples.feature_names and loaded.feature_names:
      x = tables.align_columns(x, examples.feature_names, loaded.feature_names, FLAGS.data)
    codes = loaded.codes(x, FLAGS.batch_size)
    labels, label_names = run_labels(examples, loaded.class_names, FLAGS.data)
  except (checkpoints.CheckpointError, settings.DataError, ValueError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)
  write_codes(FLAGS.output, codes, labels, label_names, loaded.class_names)
  print(f'{len(x)} examples encoded by {FLAGS.workdir} (epoch {loaded.epoch}): '
        f'{", ".join(f"{k} {v.shape}" for k, v in codes.items())} -> {FLAGS.output}')
