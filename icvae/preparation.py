"""A dataset as a run trains on it and reports it: the examples checked by the one rule of
`icvae.examples`, a table's columns put in the order a run was trained on, the split of
--protocol, the values checked against the likelihood, and a feature table standardised.

Pure steps on a `data.Dataset`; `icvae.loop.prepare_data` runs them around what the
workdir holds (its configuration, column names and statistics).
"""

from icvae import data as data_lib
from icvae import examples as examples_lib
from icvae import files
from icvae import tables


def checked(dataset):
  """`dataset` with both splits passed through `examples.checked_examples` (NaN refused,
  integer images scaled by their type, float images in [0, 1], channels-first refused).

  Raises:
    DataError: examples the rule refuses, named.
  """
  return dataset._replace(
      train_images=examples_lib.checked_examples(dataset.train_images, 'the training examples'),
      test_images=examples_lib.checked_examples(dataset.test_images, 'the test examples'))


def with_columns(dataset, feature_names, where):
  """`dataset` with a table's columns matched by name to `feature_names` (the order a run
  was trained on); unchanged when either has no names.

  Raises:
    DataError: columns missing or not trained on, named (with `where`).
  """
  expected = tuple(feature_names)
  if not expected or not dataset.feature_names:
    return dataset
  return dataset._replace(
      train_images=tables.align_columns(dataset.train_images, dataset.feature_names,
                                        expected, where),
      test_images=tables.align_columns(dataset.test_images, dataset.feature_names, expected,
                                       where),
      feature_names=expected)


def split_and_check(dataset, protocol, name, likelihood):
  """`dataset` split as --protocol says (`data.with_protocol`), with every example's values
  checked against `likelihood` (`examples.check_likelihood_range`).

  Raises:
    DataError: values the likelihood cannot model (e.g. outside [0, 1] for a Bernoulli).
  """
  dataset = data_lib.with_protocol(dataset, protocol, name)
  for split, images in (('training', dataset.train_images), ('test', dataset.test_images)):
    examples_lib.check_likelihood_range(images, likelihood, f'the {split} examples')
  return dataset


def standardized(dataset, statistics=None):
  """(`dataset` standardised per feature, the statistics used): `statistics` ({'mean',
  'std'}, a run's saved ones) or, when None, those of the training split
  (`files.statistics`).

  Raises:
    DataError: statistics of another number of features.
  """
  statistics = statistics or files.statistics(dataset.train_images)
  return dataset._replace(
      train_images=files.standardize(dataset.train_images, statistics),
      test_images=files.standardize(dataset.test_images, statistics)), statistics
