"""dSprites through the library: uint8 images, --train_examples, the Table 2 networks, tied
sweep axes, the 'disentanglement' report section and the Figure 5 driver."""

import json
import pathlib

import jax
import numpy as np
import pytest
from flax import nnx
from PIL import Image

import fakes
import icvae
from icvae import config as config_lib
from icvae import data
from icvae import loop
from icvae import report as report_lib
from icvae import sweep
from icvae.settings import SettingError

SMALL_EVAL = report_lib.EvalOptions(mig_samples=300, mig_points=500)


def _records(workdir):
  lines = (pathlib.Path(workdir) / 'metrics.jsonl').read_text().splitlines()
  return [{k: v for k, v in json.loads(line).items()
           if not k.endswith(('seconds', 'examples_per_second'))} for line in lines]


def test_uint8_images_train_bit_for_bit_as_the_float_images_the_loader_makes(tmp_path):
  rng = np.random.default_rng(0)
  raw_train = rng.integers(0, 256, (256, 28, 28), dtype=np.uint8)
  raw_test = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
  labels = rng.integers(0, 10, 256).astype(np.int32)
  test_labels = rng.integers(0, 10, 100).astype(np.int32)
  # What data.load does with MNIST's bytes: float32, then / 255.
  as_floats = data.Dataset(raw_train.astype(np.float32) / 255.0, labels,
                           raw_test.astype(np.float32) / 255.0, test_labels)
  as_bytes = data.Dataset(raw_train, labels, raw_test, test_labels)
  for name, dataset in (('floats', as_floats), ('bytes', as_bytes)):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path / name, model='imae', num_categories=10),
                            dataset)
  assert _records(tmp_path / 'floats') == _records(tmp_path / 'bytes')


def test_as_float_divides_bytes_by_255_and_keeps_floats():
  converted = data.as_float(np.array([0, 51, 255], np.uint8))
  assert converted.dtype == np.float32
  np.testing.assert_array_equal(converted, np.float32([0.0, 0.2, 1.0]))
  in_jit = jax.jit(data.as_float)(np.arange(256, dtype=np.uint8))
  np.testing.assert_array_equal(in_jit, np.arange(256).astype(np.float32) / 255.0)  # bits
  floats = np.array([0.5], np.float32)
  assert data.as_float(floats) is floats


def test_train_examples_is_a_fixed_subset_shared_by_every_seed(tmp_path):
  dataset = fakes.tiny_dsprites()
  subset = data.train_subset(dataset, 300)
  again = data.train_subset(dataset, 300)
  assert len(subset.train_images) == 300
  np.testing.assert_array_equal(subset.train_factors, again.train_factors)
  # Rows stay matched: each kept image is the one its factors say.
  rows = [int(np.flatnonzero(np.all(dataset.train_factors == f, axis=1))[0])
          for f in subset.train_factors[:20]]
  np.testing.assert_array_equal(subset.train_images[:20], dataset.train_images[rows])
  np.testing.assert_array_equal(subset.train_labels, subset.train_factors[:, 0])
  assert rows == sorted(rows)  # in the dataset's order
  assert data.train_subset(dataset, 0) is dataset
  with pytest.raises(data.DataError, match='--train_examples=5000: the training set has only '
                     '1440'):
    data.train_subset(dataset, 5000)
  # The loop trains on the subset: steps per epoch follow it.
  config = fakes.tiny_config(tmp_path / 'run', model='imae', dataset='dsprites',
                             num_categories=3, train_examples=192, num_epochs=1,
                             eval_batch_size=64)
  loop.train_and_evaluate(config, dataset)
  assert _records(config.workdir)[-1]['step'] == 192 // 64


@pytest.mark.parametrize('values,message', [
    (dict(dataset='mnist', train_examples=60001), '--train_examples=60001: mnist has 60000'),
    (dict(dataset='mnist', train_examples=100, batch_size=128),
     '--batch_size=128: must be at most the 100 training examples'),
    (dict(dataset='dsprites', batch_size=737281), 'at most the 737280 training examples'),
])
def test_training_sizes_are_checked_against_the_dataset(values, message):
  with pytest.raises(SettingError, match=message):
    icvae.RunConfig(model='imae', **values)


def test_dsprites_networks_are_the_table_2_networks():
  config = config_lib.RunConfig.from_flagfile('experiments/flags/dsprites_imae.flags',
                                              'dsprites')
  networks = config.build_networks()
  params = nnx.state(networks, nnx.Param)
  sizes = {jax.tree_util.keystr(path): value.shape
           for path, value in jax.tree_util.tree_leaves_with_path(params)}
  kernels = sorted(shape for name, shape in sizes.items() if "['kernel']" in name)
  # Table 2 by hand, a layer per row: 4096-1200-1200-1200 -> 2*10 + 3 heads;
  # (3 + 10)-1200-1200-1200-4096.
  assert kernels == sorted([(4096, 1200), (1200, 1200), (1200, 1200), (1200, 23), (13, 1200),
                            (1200, 1200), (1200, 1200), (1200, 4096)])
  total = sum(int(np.prod(s)) for s in sizes.values())
  assert total == (4096 * 1200 + 1200 + 2 * (1200 * 1200 + 1200) + 1200 * 23 + 23
                   + 13 * 1200 + 1200 + 2 * (1200 * 1200 + 1200) + 1200 * 4096 + 4096)
  assert not any('norm' in name for name in sizes)  # no batch norm in Table 2
  outputs = networks.decode(np.zeros((2, 3), np.float32), np.zeros((2, 10), np.float32))
  assert outputs.shape == (2, 4096)


