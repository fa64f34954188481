"""The model family's figures (`ModelFamily.figures`: a function of `icvae.figures` or
'package.module:function'), drawn for image data, and the training curves of metrics.jsonl,
as PNG files in the run's eval/ folder ('figures': {figure name: file name})."""

import importlib
import logging

from icvae import checkpoints
from icvae import data as data_lib
from icvae import figures
from icvae.evaluators import base

log = logging.getLogger('icvae')


def figure_function(family):
  """The function `ModelFamily.figures` names (a function of `icvae.figures`, or
  'module:function'), or None.

  Raises:
    checkpoints.CheckpointError: no such function, naming the family and the name.
  """
  name = family.figures
  if name is None:
    return None
  try:
    if ':' in name:
      module, function = name.split(':')
      return getattr(importlib.import_module(module), function)
    return getattr(figures, name)
  except (ImportError, AttributeError, ValueError) as e:
    raise checkpoints.CheckpointError(
        f'model {family.name!r} names the figures {name!r}, which cannot be found ({e}): '
        'give a function of icvae.figures or \'package.module:function\'.') from e


def _applies(context):
  figure_function(context.config.family)  # a missing function fails now, not after minutes
  return True


def run(context):
  config, out = context.config, context.out
  figure_fn = figure_function(config.family)
  names = {}
  if figure_fn is not None and data_lib.is_image_shape(config.image_shape):
    names = dict(figure_fn(out, context.model, config, context.dataset, context.key('figures')))
  elif figure_fn is not None:
    log.info('%s: feature vectors, not images: no image figures', context.workdir)
  yield 'figures', figures.write_training_curves(out, context.workdir, names)


base.register(base.Evaluator('figures', run, applies=_applies, draws=True))
