r"""One IMSAT training step of icvae against a PyTorch transcription of the published code.

  pip install torch==2.13.0   # not an icvae requirement
  python -m experiments.probes.imsat_step_check --data_dir=../shared/data/mnist

The transcription follows weihua916/imsat's `imsat_cluster.py` (Chainer 1.21) line by line,
in its own units: inputs pixel / 128 - 1, the VAT radius 0.25 x the neighbour distance in
those units, xi = 10, the KL and entropies with their 1e-8, batch norm on the batch's
statistics (eps 2e-5) in every training pass, the loss R_vat + 0.1 (H(y|x) - 4 H(y)). It gets
icvae's initial weights, the same 250 MNIST images and icvae's random VAT start direction,
and the two losses and every parameter's gradient are compared twice: with each side's own
adversarial direction (one power iteration from the same start), and with icvae's direction
pinned to the transcription's (`vat.adversarial_direction` replaced for the call), so that
icvae's own `IMSAT.loss` is checked apart from the power iteration's rounding. The cosine
between the two directions is printed. What remains is the transcription's eps 2e-5 and 1e-8
(icvae: 1e-5 and exact logs): `--torch_bn_eps=1e-5 --torch_log_floor=0` removes them too.
"""

import contextlib

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

import icvae
from icvae import data
from icvae import train
from icvae import vat

flags.DEFINE_string('data_dir', None, 'MNIST IDX folder.')
flags.DEFINE_integer('batch_size', 250, 'Images in the batch (IMSAT: 250).')
flags.DEFINE_float('torch_bn_eps', 2e-5, "The transcription's batch-norm eps (Chainer's).")
flags.DEFINE_float('torch_log_floor', 1e-8, "The transcription's 1e-8 in its logs.")
flags.DEFINE_enum('torch_dtype', 'float64', ['float32', 'float64'], "The transcription's "
                  'arithmetic (float32: to see the rounding noise of a float32 step).')
FLAGS = flags.FLAGS


def torch_imsat_loss(torch, weights, x_scaled, eps_scaled, d0, bn_eps, floor, dtype):
  """The published code's loss on one batch (Chainer's functions written in torch)."""
  params = {k: torch.tensor(v, dtype=dtype, requires_grad=True)
            for k, v in weights.items()}

  def forward(x):  # enc(x) in training mode: batch statistics, biased variance
    h = x
    for layer in (0, 1):
      h = h @ params[f'kernel{layer}'] + params[f'bias{layer}']
      mean = h.mean(0)
      var = ((h - mean) ** 2).mean(0)
      h = (h - mean) / torch.sqrt(var + bn_eps) * params[f'scale{layer}'] + params[
          f'shift{layer}']
      h = torch.relu(h)
    return h @ params['kernel2'] + params['bias2']

  def kl(p, q):
    return torch.sum(p * torch.log((p + floor) / (q + floor))) / len(p)

  def entropy(p):
    return -torch.sum(p * torch.log(p + floor)) / len(p)

  x = torch.tensor(x_scaled, dtype=dtype)
  clean = torch.softmax(forward(x), 1).detach()               # y.unchain_backward()
  d = torch.tensor(d0, dtype=dtype, requires_grad=True)
  kl(clean, torch.softmax(forward(x + 10.0 * d), 1)).backward()
  grad = d.grad.double().numpy()
  direction = grad / np.sqrt(np.sum(grad ** 2, axis=1, keepdims=True))
  for p in params.values():
    p.grad = None                                              # o_enc.zero_grads()
  adversarial = x + torch.tensor(eps_scaled[:, None] * direction, dtype=dtype)
  loss_ul = kl(clean, torch.softmax(forward(adversarial), 1))
  p = torch.softmax(forward(x), 1)
  p_ave = p.sum(0) / len(p)
  loss_eq = entropy(p) - 4.0 * -torch.sum(p_ave * torch.log(p_ave + floor))
  loss = loss_ul + 0.1 * loss_eq
  loss.backward()
  return (float(loss), {k: v.grad.detach().double().numpy() for k, v in params.items()},
          direction)


