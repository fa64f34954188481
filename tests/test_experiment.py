"""Experiment binaries: flag validation, resume, refusal, NaN stop, sharding, SIGKILL."""

import json
import math
import os
import re
import pathlib
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl import flags
from absl.testing import flagsaver

import fakes
import icvae
from icvae import checkpoints
from icvae import config as config_lib
from icvae import data
from icvae import inference
from icvae import loop
from icvae import report as report_lib
from icvae import train

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAGFILE = ROOT / 'experiments' / 'flags' / 'mnist_smoke.flags'




def _params_of_checkpoint(directory, epoch):
  import orbax.checkpoint as ocp
  manager = ocp.CheckpointManager(pathlib.Path(directory).absolute())
  restored = manager.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore()))
  return jax.tree.map(np.asarray, restored['state'])


# --- flags -------------------------------------------------------------------------------


@pytest.fixture
def parsed_flags():
  from icvae.cli import common  # defines the flags
  del common
  with flagsaver.flagsaver():
    flags.FLAGS.unparse_flags()
    yield flags.FLAGS


AAE_FLAGFILE = ROOT / 'experiments' / 'flags' / 'mnist_aae.flags'
CATVAE_FLAGFILE = ROOT / 'experiments' / 'flags' / 'mnist_catvae.flags'


@pytest.mark.parametrize('argv,flag', [
    (['--latent_dim=21'], '--latent_dim'),
    (['--latent_dim=30', '--delta=4'], '--latent_dim'),
    (['--num_categories=1'], '--num_categories'),
    (['--beta_info=-1'], '--beta_info'),
    (['--beta_cont=nan'], '--beta_cont'),
    (['--learning_rate=0'], '--learning_rate'),
    (['--batch_size=0'], '--batch_size'),
    (['--batch_size=60001'], '--batch_size'),
    (['--workdir={a_file}/sub'], '--workdir'),
    (['--num_epochs=0'], '--num_epochs'),
    (['--delta=0'], '--delta'),
    (['--model=gan'], '--model=gan'),
    # A setting the model does not read is refused, naming it (it would be ignored).
    (['--model=catvae', '--beta_info=100'], '--beta_info=100.0: --model=catvae does not'),
    (['--flagfile={catvae}', '--num_info_samples=5'], '--num_info_samples'),
    (['--flagfile={aae}', '--beta_cont=1'], '--beta_cont=1.0: --model=aae does not use'),
    (['--flagfile={aae}', '--learned_prior'], '--learned_prior'),
    (['--flagfile={aae}', '--num_categories=10'], '--num_categories'),
    (['--flagfile={aae}', '--network=gru'], '--network=gru: --model=aae supports only'),
    (['--flagfile={aae}', '--adversarial_weight=-1'], '--adversarial_weight'),
    (['--adversarial_weight=5'], '--adversarial_weight=5.0: --model=infocatvae does not'),
    (['--observation_scale=0.1'], '--observation_scale'),  # the MLP is Bernoulli
    (['--network=gru', '--observation_scale=-0.1'], '--observation_scale'),
    (['--network=gru', '--observation_scale=inf'], '--observation_scale'),
])
def test_bad_flags_name_the_flag(parsed_flags, tmp_path, argv, flag):
  from absl import app
  from icvae.cli import common
  a_file = tmp_path / 'a_file'
  a_file.write_text('')
  argv = [arg.format(a_file=a_file, aae=AAE_FLAGFILE, catvae=CATVAE_FLAGFILE) for arg in argv]
  if not any(arg.startswith('--flagfile') for arg in argv):
    argv = [f'--flagfile={FLAGFILE}'] + argv
  parsed_flags(['prog', f'--workdir={tmp_path}/w'] + argv)
  with pytest.raises(app.UsageError, match=re.escape(flag)):
    common.config_from_flags('mnist')


@pytest.mark.parametrize('flagfile', sorted((ROOT / 'experiments' / 'flags').glob('*.flags')))
def test_every_flagfile_builds_a_config(parsed_flags, tmp_path, flagfile):
  from icvae.cli import common
  parsed_flags(['prog', f'--flagfile={flagfile}', f'--workdir={tmp_path}/w'])
  config = common.config_from_flags('mnist')
  assert config.build_objective() is not None
  # The library's reader of flagfiles (for notebooks) agrees with absl's parsing.
  assert icvae.RunConfig.from_flagfile(flagfile, 'mnist', workdir=f'{tmp_path}/w') == config


