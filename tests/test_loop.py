"""The training loop as a user meets it: Ctrl-C, resume messages, the workdir lock,
TensorBoard after a resume, and a model plug-in defined outside icvae."""

import json
import os
import pathlib
import signal
import struct
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import fakes
from icvae import loop
from icvae import train

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = ROOT / 'experiments' / 'flags' / 'mnist_smoke.flags'




# --- the workdir lock ------------------------------------------------------------------


def test_a_second_process_on_a_workdir_is_refused_naming_the_first(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  holder = subprocess.Popen(
      [sys.executable, '-c', textwrap.dedent(f'''
          import sys, time
          from icvae import loop
          with loop.WorkdirLock({str(workdir)!r}):
            print('locked', flush=True)
            time.sleep(60)
          ''')], stdout=subprocess.PIPE, text=True, cwd=ROOT)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(loop.ExperimentError, match=f'in use by process {holder.pid} '):
      loop.train_and_evaluate(fakes.tiny_config(workdir), fakes.tiny_dataset())
    assert not (workdir / 'config.json').exists()  # refused before writing anything
  finally:
    holder.kill()
    holder.wait()
  # The lock dies with its holder, even killed: the workdir is usable again.
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=1), fakes.tiny_dataset())
  assert (workdir / 'checkpoints' / '1').is_dir()


# --- TensorBoard after a resume --------------------------------------------------------


def _read_events(path):
  """(step, tag, value) scalars and (step, 'START') session starts of one event file,
  read with the TFRecord framing and tensorboardX's Event proto (independent of icvae)."""
  from tensorboardX.proto import event_pb2
  raw = path.read_bytes()
  records, offset = [], 0
  while offset < len(raw):
    (length,) = struct.unpack('<Q', raw[offset:offset + 8])
    event = event_pb2.Event.FromString(raw[offset + 12:offset + 12 + length])
    offset += 12 + length + 4
    if event.HasField('session_log') and event.session_log.status == 1:
      records.append((event.step, 'START', None))
    for value in event.summary.value:
      records.append((event.step, value.tag, value.simple_value))
  return records


def _tensorboard_view(directory):
  """Scalars as TensorBoard shows them: files in name (time) order, and a session START at
  step s discards the earlier events at steps >= s (TensorBoard's purge rule)."""
  kept = []
  for path in sorted(directory.iterdir()):
    for step, tag, value in _read_events(path):
      if tag == 'START':
        kept = [r for r in kept if r[0] < step]
      else:
        kept.append((step, tag, value))
  return kept


def test_resume_after_a_kill_leaves_one_tensorboard_point_per_step(tmp_path):
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=3, checkpoint_every=2), dataset)
  # A kill after epoch 3 was logged but before its checkpoint was written:
  import shutil
  shutil.rmtree(workdir / 'checkpoints' / '3')
  time.sleep(1.1)  # event file names carry the time in seconds
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=3, checkpoint_every=2), dataset)
  view = _tensorboard_view(workdir / 'tensorboard')
  losses = [(step, value) for step, tag, value in view if tag == 'train/loss']
  steps = [step for step, _ in losses]
  assert steps == [4, 8, 12]  # 4 steps per epoch; epoch 3 once, not twice
  records = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['epoch'] for r in records] == [1, 2, 3]
  np.testing.assert_allclose([v for _, v in losses], [r['train/loss'] for r in records],
                             rtol=1e-6)


# --- Ctrl-C ------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_stops_saves_the_last_finished_epoch_and_the_rerun_resumes(tmp_path, mnist_dir):
  env = dict(os.environ, ICVAE_CACHE_DIR=str(tmp_path / 'cache'))
  workdir = tmp_path / 'run'
  command = [sys.executable, '-m', 'experiments.mnist', f'--flagfile={SMOKE}',
             f'--workdir={workdir}', f'--data_dir={mnist_dir}', '--num_epochs=1000',
             '--checkpoint_every=100']
  process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
  lines = []
  for line in process.stderr:
    lines.append(line)
    if 'epoch 1/1000' in line:
      break
  sent = time.time()
  process.send_signal(signal.SIGINT)
  _, rest = process.communicate(timeout=30)
  seconds = time.time() - sent
  assert process.returncode == 130, ''.join(lines) + rest
  assert seconds < 5, seconds
  assert 'Traceback' not in rest
  stopped = [line for line in rest.splitlines() if line.startswith('stopped after epoch ')]
  assert stopped and stopped[0].endswith('run the same command to resume.'), rest
  epoch = int(stopped[0].split()[3].rstrip(';'))
  assert (workdir / 'checkpoints' / str(epoch)).is_dir()
  records = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert json.loads(records[-1])['epoch'] == epoch
  resumed = subprocess.run(command[:-2] + [f'--num_epochs={epoch + 1}', '--final_eval=false'],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f'resuming {workdir} from epoch {epoch} of {epoch + 1}' in resumed.stderr
  assert (workdir / 'checkpoints' / str(epoch + 1)).is_dir()


def test_a_new_run_says_it_starts_fresh(tmp_path, caplog):
  with caplog.at_level('INFO', logger='icvae'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'run', num_epochs=1), fakes.tiny_dataset())
  assert f'starting a new run in {tmp_path / "run"} (no checkpoint there)' in caplog.text


