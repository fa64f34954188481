"""The joint-code families' levers of issue 20: the reconstruction schedule, a classifier of
its own for p(y|x), and its warm start from an IMSAT run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import icvae
from icvae import checkpoints
from icvae import loop
from icvae import models
from icvae import settings
from icvae.objectives import joint_code

from tests import fakes


def test_reconstruction_weight_by_hand():
  weight = lambda step, delay, warmup: float(joint_code.reconstruction_weight_at(
      step, delay, warmup))
  assert [weight(t, 0, 0) for t in (0, 5)] == [1.0, 1.0]
  assert [weight(t, 10, 0) for t in (0, 9, 10, 50)] == [0.0, 0.0, 1.0, 1.0]
  np.testing.assert_allclose([weight(t, 10, 4) for t in (0, 10, 11, 13, 14, 99)],
                             [0, 0, 0.25, 0.75, 1, 1])


def test_the_schedule_weighs_only_the_reconstruction_and_evaluation_uses_all_of_it():
  net = models.mlp_joint_code(num_categories=3, latent_dim=2, input_shape=(16,),
                              hidden_sizes=(8, 8), seed=0)
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(20, 16)), jnp.float32)
  plain = icvae.IMAE(beta=2.0, gamma=4.0)
  late = icvae.IMAE(beta=2.0, gamma=4.0, reconstruction_delay_steps=100,
                    reconstruction_warmup_steps=100)
  key = jax.random.key(1)
  loss, terms = plain.loss(net, x, key, 150)
  late_loss, late_terms = late.loss(net, x, key, 150)
  np.testing.assert_allclose(late_terms['reconstruction_weight'], 0.5)
  np.testing.assert_allclose(late_loss, loss + 0.5 * terms['reconstruction'], rtol=1e-5)
  early_loss, _ = late.loss(net, x, key, 3)
  np.testing.assert_allclose(early_loss, loss + terms['reconstruction'], rtol=1e-5)
  np.testing.assert_allclose(late.evaluate(net, x, key)['loss'],
                             plain.evaluate(net, x, key)['loss'], rtol=1e-6)


def test_a_classifier_of_its_own_shares_no_weight_with_the_continuous_code():
  net = models.mlp_joint_code(num_categories=4, latent_dim=3, input_shape=(16,),
                              hidden_sizes=(8, 8), classifier_sizes=(12, 12), seed=0)
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(10, 16)), jnp.float32)
  posterior = net.encode(x)
  np.testing.assert_array_equal(posterior.logits, net.classifier.classify(x))
  assert net.heads.kernel.shape == (8, 6)  # mean and log-variance of z only

  def logits_sum(model):
    return jnp.sum(model.classify(x, jax.random.key(0), update_statistics=False))

  from flax import nnx
  grads = nnx.grad(logits_sum)(net)
  assert float(jnp.abs(grads.trunk.dense[0].kernel[...]).sum()) == 0
  assert float(jnp.abs(grads.classifier.trunk.dense[0].kernel[...]).sum()) > 0


def test_the_shared_network_is_unchanged_by_the_new_options():
  a = models.mlp_joint_code(seed=4)
  b = models.mlp_joint_code(seed=4, input_scaling='unit', initialization='lecun',
                            classifier_sizes=None)
  for got, want in zip(jax.tree.leaves(nnx_state(a)), jax.tree.leaves(nnx_state(b))):
    np.testing.assert_array_equal(got, want)


def nnx_state(model):
  from flax import nnx
  return nnx.state(model)


@pytest.mark.parametrize('values,flag', [
    (dict(model='imae', reconstruction_delay_steps=-1), '--reconstruction_delay_steps=-1'),
    (dict(model='imae', classifier_from='x'), '--classifier_from=x'),
    (dict(model='imae', classifier_from='x', classifier_features=8, restore_from='y'),
     '--classifier_from=x'),
    (dict(model='imsat', reconstruction_warmup_steps=5), '--reconstruction_warmup_steps=5'),
    (dict(model='imae', dataset='dsprites', classifier_features=8), '--classifier_features=8'),
])
def test_bad_lever_settings_are_refused_naming_the_flag(values, flag):
  with pytest.raises(settings.SettingError, match=flag):
    icvae.RunConfig(**values)


def test_imae_starts_its_classifier_from_an_imsat_run(tmp_path):
  dataset = fakes.tiny_dataset()
  source = fakes.tiny_config(tmp_path / 'imsat', model='imsat', hidden_features=12,
                             num_epochs=1)
  trained = loop.train_and_evaluate(source, dataset)
  options = dict(model='imae', hidden_features=16, classifier_features=12, num_epochs=1)
  # The state the loop starts from: the IMSAT run's classifier, the rest fresh.
  config = fakes.tiny_config(tmp_path / 'imae', classifier_from=str(tmp_path / 'imsat'),
                             **options)
  graphdef, state, _ = checkpoints.new_state(config)
  classifier = checkpoints.classifier_parameters(tmp_path / 'imsat',
                                                 checkpoints.abstract(state), config)
  started = checkpoints.with_classifier(state, classifier)
  for got, want in zip(jax.tree.leaves(started.params['classifier']),
                       jax.tree.leaves(trained.params)):
    np.testing.assert_array_equal(got, want)
  for got, want in zip(jax.tree.leaves(started.constants['classifier']),
                       jax.tree.leaves(trained.constants)):
    np.testing.assert_array_equal(got, want)
  # Everything else is the fresh model's.
  np.testing.assert_array_equal(started.params['heads']['kernel'], state.params['heads']['kernel'])
  loop.train_and_evaluate(config, dataset)  # trains from it
  # Refusals: another width, another model's workdir.
  wrong = fakes.tiny_config(tmp_path / 'imae2', classifier_from=str(tmp_path / 'imsat'),
                            **dict(options, classifier_features=10))
  with pytest.raises(checkpoints.CheckpointError, match='--classifier_features=12'):
    loop.train_and_evaluate(wrong, dataset)
  assert not (tmp_path / 'imae2' / 'checkpoints').exists()
  other = fakes.tiny_config(tmp_path / 'imae3', classifier_from=str(tmp_path / 'imae'),
                            **options)
  with pytest.raises(checkpoints.CheckpointError, match='--model=imae'):
    loop.train_and_evaluate(other, dataset)