def test_unused_setting_at_its_off_value_is_accepted(parsed_flags, tmp_path):
  from icvae.cli import common
  parsed_flags(['prog', f'--flagfile={ROOT}/experiments/flags/mnist_catvae.flags',
                f'--workdir={tmp_path}/w'])
  config = common.config_from_flags('mnist')  # the flagfile says --beta_info=0
  assert config.build_objective().beta_info == 0.0
  assert 'beta_info' not in config.to_dict()


@pytest.mark.parametrize('argv,flag', [
    (['--iwae_samples=0'], '--iwae_samples'),
    (['--kde_folds=1'], '--kde_folds'),
    (['--num_generated=-5'], '--num_generated'),
])
def test_bad_evaluation_flags_name_the_flag(parsed_flags, argv, flag):
  from absl import app
  from icvae.cli import common
  parsed_flags(['prog'] + argv)
  with pytest.raises(app.UsageError, match=flag):
    common.eval_options_from_flags()


def test_observation_scale_picks_the_gru_likelihood(parsed_flags, tmp_path):
  from icvae.cli import common
  from icvae import likelihoods
  seq = f'{ROOT}/experiments/flags/seq_mnist_catvae.flags'
  parsed_flags(['prog', f'--flagfile={seq}', f'--workdir={tmp_path}/w',
                '--observation_scale=0'])
  assert common.config_from_flags('mnist').likelihood == likelihoods.SquaredError()  # app. C
  parsed_flags(['prog', f'--flagfile={seq}', f'--workdir={tmp_path}/w'])
  config = common.config_from_flags('mnist')
  assert config.likelihood == likelihoods.Gaussian(0.2)  # the flagfile's choice
  assert config.build_objective().likelihood == likelihoods.Gaussian(0.2)


def test_good_flags_build_the_config(parsed_flags, tmp_path):
  from icvae.cli import common
  parsed_flags(['prog', f'--flagfile={ROOT}/experiments/flags/mnist_infocatvae.flags',
                f'--workdir={tmp_path}/w', '--latent_dim=30', '--delta=3'])
  config = common.config_from_flags('mnist')
  assert (config.delta, config.beta_info, config.learning_rate) == (3, 100.0, 1e-4)
  assert config.build_objective().beta_info == 100.0


@pytest.mark.parametrize('argv,message', [
    (['--model=gan'], 'model'),
    (['--beta_info=-1'], '--beta_info'),
    (['--workdir={a_file}/x'], '--workdir'),
])
def test_binary_exits_nonzero_and_writes_nothing(tmp_path, argv, message):
  workdir = tmp_path / 'never'
  a_file = tmp_path / 'a_file'
  a_file.write_text('')
  argv = [arg.format(a_file=a_file) for arg in argv]
  args = [sys.executable, '-m', 'experiments.mnist', f'--flagfile={FLAGFILE}',
          f'--workdir={workdir}', '--data_dir=/nonexistent'] + argv
  result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode != 0
  assert message in result.stderr
  assert not workdir.exists()


# --- resume, refusal, NaN ----------------------------------------------------------------


def test_foreign_workdir_is_refused(tmp_path):
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path, num_epochs=1), dataset)
  with pytest.raises(loop.ExperimentError, match='delta'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path, delta=3), dataset)
  # Extending the run is allowed and resumes.
  loop.train_and_evaluate(fakes.tiny_config(tmp_path, num_epochs=2), dataset)
  records = [json.loads(l) for l in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [r['epoch'] for r in records] == [1, 2]
  assert {'train/loss', 'test/elbo', 'test/clustering_accuracy'} <= set(records[-1])
  assert json.loads((tmp_path / 'config.json').read_text())['num_epochs'] == 2
  assert list((tmp_path / 'tensorboard').iterdir())


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  good = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path, num_epochs=2), good)
  # NaN data are refused before training (icvae.examples)...
  bad = good._replace(train_images=np.full_like(good.train_images, np.nan))
  with pytest.raises(data.DataError, match='the training examples: value nan'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path, num_epochs=3), bad)
  # ... so, to make the loss non-finite as a diverging run would, the data check is skipped.
  monkeypatch.setattr(icvae.examples, 'checked_examples', lambda x, where: x)
  with pytest.raises(loop.ExperimentError, match='epoch 3'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path, num_epochs=3), bad)
  assert sorted(int(p.name) for p in (tmp_path / 'checkpoints').iterdir()
                if p.name.isdigit()) == [1, 2]
  params = _params_of_checkpoint(tmp_path / 'checkpoints', 2)
  assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(params))


