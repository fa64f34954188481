"""A trained run as a model to use: `load_model(workdir)` gives a `LoadedModel` whose
`codes`, `encode`, `predict` and `predict_proba` take new examples as the data files hold
them (checked, scaled and standardised by the rule of training) and compute in jitted
batches. `icvae encode`, the estimators, the reports and N2D read runs through it; the
checkpoints themselves are `icvae.checkpoints`'.
"""

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from icvae import checkpoints
from icvae import config as config_lib
from icvae import data as data_lib
from icvae import examples as examples_lib
from icvae import files
from icvae import tables


class LoadedModel(NamedTuple):
  """A trained model, ready to use.

  Attributes:
    model: the networks (`nnx.Module`) with the checkpoint's parameters; call
      `model.encode`, `model.decode`, `model.classify` as on a fresh one.
    config: the run's `RunConfig`.
    epoch: the epoch of the checkpoint.
    objective: the run's objective (`config.build_objective()`).
    graphdef: the model's static structure, for `train.make_*` functions.
    state: the restored `train.TrainState`.
    statistics: the standardisation of a feature table ({'mean', 'std'}), or None.
    class_names: the names of the classes of the training labels (() if unknown).
    feature_names: a table's feature columns, in the order trained on (() if none).

  `codes`, `encode`, `predict` and `predict_proba` take new examples as the data files hold
  them, (N, *config.image_shape), checked and scaled by the rule of training
  (`icvae.examples.checked_examples`: NaN refused, integer images scaled by their type,
  float images in [0, 1], channels-first refused), and compute in jitted batches,
  standardised like the training data. A pandas DataFrame's columns are matched to
  `feature_names` by name; an array's by position.
  """
  model: Any
  config: Any
  epoch: int
  objective: Any
  graphdef: Any
  state: Any
  statistics: Optional[dict] = None
  class_names: tuple = ()
  feature_names: tuple = ()

  def prepare(self, x):
    """Examples (N, *data shape) as the networks read them: checked, float, standardised,
    viewed.

    Raises:
      ValueError: examples the rule of training refuses (`icvae.examples`), of another
        shape than the run's, or outside the likelihood's range, each named.
    """
    columns = getattr(x, 'columns', None)  # a pandas DataFrame: match columns by name
    try:
      if columns is not None and self.feature_names:
        x = tables.align_columns(np.asarray(x), [str(c) for c in columns], self.feature_names,
                                 'the DataFrame')
      shape = tuple(self.config.image_shape)
      x = examples_lib.checked_examples(x, 'examples')
      if x.shape[1:] != shape:
        raise data_lib.DataError(
            f'examples of shape {x.shape[1:]}, but the model was trained on {shape} '
            f'({self.config.dataset}): give (N, {", ".join(map(str, shape))}) arrays.')
      examples_lib.check_likelihood_range(x, self.config.likelihood_name, 'examples')
    except data_lib.DataError as e:
      raise ValueError(str(e)) from None
    x = data_lib.as_float(x)
    if self.statistics is not None:
      x = files.standardize(x, self.statistics)
    return self.config.view(x)

  def to_arrays(self):
    """The model as plain data: its saved config, epoch, parameters and batch-norm
    statistics (lists of numpy arrays), standardisation and names; `from_arrays` rebuilds
    it with no workdir. What a pickled estimator holds (`icvae.sklearn`)."""
    return {'format': 1, 'config': self.config.to_saved(), 'epoch': int(self.epoch),
            'params': [np.asarray(a) for a in jax.tree.leaves(self.state.params)],
            'constants': [np.asarray(a) for a in jax.tree.leaves(self.state.constants)],
            'statistics': self.statistics, 'class_names': list(self.class_names),
            'feature_names': list(self.feature_names)}

  @classmethod
  def from_arrays(cls, saved):
    """The `LoadedModel` of `to_arrays`' data.

    Raises:
      checkpoints.CheckpointError: arrays that do not fit the model their config builds.
    """
    try:
      config = config_lib.RunConfig.from_saved(saved['config'])
    except (config_lib.NewerFormatError, ValueError, TypeError, KeyError) as e:
      raise checkpoints.CheckpointError(f'a saved model with an unreadable configuration ({e}).') from e
    graphdef, state, _ = checkpoints.new_state(config)

    def filled(tree, leaves, what):
      wanted = jax.tree.leaves(tree)
      if len(wanted) != len(leaves) or any(
          np.shape(a) != np.shape(b) for a, b in zip(wanted, leaves)):
        raise checkpoints.CheckpointError(f'a saved model whose {what} do not fit the model of its '
                              'configuration; it was saved by another icvae version.')
      return jax.tree.unflatten(jax.tree.structure(tree),
                                [jnp.asarray(a, b.dtype) for a, b in zip(leaves, wanted)])

    state = state._replace(params=filled(state.params, saved['params'], 'parameters'),
                           constants=filled(state.constants, saved['constants'], 'statistics'))
    model = nnx.merge(graphdef, state.params, state.constants)
    return cls(model, config, saved['epoch'], config.build_objective(), graphdef, state,
               saved['statistics'], tuple(saved['class_names']),
               tuple(saved['feature_names']))

  def codes(self, x, batch_size=1000):
    """Per example: 'cluster' (N,) int, 'probabilities' (N, K) p(y|x), and where the model
    has a continuous code 'z_mean', 'z_logvar' (N, d) (CatVAE / InfoCatVAE: q(z|x, c) of the
    most probable category c); numpy arrays."""
    x = self.prepare(x)
    parts = [_codes(self.graphdef, self.objective, self.state.params, self.state.constants,
                    jnp.asarray(x[i:i + batch_size]))
             for i in range(0, len(x), batch_size)]
    result = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    if 'probabilities' in result:
      result['cluster'] = result['probabilities'].argmax(-1).astype(np.int32)
    return result

  def encode(self, x, batch_size=1000):
    """(N, d) means of q(z|x): the continuous code (`codes`).

    Raises:
      ValueError: the model has no continuous code (IMSAT: use `predict_proba`).
    """
    codes = self.codes(x, batch_size)
    if 'z_mean' not in codes:
      raise ValueError(f'--model={self.config.model} has no continuous code; use '
                       'predict_proba for p(y|x).')
    return codes['z_mean']

  def predict(self, x, batch_size=1000):
    """(N,) clusters argmax_y p(y|x)."""
    return self._categorical(x, batch_size)['cluster']

  def predict_proba(self, x, batch_size=1000):
    """(N, K) p(y|x)."""
    return self._categorical(x, batch_size)['probabilities']

  def _categorical(self, x, batch_size):
    codes = self.codes(x, batch_size)
    if 'probabilities' not in codes:
      raise ValueError(f'--model={self.config.model} has no categorical code; use encode.')
    return codes


