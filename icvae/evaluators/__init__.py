"""What a trained run is measured by: one module per section of the evaluation report.

An evaluator is an `Evaluator`: a name (the stage `icvae evaluate` logs), `applies(context)`
(does it apply to this run?) and `run(context)`, which yields (report key, value) pairs; a
dict value under a key the report already has is merged into it. `epoch_scalars`, when an
evaluator has one, adds test/* scalars to every evaluation during training (metrics.jsonl and
TensorBoard). `icvae.report.evaluate_run` asks every registered evaluator whether it applies
(so a setting that cannot work is refused before anything is computed), runs those that do
in registration order, writes report.json after each, and draws the figures (`draws=True`)
last.

A new metric is one module that calls `register` when imported: imported by your own code
before `evaluate_run` (or `icvae.train_and_evaluate` for `epoch_scalars`), or listed under
the 'icvae.evaluators' entry points of an installed package (then `icvae evaluate` finds it
too). The built-in evaluators, in their order:

- `test_set`: the objective's evaluation terms on the test set ('test') and the clustering
  metrics of the categorical code on train and test ('clustering');
- `codes`: I(x; y), and I(x; z_k), TC(z) and the marginal KLs of a joint code ('codes');
- `cross_entropy`: the information cross-entropy of section 10 ('information_cross_entropy');
- `bounds`: the importance-weighted bound and the reconstruction error (into 'test');
- `parzen`: Table 1's Parzen-window log-likelihood ('parzen');
- `disentanglement`: the MIG estimators on a factor dataset ('disentanglement');
- `figures`: the family's figures and the training curves ('figures').
"""

from icvae.evaluators.base import Context
from icvae.evaluators.base import ENTRY_POINT_GROUP
from icvae.evaluators.base import Evaluator
from icvae.evaluators.base import KEY_NAMES
from icvae.evaluators.base import epoch_scalars
from icvae.evaluators.base import load_plugins
from icvae.evaluators.base import register
from icvae.evaluators.base import registered
from icvae.evaluators.base import unregister

# The built-in evaluators register themselves when imported, in this order.
from icvae.evaluators import test_set
from icvae.evaluators import codes
from icvae.evaluators import cross_entropy
from icvae.evaluators import bounds
from icvae.evaluators import parzen
from icvae.evaluators import disentanglement
from icvae.evaluators import figures
# Not a report section (minutes per run): `icvae disentanglement` runs it.
from icvae.evaluators import disentanglement_suite