@pytest.mark.parametrize('network', ['mlp', 'gru'])
def test_resume_is_bit_identical_to_uninterrupted(tmp_path, network):
  dataset = fakes.tiny_dataset()
  config = lambda workdir, epochs: fakes.tiny_config(workdir, num_epochs=epochs, network=network)
  loop.train_and_evaluate(config(tmp_path / 'a', 3), dataset)
  loop.train_and_evaluate(config(tmp_path / 'b', 1), dataset)
  loop.train_and_evaluate(config(tmp_path / 'b', 3), dataset)
  a = _params_of_checkpoint(tmp_path / 'a' / 'checkpoints', 3)
  b = _params_of_checkpoint(tmp_path / 'b' / 'checkpoints', 3)
  jax.tree.map(np.testing.assert_array_equal, a, b)


def test_restore_from_checks_the_architecture(tmp_path):
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'a', num_epochs=1), dataset)
  state = loop.train_and_evaluate(
      fakes.tiny_config(tmp_path / 'b', num_epochs=1, learning_rate=1e-4,
                   restore_from=str(tmp_path / 'a' / 'checkpoints')), dataset)
  assert int(state.step) == 4  # restarted from step 0
  with pytest.raises(checkpoints.CheckpointError, match='restore_from'):
    loop.train_and_evaluate(
        fakes.tiny_config(tmp_path / 'c', num_epochs=1, hidden_features=32,
                     restore_from=str(tmp_path / 'a' / 'checkpoints')), dataset)


# --- sharding ----------------------------------------------------------------------------


def test_four_devices_match_one_device():
  assert jax.device_count() >= 4, 'conftest sets 4 CPU devices'
  images = jax.random.uniform(jax.random.key(0), (512, 784))
  results = []
  for devices in (jax.devices()[:1], jax.devices()[:4]):
    mesh = train.data_mesh(devices)
    model = icvae.mlp_catvae(hidden_features=32, seed=1)
    optimizer = optax.adam(1e-3)
    config = icvae.InfoCatVAE(10.0, 10.0, 100.0)
    graphdef, state = icvae.create_train_state(model, optimizer)
    epoch = train.make_train_epoch(graphdef, optimizer, config, 64, mesh)
    state = train.replicate(state, mesh)
    x = train.replicate(images, mesh)
    for e in range(2):
      state, metrics = epoch(state, x, jax.random.key(2), e)
    results.append((jax.tree.map(np.asarray, state.params), float(metrics['loss'])))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5),
               results[0][0], results[1][0])
  assert results[0][1] == pytest.approx(results[1][1], rel=1e-4)


# --- end to end on real MNIST ------------------------------------------------------------