def test_tied_sweep_axes_move_together_and_bad_ones_are_refused(tmp_path):
  base = fakes.tiny_config(tmp_path / 'sweep', model='imae')
  runs = sweep.expand(base, seeds=[0], axes=['gamma,beta,vat_weight:2:1:1,10:5:5'])
  assert [(r.gamma, r.beta, r.vat_weight) for r in runs] == [(2, 1, 1), (10, 5, 5)]
  assert [pathlib.Path(r.workdir).relative_to(tmp_path / 'sweep').as_posix() for r in runs] == [
      'gamma=2,beta=1,vat_weight=1/seed=0', 'gamma=10,beta=5,vat_weight=5/seed=0']
  grid = sweep.expand(base, axes=['gamma,beta:2:1,4:2', 'learning_rate:0.001,0.01'])
  assert len(grid) == 4 and {(r.gamma, r.beta) for r in grid} == {(2, 1), (4, 2)}
  for spec, message in (('gamma,beta:2,4', 'each point needs 2 values'),
                        ('gamma,beta:2:1,2:1', 'listed twice'),
                        ('gamma,:2:1', 'write it as')):
    with pytest.raises(SettingError, match=message):
      sweep.parse_axis(spec)
  with pytest.raises(SettingError, match=r"\['beta'\] swept twice"):
    sweep.expand(base, axes=['gamma,beta:2:1', 'beta:3'])
  with pytest.raises(SettingError, match='--beta=-1'):
    sweep.expand(base, axes=['gamma,beta:2:-1'])


