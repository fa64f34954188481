"""The same CatVAE / InfoCatVAE model and loss as icvae, in PyTorch, for the throughput benchmark.

Needs only torch and numpy (no JAX, no icvae), so it can run in a separate environment:

  python benchmarks/torch_catvae.py --images=IMAGES.npy --out=RESULT.json \\
      --reconstruction=soft_code --beta_info=100 --batch_size=128 --mode=eager

The math mirrors `icvae.losses.infocatvae_loss` with `icvae.models.mlp_catvae()` term by term:
Table 2 MLP (784 -> 400 -> heads, d = 20 -> 400 -> 784, dropout 0.25 on both hidden layers),
the Gaussian heads on concat(h, one-hot c) for all K categories at once (computed as
h @ W_h + W_c, as icvae does), the exact categorical KL, the expected Gaussian KL, the
'soft_code' (published code) or 'expected' (paper, K decodes per image) reconstruction, and the
information term on B generated images with stratified labels, from logits. Adam, lr 1e-3.
It is written the way a careful PyTorch user would write it, not as a copy of the published
code (whose own throughput, about 8,300 / 12,400 examples/s, is quoted in BENCHMARKS.md).
"""

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class CatVAE(nn.Module):
  """Table 2 MLP with K one-hot Gaussian heads and the fixed block prior of eq. (8)."""

  def __init__(self, num_categories=10, delta=2, prior_scale=2.0, in_features=784,
               hidden=400, dropout=0.25):
    super().__init__()
    self.num_categories = num_categories
    self.latent_dim = num_categories * delta
    self.enc = nn.Linear(in_features, hidden)
    self.classifier = nn.Linear(hidden, num_categories)
    self.mean_head = nn.Linear(hidden + num_categories, self.latent_dim)
    self.logvar_head = nn.Linear(hidden + num_categories, self.latent_dim)
    self.dec_hidden = nn.Linear(self.latent_dim, hidden)
    self.dec_out = nn.Linear(hidden, in_features)
    self.dropout = nn.Dropout(dropout)
    means = torch.zeros(num_categories, self.latent_dim)
    for c in range(num_categories):
      means[c, c * delta:(c + 1) * delta] = prior_scale
    self.register_buffer('prior_means', means)

  def trunk(self, x):
    return F.relu(self.dropout(self.enc(x)))

  def classify(self, x):
    return self.classifier(self.trunk(x))

  def decode(self, z):
    return self.dec_out(F.relu(self.dropout(self.dec_hidden(z))))

  def _head(self, linear, h, code):
    # linear(concat(h, code)) = h @ W_h^T + code @ W_c^T + b, without the concatenation.
    split = h.shape[-1]
    return h @ linear.weight[:, :split].T + code @ linear.weight[:, split:].T + linear.bias

  def heads(self, h, code):
    return self._head(self.mean_head, h, code), self._head(self.logvar_head, h, code)


def loss_fn(model, x, reconstruction, beta_cont, beta_cat, beta_info):
  """Mean-over-batch loss, the same terms and reductions as icvae.losses.infocatvae_loss."""
  k = model.num_categories
  h = model.trunk(x)
  logits = model.classifier(h)
  log_q = F.log_softmax(logits, dim=-1)
  probs = log_q.exp()
  eye = torch.eye(k, dtype=x.dtype, device=x.device)
  mean, logvar = model.heads(h[:, None, :], eye)  # (B, K, d)
  kl_z = 0.5 * (logvar.exp() + (mean - model.prior_means) ** 2 - 1.0 - logvar).sum(-1)
  kl_continuous = (probs * kl_z).sum(-1).mean()
  kl_categorical = ((probs * log_q).sum(-1) + math.log(k)).mean()
  if reconstruction == 'soft_code':
    soft_mean, soft_logvar = model.heads(h, probs)
    z = soft_mean + (0.5 * soft_logvar).exp() * torch.randn_like(soft_mean)
    out = model.decode(z)
    log_lik = (x * out - F.softplus(out)).sum(-1)
  else:
    z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
    out = model.decode(z)  # (B, K, 784)
    per_category = (x[:, None, :] * out - F.softplus(out)).sum(-1)
    log_lik = (probs * per_category).sum(-1)
  loss = beta_cont * kl_continuous + beta_cat * kl_categorical - log_lik.mean()
  if beta_info > 0:
    n = x.shape[0]
    labels = torch.arange(n, device=x.device) % k
    z_gen = model.prior_means[labels] + torch.randn(n, model.latent_dim, device=x.device)
    images = torch.sigmoid(model.decode(z_gen))
    loss = loss + beta_info * F.cross_entropy(model.classify(images), labels)
  return loss


