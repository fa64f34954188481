"""`LoadedModel.codes` by the objective's `cluster_logits` and `continuous_code`, checked by
hand against the networks' own posterior for every kind of model: the most probable
category's q(z|x, c) for CatVAE-style codes, q(z|x) for IMAE's, none for IMSAT's."""

import numpy as np
import pytest

import fakes
from icvae import inference
from icvae import loop


@pytest.mark.parametrize('model', ['infocatvae', 'imae', 'imsat', 'aae'])
def test_codes_by_hand(tmp_path, model):
  extra = dict(num_categories=1, delta=4) if model == 'aae' else {}
  dataset = fakes.tiny_dataset()
  loop.train_and_evaluate(fakes.tiny_config(tmp_path, model=model, num_epochs=1, **extra),
                          dataset)
  loaded = inference.load_model(tmp_path)
  x = dataset.test_images[:7]
  codes = loaded.codes(x)
  prepared = loaded.prepare(x)
  posterior = loaded.model.encode(prepared, training=False)
  if model == 'imsat':
    assert set(codes) == {'probabilities', 'cluster'}
    logits = np.asarray(posterior)
  else:
    logits = np.asarray(posterior.logits)
    mean, logvar = np.asarray(posterior.mean), np.asarray(posterior.logvar)
    if mean.ndim == 3:  # one q(z|x, c) per category: the most probable one's
      best = logits.argmax(-1)
      mean, logvar = mean[np.arange(7), best], logvar[np.arange(7), best]
    np.testing.assert_allclose(codes['z_mean'], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(codes['z_logvar'], logvar, rtol=1e-5, atol=1e-6)
  if model != 'aae':  # the AAE has no categorical code
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    np.testing.assert_allclose(codes['probabilities'], probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(codes['cluster'], logits.argmax(-1))
  else:
    assert 'probabilities' not in codes
