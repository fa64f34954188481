"""The networks a run may ask for (`--network`): a registry of `Network`s, each building the
parts the model families compose (an encoder trunk, and a decoder where it has one), and
saying what data it reads and how.

A family asks a network for a trunk of a *style* (`STYLES`) with a `Request` (the example
shape, widths, dropout, input scaling, initialisation); it adds its own heads (categorical,
Gaussian, the block prior) on the trunk's `features`, and takes the network's decoder, or the
family's own MLP decoder when the network has none. So every family trains on every network
that builds its style, and a pairing that cannot (the GRU for IMAE's batch-normalised trunk,
a GRU on a table) is refused by `icvae.config.RunConfig` before anything is written.

Your own network is a `Network` registered from your code (`register`), or, on the command
line, `--network=package.module:attribute`, where the attribute is a `Network` or a trunk
builder `build(request, rngs) -> nnx.Module`: that module is imported as your own code (as
Python imports any module: it runs), when the configuration is checked.

The interface the families call (`Trunk`, `Decoder`) is below, with its shapes.
"""

import dataclasses
import importlib
from typing import Any, Callable, Optional, Protocol

from icvae import plugins

ENTRY_POINT_GROUP = 'icvae.networks'

# What a family asks of a trunk. The families: CatVAE / InfoCatVAE 'dropout' (Table 2's
# MLP); IMAE, its peers and IMSAT 'batch_norm' (IMAE Table 1, IMSAT), and 'plain' for
# dSprites's IMAE Table 2 where the network has it ('batch_norm' otherwise).
STYLES = {
    'dropout': 'dropout on the hidden layers, no batch norm (InfoCatVAE Table 2)',
    'batch_norm': 'batch norm after every hidden layer, running averages for evaluation '
                  '(IMAE Table 1, IMSAT)',
    'plain': 'hidden layers with ReLU only (IMAE Table 2, dSprites)',
}
# What data a network reads: 'table' feature vectors (N, features), 'image' (N, rows,
# columns[, channels]).
DATA_KINDS = ('table', 'image')
# How the loop hands examples to the networks (`RunConfig.view`): 'flat' (N, prod(shape)),
# 'sequence' (N, rows, columns * channels): image rows as time steps.
VIEWS = ('flat', 'sequence')


@dataclasses.dataclass(frozen=True)
class Request:
  """What a family asks a network for; a builder reads the fields it honours.

  Attributes:
    shape: one example as the data hold it: (features,) or (rows, columns[, channels]).
    style: a key of `STYLES`.
    widths: the hidden widths the family's settings give (--hidden_features, twice for
      IMAE's Table 1 trunk).
    dropout_rate: of the 'dropout' style (--dropout_rate).
    compute_dtype: 'float32' or 'bfloat16' (--compute_dtype, the MLP's matmuls).
    input_scaling: a key of `icvae.networks.INPUT_SCALINGS` (--input_scaling).
    initialization: a key of `icvae.networks.INITIALIZATIONS` (--initialization).
    code_size: a decoder's input size (the code's: K * delta, or K + D); 0 for a trunk.
  """
  shape: tuple
  style: str = 'dropout'
  widths: tuple = (400,)
  dropout_rate: float = 0.0
  compute_dtype: str = 'float32'
  input_scaling: str = 'unit'
  initialization: str = 'lecun'
  code_size: int = 0


class Trunk(Protocol):
  """An encoder trunk: `(B, *view) -> (B, features)` float32 features.

  Args of a call:
    x: a batch as `Network.view` gives it ((B, prod(shape)) flat, or (B, rows, columns *
      channels) sequences).
    key: a PRNG key for the trunk's randomness (dropout), or None.
    update_statistics: False for a training pass that must not update batch-norm running
      averages (VAT's perturbed pass, inside jax.grad).
    training: True in training (dropout on, batch norm on the batch's statistics), False in
      evaluation. The families always pass it; the built-in trunks take None as "a key
      means training" (`layers.is_training`), the rule before icvae 0.4.
  """
  features: int

  def __call__(self, x, key=None, update_statistics=True, *, training=False):
    ...


class Decoder(Protocol):
  """A decoder: `(..., code_size) -> (..., *shape)` float32 outputs (Bernoulli logits, or
  Gaussian means) in the view's layout, for any leading axes (all K codes of a batch decode
  in one call); `key` and `training` as `Trunk`'s."""

  def __call__(self, code, key=None, *, training=False):
    ...


