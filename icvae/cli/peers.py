"""The four methods the IMAE paper compares (Figures 1, 3 and 5), as its figures name them:
the models the β sweep (`beta_sweep`) and the dSprites sweep (`dsprites_figure5`) train."""

MODELS = ('imae', 'beta_vae', 'info_vae', 'joint_vae')
LABELS = {'imae': 'IMAE', 'beta_vae': 'β-VAE', 'info_vae': 'InfoVAE', 'joint_vae': 'JointVAE'}
