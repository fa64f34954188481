"""The papers' networks, built from a seed: the families' compositions (`compose`) with the
built-in networks, every size an argument (the order in which the parts are created is the
parameters' values: one key counter per model).
"""

from flax import nnx

from icvae.networks import adversarial
from icvae.networks import compose
from icvae.networks import conv
from icvae.networks import kernels
from icvae.networks import mlp
from icvae.networks import recurrent
from icvae.networks import registry


def mlp_catvae(*, num_categories=10, delta=2, prior_scale=2.0, input_shape=(784,),
               hidden_features=400, dropout_rate=0.25, learned_prior=False, seed=0,
               compute_dtype='float32'):
  """The MLP CatVAE / InfoCatVAE of Table 2 (appendix B), every size an argument.

  Defaults are the paper's MNIST setting: K = 10, d = K * delta = 20, lambda = 2, hidden 400,
  dropout 0.25, with the fixed block prior of eq. (8).

  compute_dtype: 'float32' (default, the paper's math) or 'bfloat16' for the four large
  layers (784 x 400 each): their inputs and kernels are rounded to bfloat16 for the matmul
  (mixed precision; parameters, optimiser state, the small heads, and every loss term stay
  float32, and the layers' outputs are cast back to float32). On CPUs with AMX, and on TPUs,
  this is several times faster; it is not the same arithmetic as float32.
  """
  if compute_dtype not in kernels.COMPUTE_DTYPES:
    raise ValueError(f'compute_dtype must be one of {tuple(kernels.COMPUTE_DTYPES)}, '
                     f'got {compute_dtype!r}.')
  request = registry.Request(tuple(input_shape), 'dropout', (hidden_features,), dropout_rate,
                             compute_dtype)
  return compose.categorical_vae(mlp.NETWORK, request, num_categories=num_categories,
                                 delta=delta, prior_scale=prior_scale,
                                 learned_prior=learned_prior, seed=seed)


def gru_catvae(*, num_categories=10, delta=2, prior_scale=2.0, sequence_shape=(28, 28),
               hidden_features=128, learned_prior=False, seed=0):
  """The recurrent CatVAE / InfoCatVAE of Table 3 (appendix C), for (T, F) sequences.

  Bidirectional GRU encoder (hidden 128 each way, 256 features), classifier 256 -> K, heads
  on concat(256, one-hot c) -> d, GRU decoder (see `GRUDecoder`). Train it with the
  'squared_error' likelihood (appendix C). Row-by-row MNIST is T = F = 28.
  """
  request = registry.Request(tuple(sequence_shape), 'dropout', (hidden_features,))
  return compose.categorical_vae(recurrent.NETWORK, request, num_categories=num_categories,
                                 delta=delta, prior_scale=prior_scale,
                                 learned_prior=learned_prior, seed=seed)


def mlp_aae(*, latent_dim=20, input_shape=(784,), hidden_features=400, dropout_rate=0.25,
            seed=0):
  """The Table 1 AAE baseline's networks with the Table 2 sizes (d = 20 as the CatVAE's)."""
  return adversarial.AdversarialAutoencoder(latent_dim, hidden_features, input_shape,
                                            dropout_rate, rngs=nnx.Rngs(seed))


def mlp_joint_code(*, num_categories=10, latent_dim=10, input_shape=(784,),
                   hidden_sizes=(500, 500), input_scaling='unit', initialization='lecun',
                   classifier_sizes=None, seed=0):
  """The IMAE paper's Table 1 networks for MNIST and Fashion-MNIST (K = 10, D = 10).

  `input_scaling` and `initialization` apply to the encoder (`BatchNormTrunk`; the heads
  are its output layer); the decoder keeps Flax's initialisation and reads (y, z).
  `classifier_sizes` (widths) gives p(y|x) its own network (`mlp_classifier`'s, e.g.
  IMSAT's (1200, 1200)); None: y and z share the trunk (Table 1).
  """
  request = registry.Request(tuple(input_shape), 'batch_norm', tuple(hidden_sizes),
                             input_scaling=input_scaling, initialization=initialization)
  return compose.joint_code_autoencoder(mlp.NETWORK, request, num_categories=num_categories,
                                        latent_dim=latent_dim,
                                        classifier_widths=classifier_sizes, seed=seed)


