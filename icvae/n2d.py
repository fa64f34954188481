"""N2D on a trained run's codes: the code -> UMAP -> a Gaussian mixture (a clustering baseline).

N2D (McConville et al. 2020, "N2D: (Not Too) Deep Clustering via Clustering the Local
Manifold of an Autoencoded Embedding", section 3) clusters an autoencoder's embedding in two
steps: UMAP learns the local manifold of the embedding into as many dimensions as there are
clusters, and a Gaussian mixture with full covariances clusters that manifold. Here the
embedding is a trained icvae run's own code, so the manifold step's number sits beside the
categorical code's: `evaluate_n2d(workdir, code='z')`.

Choices (each a keyword argument):
- The code: 'z', the mean of q(z|x) (the continuous code; the "z of a trained run"); 'y', the
  categorical posterior p(y|x); 'yz', both side by side.
- N2D's settings: `neighbors=20`, `min_dist=0`, UMAP's dimension = the number of clusters,
  Euclidean distances; `GaussianMixture(covariance_type='full')`.
- The protocol: N2D fits both steps on every example and scores the same examples. Here,
  as for every icvae number, both are fitted on the training split and the test split is
  mapped by the fitted UMAP (`transform`) and assigned by the fitted mixture; a run trained
  with --protocol=all has the same examples in both splits, which is N2D's protocol.
- Seeds: UMAP's and the mixture's `random_state` is `seed` (UMAP is then single-threaded,
  as its documentation says of a fixed seed).

umap-learn is an optional dependency: `pip install 'icvae[n2d]'`.
"""

import json
import logging
import pathlib
import time

import numpy as np

from icvae import data as data_lib
from icvae import inference
from icvae import metrics as metrics_lib
from icvae import workdir as workdir_lib

log = logging.getLogger('icvae')

CODES = ('z', 'y', 'yz')
UMAP_REQUIREMENT = 'umap-learn>=0.5.12'


def code_features(codes, code):
  """(N, F) features of `codes` (`LoadedModel.codes`) for one of `CODES`.

  Raises:
    ValueError: an unknown code, or one the model does not have (IMSAT has no z).
  """
  if code not in CODES:
    raise ValueError(f'--code={code}: must be one of {", ".join(CODES)}.')
  parts = {'z': 'z_mean', 'y': 'probabilities'}
  needed = [parts[c] for c in code]
  missing = [name for name in needed if name not in codes]
  if missing:
    raise ValueError(f'--code={code}: the model has no {missing[0]} (it has '
                     f'{", ".join(sorted(codes))}); choose another --code.')
  return np.concatenate([np.asarray(codes[name], np.float32) for name in needed], axis=1)


def umap_embedding(num_components, *, neighbors=20, min_dist=0.0, seed=0):
  """N2D's manifold step: a `umap.UMAP` with its settings (fit_transform, transform).

  Raises:
    ImportError: umap-learn is not installed, saying how to install it.
  """
  try:
    import umap  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f'N2D needs umap-learn: pip install "{UMAP_REQUIREMENT}" (or '
                      f'"icvae[n2d]").') from e
  return umap.UMAP(n_components=num_components, n_neighbors=neighbors, min_dist=min_dist,
                   metric='euclidean', random_state=seed)


def cluster(train_features, test_features, num_clusters, *, seed=0, embedding=None):
  """N2D's two steps fitted on the training features, applied to both splits.

  Args:
    train_features: (N, F) codes the manifold and the mixture are fitted on.
    test_features: (M, F) codes mapped by the fitted manifold and assigned by the mixture.
    num_clusters: the mixture's components, and the manifold's dimension.
    seed: the random state of both steps.
    embedding: the manifold step, an object with `fit_transform(X)` and `transform(X)`
      (default: `umap_embedding(num_clusters, seed=seed)`).
  Returns:
    (train clusters (N,), test clusters (M,)), int arrays.
  """
  from sklearn import mixture  # pylint: disable=g-import-not-at-top
  if embedding is None:
    embedding = umap_embedding(num_clusters, seed=seed)
  train_manifold = embedding.fit_transform(np.asarray(train_features, np.float32))
  test_manifold = embedding.transform(np.asarray(test_features, np.float32))
  gmm = mixture.GaussianMixture(n_components=num_clusters, covariance_type='full',
                                random_state=seed)
  gmm.fit(train_manifold)
  return gmm.predict(train_manifold), gmm.predict(test_manifold)


def evaluate_n2d(workdir, code='z', *, seed=0, neighbors=20, data_dir=None,
                 num_clusters=None):
  """N2D's clustering of a trained run's code on its data: accuracy, NMI and ARI on both
  splits, written to workdir/eval/n2d_<code>.json and returned.

  Args:
    workdir: a training workdir with a checkpoint.
    code: one of `CODES`.
    seed: the random state of UMAP and the mixture.
    neighbors: UMAP's n_neighbors (N2D: 20).
    data_dir: where the run's dataset is, if not where it trained.
    num_clusters: the clusters (default: the run's --num_categories).
  Raises:
    checkpoints.CheckpointError, data.DataError: as `icvae evaluate`; ValueError: a code the
    model lacks, or data without labels.
  """
  if code not in CODES:
    raise ValueError(f'--code={code}: must be one of {", ".join(CODES)}.')
  loaded = inference.load_model(workdir)
  config = loaded.config
  if data_dir:
    config = config.replace(data_dir=str(data_dir))
  dataset = data_lib.with_protocol(data_lib.load_for(config), config.protocol, config.dataset)
  if not dataset.labelled:
    raise ValueError(f'--workdir={workdir}: its data have no labels, and N2D is scored '
                     'against labels (accuracy, NMI, ARI).')
  num_clusters = num_clusters or config.num_categories
  started = time.time()
  features = {}
  for split, images in (('train', dataset.train_images), ('test', dataset.test_images)):
    features[split] = code_features(loaded.codes(images, config.eval_batch_size), code)
  encoded = time.time() - started
  log.info('N2D on %s: %s codes of %d training and %d test examples (%d features), '
           'UMAP to %d dimensions and a %d-component Gaussian mixture ...', workdir, code,
           len(features['train']), len(features['test']), features['train'].shape[1],
           num_clusters, num_clusters)
  embedding = umap_embedding(num_clusters, neighbors=neighbors, seed=seed)
  train_clusters, test_clusters = cluster(features['train'], features['test'], num_clusters,
                                          seed=seed, embedding=embedding)
  report = {
      'workdir': str(workdir), 'epoch': loaded.epoch, 'code': code, 'seed': seed,
      'neighbors': neighbors, 'num_clusters': num_clusters,
      'examples': {split: len(f) for split, f in features.items()},
      'train': metrics_lib.clustering_report(train_clusters, dataset.train_labels,
                                             num_clusters),
      'test': metrics_lib.clustering_report(test_clusters, dataset.test_labels,
                                            num_clusters),
      'seconds': {'encode': encoded, 'n2d': time.time() - started - encoded},
  }
  out = pathlib.Path(workdir) / 'eval'
  out.mkdir(exist_ok=True)
  workdir_lib.write_atomically(out / f'n2d_{code}.json', json.dumps(report, indent=2))
  return report
