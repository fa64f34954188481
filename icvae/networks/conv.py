"""The disentanglement literature's convolutional trunk and decoder (--network=conv).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from icvae.networks import layers
from icvae.networks import registry


# The disentanglement literature's image encoder (Burgess et al. 2018, Locatello et al. 2019:
# four 4x4 convolutions of stride 2 with 32, 32, 64, 64 channels, then FC 256) and its
# transposed decoder; `conv_layout` takes as many of the four as the image's size allows.
CONV_CHANNELS = (32, 32, 64, 64)
CONV_FEATURES = 256


def conv_layout(image_shape):
  """(channels per stride-2 layer, spatial sizes [(H, W), then after each layer]) of the
  conv networks for (H, W) or (H, W, C) images: layers while both sides exceed 4 (64x64:
  four layers to 4x4, as the literature's; 28x28 and 32x32: three, to 4x4), at least one.

  Raises:
    ValueError: not an image shape.
  """
  if len(image_shape) not in (2, 3):
    raise ValueError(f'--network=conv reads images (H, W[, C]), not examples of shape '
                     f'{tuple(image_shape)}: use --network=mlp for feature vectors.')
  sizes = [tuple(image_shape[:2])]
  while len(sizes) <= len(CONV_CHANNELS) and (min(sizes[-1]) > 4 or len(sizes) == 1):
    sizes.append(tuple(-(-n // 2) for n in sizes[-1]))  # SAME padding, stride 2
  return CONV_CHANNELS[:len(sizes) - 1], sizes


class ConvTrunk(nnx.Module):
  """Conv encoder trunk: stride-2 4x4 convolutions (`conv_layout`), ReLU, FC 256 ReLU, on
  flat images (B, H * W * C) reshaped to (B, H, W, C); with `batch_norm`, each layer is
  followed by batch norm (as `BatchNormTrunk`, for the joint-code families), without it
  there is none (CatVAE's encoder, which has dropout on its MLP only).

  Has the call signatures of both `MLPEncoder` (x, key) and `BatchNormTrunk` (x, key,
  update_statistics), and `features`.
  """

  def __init__(self, image_shape, features=CONV_FEATURES, *, batch_norm=True,
               input_scaling='unit', initialization='lecun', rngs):
    self.image_shape = (tuple(image_shape) if len(image_shape) == 3
                        else tuple(image_shape) + (1,))
    channels, sizes = conv_layout(image_shape)
    init = layers.kernel_initializer(initialization)
    ins = (self.image_shape[-1],) + tuple(channels)
    self.convs = nnx.List([nnx.Conv(a, b, (4, 4), strides=(2, 2), padding='SAME',
                                    kernel_init=init, rngs=rngs) for a, b in zip(ins, ins[1:])])
    flat = sizes[-1][0] * sizes[-1][1] * ins[-1]
    self.dense = nnx.Linear(flat, features, kernel_init=init, rngs=rngs)
    self.batch_norm = batch_norm
    self.norms = nnx.List([nnx.BatchNorm(n, momentum=0.9, rngs=rngs)
                           for n in tuple(channels) + (features,)] if batch_norm else [])
    self.features = features
    self.input_scale, self.input_shift = layers.INPUT_SCALINGS[input_scaling]

  def __call__(self, x, key=None, update_statistics=True, *, training=None):
    """(B, H * W * C) or (B, H, W[, C]) -> (B, features); with batch norm, the batch's
    statistics in training (`layers.normalised`)."""
    training = layers.is_training(key, training)
    h = x.reshape(x.shape[0], *self.image_shape)
    if (self.input_scale, self.input_shift) != (1.0, 0.0):
      h = self.input_scale * h + self.input_shift
    stack = list(self.convs) + [self.dense]
    for i, layer in enumerate(stack):
      if layer is self.dense:
        h = h.reshape(h.shape[0], -1)
      h = layer(h)
      if self.batch_norm:
        h = layers.normalised(self.norms[i], h, training, update_statistics)
      h = jax.nn.relu(h)
    return h


def transposed_conv(h, kernel, bias):
  """What `nnx.ConvTranspose(kernel_size=(4, 4), strides=(2, 2), padding='SAME')` computes
  (`lax.conv_transpose`, no kernel flip), as one stride-1 convolution and a depth-to-space.

  XLA on CPU runs the transposed convolution as an input-dilated one, about 30x slower
  forward and 800x slower in its kernel gradient than a plain convolution of the same size
  (2.05 s against 2.6 ms at batch 128 on 14x14x32 maps). Output pixel (2m + a, 2n + b) reads
  input rows m - 1, m (a = 0; kernel rows 0, 2) or m, m + 1 (a = 1; rows 1, 3), and the
  same for columns: each of the four phases is a 2x2 sub-kernel `kernel[a::2, b::2]` placed
  in a 3x3 window over the input padded by 1, so one convolution gives all four, and the
  phases are interleaved into the (2H, 2W) map.

  Args:
    h: (N, H, W, C_in).
    kernel: (4, 4, C_in, C_out), the ConvTranspose's.
    bias: (C_out,) or None.
  Returns:
    (N, 2H, 2W, C_out).
  """
  c_in, c_out = kernel.shape[2:]
  window = jnp.zeros((3, 3, c_in, 2, 2, c_out), kernel.dtype)
  for a in (0, 1):
    for b in (0, 1):
      window = window.at[a:a + 2, b:b + 2, :, a, b, :].set(kernel[a::2, b::2])
  phases = jax.lax.conv_general_dilated(
      h, window.reshape(3, 3, c_in, 4 * c_out), (1, 1), ((1, 1), (1, 1)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  n, rows, columns = h.shape[:3]
  out = phases.reshape(n, rows, columns, 2, 2, c_out).transpose(0, 1, 3, 2, 4, 5)
  out = out.reshape(n, 2 * rows, 2 * columns, c_out)
  return out if bias is None else out + bias


class ConvDecoder(nnx.Module):
  """The conv encoder's mirror: FC 256 ReLU, FC to the smallest feature map, 4x4 transposed
  convolutions of stride 2 (ReLU between), the last to the image's channels, each cropped
  to the encoder's size at that depth (28 -> 14 -> 7 -> 4 is undone as 4 -> 7 -> 14 -> 28).
  Outputs flat (..., H * W * C) logits (or means), as the MLP decoders do.
  """

  def __init__(self, in_features, image_shape, features=CONV_FEATURES, *, rngs):
    self.image_shape = (tuple(image_shape) if len(image_shape) == 3
                        else tuple(image_shape) + (1,))
    channels, sizes = conv_layout(image_shape)
    self.sizes = tuple(sizes)
    self.hidden = nnx.Linear(in_features, features, rngs=rngs)
    self.start_channels = channels[-1]
    self.to_map = nnx.Linear(features, sizes[-1][0] * sizes[-1][1] * channels[-1], rngs=rngs)
    outs = tuple(reversed(channels[:-1])) + (self.image_shape[-1],)
    ins = (channels[-1],) + outs[:-1]
    self.deconvs = nnx.List([nnx.ConvTranspose(a, b, (4, 4), strides=(2, 2), padding='SAME',
                                               rngs=rngs) for a, b in zip(ins, outs)])

  def __call__(self, code, key=None, *, training=None):
    """(..., in_features) -> (..., H * W * C), the same in training and evaluation."""
    del key, training  # no dropout
    lead = code.shape[:-1]
    h = jax.nn.relu(self.hidden(code.reshape(-1, code.shape[-1])))
    h = jax.nn.relu(self.to_map(h))
    h = h.reshape(h.shape[0], *self.sizes[-1], self.start_channels)
    targets = list(reversed(self.sizes[:-1]))
    for i, (deconv, (rows, columns)) in enumerate(zip(self.deconvs, targets)):
      h = transposed_conv(h, deconv.kernel[...], deconv.bias[...])[:, :rows, :columns]
      if i + 1 < len(self.deconvs):
        h = jax.nn.relu(h)
    return h.reshape(*lead, -1)


def trunk(request, rngs):
  """`ConvTrunk` on the request's image shape: batch norm for every style but 'dropout'
  (CatVAE's encoder has none); `widths` are not read (256 features)."""
  return ConvTrunk(request.shape, batch_norm=request.style != 'dropout',
                   input_scaling=request.input_scaling, initialization=request.initialization,
                   rngs=rngs)


def decoder(request, rngs):
  """`ConvDecoder` from the code to the request's image shape (flat outputs)."""
  return ConvDecoder(request.code_size, request.shape, rngs=rngs)


# Step by step on a CPU: XLA's CPU convolutions in a scanned epoch are much slower than in
# one jitted step at a time (jax-ml/jax#12868).
NETWORK = registry.register(registry.Network(
    'conv', "4x4 stride-2 convolutions and their transposes (the disentanglement "
    "literature's; images of any size, grey or colour)",
    trunk=trunk, decoder=decoder, reads=('image',), styles=('dropout', 'batch_norm'),
    dropout=False, stepwise_on=('cpu',)))