def mlp_classifier(*, num_categories=10, input_shape=(784,), hidden_sizes=(1200, 1200),
                   input_scaling='unit', initialization='lecun', seed=0):
  """IMSAT's network (Hu et al. 2017, section 4.1; `imsat_cluster.py`): d -> 1200 BN ReLU
  -> 1200 BN ReLU -> K logits, every layer with a bias, no batch norm on the output."""
  request = registry.Request(tuple(input_shape), 'batch_norm', tuple(hidden_sizes),
                             input_scaling=input_scaling, initialization=initialization)
  return compose.classifier(mlp.NETWORK, request, num_categories=num_categories, seed=seed)


def mlp_joint_code_dsprites(*, num_categories=3, latent_dim=10, input_shape=(4096,),
                            width=1200, seed=0):
  """The IMAE paper's Table 2 networks for dSprites (K = 3, D = 10), read as follows.

  Encoder 4096 -> 1200 ReLU -> 1200 ReLU -> 1200 ReLU -> heads (2 D for mu and log sigma^2
  of z, K logits of y); decoder (y, z) -> 1200 ReLU -> 1200 ReLU -> 1200 ReLU -> 4096
  Bernoulli logits (the sigmoid). No batch norm, unlike Table 1.

  Choices: each row of the table is one layer, as icvae reads Table 1 (its rows "FC. 500"
  and "FC. 2 x 500" are the trunk's two 500 layers), so Table 2's three rows "FC. 1200",
  "FC. 1200", "FC. 2 x 1200" are three 1200 layers, as many as its decoder has (Chen et
  al.'s dSprites encoder has two); its decoder output "28 x 28" is a copy of Table 1's and
  is 64 x 64 here.
  """
  request = registry.Request(tuple(input_shape), 'plain', (width,) * 3)
  return compose.joint_code_autoencoder(mlp.NETWORK, request, num_categories=num_categories,
                                        latent_dim=latent_dim, seed=seed)


def conv_catvae(*, num_categories=10, delta=2, prior_scale=2.0, image_shape=(28, 28),
                learned_prior=False, seed=0):
  """CatVAE / InfoCatVAE with the conv encoder (`ConvTrunk`, no batch norm) and decoder
  (`ConvDecoder`): the paper's MLP replaced for larger and colour images."""
  request = registry.Request(tuple(image_shape), 'dropout')
  return compose.categorical_vae(conv.NETWORK, request, num_categories=num_categories,
                                 delta=delta, prior_scale=prior_scale,
                                 learned_prior=learned_prior, seed=seed)


def conv_joint_code(*, num_categories=10, latent_dim=10, image_shape=(28, 28),
                    input_scaling='unit', initialization='lecun', classifier=False, seed=0):
  """IMAE and its peers with the conv encoder (`ConvTrunk`, batch norm as Table 1's) and
  decoder (`ConvDecoder` on concat(y, z)); `classifier`: p(y|x) gets a conv network of its
  own (as --classifier_features does for the MLP)."""
  request = registry.Request(tuple(image_shape), 'batch_norm', input_scaling=input_scaling,
                             initialization=initialization)
  return compose.joint_code_autoencoder(conv.NETWORK, request, num_categories=num_categories,
                                        latent_dim=latent_dim,
                                        # conv trunks read no widths: (1,) means 'own'
                                        classifier_widths=(1,) if classifier else None,
                                        seed=seed)


def conv_classifier(*, num_categories=10, image_shape=(28, 28), input_scaling='unit',
                    initialization='lecun', seed=0):
  """IMSAT's classifier with the conv trunk (`ConvTrunk`, batch norm) instead of the MLP."""
  request = registry.Request(tuple(image_shape), 'batch_norm', input_scaling=input_scaling,
                             initialization=initialization)
  return compose.classifier(conv.NETWORK, request, num_categories=num_categories, seed=seed)