# --- a model plug-in from another package -------------------------------------------------


PLUGIN = '''
"""A model defined outside icvae: a plain autoencoder whose code is pulled to 0."""
import dataclasses
import jax.numpy as jnp
from flax import nnx
from icvae import likelihoods, objectives
from icvae.settings import Setting, non_negative

SHRINK = Setting('shrink', 1.0, 'Weight of the squared code norm.', check=non_negative)


class Networks(nnx.Module):
  def __init__(self, hidden, *, rngs):
    self.encoder = nnx.Linear(784, hidden, rngs=rngs)
    self.decoder = nnx.Linear(hidden, 784, rngs=rngs)
    self.prior = nnx.Variable(jnp.zeros((1, hidden)))

  def encode(self, x, key=None):
    from icvae.losses import CategoricalPosterior
    z = self.encoder(x)
    return CategoricalPosterior(jnp.zeros((x.shape[0], 1)), z[:, None],
                                jnp.full((x.shape[0], 1, z.shape[-1]), -30.0))

  def decode(self, z, key=None):
    return self.decoder(z)

  def prior_means(self):
    return self.prior[...]


@dataclasses.dataclass(frozen=True)
class Shrunk(objectives.Objective):
  shrink: float = 1.0

  def _terms(self, networks, batch):
    z = networks.encoder(batch)
    reconstruction = jnp.mean(likelihoods.Bernoulli().log_prob(networks.decode(z), batch))
    norm = jnp.mean(jnp.sum(jnp.square(z), -1))
    loss = -reconstruction + self.shrink * norm
    return loss, {'reconstruction': reconstruction, 'code_norm': norm}  # no 'loss' needed

  def loss(self, networks, batch, key, step):
    return self._terms(networks, batch)

  def evaluate(self, networks, batch, key):
    return self._terms(networks, batch)[1]


objectives.register(objectives.ModelFamily(
    name='shrunk_ae', description='a test plug-in', settings=(SHRINK,),
    build_networks=lambda config: Networks(config.hidden_features,
                                           rngs=nnx.Rngs(config.seed)),
    build_objective=lambda config: Shrunk(config.shrink),
    report_sections=('reconstruction', 'parzen')))
'''


@pytest.mark.slow
def test_a_plugin_from_another_package_trains_and_evaluates_through_the_binaries(
    tmp_path, mnist_dir):
  site = tmp_path / 'site'
  (site / 'shrunk_plugin').mkdir(parents=True)
  (site / 'shrunk_plugin' / '__init__.py').write_text(PLUGIN)
  dist = site / 'shrunk_plugin-0.1.dist-info'
  dist.mkdir()
  (dist / 'METADATA').write_text('Metadata-Version: 2.1\nName: shrunk-plugin\nVersion: 0.1\n')
  (dist / 'entry_points.txt').write_text('[icvae.models]\nshrunk_ae = shrunk_plugin\n')
  env = dict(os.environ, PYTHONPATH=f'{site}{os.pathsep}{ROOT}',
             ICVAE_CACHE_DIR=str(tmp_path / 'cache'))
  workdir = tmp_path / 'run'
  train_command = [sys.executable, '-m', 'experiments.mnist', '--model=shrunk_ae',
                   '--shrink=0.5', '--hidden_features=16', '--num_epochs=2',
                   '--batch_size=500', '--learning_rate=1e-3', f'--workdir={workdir}',
                   f'--data_dir={mnist_dir}', '--final_eval=false']
  trained = subprocess.run(train_command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
  assert trained.returncode == 0, trained.stderr[-3000:]
  records = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['epoch'] for r in records] == [1, 2]
  assert records[1]['test/reconstruction'] > records[0]['test/reconstruction']
  assert 'test/code_norm' in records[1] and 'test/clustering_accuracy' not in records[1]
  assert json.loads((workdir / 'config.json').read_text())['shrink'] == 0.5
  evaluated = subprocess.run(
      [sys.executable, '-m', 'experiments.evaluate', f'--workdir={workdir}',
       f'--data_dir={mnist_dir}', '--num_generated=200', '--kde_train_examples=500',
       '--kde_folds=2'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  report = json.loads((workdir / 'eval' / 'report.json').read_text())
  assert np.isfinite(report['parzen']['log_likelihood'])
  assert np.isfinite(report['test']['reconstruction_squared_error'])
  assert 'clustering' not in report
  # Its setting is refused for the built-in models, naming it.
  refused = subprocess.run([sys.executable, '-m', 'experiments.mnist', '--model=catvae',
                            '--shrink=2', f'--workdir={tmp_path / "never"}'], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
  assert refused.returncode != 0
  assert '--shrink=2.0: --model=catvae does not use it' in refused.stderr


# --- files cut short by a kill -----------------------------------------------------------


def test_a_half_written_metrics_line_is_dropped_on_resume(tmp_path):
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=1), dataset)
  with open(workdir / 'metrics.jsonl', 'a') as f:
    f.write('{"epoch": 2, "train/lo')  # a kill in the middle of a write
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=2), dataset)
  epochs = [json.loads(line)['epoch']
            for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert epochs == [1, 2]


def test_a_corrupt_config_json_is_refused_with_what_to_do(tmp_path):
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=1), dataset)
  (workdir / 'config.json').write_text('{"model": "infoc')
  with pytest.raises(loop.ExperimentError, match='not valid JSON.*another --workdir'):
    loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=2), dataset)


