"""The flagfiles that ship with icvae, by name: `--config=mnist_imae`.

Every run the papers' numbers come from is a flagfile in `icvae/cli/flags/` (in a checkout
also reachable as `experiments/flags/`, a link to that folder), installed with the wheel as
package data. A flagfile's first line is a comment that says what it trains in one line;
`icvae list-configs` prints those lines.

`resolve_argv` rewrites a command line before absl reads it:
- `--config=NAME` (or `--config NAME`) becomes `--flagfile=<the shipped NAME.flags>`;
- `--flagfile=X` where X is not a file but names a shipped flagfile (with or without
  `.flags`) becomes that file; a path that exists is left alone, so a flagfile of your own
  (or `experiments/flags/mnist_imae.flags` from a checkout) works as before.
An unknown name raises `ConfigError` listing the names that are.
"""

import difflib
import importlib.resources
import pathlib

SUFFIX = '.flags'


class ConfigError(ValueError):
  """A --config or --flagfile name that is neither a file nor a shipped flagfile."""


def folder():
  """The folder of the shipped flagfiles (a real path: they are plain files in the package)."""
  return pathlib.Path(str(importlib.resources.files('icvae.cli') / 'flags'))


def names():
  """The shipped flagfiles' names, sorted (`mnist_imae`, ...)."""
  return sorted(p.name[:-len(SUFFIX)] for p in folder().glob(f'*{SUFFIX}'))


def path(name):
  """The path of the shipped flagfile `name` (with or without `.flags`); ConfigError if
  there is none, naming the closest ones."""
  stem = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else name
  candidate = folder() / f'{stem}{SUFFIX}'
  if '/' not in stem and candidate.is_file():
    return candidate
  close = difflib.get_close_matches(stem, names(), n=3)
  hint = f' Did you mean {", ".join(close)}?' if close else ''
  raise ConfigError(f'no shipped config named {name!r} (and no such file).{hint} '
                    '`icvae list-configs` lists them.')


def description(name):
  """The first line of the shipped flagfile `name`, without its '#'."""
  with open(path(name), encoding='utf-8') as f:
    first = f.readline().strip()
  return first.lstrip('#').strip() if first.startswith('#') else ''


def resolve_argv(argv):
  """`argv` with --config=NAME and by-name --flagfile=NAME replaced by the shipped files."""
  out = [argv[0]]
  args = iter(argv[1:])
  for arg in args:
    if arg == '--':  # absl stops reading flags here; so do we
      out.append(arg)
      out.extend(args)
      break
    for flag in ('--config', '--flagfile'):
      if arg == flag:  # the value is the next argument
        value = next(args, None)
        if value is None:
          raise ConfigError(f'{flag} needs a value: a shipped config name or a flagfile path.')
        arg = f'{flag}={value}'
      if arg.startswith(f'{flag}='):
        value = arg[len(flag) + 1:]
        if flag == '--flagfile' and pathlib.Path(value).exists():
          break
        arg = f'--flagfile={path(value)}'
        break
    out.append(arg)
  return out
