"""Sweeps: many runs of one model, differing in seed and numeric settings, as one program.

A sweep is a list of `RunConfig`s, each with its own workdir, that differ only in `seed`,
`learning_rate` and numeric settings of the model family that its objective uses in
arithmetic alone (`beta`, `gamma`, `vat_weight`, ...). `icvae.loop.train_sweep` trains
them as one jitted program: the networks' structure is shared, and the per-run parameters,
optimiser states, keys and swept values are stacked along a leading axis of runs that
`jax.vmap` maps over (and that is split over the devices when there are several). Every
run writes its workdir as a single run would, so each can be resumed, evaluated, compared
or loaded on its own.

This module holds what describes a sweep: parsing `name:v1,v2,...`, expanding a base
configuration into runs (`expand`), checking that the runs can share one program
(`check`), and `parts`, which rebuilds a run's optimiser and objective from its traced
swept values inside the vmapped step.
"""

import dataclasses
import itertools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from icvae import checkpoints
from icvae import config as config_lib
from icvae import settings as settings_lib
from icvae import train
from icvae.settings import SettingError

# General settings a sweep may vary; the model family's numeric settings are checked by
# tracing (see `check`).
SWEEPABLE_GENERAL = ('seed', 'learning_rate')


@dataclasses.dataclass(frozen=True)
class Axis:
  """One swept setting and its values, e.g. Axis('beta', (1.0, 10.0, 30.0)).

  `tied` holds settings that move with it, value for value (IMAE Figure 5 sweeps gamma with
  beta = gamma / 2: Axis('gamma', (2, 4), tied=(Axis('beta', (1, 2)),))).
  """
  name: str
  values: tuple
  tied: tuple = ()

  @property
  def names(self):
    """The swept setting and those tied to it."""
    return (self.name,) + tuple(t.name for t in self.tied)

  def rows(self):
    """[(value of each of `names`), ...], one tuple per point of the axis."""
    columns = [self.values] + [t.values for t in self.tied]
    if len({len(c) for c in columns}) != 1:
      raise SettingError(f'--sweep={",".join(self.names)}:...: each tied setting needs one '
                         'value per point.')
    return list(zip(*columns))


def parse_axis(spec):
  """'name:v1,v2,...' -> Axis; 'a,b:a1:b1,a2:b2,...' -> Axis('a', ..., tied=(Axis('b', ...),))
  (values as written; `expand` converts and checks them).

  Raises:
    SettingError: not of that form, a point without a value for each tied setting, or a
      value given twice.
  """
  names, colon, listed = spec.partition(':')
  names = [n.strip().lstrip('-') for n in names.split(',')]
  points = [tuple(v.strip() for v in p.split(':')) for p in listed.split(',') if p.strip()]
  if not colon or not all(names) or not points:
    raise SettingError(f'--sweep={spec}: write it as name:value,value,... (e.g. '
                       '--sweep=beta:1,10,30), or tie settings as name,name:value:value,... '
                       '(e.g. --sweep=gamma,beta:2:1,4:2).')
  if any(len(p) != len(names) or not all(p) for p in points):
    raise SettingError(f'--sweep={spec}: each point needs {len(names)} values separated by '
                       f'":" (one for each of {", ".join(names)}).')
  if len(set(points)) != len(points):
    raise SettingError(f'--sweep={spec}: a value is listed twice; list each once.')
  columns = list(zip(*points))
  return Axis(names[0], columns[0], tuple(Axis(n, c) for n, c in zip(names[1:], columns[1:])))


def _label(value):
  return f'{value:g}' if isinstance(value, float) else str(value)


