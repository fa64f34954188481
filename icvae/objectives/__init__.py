"""Objectives as plug-ins: the interface every model family trains through, and the registry.

An **objective** is a frozen dataclass whose fields are its weights and static choices
(hashable, so it is a static part of the jitted step). Its methods are pure functions:

- `loss(networks, batch, key, step)` -> (scalar to minimise, dict of named scalar terms),
  in training mode (dropout on, keys drawn from `key`); `step` is the optimiser step, for
  schedules;
- `evaluate(networks, batch, key)` -> dict of named terms in evaluation mode (no dropout;
  `key` drives only Monte Carlo draws);
- `cluster_logits(networks, batch)` -> (B, K) logits of the categorical code, or None for a
  model without one;
- `training_data(images)` -> what the training loop batches: the (N, *event) images
  themselves (default), or a dict of per-example arrays with N rows (e.g. IMSAT's
  per-example VAT radius), whose batches `loss` then receives as the same dict;
- `parameter_groups()` -> None (one optimiser for every parameter) or a dict
  {group name: predicate(path) -> bool} over the parameters' paths: the loop then gives each
  group its own optimiser (`icvae.train.make_optimizer`), as the AAE's two players have.

`networks` is the model as an `nnx.Module` (rebuilt inside the jitted step); an objective
may call any method its family's networks have.

A **model family** (`ModelFamily`) ties a name (the `--model` flag) to the settings it reads,
the networks it builds and the objective it trains, and lists the evaluation report's
sections that apply to it. Built-in families register themselves here; another package
registers its own with `register(ModelFamily(...))`, or lists a module under the
`icvae.models` entry-point group so that the binaries import it before parsing flags.
Adding a model is one module: its objective, its `ModelFamily`, one `register` call.
"""

import dataclasses
import importlib
from importlib import metadata
from typing import Any, Callable, Optional

from icvae import settings as settings_lib

ENTRY_POINT_GROUP = 'icvae.models'

# Sections of the evaluation report (`icvae.report`), by what the networks can do:
# 'clustering' needs `classify(x)`; 'codes' (I(x;y) and, when `encode(x)` gives a
# `losses.JointPosterior`, I(x;z_k) and TC(z)) needs `classify(x)`; 'information' and 'iwae' need the CategoricalVAE calls
# (`encode`, `decode`, `classify`, `prior_means`); 'reconstruction' needs `encode` and
# `decode`; 'parzen' needs `decode` and `prior_means`; 'disentanglement' (on datasets with
# known factors) needs `encode(x)` giving a `losses.JointPosterior`.
REPORT_SECTIONS = ('clustering', 'codes', 'information', 'iwae', 'reconstruction', 'parzen',
                   'disentanglement')


class Objective:
  """Base class of objectives; subclasses are frozen dataclasses (see the module docstring)."""

  def loss(self, networks, batch, key, step):
    """(loss, terms) in training mode; every term a scalar batch mean."""
    raise NotImplementedError

  def evaluate(self, networks, batch, key):
    """Named scalar terms in evaluation mode (dropout off); the loop logs them as test/*."""
    raise NotImplementedError

  def cluster_logits(self, networks, batch):
    """(B, K) logits of the categorical code, or None (default) when there is none."""
    del networks, batch
    return None

  def parameter_groups(self):
    """None: one optimiser for all parameters; or {group: predicate(path tuple) -> bool}."""
    return None

  def training_data(self, images):
    """What the loop batches for `loss`: `images` (default) or a dict of (N, ...) arrays."""
    return images


@dataclasses.dataclass(frozen=True)
class ModelFamily:
  """What `--model=name` means.

  Attributes:
    name: the `--model` value.
    description: one line for `--help`.
    settings: the `Setting`s this family reads beyond the general ones of `icvae.config`.
    build_networks: build_networks(config) -> nnx.Module, initialised from config.seed.
    build_objective: build_objective(config) -> Objective.
    validate: validate(values) -> values, for checks across settings (raise
      `settings.SettingError` naming the flag) and normalisation; values is a dict.
    report_sections: the sections of the evaluation report that apply (REPORT_SECTIONS).
    figures: the family's PNG figures: the name of a function of `icvae.figures`, or
      'package.module:function' for a plug-in's own; the function is
      figures(out_dir, networks, config, dataset, key) -> {figure name: file name}. None:
      none.
    networks: the general network architectures it supports (`--network`).
  """
  name: str
  description: str
  settings: tuple
  build_networks: Callable[[Any], Any]
  build_objective: Callable[[Any], Objective]
  validate: Optional[Callable[[dict], dict]] = None
  report_sections: tuple = ()
  figures: Optional[str] = None
  networks: tuple = ('mlp',)

  def __post_init__(self):
    unknown = set(self.report_sections) - set(REPORT_SECTIONS)
    if unknown:
      raise ValueError(f'{self.name}: unknown report sections {sorted(unknown)}; choose '
                       f'from {REPORT_SECTIONS}.')
    for setting in self.settings:
      if not isinstance(setting, settings_lib.Setting):
        raise TypeError(f'{self.name}: settings must be icvae.settings.Setting, got '
                        f'{setting!r}.')


_FAMILIES = {}
_entry_points_loaded = False


def register(family):
  """Adds `family` to the registry (replacing one of the same name); returns it.

  A setting name shared with another family must be the same `Setting` (one definition).
  """
  for other in _FAMILIES.values():
    if other.name == family.name:
      continue
    theirs = {s.name: s for s in other.settings}
    for setting in family.settings:
      if setting.name in theirs and theirs[setting.name] != setting:
        raise ValueError(f'model {family.name!r} defines setting {setting.name!r} '
                         f'differently from model {other.name!r}: share one Setting.')
  _FAMILIES[family.name] = family
  return family


def unregister(name):
  """Removes the family called `name` from the registry (no error if absent)."""
  _FAMILIES.pop(name, None)


def load_plugins():
  """Imports the modules listed under the `icvae.models` entry points (once)."""
  global _entry_points_loaded
  if _entry_points_loaded:
    return
  _entry_points_loaded = True
  for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
    importlib.import_module(entry_point.value.split(':')[0])


def get(name):
  """The registered `ModelFamily` called `name`; ValueError listing the known ones."""
  load_plugins()
  if name not in _FAMILIES:
    raise settings_lib.SettingError(
        f'--model={name}: unknown model; registered models are '
        f'{", ".join(sorted(_FAMILIES))}. A plug-in registers itself when its module is '
        f'imported, or when it is listed under the {ENTRY_POINT_GROUP!r} entry points.')
  return _FAMILIES[name]


def names():
  """Names of every registered family, sorted."""
  load_plugins()
  return sorted(_FAMILIES)


def families():
  """Every registered family, by name."""
  load_plugins()
  return dict(_FAMILIES)


# The built-in families register themselves on import.
from icvae.objectives import aae  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import beta_vae  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import catvae  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import imae  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import imsat  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import info_vae  # pylint: disable=g-import-not-at-top,wrong-import-position
from icvae.objectives import joint_vae  # pylint: disable=g-import-not-at-top,wrong-import-position
