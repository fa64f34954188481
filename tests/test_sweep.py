"""Sweeps as one program: each run equals its single run, writes its own workdir, resumes;
bad sweeps are refused before anything is written."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fakes
from icvae import checkpoints
from icvae import inference
from icvae import loop
from icvae import sweep
from icvae import train
from icvae.settings import SettingError

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _records(workdir):
  return [json.loads(line) for line in (pathlib.Path(workdir) / 'metrics.jsonl')
          .read_text().splitlines()]


def _assert_same_records(a, b, rtol, test_rtol=None):
  assert [r['epoch'] for r in a] == [r['epoch'] for r in b]
  for x, y in zip(a, b):
    names = {k for k in y if not k.endswith(('seconds', 'examples_per_second'))}
    assert names <= set(x), sorted(names - set(x))
    for name in sorted(names):
      if name.startswith('test/') and test_rtol:
        atol = 0.021 if name == 'test/clustering_accuracy' else 1e-3  # 2 images of 100
        np.testing.assert_allclose(x[name], y[name], rtol=test_rtol, atol=atol, err_msg=name)
      else:
        np.testing.assert_allclose(x[name], y[name], rtol=rtol, atol=1e-6, err_msg=name)


def _test_outputs(workdir, images):
  """The loaded model's cluster logits and reconstruction of `images` (what the model
  computes, whatever its parameters that have no effect, e.g. a bias before batch norm)."""
  loaded = inference.load_model(workdir)
  model = loaded.model
  logits = loaded.objective.cluster_logits(model, images)
  metrics = loaded.objective.evaluate(model, images, jax.random.key(0))
  return np.asarray(logits), {k: float(v) for k, v in metrics.items()}


# Table 1's trunk has a dense bias before each batch norm: its gradient is zero up to
# rounding, which Adam's normalisation turns into steps of size ~learning_rate, so that bias
# drifts differently under any change of rounding (vmap, another device count). Training
# does not see it (batch norm removes it), but the running means lag behind it, so the test
# metrics (running statistics) of a model with batch norm agree to ~1% only; the training
# metrics, and every number of a model without batch norm, agree to rounding.
@pytest.mark.parametrize('model,axis,test_rtol', [('imae', 'beta:0.5,4', 0.1),
                                                  ('infocatvae', 'beta_info:0,10', None)])
def test_each_run_of_a_sweep_computes_what_its_single_run_computes(tmp_path, model, axis,
                                                                   test_rtol):
  dataset = fakes.tiny_dataset()
  base = fakes.tiny_config(tmp_path / 'sweep', model=model)
  runs = sweep.expand(base, seeds=[3, 1], axes=[axis])
  assert [pathlib.Path(r.workdir).relative_to(tmp_path / 'sweep').as_posix() for r in runs] == [
      f'{axis.split(":")[0]}={v}/seed={s}' for v in axis.split(':')[1].split(',')
      for s in (3, 1)]
  loop.train_sweep(runs, dataset)
  images = jnp.asarray(dataset.test_images.reshape(len(dataset.test_images), -1))
  for index, run in enumerate(runs):
    single = run.replace(workdir=str(tmp_path / 'single' / str(index)))
    loop.train_and_evaluate(single, dataset, devices=jax.local_devices()[:1])
    saved = json.loads((pathlib.Path(run.workdir) / 'config.json').read_text())
    assert saved == run.to_saved()  # the run's own settings, as a single run writes them
    _assert_same_records(_records(run.workdir), _records(single.workdir), rtol=2e-5,
                         test_rtol=test_rtol)
    if test_rtol is None:
      logits, metrics = _test_outputs(run.workdir, images)
      single_logits, single_metrics = _test_outputs(single.workdir, images)
      np.testing.assert_allclose(logits, single_logits, rtol=1e-4, atol=1e-4)
      for name, value in single_metrics.items():
        np.testing.assert_allclose(metrics[name], value, rtol=1e-4, err_msg=name)


def test_the_sweep_evaluation_of_each_run_equals_its_single_evaluation(tmp_path):
  dataset = fakes.tiny_dataset()
  runs = sweep.expand(fakes.tiny_config(tmp_path / 's', model='imae'), seeds=[3, 1],
                      axes=['beta:0.5,4'])
  graphdef, states = sweep.initial_states(runs)
  images = jnp.asarray(runs[0].view(dataset.test_images))
  keys = jax.random.split(jax.random.key(5), len(runs))
  evaluate = train.make_sweep_evaluate(graphdef, lambda v: sweep.parts(runs[0], v), 50)
  metrics, clusters = evaluate(states, images, keys,
                               sweep.values_of(runs, sweep.swept_names(runs)))
  mesh = train.data_mesh(jax.local_devices()[:1])
  for index, run in enumerate(runs):
    single = train.make_evaluate(graphdef, run.build_objective(), 50, mesh)
    expected, expected_clusters = single(sweep.unstack(states, index), images, keys[index])
    np.testing.assert_array_equal(clusters[index], expected_clusters)
    for name, value in expected.items():
      np.testing.assert_allclose(metrics[name][index], value, rtol=1e-5, atol=1e-6,
                                 err_msg=name)
  # beta weighs the loss: the two values give two losses on the same seed's state.
  assert not np.isclose(metrics['loss'][0], metrics['loss'][2])


def test_runs_split_over_devices_compute_what_one_device_computes(tmp_path):
  dataset = fakes.tiny_dataset()
  one = sweep.expand(fakes.tiny_config(tmp_path / 'one', model='imae'), seeds=[0, 1, 2, 3])
  four = sweep.expand(fakes.tiny_config(tmp_path / 'four', model='imae'), seeds=[0, 1, 2, 3])
  assert train_mesh_size(4) == 4
  states_one = loop.train_sweep(one, dataset, devices=jax.local_devices()[:1])
  states_four = loop.train_sweep(four, dataset)
  assert len(states_four.step.sharding.device_set) == 4
  for a, b in zip(one, four):
    _assert_same_records(_records(b.workdir), _records(a.workdir), rtol=2e-5,
                         test_rtol=0.1)  # batch norm: see the test above


def train_mesh_size(runs):
  return train.run_mesh(runs).size


def test_a_resumed_sweep_ends_as_an_uninterrupted_one(tmp_path):
  dataset = fakes.tiny_dataset()
  whole = sweep.expand(fakes.tiny_config(tmp_path / 'whole', model='imae', num_epochs=3),
                       seeds=[0, 1], axes=['gamma:1,5'])
  loop.train_sweep(whole, dataset)
  parts = sweep.expand(fakes.tiny_config(tmp_path / 'parts', model='imae', num_epochs=1),
                       seeds=[0, 1], axes=['gamma:1,5'])
  loop.train_sweep(parts, dataset)
  loop.train_sweep([r.replace(num_epochs=3) for r in parts], dataset)
  for a, b in zip(whole, parts):
    assert inference.load_model(b.workdir).epoch == 3
    jax.tree.map(np.testing.assert_array_equal, inference.load_model(a.workdir).state,
                 inference.load_model(b.workdir).state)
    assert [r['epoch'] for r in _records(b.workdir)] == [1, 2, 3]


def test_a_run_behind_the_others_sets_where_the_sweep_resumes(tmp_path, caplog):
  dataset = fakes.tiny_dataset()
  runs = sweep.expand(fakes.tiny_config(tmp_path / 's', model='beta_vae', num_epochs=2),
                      seeds=[0, 1])
  loop.train_sweep(runs, dataset)
  # As if a kill came between the two runs' saves of epoch 2: run 1 has only epoch 1.
  with checkpoints.manager(pathlib.Path(runs[1].workdir) / 'checkpoints') as manager:
    manager.delete(2)
  uninterrupted = inference.load_model(runs[0].workdir).state
  with caplog.at_level('INFO', logger='icvae'):
    loop.train_sweep(runs, dataset)
  assert 'resumes every run from epoch 1' in caplog.text
  for run in runs:
    assert inference.load_model(run.workdir).epoch == 2
  jax.tree.map(np.testing.assert_array_equal, uninterrupted,
               inference.load_model(runs[0].workdir).state)


def test_a_diverging_run_stops_alone_and_is_named(tmp_path):
  dataset = fakes.tiny_dataset()
  runs = sweep.expand(fakes.tiny_config(tmp_path / 's', model='imae', num_epochs=2,
                                        checkpoint_every=1),
                      axes=['learning_rate:0.001,1e30'])
  with pytest.raises(loop.ExperimentError, match=r'1 of the 2 runs stopped: .*learning_rate='
                     r'1e\+30: non-finite loss in epoch 1'):
    loop.train_sweep(runs, dataset)
  assert inference.load_model(runs[0].workdir).epoch == 2
  assert not (pathlib.Path(runs[1].workdir) / 'checkpoints' / '1').exists()
  assert [r['epoch'] for r in _records(runs[0].workdir)] == [1, 2]
  assert not (pathlib.Path(runs[1].workdir) / 'metrics.jsonl').exists()


@pytest.mark.parametrize('kwargs,message', [
    (dict(seeds=[0, 0]), 'seed is listed twice'),
    (dict(axes=['beta:1,1']), 'listed twice'),
    (dict(axes=['beta:1', 'beta:2']), 'swept twice'),
    (dict(axes=['seed:1,2']), 'use --seeds'),
    (dict(axes=['beta']), 'name:value'),
    (dict(axes=['beta:1,x']), "'x' is not a number"),
    (dict(axes=['beta:-1,2']), '--beta=-1.0: must be'),
    (dict(axes=['continuous_dim:2,3']), 'fixes the shapes'),
    (dict(axes=['dropout_rate:0,0.1']), 'cannot be swept'),
    (dict(axes=['compute_dtype:float32']), 'not a number'),
    (dict(axes=['beta_info:1,2']), 'has no setting'),
])
def test_bad_sweeps_are_refused_naming_what_to_change(tmp_path, kwargs, message):
  with pytest.raises(SettingError, match=message):
    sweep.expand(fakes.tiny_config(tmp_path / 's', model='imae'), **kwargs)
  assert not (tmp_path / 's').exists()


def test_a_setting_used_in_control_flow_is_refused_before_anything_is_written(tmp_path):
  base = fakes.tiny_config(tmp_path / 's', model='imae', vat_weight=1.0)
  runs = sweep.expand(base, axes=['vat_power_iterations:1,2'])
  with pytest.raises(SettingError, match='vat_power_iterations in Python control flow'):
    loop.train_sweep(runs, fakes.tiny_dataset())
  assert not (tmp_path / 's').exists()


@pytest.mark.slow
def test_the_binary_trains_a_sweep_and_evaluates_every_run(tmp_path, mnist_dir):
  workdir = tmp_path / 'sweep'
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.mnist',
       f'--flagfile={ROOT / "experiments" / "flags" / "mnist_smoke.flags"}',
       f'--workdir={workdir}', f'--data_dir={mnist_dir}', '--num_epochs=1', '--seeds=0,1',
       '--final_eval=false'],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env={**__import__('os').environ, 'ICVAE_CACHE_DIR': str(tmp_path / 'cache')})
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'sweep of 2 runs' in result.stderr
  for seed in (0, 1):
    run = workdir / f'seed={seed}'
    assert json.loads((run / 'config.json').read_text())['seed'] == seed
    assert _records(run)[-1]['test/clustering_accuracy'] > 0.1
    assert inference.load_model(run).epoch == 1


def test_the_binary_refuses_a_bad_sweep_and_writes_nothing(tmp_path):
  workdir = tmp_path / 'never'
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.mnist', '--model=imae', f'--workdir={workdir}',
       '--sweep=hidden_features:10,20'], cwd=ROOT, capture_output=True, text=True,
      timeout=120)
  assert result.returncode != 0
  assert '--sweep=hidden_features' in result.stderr and 'cannot be swept' in result.stderr
  assert not workdir.exists()


def test_a_sweep_of_one_run_trains_the_single_run_bit_for_bit(tmp_path):
  dataset = fakes.tiny_dataset()
  [run] = sweep.expand(fakes.tiny_config(tmp_path / 's', model='imae'), seeds=[2])
  loop.train_sweep([run], dataset, devices=jax.local_devices()[:1])
  single = run.replace(workdir=str(tmp_path / 'single'))
  loop.train_and_evaluate(single, dataset, devices=jax.local_devices()[:1])
  jax.tree.map(np.testing.assert_array_equal, inference.load_model(run.workdir).state,
               inference.load_model(single.workdir).state)
  _assert_same_records(_records(run.workdir), _records(single.workdir), rtol=0)
