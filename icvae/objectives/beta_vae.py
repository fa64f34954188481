"""β-VAE with a categorical and a continuous code (Higgins et al. 2017), as IMAE's Figure 1
writes it: the ELBO with its KL terms weighted by beta,

    loss = - E log q(x|y,z) + beta * [mean_b KL(p(y|x_b) || uniform)
                                      + mean_b KL(q(z|x_b) || N(0, I))]

(= ① - beta (② + ③) - beta (④ + ⑤), negated). Both KLs are in closed form; beta = 1 is
the ELBO of a joint-code VAE with a Gumbel-softmax relaxation in the reconstruction.
"""

import dataclasses

from icvae.objectives import registry
from icvae.objectives import joint_code


@dataclasses.dataclass(frozen=True)
class BetaVAE(joint_code.JointCodeObjective):
  """β-VAE's objective (module docstring)."""

  def penalty(self, stats, step):
    """beta [KL(p(y|x) || uniform) + KL(q(z|x) || N(0, I))], batch means (IMAE Figure 1:
    ② + ③ and ④ + ⑤)."""
    del step
    return self.beta * (stats['kl_y'] + stats['kl_z']), {}


FAMILY = registry.register(joint_code.family(
    'beta_vae', 'beta-VAE: the ELBO with beta-weighted KL terms (IMAE Figure 1)', (),
    lambda config: BetaVAE(**joint_code.objective_options(config))))