@pytest.mark.slow
def test_smoke_trains_and_resumes_after_sigkill(tmp_path, mnist_dir):
  env = dict(os.environ, ICVAE_CACHE_DIR=str(tmp_path / 'cache'))
  command = lambda w: [sys.executable, '-m', 'experiments.mnist', f'--flagfile={FLAGFILE}',
                       f'--workdir={w}', f'--data_dir={mnist_dir}']
  whole = subprocess.run(command(tmp_path / 'whole'), cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
  assert whole.returncode == 0, whole.stderr[-3000:]
  for name in ('config.json', 'metrics.jsonl', 'checkpoints', 'tensorboard'):
    assert (tmp_path / 'whole' / name).exists(), name
  records = [json.loads(l) for l in (tmp_path / 'whole' / 'metrics.jsonl').read_text()
             .splitlines()]
  assert records[-1]['train/loss'] < records[0]['train/loss']
  assert records[-1]['test/clustering_accuracy'] > 0.15
  assert 'epoch 3/3' in whole.stderr

  killed = subprocess.Popen(command(tmp_path / 'killed'), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  first = tmp_path / 'killed' / 'checkpoints' / '1'
  deadline = time.time() + 240
  while not first.exists() and time.time() < deadline and killed.poll() is None:
    time.sleep(0.05)
  killed.send_signal(signal.SIGKILL)
  killed.wait()
  assert not (tmp_path / 'killed' / 'checkpoints' / '3').exists(), 'killed too late'
  resumed = subprocess.run(command(tmp_path / 'killed'), cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming' in resumed.stderr
  jax.tree.map(np.testing.assert_array_equal,
               _params_of_checkpoint(tmp_path / 'whole' / 'checkpoints', 3),
               _params_of_checkpoint(tmp_path / 'killed' / 'checkpoints', 3))


# --- evaluation ----------------------------------------------------------------------------


def _finite_leaves(tree, path=''):
  if isinstance(tree, dict):
    for key, value in tree.items():
      yield from _finite_leaves(value, f'{path}/{key}')
  elif isinstance(tree, list):
    for i, value in enumerate(tree):
      yield from _finite_leaves(value, f'{path}/{i}')
  elif isinstance(tree, float):
    yield path, np.isfinite(tree)


def test_evaluate_writes_every_figure_and_a_finite_report(tmp_path):
  dataset = fakes.tiny_dataset(n_train=300, n_test=100)
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(workdir), dataset=dataset)
  options = report_lib.EvalOptions(iwae_samples=20, num_generated=300, kde_folds=3)
  report = report_lib.evaluate_run(workdir, dataset=dataset, options=options)
  saved = json.loads((workdir / 'eval' / 'report.json').read_text())
  assert saved['epoch'] == 2
  for section, keys in {
      'test': ['elbo', 'reconstruction', 'kl_continuous', 'kl_categorical', 'information',
               'iwae_bound', 'reconstruction_squared_error'],
      'information_cross_entropy': ['proper', 'as_published'],
      'parzen': ['log_likelihood', 'bandwidth', 'log_likelihood_std_error']}.items():
    for key in keys:
      assert np.isfinite(saved[section][key]), (section, key)
  for split in ('train', 'test'):
    assert set(saved['clustering'][split]) == {'accuracy', 'many_to_one_accuracy', 'nmi',
                                               'ari', 'cluster_usage'}
    assert sum(saved['clustering'][split]['cluster_usage']) == pytest.approx(1.0)
  bad = [path for path, finite in _finite_leaves(saved) if not finite]
  assert not bad, bad
  assert set(report['figures']) == {'figure3_centroid_paths', 'figure4_prior_scale',
                                    'conditional_samples', 'reconstructions',
                                    'training_curves'}
  for name in report['figures'].values():
    png = (workdir / 'eval' / name).read_bytes()
    assert png.startswith(b'\x89PNG') and len(png) > 2000, name
  # With S = 20 the importance-weighted bound is above the ELBO on average (small slack:
  # both are Monte Carlo estimates).
  assert saved['test']['iwae_bound'] >= saved['test']['elbo'] - 1.0
  # On the trained model, the bound rises with S and S = 200 is above the exact-KL ELBO.
  from icvae import evaluation
  model = inference.load_model(workdir).model
  x = jnp.asarray(data.as_flat(dataset.test_images))
  posterior = model.encode(x)
  bounds = [float(jnp.mean(evaluation.importance_weighted_bound(
      jax.random.key(s), x, posterior, model.decode, model.prior_means(), s)))
            for s in (1, 10, 200)]
  assert bounds[0] < bounds[1] < bounds[2]
  elbo, _ = icvae.infocatvae_loss(jax.random.key(0), x, posterior,
                                  lambda z, _: model.decode(z), None, model.prior_means(),
                                  beta_cont=1.0, beta_cat=1.0, beta_info=0.0)
  assert bounds[2] > -float(elbo)


def test_evaluate_refuses_missing_and_foreign_workdirs(tmp_path):
  with pytest.raises(checkpoints.CheckpointError, match='no such folder'):
    inference.load_model(tmp_path / 'missing')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(checkpoints.CheckpointError, match='not the workdir'):
    inference.load_model(tmp_path / 'empty')
  foreign = tmp_path / 'foreign'
  foreign.mkdir()
  (foreign / 'config.json').write_text('{"learning_rate": 0.1, "optimizer": "sgd"}')
  with pytest.raises(checkpoints.CheckpointError, match='not an icvae configuration'):
    inference.load_model(foreign)
  # A checkpoint whose config.json was edited to another architecture.
  dataset = fakes.tiny_dataset()
  run = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(run, num_epochs=1), dataset=dataset)
  config = json.loads((run / 'config.json').read_text())
  config['hidden_features'] = 32
  (run / 'config.json').write_text(json.dumps(config))
  with pytest.raises(checkpoints.CheckpointError, match='does not fit|other settings'):
    inference.load_model(run)


def test_evaluate_binary_reports_a_missing_workdir(tmp_path):
  completed = subprocess.run(
      [sys.executable, '-m', 'experiments.evaluate', f'--workdir={tmp_path / "nowhere"}'],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert completed.returncode == 1
  assert 'no such folder' in completed.stderr


# --- recurrent networks (Table 3) and the free prior ----------------------------------------


@pytest.mark.parametrize('learned_prior,observation_scale', [(False, 0.2), (True, 0.0)])
def test_gru_smoke_on_real_mnist_lowers_the_loss_and_writes_everything(tmp_path, mnist_arrays,
                                                                       learned_prior,
                                                                       observation_scale):
  train_x, train_y, test_x, test_y = mnist_arrays
  dataset = data.Dataset(train_x[:2048].reshape(-1, 28, 28), train_y[:2048],
                         test_x[:500].reshape(-1, 28, 28), test_y[:500])
  workdir = tmp_path / 'gru'
  config = fakes.tiny_config(workdir, network='gru', hidden_features=32, num_epochs=3,
                        batch_size=128, learning_rate=3e-3, eval_batch_size=500,
                        learned_prior=learned_prior, reconstruction='soft_code',
                        observation_scale=observation_scale)
  state = loop.train_and_evaluate(config, dataset)
  records = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert records[-1]['train/loss'] < records[0]['train/loss']
  assert records[-1]['test/loss'] < records[0]['test/loss']
  assert (workdir / 'checkpoints' / '3').is_dir()
  assert list((workdir / 'tensorboard').iterdir())
  options = report_lib.EvalOptions(iwae_samples=5, iwae_examples=50, num_generated=200,
                                   kde_train_examples=500, kde_folds=2)
  report = report_lib.evaluate_run(workdir, dataset=dataset, options=options)
  assert (workdir / 'eval' / report['figures']['conditional_samples']).exists()
  assert math.isfinite(report['test']['iwae_bound'])
  # The free prior's means move; the fixed prior's do not (they are not parameters).
  means = np.asarray(jax.device_get(
      (state.params if learned_prior else state.constants)['prior']['means']))
  block = icvae.block_prior_means(10, 2, 2.0)
  if learned_prior:
    assert np.abs(means - block).max() > 1e-3
  else:
    np.testing.assert_array_equal(means, block)
    assert 'prior' not in state.params


def test_workdir_from_before_a_new_setting_still_resumes_and_evaluates(tmp_path):
  # A config.json as icvae 0.1 wrote it: every setting for every model (a CatVAE with the
  # unused beta_info = 100, num_info_samples and adversarial_weight), and from before
  # network, compute_dtype and observation_scale existed. It resumes and evaluates: the
  # settings the model does not read are dropped, the missing ones take their defaults.
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'old'
  loop.train_and_evaluate(fakes.tiny_config(workdir, model='catvae', num_epochs=1), dataset)
  config_path = workdir / 'config.json'
  saved = json.loads(config_path.read_text())
  saved.update(beta_info=100.0, num_info_samples=0, adversarial_weight=10.0)
  for key in ('network', 'compute_dtype', 'observation_scale', 'latent_dim', 'format_version'):
    del saved[key]  # format 1: no format_version key
  config_path.write_text(json.dumps(saved))
  loop.train_and_evaluate(fakes.tiny_config(workdir, model='catvae', num_epochs=2), dataset)
  loaded = inference.load_model(workdir)
  assert loaded.epoch == 2 and loaded.config.network == 'mlp'
  assert loaded.objective.beta_info == 0.0


def test_workdir_of_a_newer_format_is_refused_saying_to_upgrade(tmp_path):
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'newer'
  loop.train_and_evaluate(fakes.tiny_config(workdir, model='catvae', num_epochs=1), dataset)
  config_path = workdir / 'config.json'
  saved = json.loads(config_path.read_text())
  assert saved['format_version'] == config_lib.FORMAT_VERSION
  saved['format_version'] = config_lib.FORMAT_VERSION + 1
  config_path.write_text(json.dumps(saved))
  before = sorted(p.name for p in (workdir / 'checkpoints').iterdir())
  with pytest.raises(loop.ExperimentError, match='newer icvae.*Upgrade icvae'):
    loop.train_and_evaluate(fakes.tiny_config(workdir, model='catvae', num_epochs=2), dataset)
  with pytest.raises(checkpoints.CheckpointError, match='newer icvae.*Upgrade icvae'):
    inference.load_model(workdir)
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == before
  assert json.loads(config_path.read_text()) == saved