@functools.partial(jax.jit, static_argnums=(0, 1))
def _codes(graphdef, objective, params, constants, x):
  """{'probabilities', 'z_mean', 'z_logvar'} of a batch (those the model has)."""
  model = nnx.merge(graphdef, params, constants)
  result = {}
  logits = objective.cluster_logits(model, x)
  if logits is not None:
    result['probabilities'] = jax.nn.softmax(logits, axis=-1)
  code = objective.continuous_code(model, x)
  if code is not None:
    result.update(z_mean=code[0], z_logvar=code[1])
  return result


def load_model(workdir):
  """The latest readable checkpoint of a training workdir as a `LoadedModel` (an unreadable
  newer one is skipped with a warning and left in place,
  `checkpoints.restore_newest_readable`).

  Raises:
    CheckpointError: the folder is missing, is not a training workdir, has no checkpoint
      yet, or its checkpoint does not fit the configuration it claims.
  """
  config, graphdef, state, epoch = checkpoints.restore_latest(workdir)
  return model_of_state(config, graphdef, state, epoch, workdir)


def model_of_state(config, graphdef, state, epoch, workdir):
  """The `LoadedModel` of a run's `state` at `epoch` (its checkpoint's, or the one
  `train_and_evaluate` returns), with the standardisation and names its workdir saved.

  Raises:
    checkpoints.CheckpointError: a standardised run whose statistics file is missing.
  """
  model = nnx.merge(graphdef, state.params, state.constants)
  statistics = checkpoints.read_statistics(workdir) if config.standardized else None
  if config.standardized and statistics is None:
    raise checkpoints.CheckpointError(f'--workdir={workdir}: the run standardised its features but '
                          f'{checkpoints.STATISTICS_FILE} is missing; it cannot encode new data the same '
                          'way. Retrain, or restore the file.')
  described = checkpoints.read_data_description(workdir)
  return LoadedModel(model, config, epoch, config.build_objective(), graphdef, state,
                     statistics, tuple(described.get('class_names', ())),
                     tuple(described.get('feature_names', ())))
