"""The objective's evaluation terms on the test set ('test') and the clustering metrics of the
categorical code ('clustering'): Hungarian accuracy, many-to-one accuracy, NMI, ARI and
cluster usage on train and test (`icvae.metrics`); on train, all images up to 60,000 (a fixed
random 60,000 of dSprites), whatever --train_examples the run trained on. During training,
the same terms and the test clustering accuracy are the test/* scalars of every evaluation.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np

from icvae import data as data_lib
from icvae import metrics as metrics_lib
from icvae import train
from icvae.evaluators import base

log = logging.getLogger('icvae')


def epoch_scalars(terms, clusters, dataset, num_clusters):
  """test/<term> for the objective's terms and, with a categorical code and labels,
  test/clustering_accuracy (Hungarian matching)."""
  scalars = {f'test/{k}': float(v) for k, v in terms.items()}
  if clusters is not None and dataset.labelled:
    scalars['test/clustering_accuracy'] = metrics_lib.clustering_accuracy(
        clusters, dataset.test_labels, num_clusters, dataset.num_classes)
  return scalars


def run(context):
  loaded, config, objective = context.loaded, context.config, context.objective
  test_images, dataset = context.test_images, context.dataset
  mesh = train.data_mesh(train.devices_dividing(len(test_images)))
  evaluate = train.make_evaluate(loaded.graphdef, objective, config.eval_batch_size, mesh)
  test_metrics, test_clusters = jax.device_get(evaluate(
      train.replicate(loaded.state, mesh), train.replicate(test_images, mesh),
      context.key('test')))
  yield 'test', {k: float(v) for k, v in test_metrics.items()}
  if 'clustering' not in context.sections:
    return
  if test_clusters is None:
    log.warning('%s lists the clustering section but its objective has no cluster_logits: '
                'no clustering metrics.', config.model)
    return
  cluster_logits = jax.jit(lambda x: objective.cluster_logits(context.model, x))
  num_clusters = train.cluster_count(loaded.graphdef, objective, loaded.state, test_images)
  rows = base.train_rows(len(context.train_images))
  chunks = (jnp.asarray(data_lib.as_float(context.train_images[rows[i:i + 5000]]))
            for i in range(0, len(rows), 5000))
  train_clusters = np.concatenate([np.asarray(jnp.argmax(cluster_logits(x), axis=-1))
                                   for x in chunks])
  test_clusters = np.asarray(test_clusters)
  if dataset.labelled:
    yield 'clustering', {
        'train': metrics_lib.clustering_report(train_clusters, dataset.train_labels[rows],
                                               num_clusters),
        'test': metrics_lib.clustering_report(test_clusters, dataset.test_labels,
                                              num_clusters)}
  else:
    clustering = {split: {'cluster_usage': metrics_lib.cluster_usage(c, num_clusters).tolist()}
                  for split, c in (('train', train_clusters), ('test', test_clusters))}
    clustering['note'] = ('unlabelled data: accuracy, NMI and ARI need labels (class '
                          'subfolders, y_train/y_test, --label_column)')
    yield 'clustering', clustering


base.register(base.Evaluator('test_terms_and_clustering', run, epoch_scalars=epoch_scalars,
                             sections=('clustering',)))
