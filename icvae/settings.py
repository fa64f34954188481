"""One definition per run setting: its type, default, help, and check.

A `Setting` is the single place where a knob of a run is described. The command-line flags
(`icvae.cli.common`), the validation of a configuration (`icvae.config.RunConfig`) and
the saved `config.json` are all derived from these definitions, so a setting is written
once. Model families (`icvae.objectives`) declare the settings they read; the general ones
(data, optimiser, loop) live in `icvae.config`.
"""

import dataclasses
import math
import os
import pathlib
from typing import Any, Callable, Optional


class SettingError(ValueError):
  """A setting has a bad value; the message names it as the flag (`--name=value`)."""


class DataError(Exception):
  """A data source is missing or a file is corrupt; the message says which and what to do.

  Raised by `icvae.data` (which exports it as `data.DataError`) and `icvae.dsprites`.
  """


@dataclasses.dataclass(frozen=True)
class Setting:
  """A run setting.

  Attributes:
    name: the flag and config.json key.
    default: the value when not given; its type (bool, int, float, str) is the setting's.
    help: one sentence for `--help`.
    choices: the allowed values of a str setting (empty: any).
    check: check(value) -> None or a message ending the sentence "--name=value: ..."
      (e.g. 'must be > 0.').
    resumable: may differ between a run and its resumption (num_epochs, eval sizes...).
    architecture: fixes the shapes of the saved arrays (checked by --restore_from).
    inert: a value meaning "off", accepted silently for a model that does not read the
      setting (e.g. --beta_info=0 for CatVAE); None: any explicit value is refused there.
  """
  name: str
  default: Any
  help: str
  choices: tuple = ()
  check: Optional[Callable[[Any], Optional[str]]] = None
  resumable: bool = False
  architecture: bool = False
  inert: Any = None

  @property
  def kind(self):
    return type(self.default)

  def validate(self, value):
    """Returns `value` converted to the setting's type, or raises SettingError."""
    kind = self.kind
    try:
      if kind is bool:
        if not isinstance(value, (bool, int)) or value not in (0, 1):
          raise TypeError
        value = bool(value)
      elif kind is int:
        if isinstance(value, bool) or value != int(value):
          raise TypeError
        value = int(value)
      elif kind is float:
        if isinstance(value, bool):
          raise TypeError
        value = float(value)
      elif kind is str:
        value = '' if value is None else str(value)
    except (TypeError, ValueError, OverflowError):
      raise SettingError(f'--{self.name}={value!r}: must be {_KIND_NAMES[kind]}.') from None
    if self.choices and value not in self.choices:
      raise SettingError(f'--{self.name}={value}: must be one of {", ".join(self.choices)}.')
    if self.check is not None:
      problem = self.check(value)
      if problem:
        raise SettingError(f'--{self.name}={value}: {problem}')
    return value


_KIND_NAMES = {bool: 'true or false', int: 'an integer', float: 'a number', str: 'a string'}


def positive(value):
  """Check: a finite number > 0."""
  if not math.isfinite(value) or value <= 0:
    return 'must be a finite number > 0.'
  return None


def non_negative(value):
  """Check: a finite number >= 0."""
  if not math.isfinite(value) or value < 0:
    return 'must be a finite number >= 0.'
  return None


def at_least(minimum):
  """Check: a number >= minimum."""
  def check(value):
    return None if value >= minimum else f'must be >= {minimum}.'
  return check


def fraction(value):
  """Check: in [0, 1)."""
  return None if 0 <= value < 1 else 'must be in [0, 1).'


def default_cache_dir():
  """Where icvae keeps what it can recompute (prepared datasets, VAT radii):
  $ICVAE_CACHE_DIR, default ~/.cache/icvae."""
  return pathlib.Path(os.environ.get('ICVAE_CACHE_DIR',
                                     pathlib.Path.home() / '.cache' / 'icvae'))
