"""What icvae's registries share (model families, networks, evaluators): entries by name in
registration order, and the modules that installed packages list under an entry-point group,
imported once, when the registry is first read.
"""

import importlib
from importlib import metadata


class Registry:
  """Named entries in registration order, with plug-ins from `entry_point_group`.

  Attributes:
    kind: what an entry is, for messages ('network', 'evaluator', ...).
    entry_point_group: the group whose modules `load_plugins` imports.
  """

  def __init__(self, kind, entry_point_group):
    self.kind = kind
    self.entry_point_group = entry_point_group
    self._entries = {}
    self._plugins_loaded = False

  def add(self, name, entry, replace=False):
    """Adds `entry` as `name` and returns it; ValueError if the name is taken, unless
    `replace`."""
    if name in self._entries and not replace:
      article = 'an' if self.kind[0] in 'aeiou' else 'a'
      raise ValueError(f'{article} {self.kind} called {name!r} is already registered; choose '
                       'another name (or unregister it first).')
    self._entries[name] = entry
    return entry

  def remove(self, name, missing_ok=False):
    """Removes the entry `name` (KeyError if there is none, unless `missing_ok`)."""
    if missing_ok:
      self._entries.pop(name, None)
    else:
      del self._entries[name]

  def load_plugins(self):
    """Imports the modules listed under the entry-point group (once)."""
    if self._plugins_loaded:
      return
    self._plugins_loaded = True
    for entry_point in metadata.entry_points(group=self.entry_point_group):
      importlib.import_module(entry_point.value.split(':')[0])

  def entries(self, with_plugins=True):
    """{name: entry} in registration order, with the plug-ins loaded first unless
    `with_plugins` is False (for a registration, which may run while a plug-in imports)."""
    if with_plugins:
      self.load_plugins()
    return dict(self._entries)