def test_factor_grid_keeps_every_kth_position_and_renumbers_it():
  dataset = fakes.tiny_dsprites()  # positions 0..3 of x and y
  rows, classes, sizes = report_lib.factor_grid(dataset, 2)
  assert sizes == (3, 6, 5, 2, 2)
  assert len(rows) == len(dataset.train_images) // 4
  np.testing.assert_array_equal(dataset.train_factors[rows, 3] % 2, 0)
  np.testing.assert_array_equal(classes[:, 3], dataset.train_factors[rows, 3] // 2)
  np.testing.assert_array_equal(classes[:, :3], dataset.train_factors[rows, :3])
  all_rows, _, all_sizes = report_lib.factor_grid(dataset, 1)
  assert len(all_rows) == len(dataset.train_images) and all_sizes == dataset.factor_sizes


def test_a_dsprites_sweep_trains_and_reports_disentanglement_and_traversals(tmp_path):
  dataset = fakes.tiny_dsprites()
  base = fakes.tiny_config(tmp_path / 'sweep', model='imae', dataset='dsprites',
                           num_categories=3, hidden_features=32, batch_size=96,
                           eval_batch_size=64)
  runs = sweep.expand(base, axes=['gamma,beta:2:1,6:3'])
  loop.train_sweep(runs, dataset)
  report = report_lib.evaluate_run(runs[1].workdir, dataset=dataset, options=SMALL_EVAL)
  found = report['disentanglement']
  assert found['images'] == len(dataset.train_images)
  assert found['discrete_factor'] == 'shape'
  assert set(found['mig_chen_gaps']) == {'scale', 'orientation', 'pos_x', 'pos_y'}
  assert set(found['mig_chen_with_discrete_gaps']) == set(dataset.factor_names)
  assert set(found['mig_histogram_gaps']) == set(dataset.factor_names)
  for name in ('mig_chen', 'mig_chen_with_discrete', 'mig_histogram'):
    assert 0.0 <= found[name] <= 1.0, name
  assert 1 / 3 - 1e-9 <= found['accuracy_y_against_discrete'] <= 1.0
  codes = found['codes']
  assert len(codes['mean_variance']) == len(codes['variance_of_mean']) == 10
  assert report['config']['gamma'] == 6 and report['config']['beta'] == 3
  for category in range(3):
    png = pathlib.Path(runs[1].workdir) / 'eval' / report['figures'][f'traversals_y{category}']
    assert png.exists()
  with Image.open(png) as image:
    assert image.size[0] > 64 * 9  # nine 64x64 columns
  strided = report_lib.evaluate_run(
      runs[0].workdir, dataset=dataset,
      options=report_lib.EvalOptions(mig_samples=300, mig_points=300, mig_position_stride=2))
  assert strided['disentanglement']['images'] == len(dataset.train_images) // 4
  assert strided['disentanglement']['factor_sizes']['pos_x'] == 2


def test_a_stride_leaving_one_position_is_refused_before_anything_is_computed(tmp_path):
  dataset = fakes.tiny_dsprites()  # 4 x and y positions
  config = fakes.tiny_config(tmp_path / 'run', model='imae', dataset='dsprites',
                             num_categories=3, num_epochs=1, eval_batch_size=64)
  loop.train_and_evaluate(config, dataset)
  with pytest.raises(SettingError, match='--mig_position_stride=4: .*lower it'):
    report_lib.evaluate_run(config.workdir, dataset=dataset,
                            options=report_lib.EvalOptions(mig_position_stride=4))
  assert not (tmp_path / 'run' / 'eval' / 'report.json').exists()


def test_catvae_on_dsprites_reads_4096_pixels_and_skips_disentanglement(tmp_path):
  dataset = fakes.tiny_dsprites()
  config = fakes.tiny_config(tmp_path / 'run', model='infocatvae', dataset='dsprites',
                             num_categories=3, num_epochs=1, eval_batch_size=64)
  loop.train_and_evaluate(config, dataset)
  report = report_lib.evaluate_run(config.workdir, dataset=dataset, options=report_lib.EvalOptions(
      iwae_samples=5, num_generated=100, kde_train_examples=200, kde_folds=2))
  assert 'disentanglement' not in report  # not a section of CatVAE's family
  assert np.isfinite(report['parzen']['log_likelihood'])
  assert report['parzen']['fitted_on'] == 200


def test_figure5_driver_ties_beta_to_gamma_and_tabulates_the_reports(tmp_path):
  from icvae.cli import dsprites_figure5
  assert dsprites_figure5.sweep_flag('imae', [1, 4]) == 'gamma,beta,vat_weight:1:0.5:0.5,4:2:2'
  assert dsprites_figure5.sweep_flag('beta_vae', [1, 4]) == 'beta,vat_weight:1:1,4:4'
  for model, x, key in (('imae', 4.0, 'gamma'), ('beta_vae', 4.0, 'beta')):
    for seed, mig in ((0, 0.2), (1, 0.4)):
      path = tmp_path / model / f'{key}=4' / f'seed={seed}' / 'eval' / 'report.json'
      path.parent.mkdir(parents=True)
      path.write_text(json.dumps({
          'config': {'model': model, 'seed': seed, 'gamma': x,
                     'beta': x / 2 if model == 'imae' else x},
          'disentanglement': {'mig_chen': mig, 'mig_chen_with_discrete': mig,
                              'mig_histogram': mig, 'accuracy_y_against_discrete': 0.5},
          'test': {'reconstruction': -30.0}, 'codes': {'total_correlation': 0.1}}))
  found = dsprites_figure5.collect(tmp_path, ['imae', 'beta_vae'])
  assert {model: sorted(by_point) for model, by_point in found.items()} == {
      'imae': [4.0], 'beta_vae': [4.0]}
  lines = dsprites_figure5.table(found).splitlines()
  assert lines[2].startswith('| IMAE | 4 | 2 | 0.300 ± 0.141 |')
  dsprites_figure5.plot(found, tmp_path / 'figure5.png', 'test')
  assert (tmp_path / 'figure5.png').stat().st_size > 0


@pytest.mark.slow
def test_the_binary_draws_dsprites_trains_a_tied_sweep_and_evaluates_it(tmp_path):
  """End to end on the real grid: generation into --data_dir, a cache reused by the second
  process, a tied sweep, and every run's evaluation with the disentanglement section."""
  import subprocess
  import sys
  root = pathlib.Path(__file__).resolve().parents[1]
  workdir = tmp_path / 'runs'
  (tmp_path / 'data').mkdir()
  command = [sys.executable, '-m', 'experiments.dsprites',
             f'--flagfile={root / "experiments" / "flags" / "dsprites_imae.flags"}',
             f'--data_dir={tmp_path / "data"}', '--train_examples=4096', '--batch_size=256',
             '--num_epochs=1', '--hidden_features=64', '--mig_position_stride=4',
             '--mig_samples=300', '--mig_points=2000', '--progress=false']
  result = subprocess.run(command + [f'--workdir={workdir}',
                                     '--sweep=gamma,beta,vat_weight:2:1:1,8:4:4'],
                          cwd=root, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'generated the dSprites images' in result.stderr
  for point in ('gamma=2,beta=1,vat_weight=1', 'gamma=8,beta=4,vat_weight=4'):
    report = json.loads((workdir / point / 'eval' / 'report.json').read_text())
    found = report['disentanglement']
    assert found['images'] == 737280 // 16
    assert 0 <= found['mig_chen'] <= 1 and 0 <= found['mig_histogram'] <= 1
    assert (workdir / point / 'eval' / 'traversals_y2.png').exists()
  assert 'MIG (Chen, continuous factors)' in result.stderr  # the summary line
  # A second process reads the cache instead of drawing again.
  again = subprocess.run(command + [f'--workdir={tmp_path / "again"}', '--final_eval=false'],
                         cwd=root, capture_output=True, text=True, timeout=900)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'generated the dSprites images' not in again.stderr
