"""`icvae disentanglement` on a trained run (`evaluators.disentanglement_suite`): every metric
of the suite written to eval/disentanglement.json for a dSprites run, its scores in their
ranges; runs without factors or without a continuous code refused, saying why."""

import json

import numpy as np
import pytest

import fakes
from icvae import dsprites
from icvae import factor_data
from icvae import loop
from icvae.cli import disentanglement as cli
from icvae.disentanglement import suite
from icvae.evaluators import disentanglement_suite


@pytest.fixture
def rendered_dsprites():
  """The 'dsprites' factor dataset with images drawn on demand (no 737,280-image cache)."""
  original = factor_data.get('dsprites')
  render = lambda f: dsprites.render_indices(dsprites.flat_indices(f))[..., None].astype(
      np.float32)
  factor_data.unregister('dsprites')
  factor_data.register(factor_data.FactorDataset(
      'dsprites', original.description, original.factor_names, original.factor_sizes,
      original.observation_shape, render))
  yield
  factor_data.unregister('dsprites')
  factor_data.register(original)


@pytest.mark.parametrize('model', ['imae', 'infocatvae'])
def test_a_dsprites_run_gets_every_metric(tmp_path, rendered_dsprites, model):
  config = fakes.tiny_config(tmp_path, model=model, num_epochs=1).replace(dataset='dsprites')
  extra = {'num_categories': 3} if model == 'infocatvae' else {}
  loop.train_and_evaluate(config.replace(**extra), fakes.tiny_dsprites())
  sizes = cli.scaled_sizes(0.01)
  # Explicitness needs every class of every factor in both splits (40 orientations).
  sizes['modularity_explicitness'] = {'num_train': 1000, 'num_test': 1000}
  report = disentanglement_suite.score_run(tmp_path, sizes=sizes)
  saved = json.loads((tmp_path / 'eval' / 'disentanglement.json').read_text())
  assert saved['scores'] == json.loads(json.dumps(report['scores']))
  scores = report['scores']
  assert set(scores) == set(suite.METRICS)
  for name in ('beta_vae', 'factor_vae'):
    assert 0 <= scores[name]['eval_accuracy'] <= 1
  for name in ('disentanglement', 'completeness', 'informativeness_test'):
    assert 0 <= scores['dci'][name] <= 1
  assert -1e-9 <= scores['mig']['mig'] <= 1 and scores['sap']['sap'] >= 0
  assert report['sizes']['dci'] == {'num_train': 100, 'num_test': 50}
  assert '| dci | disentanglement |' in cli.table(report)
  with pytest.raises(ValueError, match=r'explicitness: factor 2 takes \d+ values in the '
                                       r'training points and \d+ in the test points'):
    disentanglement_suite.score_run(tmp_path, metrics=('modularity_explicitness',),
                                    sizes=cli.scaled_sizes(0.01))


def test_runs_without_factors_or_continuous_code_are_refused(tmp_path, rendered_dsprites):
  loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'mnist', model='imae', num_epochs=1),
                          fakes.tiny_dataset())
  with pytest.raises(ValueError, match='--dataset=mnist has no ground-truth factors'):
    disentanglement_suite.score_run(tmp_path / 'mnist')
  config = fakes.tiny_config(tmp_path / 'imsat', model='imsat', num_epochs=1,
                             num_categories=3).replace(dataset='dsprites')
  loop.train_and_evaluate(config, fakes.tiny_dsprites())
  with pytest.raises(ValueError, match='--model=imsat has no continuous code'):
    disentanglement_suite.score_run(tmp_path / 'imsat')
