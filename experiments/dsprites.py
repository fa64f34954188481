r"""Trains IMAE, β-VAE, InfoVAE or JointVAE on dSprites (IMAE section 4.2.2, Table 2 networks).

  python -m experiments.dsprites --flagfile=experiments/flags/dsprites_imae.flags

dSprites is drawn by `icvae.dsprites` on first use (about 15 s) and cached; the final
evaluation writes the Mutual Information Gap two ways, the accuracy of y against shape and
latent traversals (`icvae.report`, section 'disentanglement'). Figure 5's sweep:
python -m experiments.dsprites_figure5.
"""

import sys

from icvae.cli import main

if __name__ == '__main__':
  main.run_dataset('dsprites', sys.argv, __doc__)
