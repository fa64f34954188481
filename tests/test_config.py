"""RunConfig: one definition per setting, checked once, refusing what the model ignores."""

import copy
import pickle

import pytest

import icvae
from icvae import config as config_lib
from icvae import objectives
from icvae.settings import Setting
from icvae.settings import SettingError


@pytest.mark.parametrize('values,message', [
    (dict(num_epochs=float('inf')), '--num_epochs=inf: must be an integer'),
    (dict(num_epochs=2.5), '--num_epochs=2.5'),
    (dict(learning_rate=-1.0), '--learning_rate=-1.0: must be a finite number > 0'),
    (dict(model='catvae', beta_info=3.0), '--beta_info=3.0: --model=catvae does not use it'),
    (dict(network='gru', dropout_rate=0.5), '--dropout_rate=0.5: the gru networks'),
    (dict(network='gru', compute_dtype='bfloat16'), '--compute_dtype=bfloat16: the gru networks.*only '
     'the Table 2 MLP has bfloat16'),
    (dict(network='conv', dropout_rate=0.5), '--dropout_rate=0.5: the conv networks'),
    (dict(model='imae', compute_dtype='bfloat16'), '--compute_dtype=bfloat16: the Table 1'),
    (dict(model='aae', num_categories=1, compute_dtype='bfloat16'), '--compute_dtype'),
    (dict(model='aae', num_categories=1, delta=8, latent_dim=20), 'disagrees with --delta'),
    (dict(model='nope'), '--model=nope: unknown model'),
    (dict(shrink=1.0), '--shrink: not a setting of any model'),
])
def test_bad_values_are_refused_naming_the_flag(values, message):
  with pytest.raises(SettingError, match=message.replace('(', r'\(')):
    icvae.RunConfig(**values)


def test_defaults_workdir_and_inert_values():
  config = icvae.RunConfig(model='catvae', beta_info=0.0, dataset='fashion_mnist')
  assert config.workdir == 'runs/fashion_mnist_catvae'
  assert 'beta_info' not in config.to_dict()
  assert config.build_objective().beta_info == 0.0
  assert icvae.RunConfig(latent_dim=30).delta == 3  # d = K * delta, saved as delta


def test_copies_and_pickles_to_an_equal_config():
  config = icvae.RunConfig(model='aae', num_categories=1, delta=8, seed=3)
  assert copy.copy(config) == config
  assert copy.deepcopy(config) == config
  assert pickle.loads(pickle.dumps(config)) == config
  with pytest.raises(AttributeError, match='beta_info'):
    config.beta_info  # pylint: disable=pointless-statement


def test_a_family_may_not_redefine_a_general_setting():
  family = objectives.ModelFamily(
      name='clashing', description='test', settings=(Setting('batch_size', 7, 'no'),),
      build_networks=None, build_objective=None)
  objectives.register(family)
  try:
    with pytest.raises(SettingError, match=r"'clashing'.*\['batch_size'\]"):
      config_lib.settings_of('clashing')
    with pytest.raises(SettingError, match='rename them'):
      config_lib.all_settings()
  finally:
    objectives.unregister('clashing')


def test_a_config_json_of_icvae_0_1_reads_with_its_ignored_settings_dropped():
  saved = {'dataset': 'mnist', 'model': 'catvae', 'network': 'gru', 'num_categories': 10,
           'delta': 2, 'prior_scale': 2.0, 'hidden_features': 128, 'dropout_rate': 0.0,
           'learned_prior': True, 'adversarial_weight': 10.0, 'compute_dtype': 'float32',
           'observation_scale': 0.2, 'beta_cont': 10.0, 'beta_cat': 10.0,
           'beta_info': 100.0, 'num_info_samples': 0, 'reconstruction': 'expected',
           'learning_rate': 1e-4, 'batch_size': 128, 'num_epochs': 600, 'seed': 0,
           'workdir': 'runs/x', 'data_dir': '', 'eval_every': 1, 'eval_batch_size': 1000,
           'checkpoint_every': 10, 'restore_from': '', 'progress': True}
  config = config_lib.RunConfig.from_saved(saved)
  assert config.learned_prior and config.build_objective().beta_info == 0.0
  assert config.likelihood == icvae.likelihoods.Gaussian(0.2)
  assert not config_lib.differences(saved, config, ignore=())


def test_the_default_workdir_is_named_by_the_dataset_or_the_data_file():
  assert config_lib.RunConfig(model='imae').workdir == 'runs/mnist_imae'
  assert config_lib.RunConfig(model='imae', dataset='fashion_mnist').workdir == (
      'runs/fashion_mnist_imae')
  assert config_lib.RunConfig(model='imae', data='some/where/cells.csv').workdir == (
      'runs/cells_imae')
  assert config_lib.RunConfig(model='imae', data='cells.csv', workdir='mine').workdir == 'mine'