def test_a_test_set_that_the_devices_cannot_split_is_refused_before_training(tmp_path):
  import jax
  dataset = fakes.tiny_dataset(n_test=101)
  with pytest.raises(loop.ExperimentError, match='test set cannot be evaluated'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'run'), dataset,
                            devices=jax.devices()[:4])
  assert not (tmp_path / 'run').exists()


def test_a_finished_run_keeps_its_config_when_asked_for_fewer_epochs(tmp_path, caplog):
  dataset = fakes.tiny_dataset()
  workdir = tmp_path / 'run'
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=2), dataset)
  with caplog.at_level('INFO', logger='icvae'):
    loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=1), dataset)
  assert 'trained to epoch 2 already' in caplog.text
  assert json.loads((workdir / 'config.json').read_text())['num_epochs'] == 2


def test_small_data_train_on_the_devices_that_split_them_evenly(tmp_path, caplog):
  import jax
  assert len(jax.devices()) == 4  # conftest's virtual devices
  dataset = fakes.tiny_dataset(n_test=10)  # 10 test examples: 2 devices of 4 split them
  with caplog.at_level('INFO', logger='icvae'):
    loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'run', num_epochs=1), dataset)
  assert 'training on 2 of the 4 devices' in caplog.text
  assert (tmp_path / 'run' / 'metrics.jsonl').exists()


def test_devices_dividing_takes_the_largest_count_that_divides_every_number():
  devices = jax.local_devices()
  assert len(devices) == 4  # tests/conftest.py forces 4 CPU devices
  assert train.devices_dividing(128, 10) == devices[:2]
  assert train.devices_dividing(6) == devices[:3]
  assert train.devices_dividing(7) == devices[:1]
  assert train.devices_dividing(8, 12) == devices
  assert train.devices_dividing(9, devices=devices[:3]) == devices[:3]


def test_a_truncated_newest_checkpoint_is_set_aside_and_the_run_resumes_bit_identical(
    tmp_path, caplog):
  straight = loop.train_and_evaluate(fakes.tiny_config(tmp_path / 'straight', num_epochs=3),
                                     fakes.tiny_dataset())
  workdir = tmp_path / 'cut'
  loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=2), fakes.tiny_dataset())
  newest = workdir / 'checkpoints' / '2'
  truncated = 0
  for path in sorted(newest.rglob('*')):  # as a full disk or a killed copy leaves them
    if path.is_file() and path.stat().st_size > 64:
      path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
      truncated += 1
  assert truncated
  with caplog.at_level('WARNING', logger='icvae'):
    resumed = loop.train_and_evaluate(fakes.tiny_config(workdir, num_epochs=3),
                                      fakes.tiny_dataset())
  assert 'the checkpoint of epoch 2 cannot be read' in caplog.text
  aside = workdir / 'checkpoints-unreadable' / '2'
  assert aside.is_dir() and f'Moved it to {aside}' in caplog.text  # kept, never deleted
  for a, b in zip(jax.tree.leaves(straight.params), jax.tree.leaves(resumed.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # load_model (what evaluate and encode read) takes the newest readable one the same way
  import icvae  # pylint: disable=g-import-not-at-top
  assert icvae.load_model(workdir).epoch == 3