@contextlib.contextmanager
def pinned_direction(direction):
  """`vat.adversarial_direction` returns `direction` inside the block."""
  original = vat.adversarial_direction
  vat.adversarial_direction = lambda *args, **kwargs: jnp.asarray(direction, jnp.float32)
  try:
    yield
  finally:
    vat.adversarial_direction = original


def _gradients(params):
  """{transcription name: array} of icvae's parameter (or gradient) tree."""
  trunk = params['trunk']
  names = {}
  for layer in (0, 1):
    names[f'kernel{layer}'] = trunk['dense'][layer]['kernel']
    names[f'bias{layer}'] = trunk['dense'][layer]['bias']
    names[f'scale{layer}'] = trunk['norm'][layer]['scale']
    names[f'shift{layer}'] = trunk['norm'][layer]['bias']
  names['kernel2'] = params['head']['kernel']
  names['bias2'] = params['head']['bias']
  return {k: np.asarray(v, np.float64) for k, v in names.items()}


def main(_):
  import torch  # pylint: disable=g-import-not-at-top
  config = icvae.RunConfig.from_flagfile('experiments/flags/mnist_imsat.flags', 'mnist',
                                         data_dir=FLAGS.data_dir or '')
  dataset = data.with_protocol(data.load('mnist', FLAGS.data_dir), 'all')
  objective = config.build_objective()
  prepared = objective.training_data(jnp.asarray(config.view(dataset.train_images)))
  rows = np.arange(FLAGS.batch_size)
  batch = {'images': prepared['images'][rows], 'vat_epsilon': prepared['vat_epsilon'][rows]}
  model = config.build_networks()
  graphdef, params, constants = train.split_model(model)
  key = jax.random.key(0)

  def icvae_step():
    return jax.value_and_grad(lambda p: train.objective_loss(
        objective, graphdef, p, constants, batch, key, 0)[0])(params)

  # icvae's random start of the power iteration (IMSAT.loss: split, then vat.vat_loss).
  _, vat_key = jax.random.split(key)
  images = batch['images']
  d0 = np.asarray(vat.unit_directions(jax.random.normal(vat_key, images.shape, images.dtype)))
  scale = 255.0 / 128.0  # icvae's [0, 1] units -> the code's pixel / 128 - 1
  pixels = np.rint(np.asarray(images, np.float64) * 255.0)
  radius = np.asarray(batch['vat_epsilon'], np.float64).reshape(-1) * scale
  torch_loss, torch_grads, torch_direction = torch_imsat_loss(
      torch, _gradients(params), pixels / 128.0 - 1.0, radius, d0, FLAGS.torch_bn_eps,
      FLAGS.torch_log_floor, getattr(torch, FLAGS.torch_dtype))
  train_key = jax.random.split(key)[0]
  clean = model.classify(images, train_key, update_statistics=False)
  own_direction = np.asarray(vat.adversarial_direction(
      vat_key, images, lambda x: model.classify(x, train_key, update_statistics=False),
      objective.vat_xi, 1, clean), np.float64)
  cosines = np.sum(own_direction * torch_direction, axis=1)
  print(f'VAT radius (code units): mean {radius.mean():.3f}; adversarial directions, cosine '
        f'icvae/transcription: mean {cosines.mean():.6f}, min {cosines.min():.6f}')
  loss, grads = icvae_step()
  with pinned_direction(torch_direction):
    pinned_loss, pinned_grads = icvae_step()
  print(f'loss: transcription {torch_loss:.7f}, icvae {float(loss):.7f}, icvae with the '
        f"transcription's direction {float(pinned_loss):.7f}")
  print('| parameter | gradient norm | relative difference, own directions | with the same '
        'direction |\n|---|---|---|---|')
  own, pinned = _gradients(grads), _gradients(pinned_grads)
  for name, theirs in torch_grads.items():
    if name in ('bias0', 'bias1'):  # batch norm cancels them: zero up to rounding
      print(f'| {name} | {np.linalg.norm(theirs):.1e} (icvae {np.linalg.norm(own[name]):.1e}) '
            '| - | - |')
      continue
    norm = np.linalg.norm(theirs)
    print(f'| {name} | {norm:.4e} | {np.linalg.norm(own[name] - theirs) / norm:.2e} | '
          f'{np.linalg.norm(pinned[name] - theirs) / norm:.2e} |')


if __name__ == '__main__':
  app.run(main)
