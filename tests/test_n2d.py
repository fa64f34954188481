"""N2D on a run's codes (`icvae.n2d`): the clustering against known groups, the code choices,
the held-out protocol, the missing-dependency error, and the command end to end."""

import builtins
import json
import subprocess
import sys

import numpy as np
import pytest

import icvae
from icvae import loop
from icvae import metrics
from icvae import n2d


class Identity:
  """A manifold step that keeps the features (so the mixture alone clusters them)."""

  def fit_transform(self, x):
    self.fitted = len(x)
    return x

  def transform(self, x):
    return x


def _blobs(count, centres, rng, spread=0.05):
  labels = np.arange(count) % len(centres)
  return centres[labels] + spread * rng.normal(size=(count, centres.shape[1])), labels


def test_the_mixture_finds_separated_groups_and_assigns_held_out_ones():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(4, 3)) * 5
  train, train_labels = _blobs(400, centres, rng)
  test, test_labels = _blobs(100, centres, rng)
  embedding = Identity()
  train_clusters, test_clusters = n2d.cluster(train, test, 4, seed=0, embedding=embedding)
  assert embedding.fitted == 400  # fitted on the training split only
  assert metrics.clustering_accuracy(train_clusters, train_labels) == 1.0
  assert metrics.clustering_accuracy(test_clusters, test_labels) == 1.0
  # The same cluster ids on both splits: one fitted mixture, not one per split.
  for label in range(4):
    assert len(set(train_clusters[train_labels == label])) == 1
    assert set(test_clusters[test_labels == label]) == set(train_clusters[train_labels == label])


def test_code_features_choose_and_refuse():
  codes = {'probabilities': np.full((2, 3), 0.25, np.float32),
           'z_mean': np.arange(4, dtype=np.float32).reshape(2, 2)}
  np.testing.assert_array_equal(n2d.code_features(codes, 'z'), codes['z_mean'])
  np.testing.assert_array_equal(n2d.code_features(codes, 'y'), codes['probabilities'])
  both = n2d.code_features(codes, 'yz')
  assert both.shape == (2, 5)
  np.testing.assert_array_equal(both[:, 3:], codes['z_mean'])
  with pytest.raises(ValueError, match='has no z_mean'):
    n2d.code_features({'probabilities': codes['probabilities']}, 'z')
  with pytest.raises(ValueError, match='must be one of z, y, yz'):
    n2d.code_features(codes, 'x')


def test_without_umap_the_error_says_what_to_install(monkeypatch):
  real_import = builtins.__import__

  def refuse_umap(name, *args, **kwargs):
    if name == 'umap':
      raise ImportError('No module named umap')
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, '__import__', refuse_umap)
  with pytest.raises(ImportError, match=r'umap-learn>=0\.5\.12.*icvae\[n2d\]'):
    n2d.umap_embedding(10)


def _table_run(tmp_path):
  """A run on a table of two far-apart groups, 1 epoch."""
  rng = np.random.default_rng(3)
  x, labels = _blobs(200, np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 6.0]]), rng, spread=0.3)
  path = tmp_path / 'groups.npz'
  np.savez(path, x_train=x.astype(np.float32), y_train=labels)
  config = icvae.RunConfig(model='imae', data=str(path), num_categories=2, continuous_dim=2,
                           batch_size=20, num_epochs=1, hidden_features=16,
                           workdir=str(tmp_path / 'run'), progress=False)
  loop.train_and_evaluate(config)
  return tmp_path / 'run'


def test_evaluate_n2d_scores_both_splits_and_writes_the_report(tmp_path, monkeypatch):
  workdir = _table_run(tmp_path)
  monkeypatch.setattr(n2d, 'umap_embedding', lambda *args, **kwargs: Identity())
  report = n2d.evaluate_n2d(workdir, 'yz')
  written = json.loads((workdir / 'eval' / 'n2d_yz.json').read_text())
  assert written['test'] == report['test'] and written['code'] == 'yz'
  # The held-out split: 10 % of 200 rows, stratified.
  assert report['examples'] == {'train': 180, 'test': 20}
  # Two groups 10 standard deviations apart stay apart in any trained code's mean.
  assert report['test']['accuracy'] == 1.0
  with pytest.raises(ValueError, match='must be one of'):
    n2d.evaluate_n2d(workdir, 'x')


@pytest.mark.slow
def test_the_command_with_umap(tmp_path):
  pytest.importorskip('umap')
  workdir = _table_run(tmp_path)
  done = subprocess.run([sys.executable, '-m', 'icvae', 'n2d', f'--workdir={workdir}',
                         '--code=z', '--neighbors=10'], capture_output=True, text=True,
                        timeout=600, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  report = json.loads((workdir / 'eval' / 'n2d_z.json').read_text())
  assert report['neighbors'] == 10 and report['num_clusters'] == 2
  assert report['test']['accuracy'] == 1.0
  assert 'test accuracy 1.0000' in done.stderr
