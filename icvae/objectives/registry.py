"""The interface every model family trains through (`Objective`, `ModelFamily`) and the
registry of families (`register`, `get`, ...): the package docstring of
`icvae.objectives` describes them. Family modules import this module, and
`icvae.objectives` re-exports it, so the package imports the families without a cycle.
"""

import dataclasses
from typing import Any, Callable, Optional

import jax

from icvae import plugins
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
  """Base class of objectives; subclasses are frozen dataclasses (see the module docstring).

  `SETTINGS` (a class attribute, not a field) holds the `Setting`s of the objective's fields,
  matched by name; `check_fields` validates each field by its Setting, the same check the
  command line and `RunConfig` apply, so an objective built directly in Python is held to the
  same rules.
  """

  SETTINGS = ()

  def check_fields(self):
    """Validates each field that has a Setting of its name in `SETTINGS`.

    Skips None (a field's "not set") and traced values (a `jax.Array`: a sweep's per-run
    values, checked per run by `RunConfig`).

    Raises:
      SettingError: '--<name>=<value>: <the Setting's rule>'.
    """
    by_name = {setting.name: setting for setting in self.SETTINGS}
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if field.name in by_name and value is not None and not isinstance(value, jax.Array):
        by_name[field.name].validate(value)

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

  def continuous_code(self, networks, batch):
    """(mean, logvar), each (B, D), of the continuous code in evaluation mode (a
    categorical-conditional one: its most probable category's), or None (default) when
    there is none; `LoadedModel.codes` gives them as z_mean and z_logvar."""
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
    networks: the `--network` names it supports, for a family that builds its networks
      itself; None: any registered network that builds `network_style`.
    network_style: the trunk style (`icvae.networks.STYLES`) the family asks of
      `--network` (`icvae.networks.compose`); None: it builds its own networks.
  """
  name: str
  description: str
  settings: tuple
  build_networks: Callable[[Any], Any]
  build_objective: Callable[[Any], Objective]
  validate: Optional[Callable[[dict], dict]] = None
  report_sections: tuple = ()
  figures: Optional[str] = None
  networks: Optional[tuple] = ('mlp',)
  network_style: Optional[str] = None

  def __post_init__(self):
    unknown = set(self.report_sections) - set(REPORT_SECTIONS)
    if unknown:
      raise ValueError(f'{self.name}: unknown report sections {sorted(unknown)}; choose '
                       f'from {REPORT_SECTIONS}.')
    for setting in self.settings:
      if not isinstance(setting, settings_lib.Setting):
        raise TypeError(f'{self.name}: settings must be icvae.settings.Setting, got '
                        f'{setting!r}.')


_FAMILIES = plugins.Registry('model', ENTRY_POINT_GROUP)


def register(family):
  """Adds `family` to the registry (replacing one of the same name); returns it.

  A setting name shared with another family must be the same `Setting` (one definition).
  """
  for other in _FAMILIES.entries(with_plugins=False).values():
    if other.name == family.name:
      continue
    theirs = {s.name: s for s in other.settings}
    for setting in family.settings:
      if setting.name in theirs and theirs[setting.name] != setting:
        raise ValueError(f'model {family.name!r} defines setting {setting.name!r} '
                         f'differently from model {other.name!r}: share one Setting.')
  return _FAMILIES.add(family.name, family, replace=True)


def unregister(name):
  """Removes the family called `name` from the registry (no error if absent)."""
  _FAMILIES.remove(name, missing_ok=True)


def load_plugins():
  """Imports the modules listed under the `icvae.models` entry points (once)."""
  _FAMILIES.load_plugins()


def get(name):
  """The registered `ModelFamily` called `name`; ValueError listing the known ones."""
  families = _FAMILIES.entries()
  if name not in families:
    raise settings_lib.SettingError(
        f'--model={name}: unknown model; registered models are '
        f'{", ".join(sorted(families))}. A plug-in registers itself when its module is '
        f'imported, or when it is listed under the {ENTRY_POINT_GROUP!r} entry points.')
  return families[name]


def names():
  """Names of every registered family, sorted."""
  return sorted(_FAMILIES.entries())


def families():
  """Every registered family, by name."""
  return _FAMILIES.entries()