def expand(config, seeds=(), axes=()):
  """The runs of a sweep: `config` with every combination of `axes` values and `seeds`.

  Each run's workdir is `config.workdir/<name>=<value>/.../seed=<seed>` (the axes in the
  order given, then the seed; the seed level only when `seeds` are given; a tied axis is one
  level, `<name>=<value>,<name>=<value>`).

  Args:
    config: the base `RunConfig`; its workdir holds the runs.
    seeds: the seeds (default: the config's one seed).
    axes: `Axis`es, or 'name:v1,v2' / 'name,name:v1:w1,v2:w2' strings.

  Returns:
    A list of `RunConfig`s, each checked as a single run would be.

  Raises:
    SettingError: a duplicate seed, a setting swept twice, `seed` given as an axis, a value
      invalid for the model (naming the flag), or a setting that cannot be swept.
  """
  axes = [parse_axis(a) if isinstance(a, str) else a for a in axes]
  seeds = [_seed(s) for s in seeds]
  if len(set(seeds)) != len(seeds):
    raise SettingError(f'--seeds={",".join(map(str, seeds))}: a seed is listed twice; list '
                       'each once.')
  names = [name for a in axes for name in a.names]
  if len(set(names)) != len(names):
    raise SettingError(f'--sweep: {sorted({n for n in names if names.count(n) > 1})} swept '
                       'twice; give each setting one --sweep with all its values.')
  if 'seed' in names:
    raise SettingError('--sweep=seed:...: use --seeds=0,1,2 for seeds.')
  own = config_lib.settings_of(config.model)
  for name in names:
    _check_sweepable_kind(name, own, config.model)
  points = [[{n: own[n].validate(_number(n, v)) for n, v in zip(a.names, row)}
             for row in a.rows()] for a in axes]
  base = pathlib.Path(config.workdir)
  runs = []
  for combination in itertools.product(*points, *([seeds] if seeds else [])):
    changes, parts = {}, []
    for point in combination[:len(points)]:
      changes.update(point)
      parts.append(','.join(f'{name}={_label(value)}' for name, value in point.items()))
    if seeds:
      changes['seed'] = combination[-1]
      parts.append(f'seed={combination[-1]}')
    changes['workdir'] = str(base.joinpath(*parts))
    runs.append(config.replace(**changes))
  return runs


def _seed(value):
  try:
    return settings_lib.Setting('seeds', 0, '').validate(
        int(value) if isinstance(value, str) else value)
  except ValueError:
    raise SettingError(f'--seeds=...,{value},...: seeds are integers (e.g. --seeds=0,1,2).'
                       ) from None


def _number(name, text):
  if not isinstance(text, str):
    return text
  try:
    return int(text)
  except ValueError:
    pass
  try:
    return float(text)
  except ValueError:
    raise SettingError(f'--sweep={name}:...,{text},...: {text!r} is not a number.') from None


def _check_sweepable_kind(name, own, model):
  if name not in own:
    raise SettingError(f'--sweep={name}:...: --model={model} has no setting {name!r}.')
  setting = own[name]
  general = {s.name for s in config_lib.GENERAL_SETTINGS}
  if (setting.kind not in (int, float) or setting.architecture
      or (name in general and name not in SWEEPABLE_GENERAL)):
    why = ('it fixes the shapes of the networks' if setting.architecture else
           'it is not a number' if setting.kind not in (int, float) else
           'it changes the data, the loop or the networks\' structure')
    raise SettingError(f'--sweep={name}:...: {name} cannot be swept ({why}); start one '
                       'process per value instead.')


def swept_names(configs):
  """Names of the settings (other than workdir) whose values differ between `configs`."""
  first = configs[0].to_dict()
  return sorted(name for name in first if name != 'workdir'
                and any(c.to_dict()[name] != first[name] for c in configs[1:]))


class _Overrides:
  """A view of a RunConfig with some settings replaced (by traced values)."""

  def __init__(self, config, values):
    self._config = config
    self._values = values

  def __getattr__(self, name):
    if name in self._values:
      return self._values[name]
    return getattr(self._config, name)

  def get(self, name, default=None):
    if name in self._values:
      return self._values[name]
    return self._config.get(name, default)


def parts(config, values, steps_per_epoch=None):
  """(optimizer, objective) of a run of `config` with `values` ({name: scalar}, traced
  inside the vmapped step) in place of those settings (`train.make_sweep_epoch`);
  `steps_per_epoch` as `checkpoints.new_state`'s."""
  overridden = _Overrides(config, values)
  objective = config.family.build_objective(overridden)
  learning_rate = values.get('learning_rate', config.learning_rate)
  return (train.make_optimizer(objective, learning_rate,
                               **config.optimizer_options(steps_per_epoch)), objective)


