r"""Probe: how the AAE's adversarial weight trades reconstruction against matching N(0, I).

  python -m experiments.probes.aae_weight --data_dir=../shared/data/mnist

Trains the AAE (d = 8, hidden 128, Adam 1e-3, batch 100) for 4 epochs on the first 6,000
MNIST training images at adversarial weights 10 and 100 and prints, per epoch, the test
reconstruction (nats), the discriminator loss and the norm of the code mean. The evidence
for the default weight (10) of `icvae.objectives.aae`.
"""

import json
import pathlib
import tempfile

from absl import app
from absl import flags

import icvae
from icvae import data

flags.DEFINE_string('data_dir', None, 'Folder with the MNIST IDX gz files.')
flags.DEFINE_list('weights', ['10', '100'], 'Adversarial weights to try.')
FLAGS = flags.FLAGS


def main(_):
  full = data.load('mnist', FLAGS.data_dir)
  dataset = data.Dataset(full.train_images[:6000], full.train_labels[:6000],
                         full.test_images[:1000], full.test_labels[:1000])
  for weight in FLAGS.weights:
    with tempfile.TemporaryDirectory() as workdir:
      config = icvae.RunConfig(
          model='aae', num_categories=1, delta=8, hidden_features=128, num_epochs=4,
          batch_size=100, learning_rate=1e-3, eval_batch_size=500, checkpoint_every=2,
          workdir=workdir, progress=False, adversarial_weight=float(weight))
      icvae.train_and_evaluate(config, dataset)
      records = [json.loads(line) for line in
                 (pathlib.Path(workdir) / 'metrics.jsonl').read_text().splitlines()]
    print(f'weight {weight}: ' + ', '.join(
        f"epoch {r['epoch']}: recon {r['test/reconstruction']:.0f}, "
        f"D loss {r['train/discriminator_loss']:.2f}, |mean z| {r['test/code_mean_norm']:.2f}"
        for r in records), flush=True)


if __name__ == '__main__':
  app.run(main)
