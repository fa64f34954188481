"""icvae.cli.beta_sweep: which runs it trains, and the table and figure it draws from them."""

import json
import pathlib
import sys

import numpy as np
import pytest

from icvae import config as config_lib
from icvae import sweep
from icvae.cli import beta_sweep


def _write_run(folder, model, beta, seed, accuracy, epochs=3):
  workdir = beta_sweep.workdir(folder, model, beta, seed)
  workdir.mkdir(parents=True)
  records = [{'epoch': e, 'test/clustering_accuracy': accuracy * e / epochs,
              'test/mutual_information_y': 2.0, 'test/reconstruction': -100.0 - beta}
             for e in range(1, epochs + 1)]
  (workdir / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_only_runs_trained_to_the_requested_epochs_count(tmp_path):
  _write_run(tmp_path, 'imae', 1.0, 0, 0.9)
  assert beta_sweep.final_record(beta_sweep.workdir(tmp_path, 'imae', 1.0, 0), 3)[
      'test/clustering_accuracy'] == 0.9
  assert beta_sweep.final_record(beta_sweep.workdir(tmp_path, 'imae', 1.0, 0), 5) is None
  assert beta_sweep.final_record(tmp_path / 'absent', 3) is None


def test_table_and_figure_average_over_seeds(tmp_path):
  for seed, accuracy in enumerate([0.6, 0.8]):
    _write_run(tmp_path, 'imae', 10.0, seed, accuracy)
  _write_run(tmp_path, 'beta_vae', 10.0, 0, 0.3)
  found = beta_sweep.collect(tmp_path, ['imae', 'beta_vae'], [1.0, 10.0], [0, 1], 3)
  assert found['imae'][1.0] == [] and len(found['imae'][10.0]) == 2
  text = beta_sweep.table(found, [1.0, 10.0])
  rows = [line for line in text.splitlines() if line.startswith('| IMAE')]
  # 80% interval of two values by linear interpolation: 0.6 + 0.1 * 0.2, 0.6 + 0.9 * 0.2.
  assert rows == [f'| IMAE | 10 | 2 | 0.700 ± {np.std([0.6, 0.8], ddof=1):.3f} [0.620, 0.780] '
                  '| 2.000 ± 0.000 [2.000, 2.000] | -110.000 ± 0.000 [-110.000, -110.000] |']
  assert '| β-VAE | 10 | 1 | 0.300 | 2.000 | -110.000 |' in text
  _write_run(tmp_path / 'imsat', 'imsat', 0.0, 0, 0.98)
  reference = beta_sweep.reference_records(str(tmp_path / 'imsat' / 'imsat_*'))
  assert [r['test/clustering_accuracy'] for r in reference] == [0.98]
  assert '| IMSAT (reference) | | 1 | 0.980 | 2.000 | -100.000 |' in beta_sweep.table(
      found, [1.0, 10.0], reference)
  beta_sweep.plot(found, [1.0, 10.0], tmp_path / 'figure3.png', 'test', reference)
  assert (tmp_path / 'figure3.png').stat().st_size > 1000


def test_imae_points_use_the_paper_flagfile_and_every_flagfile_exists():
  for dataset in ('mnist', 'fashion_mnist'):
    for model in beta_sweep.MODELS:
      assert beta_sweep.flagfile(dataset, model).exists()
  assert beta_sweep.flagfile('mnist', 'imae').name == 'mnist_imae_paper.flags'


def test_recipe_flagfiles_differ_from_imaes_recipe_only_in_the_objective(tmp_path):
  # The equal-recipe comparison: every peer's `_recipe` config is IMAE's best recipe with only
  # the model, the terms of IMAE's objective (gamma, mu) and the peer's own terms changed.
  own_terms = {'imae': {'gamma', 'marginal_entropy_weight'}, 'beta_vae': set(),
               'info_vae': set(), 'joint_vae': {'capacity_y', 'capacity_z', 'capacity_steps'}}
  for dataset in ('mnist', 'fashion_mnist'):
    assert beta_sweep.flagfile(dataset, 'imae', recipe=True).name == f'{dataset}_imae.flags'
    configs = {model: config_lib.RunConfig.from_flagfile(
        beta_sweep.flagfile(dataset, model, recipe=True), workdir=str(tmp_path)).to_dict()
               for model in beta_sweep.MODELS}
    imae = configs['imae']
    assert imae['classifier_features'] == 1200 and imae['vat_weight'] == 300
    for model, config in configs.items():
      assert config['model'] == model and config['dataset'] == dataset
      differing = {key for key in set(config) | set(imae)
                   if config.get(key) != imae.get(key)} - {'model'}
      expected = set() if model == 'imae' else own_terms[model] | own_terms['imae']
      assert differing == expected, (model, differing)


def test_one_program_layout_is_the_sweep_programs_and_is_read_like_the_other(tmp_path):
  # The layout beta_sweep reads must be the one `icvae train --sweep --seeds` writes.
  betas, seeds = [1.0, 2.5, 20.0], [0, 3]
  for model in beta_sweep.MODELS:
    config = config_lib.RunConfig.from_flagfile(
        beta_sweep.flagfile('mnist', model), workdir=str(tmp_path / model))
    runs = sweep.expand(config, seeds, [beta_sweep.sweep_axis(model, betas)])
    expected = [(beta, seed) for beta in betas for seed in seeds]
    assert [(r.beta, r.seed) for r in runs] == expected
    if model == 'imae':
      assert [r.gamma for r in runs] == [2 * beta for beta, _ in expected]
    assert [pathlib.Path(r.workdir) for r in runs] == [
        beta_sweep.grid_workdir(tmp_path, model, beta, seed) for beta, seed in expected]
  grid = beta_sweep.grid_workdir(tmp_path, 'beta_vae', 2.5, 3)
  grid.mkdir(parents=True)
  (grid / 'metrics.jsonl').write_text(json.dumps(
      {'epoch': 4, 'test/clustering_accuracy': 0.5, 'test/mutual_information_y': 1.0,
       'test/reconstruction': -90.0}) + '\n')
  found = beta_sweep.collect(tmp_path, ['beta_vae'], betas, seeds, 4)
  assert [r['test/clustering_accuracy'] for r in found['beta_vae'][2.5]] == [0.5]
  assert found['beta_vae'][1.0] == []


def test_verdict_compares_the_seeds_80_percent_intervals():
  # Three seeds [a, b, c]: 10th percentile a + 0.2 (b - a), 90th b + 0.8 (c - b).
  # [0.5, 0.6, 1.0] spans [0.52, 0.92]; [0.0, 0.1, 0.5] spans [0.02, 0.42].
  assert beta_sweep.verdict(np.array([0.5, 0.6, 1.0]), np.array([0.0, 0.1, 0.5])) == 'holds'
  assert beta_sweep.verdict(np.array([0.0, 0.1, 0.5]), np.array([0.5, 0.6, 1.0])) == 'reversed'
  # Shift the lower set up by 0.11: it spans [0.13, 0.53], which reaches 0.52.
  assert beta_sweep.verdict(np.array([0.5, 0.6, 1.0]), np.array([0.11, 0.21, 0.61])) == 'overlap'
  # One seed on either side is no interval: no verdict, however far apart.
  assert beta_sweep.verdict(np.array([0.9]), np.array([0.1, 0.2])) == 'one seed'
  assert beta_sweep.verdict(np.array([0.9, 0.95]), np.array([0.1])) == 'one seed'


def test_orderings_count_the_betas_where_each_claim_holds(tmp_path):
  accuracy = {('imae', 1.0): [0.9, 0.92, 0.95], ('info_vae', 1.0): [0.7, 0.8, 0.75],
              ('imae', 5.0): [0.6, 0.62, 0.61], ('info_vae', 5.0): [0.8, 0.81, 0.82]}
  for (model, beta), values in accuracy.items():
    for seed, value in enumerate(values):
      _write_run(tmp_path, model, beta, seed, value)
  found = beta_sweep.collect(tmp_path, ['imae', 'info_vae'], [1.0, 5.0], [0, 1, 2], 3)
  text = beta_sweep.orderings(found, [1.0, 5.0])
  row = next(line for line in text.splitlines() if line.startswith('| IMAE > InfoVAE: test'))
  assert row == ('| IMAE > InfoVAE: test accuracy | +0.173 holds | -0.200 reversed '
                 '| 1 / 1 / 0 |')
  assert not any(line.startswith('| IMAE > β-VAE') for line in text.splitlines())
  _write_run(tmp_path, 'imae', 2.0, 0, 0.9)
  _write_run(tmp_path, 'info_vae', 2.0, 0, 0.5)
  found = beta_sweep.collect(tmp_path, ['imae', 'info_vae'], [1.0, 2.0, 5.0], [0, 1, 2], 3)
  row = next(line for line in beta_sweep.orderings(found, [1.0, 2.0, 5.0]).splitlines()
             if line.startswith('| IMAE > InfoVAE: test'))
  assert row == ('| IMAE > InfoVAE: test accuracy | +0.173 holds | +0.400 one seed '
                 '| -0.200 reversed | 1 / 1 / 0 |')
  assert beta_sweep.orderings(found, [3.0]) == (
      '(No two methods of a claim share a trained beta yet.)')


def test_trends_follow_each_method_over_beta(tmp_path):
  accuracy = {1.0: [0.9, 0.92, 0.95], 5.0: [0.6, 0.62, 0.61], 20.0: [0.5, 0.52, 0.51]}
  for beta, values in accuracy.items():
    for seed, value in enumerate(values):
      _write_run(tmp_path, 'joint_vae', beta, seed, value)
  _write_run(tmp_path, 'info_vae', 1.0, 0, 0.4)  # one beta only: no trend to draw
  found = beta_sweep.collect(tmp_path, ['joint_vae', 'info_vae'], [1.0, 5.0, 20.0],
                             [0, 1, 2], 3)
  text = beta_sweep.trends(found, [1.0, 5.0, 20.0])
  rows = [line for line in text.splitlines() if line.startswith('| JointVAE')]
  # Means by hand: 2.77 / 3, 1.83 / 3, 1.53 / 3; the best beta is the smallest, so the
  # largest beta's seeds [0.50, 0.51, 0.52] lie below the smallest's: 'reversed'. Spread
  # 0.9233 - 0.51. _write_run's I(x; y) is flat (2.0), which counts as never rising.
  assert rows == ['| JointVAE | 0.923 → 0.610 → 0.510 | reversed | 0.413 '
                  '| 2.000 → 2.000 → 2.000 | never rises |']
  assert not any(line.startswith('| InfoVAE') for line in text.splitlines())
  _write_run(tmp_path, 'info_vae', 20.0, 0, 0.8)
  metrics = beta_sweep.workdir(tmp_path, 'info_vae', 20.0, 0) / 'metrics.jsonl'
  metrics.write_text(metrics.read_text().replace('"test/mutual_information_y": 2.0',
                                                 '"test/mutual_information_y": 2.5'))
  found = beta_sweep.collect(tmp_path, ['info_vae'], [1.0, 20.0], [0], 3)
  assert beta_sweep.trends(found, [1.0, 20.0]).splitlines()[-1] == (
      '| InfoVAE | 0.400 → 0.800 | one seed | 0.400 | 2.000 → 2.500 | rises somewhere |')
  assert beta_sweep.trends(found, [1.0]) == '(No method has two trained betas yet.)'


def test_a_failed_training_names_its_log_and_keeps_its_stderr(tmp_path):
  log = tmp_path / 'point.log'
  command = [sys.executable, '-c', 'import sys; sys.stderr.write("boom\\n"); sys.exit(3)']
  with pytest.raises(beta_sweep.TrainingFailed, match=f'status 3; its log is {log}'):
    beta_sweep.run_logged(command, log)
  assert log.read_text() == 'boom\n'


def test_a_failed_point_starts_nothing_more_and_keeps_the_running_ones():
  started, reported = [], []

  def run(name, fail):
    started.append(name)
    if fail:
      raise beta_sweep.TrainingFailed(f'{name} failed')

  points = [('a', False), ('b', True), ('c', False), ('d', False), ('e', False)]
  with pytest.raises(beta_sweep.TrainingFailed, match='b failed'):
    beta_sweep.run_points(points, run, 1, lambda done, point: reported.append(point[0]))
  assert started == ['a', 'b'] and reported == ['a']
  started.clear()
  beta_sweep.run_points(points[2:], run, 2, lambda done, point: reported.append(point[0]))
  assert sorted(started) == ['c', 'd', 'e'] and len(reported) == 4


def test_each_point_has_its_own_log_whatever_its_beta(tmp_path):
  logs = {beta_sweep.point_log(tmp_path, 'imae', beta, seed) for beta in (2.5, 0.5, 2.0)
          for seed in (0, 1)}
  assert len(logs) == 6
  assert beta_sweep.point_log(tmp_path, 'imae', 2.5, 1) == tmp_path / 'imae_beta2.5_seed1.log'