def values_of(configs, names):
  """{name: (R,) array of the runs' values} of the swept settings except the seed."""
  return {name: np.asarray([c.get(name) for c in configs],
                           np.float32 if isinstance(configs[0].get(name), float) else np.int32)
          for name in names if name != 'seed'}


def check(configs, data):
  """Checks that `configs` can train as one sweep program; raises SettingError if not.

  They must be at least one, have distinct workdirs, differ only in `seed`,
  `learning_rate` and numeric settings of the model family, and their objectives must use
  the swept values in arithmetic alone: one epoch is traced shape-only (nothing runs) with
  each swept value traced, so Python control flow on a swept value, or its use as a size,
  is refused naming the setting. `data` is the first run's training data
  (`objective.training_data` of the images as the networks read them); only its shapes and
  dtypes are used.
  """
  if not configs:
    raise SettingError('a sweep needs at least one run.')
  workdirs = [c.workdir for c in configs]
  if len(set(workdirs)) != len(workdirs):
    raise SettingError(f'two runs of the sweep share a workdir ({workdirs}); give each run '
                       'its own.')
  if any(c.model != configs[0].model for c in configs):
    raise SettingError('--sweep: every run must be of one --model; run one sweep per model.')
  own = config_lib.settings_of(configs[0].model)
  names = swept_names(configs)
  for name in names:
    _check_sweepable_kind(name, own, configs[0].model)
  graphdef, state, _ = checkpoints.new_state(configs[0])
  for name in [n for n in names if n != 'seed'] or [None]:
    _trace_epoch(configs[0], graphdef, state, data, [name] if name else [])


def initial_states(configs):
  """(graphdef, states): each run's fresh `TrainState` (initialised from its seed), stacked
  along a leading axis of runs; SettingError if a swept setting changes the networks'
  structure."""
  graphdef = None
  states = []
  for config in configs:
    run_graphdef, state, _ = checkpoints.new_state(config)
    if graphdef is None:
      graphdef = run_graphdef
    elif run_graphdef != graphdef:
      raise SettingError(f'{config.workdir}: its networks differ in structure from '
                         f'{configs[0].workdir}\'s, so they cannot share one program; sweep '
                         'only settings that leave the networks as they are.')
    states.append(state)
  return graphdef, stack(states)


def stack(trees):
  """The trees' arrays stacked along a new leading axis (one entry per run)."""
  return jax.tree.map(lambda *leaves: np.stack([np.asarray(l) for l in leaves]), *trees)


def unstack(tree, index):
  """Run `index`'s slice of a stacked tree."""
  return jax.tree.map(lambda a: a[index], tree)


def _trace_epoch(config, graphdef, state, data, names):
  """Traces one vmapped epoch shape-only with `names` as traced values."""
  values = {n: jax.ShapeDtypeStruct((1,), jnp.float32 if isinstance(config.get(n), float)
                                    else jnp.int32) for n in names}
  data = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), data)
  stacked = jax.tree.map(lambda a: jax.ShapeDtypeStruct((1, *a.shape), a.dtype), state)
  keys = jax.eval_shape(lambda: jax.random.split(jax.random.key(0), 1))
  epoch = train.make_sweep_epoch(graphdef, lambda v: parts(config, v), config.batch_size,
                                 jax.tree.map(lambda _: None, data))
  try:
    jax.eval_shape(epoch, stacked, data, keys, jax.ShapeDtypeStruct((), jnp.int32), values)
  except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
          jax.errors.TracerArrayConversionError) as e:
    name = names[0] if names else '?'
    raise SettingError(f'--sweep={name}:...: --model={config.model} uses {name} in Python '
                       'control flow or as a size, so runs with different values cannot '
                       f'share one program; start one process per value instead '
                       f'({type(e).__name__}).') from None
