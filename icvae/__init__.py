"""icvae: categorical + continuous latent codes (CatVAE, InfoCatVAE and peers) in JAX / Flax NNX.

Layers, each importing only the ones above it in this list:
- math and data: `likelihoods`, `priors`, `losses`, `information`, `disentanglement`, `vat`,
  `evaluation`, `metrics`, `settings` (pure); `idx` (the IDX files: sources, downloads,
  validation), `data` (the registry of datasets and their arrays), `dsprites` (draws
  dSprites), `factor_data` (datasets with ground-truth factors, for the disentanglement
  metrics), `augment` (random transforms of image batches, in jit), `examples` (the one
  rule for examples and labels), `tables` (CSV and Parquet), `files` (reads your own
  data), `preparation` (a dataset as a run trains on it), `plugins` (what the
  registries share);
- networks: `networks` (Flax NNX, one module per kind; `models`: the same names under the
  older module);
- objectives: `objectives` (one module per model family, and the registry);
- training: `config`, `workdir` (lock, writers, Ctrl-C), `train`, `checkpoints` (Orbax),
  `inference` (`load_model`), `sweep`;
- evaluation: `figures`, `evaluators` (one module per report section, and the registry);
- the loop: `loop` (`train_and_evaluate`, `train_sweep`);
- reporting: `report` (`evaluate_run`), `n2d` (N2D on a run's code);
- `icvae.sklearn` (scikit-learn estimators; optional, import it yourself);
- programs: `icvae.cli` (the `icvae` command).
`tests/test_architecture.py` checks the order, that there are no import cycles and that no
file is over 600 lines (those still over it may only shrink).
"""

from icvae import likelihoods
from icvae import priors
from icvae import losses
from icvae import metrics
from icvae import information
from icvae import disentanglement
from icvae import vat
from icvae import evaluation
from icvae import settings
from icvae import idx
from icvae import data
from icvae import examples
from icvae import tables
from icvae import files
from icvae import preparation
from icvae import dsprites
from icvae import factor_data
from icvae import augment
from icvae import models
from icvae import networks
from icvae import objectives
from icvae import config
from icvae import train
from icvae import checkpoints
from icvae import workdir
from icvae import inference
from icvae import sweep
from icvae import loop
from icvae import figures
from icvae import evaluators
from icvae import report
from icvae.inference import load_model
from icvae.config import RunConfig
from icvae.figures import decode_mean
from icvae.loop import train_and_evaluate
from icvae.loop import train_sweep
from icvae.losses import CategoricalPosterior
from icvae.losses import JointPosterior
from icvae.networks import CategoricalVAE
from icvae.networks import Classifier
from icvae.networks import JointCodeAutoencoder
from icvae.networks import gru_catvae
from icvae.networks import mlp_catvae
from icvae.networks import mlp_classifier
from icvae.networks import mlp_joint_code
from icvae.objectives import ModelFamily
from icvae.objectives import Objective
from icvae.objectives.catvae import InfoCatVAE
from icvae.objectives.catvae import infocatvae_loss
from icvae.objectives.beta_vae import BetaVAE
from icvae.objectives.imae import IMAE
from icvae.objectives.imsat import IMSAT
from icvae.objectives.info_vae import InfoVAE
from icvae.objectives.joint_code import code_statistics
from icvae.objectives.joint_vae import JointVAE
from icvae.priors import BlockPrior
from icvae.priors import block_prior_means
from icvae.priors import sample_conditional
from icvae.priors import sample_prior
from icvae.report import EvalOptions
from icvae.report import evaluate_run
from icvae.train import TrainState
from icvae.train import create_train_state
from icvae.train import make_eval_step
from icvae.train import make_optimizer
from icvae.train import make_train_epoch
from icvae.train import make_train_step

__version__ = '0.4.0'
