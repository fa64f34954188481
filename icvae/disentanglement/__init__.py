"""Disentanglement metrics: disentanglement_lib's suite (Locatello et al. 2019) on arrays, each
an equation of its paper and the reference code's protocol, and the MIG two ways.

One module per metric:
- `mig`: the Mutual Information Gap, Chen et al.'s sampled estimator and
  disentanglement_lib's histogram one, and IMAE's per-dimension code quantities;
- `beta_vae`: the BetaVAE score (Higgins et al. 2017);
- `factor_vae`: the FactorVAE score (Kim & Mnih 2018);
- `dci`: DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018);
- `sap`: the SAP score (Kumar et al. 2018);
- `modularity`: modularity and explicitness (Ridgeway & Mozer 2018);
- `suite`: the protocol: points drawn from a dataset with factors, encoded, scored (`evaluate`);
- `unsupervised`: the Gaussian total correlation, the Wasserstein dependency and the mutual
  information of the codes (Locatello et al. 2019, section 5).

Arrays are row-major here: codes (N, D), factors (N, F) of integer classes 0..|V_k|-1
(disentanglement_lib's functions take their transposes).
"""

from icvae.disentanglement import beta_vae
from icvae.disentanglement import dci
from icvae.disentanglement import factor_vae
from icvae.disentanglement import mig
from icvae.disentanglement import modularity
from icvae.disentanglement import sap
from icvae.disentanglement import suite
from icvae.disentanglement import unsupervised
from icvae.disentanglement.mig import categorical_factor_mutual_information
from icvae.disentanglement.mig import check_factors
from icvae.disentanglement.mig import code_quantities
from icvae.disentanglement.mig import conditional_entropies
from icvae.disentanglement.mig import discrete_mutual_information
from icvae.disentanglement.mig import discrete_mutual_information_matrix
from icvae.disentanglement.mig import factor_groups
from icvae.disentanglement.mig import histogram_discretize
from icvae.disentanglement.mig import marginal_entropies
from icvae.disentanglement.mig import mig_chen
from icvae.disentanglement.mig import mig_histogram
from icvae.disentanglement.mig import mutual_information_gap
from icvae.disentanglement.mig import sample_points
