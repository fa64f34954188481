"""icvae's networks (Flax NNX), one module per kind.

`CategoricalVAE` is one model for both CatVAE and InfoCatVAE (they differ only in the loss
weights). It is built from interchangeable parts:

- an *encoder trunk* `encoder(x, key, training=...) -> h` mapping (B, *event) data to (B, F)
  features (`registry.Trunk`);
- a *decoder* `decoder(z, key, training=...) -> outputs` mapping (..., d) codes to (..., *event)
  outputs
  (logits for a Bernoulli likelihood, means for a Gaussian one), for any leading axes, so all
  K codes of a batch decode in one call;
- the classifier q(c|x) = softmax(Linear(F -> K)(h)) and the Gaussian heads
  Q_mu, Q_sigma = Linear(F + K -> d) applied to concat(h, one-hot c), shared by all parts;
- a `BlockPrior` holding the K prior means.

Table 2's MLP parts are `MLPEncoder` and `MLPDecoder`; the recurrent parts of Table 3 plug in
behind the same two call signatures.

`AdversarialAutoencoder` is the Table 1 baseline's networks (its objective is
`icvae.objectives.aae`). `JointCodeAutoencoder` is the IMAE paper's Table 1 networks: p(y|x)
and one q(z|x) from a batch-normalised trunk, and a decoder on (y, z).

The networks a run may ask for (`--network`) are a registry (`registry`: `Network`,
`register`, `get`, `names`): each kind's module registers its own (`mlp`, `recurrent` as
'gru', `conv`), with the trunks and decoders it builds for a family's `Request`, and the
families compose their models from them (`compose`). Your own network is one file: see
`registry` and the guide "Add a network".

The modules: `registry`, `kernels` (bfloat16 matmuls), `layers` (dropout, input scalings and
initialisations, batch norm without updates), `mlp`, `recurrent`, `conv` (trunks and
decoders), `heads` (the models made of a trunk, heads and a decoder), `adversarial` (the AAE),
`compose` (a family's model from a network) and `presets` (the papers' networks from a
seed). Every name is also here, as
`icvae.networks.<name>`; `icvae.models` is the same names under the older module.

The mode is an argument: every call takes `training` (True: dropout on, batch norm on the
batch's statistics; False: evaluation) and an optional PRNG key for the randomness. Unlike the
published code, dropout is therefore never on at evaluation. `training=None` (the default)
keeps the rule before icvae 0.4, a key meaning training (`layers.is_training`); icvae's own
calls always pass it.
"""

from icvae.networks import registry
from icvae.networks import kernels
from icvae.networks import layers
from icvae.networks import mlp
from icvae.networks import recurrent
from icvae.networks import conv
from icvae.networks import heads
from icvae.networks import adversarial
from icvae.networks import compose
from icvae.networks import presets
from icvae.networks.registry import DATA_KINDS
from icvae.networks.registry import Decoder
from icvae.networks.registry import Network
from icvae.networks.registry import Request
from icvae.networks.registry import STYLES
from icvae.networks.registry import Trunk
from icvae.networks.registry import VIEWS
from icvae.networks.registry import check_name
from icvae.networks.registry import descriptions
from icvae.networks.registry import get
from icvae.networks.registry import names
from icvae.networks.registry import register
from icvae.networks.registry import unregister
from icvae.networks.kernels import COMPUTE_DTYPES
from icvae.networks.kernels import dense
from icvae.networks.layers import IMSAT_HIDDEN_WSCALE
from icvae.networks.layers import IMSAT_OUTPUT_WSCALE
from icvae.networks.layers import INITIALIZATIONS
from icvae.networks.layers import INPUT_SCALINGS
from icvae.networks.layers import dropout
from icvae.networks.layers import dropout_keep_mask
from icvae.networks.layers import kernel_initializer
from icvae.networks.layers import normalised
from icvae.networks.mlp import BatchNormTrunk
from icvae.networks.mlp import DenseTrunk
from icvae.networks.mlp import MLPDecoder
from icvae.networks.mlp import MLPEncoder
from icvae.networks.recurrent import GRUDecoder
from icvae.networks.recurrent import GRUEncoder
from icvae.networks.conv import CONV_CHANNELS
from icvae.networks.conv import CONV_FEATURES
from icvae.networks.conv import ConvDecoder
from icvae.networks.conv import ConvTrunk
from icvae.networks.conv import conv_layout
from icvae.networks.conv import transposed_conv
from icvae.networks.heads import CategoricalVAE
from icvae.networks.heads import Classifier
from icvae.networks.heads import JointCodeAutoencoder
from icvae.networks.adversarial import AdversarialAutoencoder
from icvae.networks.presets import conv_catvae
from icvae.networks.presets import conv_classifier
from icvae.networks.presets import conv_joint_code
from icvae.networks.presets import gru_catvae
from icvae.networks.presets import mlp_aae
from icvae.networks.presets import mlp_catvae
from icvae.networks.presets import mlp_classifier
from icvae.networks.presets import mlp_joint_code
from icvae.networks.presets import mlp_joint_code_dsprites

# {name: description} of the built-in networks, for code written before the registry
# (`names()` and `descriptions()` include the ones registered since).
NETWORKS = descriptions()
