"""JointVAE (Dupont 2018, "Learning Disentangled Joint Continuous and Discrete
Representations"): the KL terms of the ELBO pushed towards capacities that grow linearly,

    loss = - E log q(x|y,z) + beta * |mean_b KL(p(y|x_b) || uniform) - C_y(t)|
                            + beta * |mean_b KL(q(z|x_b) || N(0, I)) - C_z(t)|

(IMAE Figure 1; Dupont's eq. 7 with his gamma written beta here), C(t) =
`losses.linear_capacity(t, C_max, T)`. As in Dupont's code, C_y grows at the rate C_max / T
and is then clipped at log K, the largest KL a K-way categorical can have from the uniform. Dupont's MNIST settings, the
defaults of the flagfiles: gamma (beta) = 30, C_y and C_z up to 5 nats over 25,000 steps.
"""

import dataclasses
import math

import jax.numpy as jnp

from icvae import losses
from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import joint_code
from icvae.settings import Setting

CAPACITY_Y = Setting('capacity_y', 5.0, 'C_y max in nats (capped at log K; Dupont MNIST: 5).',
                     check=settings_lib.non_negative)
CAPACITY_Z = Setting('capacity_z', 5.0, 'C_z max in nats (Dupont MNIST: 5).',
                     check=settings_lib.non_negative)
CAPACITY_STEPS = Setting('capacity_steps', 25000, 'Optimiser steps over which the capacities '
                         'grow linearly from 0 (Dupont MNIST: 25,000).',
                         check=settings_lib.at_least(0))


@dataclasses.dataclass(frozen=True)
class JointVAE(joint_code.JointCodeObjective):
  """JointVAE's objective (module docstring); num_categories K sets the cap log K."""
  capacity_y: float = CAPACITY_Y.default
  capacity_z: float = CAPACITY_Z.default
  capacity_steps: int = CAPACITY_STEPS.default
  num_categories: int = 10

  OWN_SETTINGS = (CAPACITY_Y, CAPACITY_Z, CAPACITY_STEPS)
  SETTINGS = joint_code.SETTINGS + OWN_SETTINGS

  def capacities(self, step):
    """(C_y(t), C_z(t)) in nats at step t: Dupont 2018 eq. 7's capacities, C_y capped at log K."""
    capacity_y = losses.linear_capacity(step, self.capacity_y, self.capacity_steps)
    return (jnp.minimum(capacity_y, math.log(self.num_categories)),
            losses.linear_capacity(step, self.capacity_z, self.capacity_steps))

  def penalty(self, stats, step):
    """beta |KL_y - C_y(t)| + beta |KL_z - C_z(t)| (Dupont 2018 eq. 7; IMAE Figure 1)."""
    capacity_y, capacity_z = self.capacities(step)
    penalty = (losses.capacity_penalty(stats['kl_y'], capacity_y, self.beta)
               + losses.capacity_penalty(stats['kl_z'], capacity_z, self.beta))
    return penalty, {'capacity_y': capacity_y, 'capacity_z': capacity_z}


def build_objective(config):
  return JointVAE(capacity_y=config.capacity_y, capacity_z=config.capacity_z,
                  capacity_steps=config.capacity_steps, num_categories=config.num_categories,
                  **joint_code.objective_options(config))


FAMILY = registry.register(joint_code.family(
    'joint_vae', 'JointVAE: the KL terms pushed towards linearly growing capacities (Dupont '
    '2018; IMAE Figure 1)', JointVAE.OWN_SETTINGS, build_objective))
