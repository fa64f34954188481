"""The evaluator interface and registry (`icvae.evaluators` describes them; the evaluator
modules import this one, and the package re-exports it, so the package imports them without
a cycle)."""

import dataclasses
import pathlib
import sys
import zlib
from typing import Any, Callable, Iterable, NamedTuple, Optional

import jax
import numpy as np

from icvae import plugins

ENTRY_POINT_GROUP = 'icvae.evaluators'
# The keys the built-in evaluators draw from, split from the evaluation seed in this order
# (so that their numbers do not depend on which other evaluators run).
KEY_NAMES = ('test', 'info', 'iwae', 'generate', 'figures', 'mig')


class Context(NamedTuple):
  """What an evaluator reads.

  Attributes:
    workdir: the run's folder (`pathlib.Path`); `out` its eval/ folder, where figures go.
    loaded: the run as `icvae.inference.LoadedModel` (model, config, epoch, objective,
      graphdef, state, ...).
    dataset: the run's `data.Dataset` as prepared for it (`icvae.loop.prepare_data`).
    train_images: the training images as the networks read them (numpy; move chunks to the
      device).
    test_images: the test images as the networks read them (a float device array).
    options: `icvae.report.EvalOptions` (the sizes of the evaluation).
    keys: {name: PRNG key} for `KEY_NAMES`; `key(name)` gives one for any name.
  """
  workdir: pathlib.Path
  out: pathlib.Path
  loaded: Any
  dataset: Any
  train_images: Any
  test_images: Any
  options: Any
  keys: dict

  @property
  def config(self):
    return self.loaded.config

  @property
  def model(self):
    return self.loaded.model

  @property
  def objective(self):
    return self.loaded.objective

  @property
  def sections(self):
    """The report sections the run's model family lists (`ModelFamily.report_sections`)."""
    return self.loaded.config.family.report_sections

  def key(self, name):
    """The PRNG key of `name`: one of `KEY_NAMES`, or a key folded from the name's CRC32."""
    if name in self.keys:
      return self.keys[name]
    return jax.random.fold_in(self.keys['test'], zlib.crc32(name.encode()))


@dataclasses.dataclass(frozen=True)
class Evaluator:
  """A stage of the evaluation report.

  Attributes:
    name: the stage's name, as logged ('evaluation 2/5: codes ...').
    run: context -> iterable of (report key, JSON-able value).
    applies: context -> bool; may raise `SettingError` for an option that cannot work.
    epoch_scalars: optional (test terms {name: float}, test clusters (N,) ints or None,
      dataset, number of clusters) -> {'test/<name>': float}, logged at every evaluation
      during training.
    sections: the `ModelFamily.report_sections` it computes (documentation, and the test that
      every section has an evaluator).
    draws: True for figures: run after every number is written, and not in 'seconds'.
  """
  name: str
  run: Callable[[Context], Iterable[tuple[str, Any]]]
  applies: Callable[[Context], bool] = lambda context: True
  epoch_scalars: Optional[Callable[..., dict]] = None
  sections: tuple = ()
  draws: bool = False


_EVALUATORS = plugins.Registry('evaluator', ENTRY_POINT_GROUP)


def register(evaluator):
  """Adds `evaluator` after those registered; ValueError if its name is taken."""
  if not isinstance(evaluator, Evaluator):
    raise TypeError(f'register takes an icvae.evaluators.Evaluator, got {type(evaluator)}.')
  _EVALUATORS.add(evaluator.name, evaluator)


def unregister(name):
  """Removes the evaluator called `name` (KeyError if none)."""
  _EVALUATORS.remove(name)


def load_plugins():
  """Imports the modules listed under the 'icvae.evaluators' entry points (once)."""
  _EVALUATORS.load_plugins()


def registered():
  """The registered evaluators, in registration order (the built-in ones first)."""
  return list(_EVALUATORS.entries().values())


def epoch_scalars(terms, clusters, dataset, num_clusters):
  """The test/* scalars of one evaluation during training: those of every registered
  evaluator that has `epoch_scalars` (`test_set`: the objective's terms and the clustering
  accuracy)."""
  scalars = {}
  for evaluator in registered():
    if evaluator.epoch_scalars is not None:
      scalars.update(evaluator.epoch_scalars(terms, clusters, dataset, num_clusters))
  return scalars


# The 'clustering' and 'parzen' sections score at most this many training images.
TRAIN_EXAMPLES_SCORED = 60000


def train_rows(count):
  """The training images the 'clustering' and 'parzen' sections use: all when there are at
  most `TRAIN_EXAMPLES_SCORED` (MNIST, Fashion-MNIST), else that many drawn once with seed 0
  (dSprites, whose grid the 'disentanglement' section scores). These are the dataset's
  training images, whatever --train_examples the run trained on."""
  if count <= TRAIN_EXAMPLES_SCORED:
    return np.arange(count)
  return np.sort(np.random.default_rng(0).choice(count, TRAIN_EXAMPLES_SCORED,
                                                 replace=False))


def progress_bar(total, description):
  """A tqdm bar on stderr (off when stderr is not a terminal) for a long stage."""
  from tqdm import tqdm
  return tqdm(total=total, desc=description, disable=not sys.stderr.isatty(), leave=False,
              dynamic_ncols=True, file=sys.stderr)
