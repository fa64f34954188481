"""Networks as plug-ins (`icvae.networks`): the registry's built-in entries, a user's trunk
registered from code or named as 'package.module:attribute', every family composed on it
(with the family's MLP decoder when it has none), trained through the loop, resumed from its
config.json and loaded; pairings that cannot work refused before anything is written."""

import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fakes
import icvae
from icvae import inference
from icvae import loop
from icvae import networks
from icvae import settings

TOY = '''
import math
from flax import nnx
from icvae import networks


class Trunk(nnx.Module):
  """A Linear + tanh trunk; records the requests it was built for."""
  requests = []

  def __init__(self, request, rngs):
    Trunk.requests.append(request)
    self.features = request.widths[0]
    self.dense = nnx.Linear(math.prod(request.shape), self.features, rngs=rngs)

  def __call__(self, x, key=None, update_statistics=True, *, training=False):
    return nnx.tanh(self.dense(x.reshape(x.shape[0], -1)))


TABLE_ONLY = networks.Network('toy_table', 'tables only', trunk=Trunk, reads=('table',))
NOT_A_NETWORK = 3
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
  """An importable module `toy_networks` with a trunk class `Trunk`."""
  (tmp_path / 'toy_networks.py').write_text(textwrap.dedent(TOY))
  monkeypatch.syspath_prepend(str(tmp_path))
  import importlib
  import sys
  sys.modules.pop('toy_networks', None)
  module = importlib.import_module('toy_networks')
  yield module
  sys.modules.pop('toy_networks', None)


def test_the_built_in_networks_and_what_they_declare():
  assert networks.names()[:3] == ['mlp', 'gru', 'conv']
  gru, conv = networks.get('gru'), networks.get('conv')
  assert (gru.view, gru.reads, gru.styles, gru.likelihood) == (
      'sequence', ('image',), ('dropout',), 'squared_error')
  assert conv.stepwise_on == ('cpu',) and 'table' not in conv.reads
  assert networks.get('mlp').styles == tuple(networks.STYLES)


@pytest.mark.parametrize('model', ['imsat', 'infocatvae', 'imae'])
def test_a_trunk_named_by_module_trains_resumes_and_loads(tmp_path, toy, model):
  name = 'toy_networks:Trunk'
  config = fakes.tiny_config(tmp_path / 'run', model=model, network=name, hidden_features=8)
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(config, dataset)
  assert json.loads((tmp_path / 'run' / 'config.json').read_text())['network'] == name
  styles = {'imsat': 'batch_norm', 'infocatvae': 'dropout', 'imae': 'batch_norm'}
  assert toy.Trunk.requests[-1].style == styles[model]
  assert toy.Trunk.requests[-1].shape == (28, 28)
  # Resumed from its config.json (the network re-imported by name) and loaded.
  state = loop.train_and_evaluate(config.replace(num_epochs=3), dataset)
  loaded = inference.load_model(tmp_path / 'run')
  assert loaded.epoch == 3 and loaded.config.network == name
  assert isinstance(loaded.model.trunk if model != 'infocatvae' else loaded.model.encoder,
                    toy.Trunk)
  jax.tree.map(np.testing.assert_array_equal, loaded.state.params, state.params)
  probabilities = loaded.predict_proba(dataset.test_images[:5])
  np.testing.assert_allclose(probabilities.sum(-1), 1, rtol=1e-5)


def test_a_registered_trunk_gets_the_familys_mlp_decoder(toy):
  networks.register(networks.Network('toy', 'a toy trunk', trunk=toy.Trunk))
  try:
    config = icvae.RunConfig(model='infocatvae', network='toy', hidden_features=8,
                             num_categories=3, delta=2)
    model = config.build_networks()
    assert isinstance(model.decoder, networks.MLPDecoder)
    out = model.decode(jnp.zeros((2, 6)))
    assert out.shape == (2, 784)
    joint = icvae.RunConfig(model='imae', network='toy', hidden_features=8).build_networks()
    assert joint.decode(jnp.zeros((2, 10)), jnp.zeros((2, 10))).shape == (2, 784)
  finally:
    networks.unregister('toy')


def test_pairings_that_cannot_work_are_refused_naming_both(tmp_path, toy):
  with pytest.raises(settings.SettingError,
                     match=r'--network=gru: --model=imae needs a batch_norm trunk .*gru builds '
                           r'dropout trunks only\. Networks that build one: mlp, conv'):
    icvae.RunConfig(model='imae', network='gru')
  with pytest.raises(settings.SettingError, match='--network=conv reads images'):
    icvae.RunConfig(model='imsat', network='conv', dataset='custom', data_shape='12')
  with pytest.raises(settings.SettingError,
                     match='--network=toy_networks:TABLE_ONLY reads feature tables only'):
    icvae.RunConfig(model='imae', network='toy_networks:TABLE_ONLY')
  with pytest.raises(settings.SettingError, match=r"--network=toy_networks:Missing: network "
                                                  r".*cannot import it"):
    icvae.RunConfig(model='imae', network='toy_networks:Missing')
  with pytest.raises(settings.SettingError, match="--network=resnet: unknown network 'resnet'"):
    icvae.RunConfig(model='imae', network='resnet')
  with pytest.raises(settings.SettingError, match='--model=aae supports only mlp'):
    icvae.RunConfig(model='aae', network='toy_networks:Trunk', num_categories=1)
  assert not (tmp_path / 'run').exists()


def test_a_network_declared_in_a_module_keeps_its_capabilities(toy):
  network = networks.get('toy_networks:TABLE_ONLY')
  assert network.name == 'toy_networks:TABLE_ONLY' and network.reads == ('table',)
  with pytest.raises(ValueError, match='int is neither an icvae.networks.Network nor a trunk'):
    networks.get('toy_networks:NOT_A_NETWORK')


def test_help_lists_the_registry(toy):
  from icvae.cli import main
  networks.register(networks.Network('toy', 'a toy trunk', trunk=toy.Trunk))
  try:
    assert 'mlp, gru, conv, toy' in main.registries()['networks']
  finally:
    networks.unregister('toy')


def test_the_estimators_take_a_users_network(toy):
  from icvae.sklearn import IMAEClustering
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(3, 6)) * 4
  X = (centres[rng.integers(0, 3, 300)] + rng.normal(size=(300, 6))).astype(np.float32)
  estimator = IMAEClustering(n_clusters=3, latent_dim=2, max_epochs=2, batch_size=50,
                             network='toy_networks:Trunk', hidden_features=8)
  labels = estimator.fit_predict(X)
  assert labels.shape == (300,) and set(np.unique(labels)) <= {0, 1, 2}
  assert isinstance(estimator.model_.model.trunk, toy.Trunk)
  assert toy.Trunk.requests[-1].shape == (6,)


def test_icvae_train_takes_a_network_named_by_module(tmp_path, toy):
  """The command line: --network=package.module:attribute, imported from the user's path."""
  import os
  import subprocess
  import sys
  rng = np.random.default_rng(0)
  images = rng.uniform(size=(120, 8, 8)).astype(np.float32)
  labels = rng.integers(0, 3, 120)
  np.savez(tmp_path / 'd.npz', x_train=images[:100], y_train=labels[:100],
           x_test=images[100:], y_test=labels[100:])
  command = [sys.executable, '-m', 'icvae', 'train', '--model=imsat', '--dataset=custom',
             f'--data={tmp_path / "d.npz"}', '--network=toy_networks:Trunk',
             '--hidden_features=8', '--num_categories=3', '--batch_size=50', '--num_epochs=1',
             f'--workdir={tmp_path / "run"}', '--progress=false']
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
  done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
  assert done.returncode == 0, done.stderr[-2000:]
  assert json.loads((tmp_path / 'run' / 'config.json').read_text())['network'] == (
      'toy_networks:Trunk')
  missing = subprocess.run(command[:-1] + ['--network=not_a_module:Trunk',
                                           f'--workdir={tmp_path / "other"}'],
                           capture_output=True, text=True, timeout=300, env=env)
  assert missing.returncode != 0 and 'cannot import it' in missing.stderr
  assert not (tmp_path / 'other').exists()
