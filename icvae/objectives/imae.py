"""IMAE (Gao et al., "Learning Interpretable Representations with Informative Entanglements
Between Continuous and Discrete Representations", `../shared/papers/imae-paper.txt`).

Eq. (10) with eq. (11)'s VAT, to maximise:

    E log q(x|y,z) + beta * L(y) + beta * L(z) - gamma * TC(z)
    L(y) = mu * H(y) - H(y|x)                       (eq. 7 and 9 with mu = 1: I(x; y))
    L(z) = - sum_k KL(p(z_k) || N(0, 1))              (eq. 6)

so the loss here is - E log q + beta (H(y|x) - mu H(y)) + beta sum_k KL(p(z_k)||r(z_k))
+ gamma TC(z) + vat_weight * VAT. Every aggregate is a minibatch estimate (appendix B).

Choices:
- mu (`--marginal_entropy_weight`) is 1 in the paper; IMSAT (Hu et al. 2017) weighs H(y)
  by 4 against H(y|x), which balances clusters more strongly.
- The paper puts VAT inside L(y), weighted by beta: its recipe sets --vat_weight = --beta.
- r(z_k) = N(0, 1) (section 4: "isotropic Gaussian").
- gamma = 2 beta on MNIST and Fashion-MNIST (section 4.2.1); the defaults (1, 2) keep it.
"""

import dataclasses

from icvae.objectives import registry
from icvae import settings as settings_lib
from icvae.objectives import joint_code
from icvae.objectives import shared
from icvae.settings import Setting

GAMMA = Setting('gamma', 2.0, 'gamma: the weight of the total correlation TC(z) (IMAE eq. '
                '10; the paper: 2 beta).', check=settings_lib.non_negative)


@dataclasses.dataclass(frozen=True)
class IMAE(joint_code.JointCodeObjective):
  """IMAE's objective (module docstring); beta, gamma, mu as there."""
  gamma: float = GAMMA.default
  marginal_entropy_weight: float = shared.MARGINAL_ENTROPY_WEIGHT.default

  OWN_SETTINGS = (GAMMA, shared.MARGINAL_ENTROPY_WEIGHT)
  SETTINGS = joint_code.SETTINGS + OWN_SETTINGS

  def penalty(self, stats, step):
    """beta (H(y|x) - mu H(y)) + beta sum_k KL(p(z_k) || N(0, 1)) + gamma TC(z): eq. 10's
    terms other than the reconstruction, negated (VAT is added by `JointCodeObjective`)."""
    del step
    information_y = (self.marginal_entropy_weight * stats['entropy_y']
                     - stats['conditional_entropy_y'])
    penalty = (-self.beta * information_y + self.beta * stats['marginal_kl_z']
               + self.gamma * stats['total_correlation'])
    return penalty, {'objective_information_y': information_y}


def build_objective(config):
  return IMAE(gamma=config.gamma, marginal_entropy_weight=config.marginal_entropy_weight,
              **joint_code.objective_options(config))


FAMILY = registry.register(joint_code.family(
    'imae', 'IMAE: maximise I(x;y) and the informativeness of each z_k, penalise TC(z) '
    '(Gao et al., eq. 10)', IMAE.OWN_SETTINGS, build_objective))
