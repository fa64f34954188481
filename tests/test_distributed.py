"""Several processes (jax.distributed) on CPU loopback: the same run as one process with as
many devices, process 0 alone writing; inconsistent launches refused before any write."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from icvae import inference

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = ROOT / 'experiments' / 'flags' / 'mnist_smoke.flags'


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _env(devices, tmp_path):
  return {**os.environ, 'JAX_PLATFORMS': 'cpu', 'ICVAE_CACHE_DIR': str(tmp_path / 'cache'),
          'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}'}


def _command(workdir, mnist_dir, *extra):
  return [sys.executable, '-m', 'experiments.mnist', f'--flagfile={SMOKE}',
          f'--workdir={workdir}', f'--data_dir={mnist_dir}', '--num_epochs=2',
          '--final_eval=false', '--progress=false', *extra]


def _params(workdir, epoch):
  loaded = inference.load_model(workdir)  # as a user loads it, on one process
  assert loaded.epoch == epoch
  return jax.tree.map(np.asarray, loaded.state)


def _launch(workdir, mnist_dir, tmp_path, ids, num_processes=2, port=None, extra=None):
  port = port or _free_port()
  processes = [subprocess.Popen(
      _command(workdir, mnist_dir, f'--coordinator_address=localhost:{port}',
               f'--num_processes={num_processes}', f'--process_id={i}',
               *(extra or {}).get(i, ())),
      cwd=ROOT, env=_env(1, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for i in ids]
  return [(p.wait(timeout=600), p.stderr.read()) for p in processes]


@pytest.mark.slow
def test_two_processes_train_what_one_process_with_two_devices_trains(tmp_path, mnist_dir):
  one = subprocess.run(_command(tmp_path / 'one', mnist_dir), cwd=ROOT,
                       env=_env(2, tmp_path), capture_output=True, text=True, timeout=600)
  assert one.returncode == 0, one.stderr[-3000:]
  (code0, err0), (code1, err1) = _launch(tmp_path / 'two', mnist_dir, tmp_path, [0, 1])
  assert code0 == 0 and code1 == 0, (err0[-2000:], err1[-2000:])
  assert 'epoch 2/2' in err0 and 'epoch 2/2' not in err1  # process 0 tells the story
  records = lambda w: [{k: v for k, v in json.loads(line).items() if 'second' not in k}
                       for line in (w / 'metrics.jsonl').read_text().splitlines()]
  assert records(tmp_path / 'two') == records(tmp_path / 'one')  # one writer, one line each
  jax.tree.map(np.testing.assert_array_equal, _params(tmp_path / 'one', 2),
               _params(tmp_path / 'two', 2))


@pytest.mark.parametrize('flags,message', [
    (['--coordinator_address=localhost:1', '--num_processes=2'], 'without --process_id'),
    (['--coordinator_address=localhost:1', '--num_processes=2', '--process_id=2'],
     'process ids run from 0 to 1'),
    (['--num_processes=0', '--process_id=0', '--coordinator_address=localhost:1'],
     'process ids run from 0'),
])
def test_an_inconsistent_launch_is_refused_before_anything_is_written(tmp_path, flags,
                                                                      message):
  result = subprocess.run(_command(tmp_path / 'never', tmp_path) + flags,
                          cwd=ROOT, env=_env(1, tmp_path), capture_output=True, text=True,
                          timeout=120)
  assert result.returncode != 0
  assert message in result.stderr
  assert not (tmp_path / 'never').exists()


@pytest.mark.slow
def test_processes_started_with_other_settings_are_refused(tmp_path, mnist_dir):
  results = _launch(tmp_path / 'never', mnist_dir, tmp_path, [0, 1],
                    extra={1: ['--learning_rate=0.5']})
  assert all(code != 0 for code, _ in results)
  assert any('processes [1] were started with other settings' in err for _, err in results)
  assert not (tmp_path / 'never').exists()