@dataclasses.dataclass(frozen=True)
class Network:
  """A `--network`.

  Attributes:
    name: the `--network` value.
    description: one line for `--help`.
    trunk: trunk(request, rngs) -> a `Trunk` module.
    decoder: decoder(request, rngs) -> a `Decoder` module, or None where the family's own
      MLP decoder should be used (None as the attribute: always the family's).
    reads: the `DATA_KINDS` it takes.
    view: a key of `VIEWS`.
    styles: the `STYLES` its trunk builds (a family needing another is refused).
    dropout: whether it honours --dropout_rate and --compute_dtype (else they must stay at
      their defaults).
    likelihood: the likelihood --likelihood=auto means for it (None: the data's).
    stepwise_on: the backends on which its epochs run step by step from Python instead of
      one scanned call (`icvae.train.make_train_epoch`'s `stepwise`).
  """
  name: str
  description: str
  trunk: Callable[[Request, Any], Any]
  decoder: Optional[Callable[[Request, Any], Any]] = None
  reads: tuple = DATA_KINDS
  view: str = 'flat'
  styles: tuple = tuple(STYLES)
  dropout: bool = True
  likelihood: Optional[str] = None
  stepwise_on: tuple = ()

  def __post_init__(self):
    for field, allowed in (('reads', DATA_KINDS), ('styles', tuple(STYLES))):
      unknown = set(getattr(self, field)) - set(allowed)
      if unknown:
        raise ValueError(f'network {self.name!r}: unknown {field} {sorted(unknown)}; choose '
                         f'from {allowed}.')
    if self.view not in VIEWS:
      raise ValueError(f'network {self.name!r}: view {self.view!r}; choose from {VIEWS}.')
    if not callable(self.trunk):
      raise TypeError(f'network {self.name!r}: trunk must be callable (request, rngs) -> '
                      f'module, got {self.trunk!r}.')


_NETWORKS = plugins.Registry('network', ENTRY_POINT_GROUP)


def register(network):
  """Adds `network` (a `Network`) to the registry and returns it; ValueError if the name is
  taken."""
  if not isinstance(network, Network):
    raise TypeError(f'register takes an icvae.networks.Network, got {type(network)}.')
  return _NETWORKS.add(network.name, network)


def unregister(name):
  """Removes the network called `name` (KeyError if none)."""
  _NETWORKS.remove(name)


def load_plugins():
  """Imports the modules listed under the 'icvae.networks' entry points (once)."""
  _NETWORKS.load_plugins()


def names():
  """The registered networks' names, in registration order (built-in ones first)."""
  return list(_NETWORKS.entries())


def descriptions():
  """{name: description} of the registered networks (`--help`)."""
  return {name: network.description for name, network in _NETWORKS.entries().items()}


def get(name):
  """The `Network` called `name`: a registered one, or 'package.module:attribute' (imported:
  a `Network`, or a trunk builder wrapped as a network with no decoder of its own).

  Raises:
    ValueError: no such network, or an attribute that is neither, saying what to pass.
  """
  registered = _NETWORKS.entries()
  if name in registered:
    return registered[name]
  if ':' not in str(name):
    raise ValueError(f'unknown network {name!r}; registered: {", ".join(registered)}. Your '
                     "own: 'package.module:attribute' (a Network or a trunk builder), or "
                     'icvae.networks.register from your code.')
  module_name, _, attribute = str(name).partition(':')
  try:
    found = getattr(importlib.import_module(module_name), attribute)
  except (ImportError, AttributeError) as e:
    raise ValueError(f'network {name!r}: cannot import it ({e}); the module must be '
                     'importable (installed, or on PYTHONPATH) and define the attribute.') from e
  if isinstance(found, Network):
    return dataclasses.replace(found, name=name)
  if callable(found):
    return Network(name, f'your trunk {name}', trunk=found)
  raise ValueError(f'network {name!r}: {type(found).__name__} is neither an '
                   'icvae.networks.Network nor a trunk builder (request, rngs) -> module.')


def check_name(name):
  """A `Setting` check of --network: None, or what is wrong."""
  try:
    get(name)
  except ValueError as e:
    return str(e)
  return None
