"""disentanglement_lib's metric suite on a trained run (`icvae.disentanglement.suite`): the run's
factor dataset (`icvae.factor_data`, by the run's --dataset) sampled as the reference samples
it, each observation encoded to the mean of the run's continuous code
(`Objective.continuous_code`, as the reference's representation function), and every metric
scored at the study's sizes. `score_run` writes eval/disentanglement.json.
"""

import json
import pathlib
import time

import jax
import numpy as np

from icvae import factor_data
from icvae import inference
from icvae import workdir as workdir_lib
from icvae.disentanglement import suite

OUTPUT_FILE = 'disentanglement.json'


def factor_dataset_of(config):
  """The `FactorDataset` of a run's --dataset.

  Raises:
    ValueError: a dataset without ground-truth factors, naming the ones with them.
  """
  if config.dataset not in factor_data.names():
    raise ValueError(f'--dataset={config.dataset} has no ground-truth factors; the '
                     f'disentanglement metrics need one of {", ".join(factor_data.names())}.')
  return factor_data.get(config.dataset)


def representation(loaded):
  """observations (n, *observation_shape) -> (n, D) means of the run's continuous code.

  Raises:
    ValueError: a model without a continuous code (IMSAT).
  """
  config, objective = loaded.config, loaded.objective
  model = loaded.model

  @jax.jit
  def code_mean(x):
    return objective.continuous_code(model, x)[0]

  viewed = config.view(np.zeros((1, *config.image_shape), np.float32))  # flat or sequence
  if jax.eval_shape(lambda x: objective.continuous_code(model, x),
                    jax.ShapeDtypeStruct(viewed.shape, np.float32)) is None:
    raise ValueError(f'--model={config.model} has no continuous code to score.')

  def represent(observations):
    images = np.asarray(observations, np.float32).reshape(len(observations), *config.image_shape)
    return np.asarray(code_mean(config.view(images)))

  return represent


def score_run(workdir, metrics=tuple(suite.METRICS), seed=0, sizes=None):
  """Every metric of `metrics` on the latest checkpoint of `workdir`; writes
  <workdir>/eval/disentanglement.json and returns it.

  Raises:
    checkpoints.CheckpointError: not a training workdir, or no usable checkpoint.
    ValueError: a dataset without factors, a model without a continuous code, an unknown
      metric.
  """
  loaded = inference.load_model(workdir)
  dataset = factor_dataset_of(loaded.config)
  represent = representation(loaded)
  started = time.time()
  scores, seconds = {}, {}
  for name in metrics:
    begun = time.time()
    scores.update(suite.evaluate(dataset, represent, metrics=(name,), seed=seed, sizes=sizes))
    seconds[name] = time.time() - begun
  report = {'workdir': str(workdir), 'epoch': loaded.epoch, 'factor_dataset': dataset.name,
            'seed': seed, 'sizes': {name: dict(suite.PROTOCOL[name], **(sizes or {}).get(name, {}))
                                    for name in metrics},
            'scores': scores, 'seconds': dict(seconds, total=time.time() - started)}
  out = pathlib.Path(workdir) / 'eval'
  out.mkdir(exist_ok=True)
  workdir_lib.write_atomically(out / OUTPUT_FILE, json.dumps(report, indent=2) + '\n')
  return report
