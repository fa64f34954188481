"""float32 / bfloat16 matmul throughput at this model's shapes against a 2048^3 product (JAX).

  python -m benchmarks.matmul_shapes

Each shape is timed as ten chained products inside one jit (dispatch amortised), the
bfloat16 rows with float32 accumulation (what --compute_dtype=bfloat16 uses). The
(128, 784) x (784, 400) rows are the roofline of the Table 2 MLP at batch 128.
"""

import time

from absl import app
import jax
import jax.numpy as jnp

SHAPES = ((128, 784, 400), (784, 128, 400), (128, 400, 784), (400, 128, 784),
          (1280, 400, 784), (512, 784, 400), (2048, 2048, 2048))


def gflops(m, k, n, dtype, repeats=200):
  a = jnp.ones((m, k), dtype)
  b = jnp.ones((k, n), dtype)
  chain = jax.jit(lambda a, b: sum(
      jnp.dot((a * (1 + i * 1e-3)).astype(dtype), b, preferred_element_type=jnp.float32)
      for i in range(10)))
  jax.block_until_ready(chain(a, b))
  started = time.perf_counter()
  for _ in range(repeats):
    result = chain(a, b)
  jax.block_until_ready(result)
  return 2 * m * k * n * 10 * repeats / (time.perf_counter() - started) / 1e9


def main(_):
  print('| (m, k, n) | float32 GFLOP/s | bfloat16 GFLOP/s |\n|---|---|---|')
  for m, k, n in SHAPES:
    repeats = 20 if m == 2048 else 200
    print(f'| ({m}, {k}, {n}) | {gflops(m, k, n, jnp.float32, repeats):.0f} | '
          f'{gflops(m, k, n, jnp.bfloat16, repeats):.0f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
