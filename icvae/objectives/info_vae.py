"""InfoVAE as IMAE's Figure 1 writes it (Zhao et al. 2017 with the mutual-information terms
of the ELBO dropped): only the aggregate posteriors are pulled to the priors,

    loss = - E log q(x|y,z) + beta * [KL(p(y) || uniform) + KL(p(z) || N(0, I))]

(= ① - beta ③ - beta ⑤, negated). Choice: the divergence of the aggregate p(z) is the KL,
estimated on the minibatch as IMAE's appendix B (TC + sum_k marginal KL, see
`joint_code.code_statistics`), not Zhao et al.'s MMD, so that the four methods differ only
in the terms of Figure 1.
"""

import dataclasses

from icvae.objectives import registry
from icvae.objectives import joint_code


@dataclasses.dataclass(frozen=True)
class InfoVAE(joint_code.JointCodeObjective):
  """InfoVAE's objective (module docstring)."""

  def penalty(self, stats, step):
    """beta [KL(p(y) || uniform) + KL(p(z) || N(0, I))] (IMAE Figure 1: ③ + ⑤)."""
    del step
    return self.beta * (stats['marginal_kl_y'] + stats['aggregate_kl_z']), {}


FAMILY = registry.register(joint_code.family(
    'info_vae', 'InfoVAE: pull the aggregate posteriors p(y), p(z) to the priors (IMAE '
    'Figure 1)', (), lambda config: InfoVAE(**joint_code.objective_options(config))))
