"""The evaluators registry (`icvae.evaluators`): every report section has an evaluator, a
registered evaluator runs in `evaluate_run` after the built-in numbers and before the figures,
its dict values merge into a section the report already has, a refusal in `applies` comes
before anything is computed, and `epoch_scalars` reach metrics.jsonl during training."""

import json

import numpy as np
import pytest

import fakes
from icvae import evaluators
from icvae import loop
from icvae import report as report_lib
from icvae import settings
from icvae.objectives import registry

SMALL = report_lib.EvalOptions(iwae_samples=4, iwae_examples=20, num_generated=64,
                               kde_train_examples=64, kde_folds=2)


@pytest.fixture
def registered():
  """Registers evaluators for one test and removes them after it."""
  names = []

  def register(evaluator):
    evaluators.register(evaluator)
    names.append(evaluator.name)

  yield register
  for name in names:
    evaluators.unregister(name)


def test_every_report_section_has_an_evaluator():
  covered = {s for e in evaluators.registered() for s in e.sections}
  assert set(registry.REPORT_SECTIONS) <= covered


def test_the_built_in_order_and_the_figures_last():
  names = [e.name for e in evaluators.registered()]
  assert names[:7] == ['test_terms_and_clustering', 'codes', 'information',
                       'bounds_and_reconstructions', 'parzen', 'disentanglement', 'figures']
  assert [e.name for e in evaluators.registered() if e.draws] == ['figures']


def test_a_taken_name_and_a_non_evaluator_are_refused():
  with pytest.raises(ValueError, match="'codes' is already registered"):
    evaluators.register(evaluators.Evaluator('codes', lambda context: ()))
  with pytest.raises(TypeError, match='takes an icvae.evaluators.Evaluator'):
    evaluators.register(lambda context: ())


def test_a_user_evaluator_runs_merges_and_logs_per_epoch(tmp_path, registered):
  seen = {}

  def first_images(context):
    seen['sections'] = context.sections
    seen['test_rows'] = len(context.test_images)
    yield 'first_image_mean', float(np.mean(context.test_images[0]))
    yield 'test', {'user_term': 1.5}      # merged into the objective's test terms

  def labelled_share(terms, clusters, dataset, num_clusters):
    return {'test/largest_cluster': float(np.bincount(clusters).max() / len(clusters))}

  registered(evaluators.Evaluator('first_images', first_images,
                                  epoch_scalars=labelled_share))
  dataset = fakes.tiny_dataset()
  config = fakes.tiny_config(tmp_path, model='catvae')
  loop.train_and_evaluate(config, dataset)
  records = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  shares = [r['test/largest_cluster'] for r in records if 'test/largest_cluster' in r]
  assert len(shares) == 2 and all(0.1 <= s <= 1 for s in shares)
  report = report_lib.evaluate_run(tmp_path, dataset=dataset, options=SMALL)
  assert report['first_image_mean'] == pytest.approx(float(dataset.test_images[0].mean()))
  assert report['test']['user_term'] == 1.5 and 'loss' in report['test']
  keys = list(report)
  assert keys.index('first_image_mean') < keys.index('seconds') < keys.index('figures')
  assert 'first_images' in report['seconds']
  assert seen == {'sections': config.family.report_sections, 'test_rows': 100}
  saved = json.loads((tmp_path / 'eval' / 'report.json').read_text())
  assert saved['first_image_mean'] == report['first_image_mean']


def test_a_refusal_in_applies_comes_before_any_evaluator_runs(tmp_path, registered):
  ran = []

  def refuse(context):
    raise settings.SettingError('--user_option: cannot work here; lower it.')

  registered(evaluators.Evaluator('refuses', lambda context: ran.append(1) or (),
                                  applies=refuse))
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path, model='catvae', num_epochs=1), dataset)
  with pytest.raises(settings.SettingError, match='--user_option'):
    report_lib.evaluate_run(tmp_path, dataset=dataset, options=SMALL)
  assert not ran and not (tmp_path / 'eval' / 'report.json').exists()
