"""One validation of an objective's fields: each family's objective, built directly in Python,
refuses a bad field with the same message `RunConfig` (and so the command line) gives for the
same value, from the field's `Setting`; None and traced values (a sweep's) pass through."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest

import icvae
from icvae import settings
from icvae.objectives import aae
from icvae.objectives import catvae
from icvae.objectives import imae
from icvae.objectives import imsat
from icvae.objectives import info_vae
from icvae.objectives import joint_vae

CASES = [  # (model, objective class, field, bad value)
    ('infocatvae', catvae.InfoCatVAE, 'beta_info', -1.0),
    ('infocatvae', catvae.InfoCatVAE, 'beta_cont', float('nan')),
    ('infocatvae', catvae.InfoCatVAE, 'reconstruction', 'soft'),
    ('infocatvae', catvae.InfoCatVAE, 'vat_epsilon', 0.0),
    ('imsat', imsat.IMSAT, 'vat_weight', True),          # the bool guard imsat lacked
    ('imsat', imsat.IMSAT, 'information_weight', float('inf')),
    ('imsat', imsat.IMSAT, 'neighbours', 0),
    ('imae', imae.IMAE, 'beta', -0.5),
    ('imae', imae.IMAE, 'gamma', float('nan')),
    ('imae', imae.IMAE, 'temperature', 0.0),
    ('info_vae', info_vae.InfoVAE, 'consistency_weight', -1.0),
    ('joint_vae', joint_vae.JointVAE, 'capacity_steps', 1.5),
    ('aae', aae.AdversarialAutoencoder, 'adversarial_weight', float('nan')),
]


def _config_message(model, field, value):
  extra = dict(num_categories=1) if model == 'aae' else {}
  with pytest.raises(settings.SettingError) as raised:
    icvae.RunConfig(model=model, **{field: value}, **extra)
  return str(raised.value)


@pytest.mark.parametrize('model, objective, field, value', CASES)
def test_a_bad_field_gets_the_settings_message(model, objective, field, value):
  with pytest.raises(settings.SettingError) as raised:
    objective(**{field: value})
  assert str(raised.value) == _config_message(model, field, value)
  assert str(raised.value).startswith(f'--{field}=')


def test_every_field_with_a_flag_is_checked():
  """Every flag of a family that is a field of its objective is checked by its Setting."""
  for name in icvae.objectives.names():
    family = icvae.objectives.get(name)
    extra = dict(num_categories=1) if name == 'aae' else {}
    objective = family.build_objective(icvae.RunConfig(model=name, **extra))
    fields = {f.name for f in dataclasses.fields(objective)}
    checked = {s.name for s in type(objective).SETTINGS}
    assert {s.name for s in family.settings} & fields <= checked, name


def test_none_and_traced_values_pass():
  assert catvae.InfoCatVAE(num_info_samples=None).num_info_samples is None
  with pytest.raises(settings.SettingError, match='--num_info_samples=0: must be >= 1'):
    catvae.InfoCatVAE(num_info_samples=0)
  betas = jax.jit(lambda beta: imae.IMAE(beta=beta).beta * 2)(jnp.float32(-1.0))
  assert float(betas) == -2.0  # a sweep's traced value is checked per run, not here
