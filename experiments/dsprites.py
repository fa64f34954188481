r"""Trains IMAE, β-VAE, InfoVAE or JointVAE on dSprites (IMAE section 4.2.2, Table 2 networks).

  python -m experiments.dsprites --flagfile=experiments/flags/dsprites_imae.flags

dSprites is drawn by `icvae.dsprites` on first use (about 15 s) and cached; the final
evaluation writes the Mutual Information Gap two ways, the accuracy of y against shape and
latent traversals (`icvae.report`, section 'disentanglement'). Figure 5's sweep:
python -m experiments.dsprites_figure5.
"""

from absl import app

from experiments import common

if __name__ == '__main__':
  app.run(common.main_for('dsprites'))
