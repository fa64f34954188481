"""bfloat16 matmuls with float32 accumulation (a custom VJP), and the dense layer that
uses them under --compute_dtype=bfloat16.
"""

import jax
import jax.numpy as jnp


COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


@jax.custom_vjp
def _bf16_matmul(x, kernel):
  """x @ kernel with bfloat16 inputs, float32 accumulation and output, both ways.

  The backward products also take bfloat16 inputs and accumulate in float32 (a plain
  dot_general with a float32 result would transpose into float32 products, and a bfloat16
  result would round every accumulation: both are slower on CPU).
  """
  return _bf16_matmul_fwd(x, kernel)[0]


def _bf16_dot(a, b, contracting):
  return jax.lax.dot_general(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16),
                             (contracting, ((), ())), preferred_element_type=jnp.float32)


def _bf16_matmul_fwd(x, kernel):
  return _bf16_dot(x, kernel, ((x.ndim - 1,), (0,))), (x, kernel)


def _bf16_matmul_bwd(residuals, grad):
  x, kernel = residuals
  grad_x = _bf16_dot(grad, kernel, ((grad.ndim - 1,), (1,)))
  batch_axes = tuple(range(x.ndim - 1))
  grad_kernel = _bf16_dot(x, grad, (batch_axes, batch_axes))
  return grad_x.astype(x.dtype), grad_kernel.astype(kernel.dtype)


_bf16_matmul.defvjp(_bf16_matmul_fwd, _bf16_matmul_bwd)


def dense(linear, x, compute_dtype):
  """linear(x) in float32, or with `_bf16_matmul` when compute_dtype is bfloat16."""
  if compute_dtype == jnp.float32:
    return linear(x)
  return _bf16_matmul(x, linear.kernel[...]) + linear.bias[...]
