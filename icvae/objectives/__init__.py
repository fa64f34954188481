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

# The interface and the registry (icvae.objectives.registry), re-exported here.
from icvae.objectives.registry import ENTRY_POINT_GROUP
from icvae.objectives.registry import families
from icvae.objectives.registry import get
from icvae.objectives.registry import load_plugins
from icvae.objectives.registry import ModelFamily
from icvae.objectives.registry import names
from icvae.objectives.registry import Objective
from icvae.objectives.registry import register
from icvae.objectives.registry import REPORT_SECTIONS
from icvae.objectives.registry import unregister

# The built-in families register themselves on import.
from icvae.objectives import aae
from icvae.objectives import beta_vae
from icvae.objectives import catvae
from icvae.objectives import imae
from icvae.objectives import imsat
from icvae.objectives import info_vae
from icvae.objectives import joint_vae
