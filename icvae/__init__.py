"""icvae: CatVAE and InfoCatVAE (Pineau & Lelarge, arXiv 1806.08240) in JAX / Flax NNX."""

from icvae import losses
from icvae import models
from icvae import priors
from icvae import train
from icvae.losses import CategoricalPosterior
from icvae.losses import LossWeights
from icvae.losses import infocatvae_loss
from icvae.models import CategoricalVAE
from icvae.models import gru_catvae
from icvae.models import mlp_catvae
from icvae.priors import BlockPrior
from icvae.priors import block_prior_means
from icvae.priors import sample_conditional
from icvae.priors import sample_prior
from icvae.train import LossConfig
from icvae.train import TrainState
from icvae.train import create_train_state
from icvae.train import make_eval_step
from icvae.train import make_train_step

__version__ = '0.1.0'