def measure(images, reconstruction, beta_info, batch_size, mode, min_seconds, min_steps,
            seed=0, device='cpu'):
  """Steady-state training examples/s of one configuration (warm-up steps excluded).

  mode: 'eager'; 'compile' (`torch.compile`, default mode); 'cudagraphs' (`torch.compile`
  with mode='reduce-overhead', which replays the compiled step as CUDA graphs on a GPU).
  On a GPU the timed loop ends with a synchronisation (`float(loss)`), so the queued work
  counts.
  """
  torch.manual_seed(seed)
  model = CatVAE().to(device)
  model.train()
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  step_loss = lambda x: loss_fn(model, x, reconstruction, 10.0, 10.0, beta_info)
  compile_seconds = 0.0
  if mode == 'compile':
    step_loss = torch.compile(step_loss)
  elif mode == 'cudagraphs':
    step_loss = torch.compile(step_loss, mode='reduce-overhead')
  elif mode != 'eager':
    raise ValueError(f'unknown mode {mode!r}: eager, compile or cudagraphs.')
  data = torch.from_numpy(images).to(device)
  num_batches = data.shape[0] // batch_size

  def run(steps, order):
    for i in range(steps):
      j = i % num_batches
      x = data[order[j * batch_size:(j + 1) * batch_size]]
      optimizer.zero_grad(set_to_none=True)
      loss = step_loss(x)
      loss.backward()
      optimizer.step()
    return float(loss)

  order = torch.randperm(data.shape[0], device=device)
  started = time.perf_counter()
  run(3, order)  # warm-up (and compilation)
  compile_seconds = time.perf_counter() - started
  run(5, order)
  steps = 0
  started = time.perf_counter()
  while steps < min_steps or time.perf_counter() - started < min_seconds:
    loss = run(10, order)
    steps += 10
  seconds = time.perf_counter() - started
  if not math.isfinite(loss):
    raise FloatingPointError(f'non-finite loss {loss} in the torch benchmark')
  return {'examples_per_second': steps * batch_size / seconds, 'steps': steps,
          'seconds': seconds, 'warmup_seconds': compile_seconds}


def matmul_gflops(size=2048, repeats=20, device='cpu'):
  """float32 size x size matmul throughput, GFLOP/s."""
  a = torch.randn(size, size, device=device)
  b = torch.randn(size, size, device=device)
  for _ in range(3):
    c = a @ b
  float(c[0, 0])
  started = time.perf_counter()
  for _ in range(repeats):
    c = a @ b
  float(c[0, 0])
  return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images', required=True, help='(N, 784) float32 .npy file')
  parser.add_argument('--out', required=True, help='JSON file for the results')
  parser.add_argument('--configs', required=True,
                      help='JSON list of {reconstruction, beta_info, batch_size, mode}')
  parser.add_argument('--min_seconds', type=float, default=3.0)
  parser.add_argument('--min_steps', type=int, default=30)
  parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                      help='cpu or cuda (default: cuda when there is a GPU)')
  args = parser.parse_args()
  images = np.load(args.images)
  results = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
             'device': (torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'),
             'matmul_gflops': matmul_gflops(device=args.device), 'runs': []}
  for config in json.loads(args.configs):
    result = measure(images, config['reconstruction'], config['beta_info'],
                     config['batch_size'], config['mode'], args.min_seconds, args.min_steps,
                     device=args.device)
    results['runs'].append({**config, **result})
    print(json.dumps(results['runs'][-1]), flush=True)
  with open(args.out, 'w') as f:
    json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
