"""The families' models composed from a `registry.Network`: its trunk (and decoder) for the
family's `registry.Request`, and the family's heads on the trunk's features.

These are the only functions that fix the order in which a model's parts are created, and
that order is the parameters' values (one key counter per model, `nnx.Rngs(seed)`): the
prior (no parameters), the trunk, p(y|x)'s own network where there is one, the decoder, then
the heads, and, when the network has no decoder for the request, the family's own MLP
decoder after the heads (`JointCodeAutoencoder`) or Table 2's `MLPDecoder` before them
(`CategoricalVAE`). The papers' factories (`presets`) are these functions with the built-in
networks.
"""

import dataclasses
import math

from flax import nnx

from icvae import priors
from icvae.networks import heads
from icvae.networks import kernels
from icvae.networks import mlp


def _decoder(network, request, rngs):
  """The network's decoder for `request`, or None (the family's own)."""
  return network.decoder(request, rngs) if network.decoder is not None else None


def categorical_vae(network, request, *, num_categories=10, delta=2, prior_scale=2.0,
                    learned_prior=False, seed=0):
  """A `heads.CategoricalVAE` (CatVAE / InfoCatVAE): the block prior of eq. (8), the
  network's trunk and decoder (Table 2's `MLPDecoder` when it has none), then q(c|x) and the
  Gaussian heads on the trunk's features."""
  rngs = nnx.Rngs(seed)
  prior = priors.BlockPrior(num_categories, delta, prior_scale, learned=learned_prior)
  trunk = network.trunk(request, rngs)
  coded = dataclasses.replace(request, code_size=prior.latent_dim)
  decoder = _decoder(network, coded, rngs)
  if decoder is None:
    decoder = mlp.MLPDecoder(prior.latent_dim, request.widths[0],
                             (math.prod(request.shape),), request.dropout_rate,
                             kernels.COMPUTE_DTYPES[request.compute_dtype], rngs=rngs)
  return heads.CategoricalVAE(trunk, decoder, prior, rngs=rngs)


def classifier(network, request, *, num_categories=10, seed=0, rngs=None):
  """A `heads.Classifier`: the network's trunk and a Linear head to K logits (IMSAT's
  network; IMAE's own p(y|x) with `rngs`, the model's key counter)."""
  rngs = nnx.Rngs(seed) if rngs is None else rngs
  return heads.Classifier(network.trunk(request, rngs), num_categories,
                          initialization=request.initialization, rngs=rngs)


def joint_code_autoencoder(network, request, *, num_categories=10, latent_dim=10,
                           classifier_widths=None, seed=0):
  """A `heads.JointCodeAutoencoder` (IMAE and its peers): the network's trunk; p(y|x)'s own
  network of `classifier_widths` (None: y and z share the trunk, Table 1); the network's
  decoder on concat(y, z), or the MLP decoder of the request's widths (Table 1) after the
  heads when it has none."""
  rngs = nnx.Rngs(seed)
  trunk = network.trunk(request, rngs)
  own = None
  if classifier_widths:
    own = classifier(network, dataclasses.replace(request, widths=tuple(classifier_widths)),
                     num_categories=num_categories, rngs=rngs)
  decoder = _decoder(network, dataclasses.replace(request, code_size=num_categories + latent_dim),
                     rngs)
  return heads.JointCodeAutoencoder(trunk, num_categories, latent_dim, request.widths,
                                    (math.prod(request.shape),),
                                    initialization=request.initialization, classifier=own,
                                    decoder=decoder, rngs=rngs)
