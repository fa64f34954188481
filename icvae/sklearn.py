"""scikit-learn estimators: cluster and encode arrays with IMAE or InfoCatVAE, no loop code.

    from icvae.sklearn import IMAEClustering
    model = IMAEClustering(n_clusters=10, latent_dim=10, max_epochs=20, random_state=0)
    clusters = model.fit_predict(X)        # X: (N, features), (N, H, W) or (N, H, W, C)
    z = model.transform(X)                  # (N, latent_dim) means of q(z|x)

scikit-learn is an optional extra (`pip install icvae[sklearn]`). Each `fit` is a complete
icvae run (`icvae.train_and_evaluate`, on one device) on X as --dataset=custom, with X's
every example as its training set and also as its per-epoch test set (there is no held-out
split: model selection belongs to scikit-learn, e.g. `GridSearchCV`). The run's workdir (a
new temporary folder unless `workdir` is given) holds its checkpoint, config.json and
metrics; the
fitted estimator reads its model from there (`icvae.load_model`), so a pickled estimator
needs that folder. Feature tables (2-D X) are standardised as the binaries do (a Gaussian
likelihood), images in [0, 1] or uint8 get the Bernoulli one.

`score(X, y=None)`: with labels, the clustering accuracy (Hungarian matching,
`icvae.metrics.clustering_accuracy`); without, I(x; y) of the clusters in nats (eq. 7 on X),
which rewards confident, balanced clusters. Higher is better for both, as scikit-learn
expects.

scikit-learn's estimator checks (`sklearn.utils.estimator_checks.check_estimator`) pass,
except those that set n_clusters=1 (check_dont_overwrite_parameters,
check_methods_subset_invariance, check_fit2d_1feature, check_fit2d_predict1d): icvae's
categorical codes need K >= 2, and `fit` refuses K = 1 with a ValueError naming it.
`tests/test_sklearn.py` runs every check and expects exactly these to fail. Sparse input is
refused (dense arrays only), as the checks accept.
"""

import shutil
import tempfile

import jax
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import ClusterMixin
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_array
from sklearn.utils.validation import check_is_fitted
from sklearn.utils.validation import validate_data

from icvae import checkpoints
from icvae import config as config_lib
from icvae import data as data_lib
from icvae import information
from icvae import loop
from icvae import metrics


class _IcvaeClustering(ClusterMixin, TransformerMixin, BaseEstimator):
  """What the estimators share; a subclass names `_model` and `_settings()`."""

  _model = None

  def _settings(self):
    raise NotImplementedError

  def _examples(self, X, reset):
    """X checked (numeric, finite, 2 or more axes) as float32, or uint8 images kept."""
    if not reset:
      check_is_fitted(self, 'model_')
    X = validate_data(self, X, reset=reset, allow_nd=True, dtype=None,
                      ensure_min_samples=2 if reset else 1)
    if not reset and X.shape[1:] != self.example_shape_:
      raise ValueError(f'X has examples of shape {X.shape[1:]}, but {type(self).__name__} '
                       f'was fitted on {self.example_shape_}; pass examples of that shape, or fit '
                       'again on these.')
    if X.dtype.kind not in 'biuf' or X.dtype.kind == 'b':
      X = check_array(X, allow_nd=True, dtype=np.float32)
    if X.dtype != np.uint8:
      X = X.astype(np.float32)
    if X.ndim > 2 and X.dtype != np.uint8 and (X.min() < 0 or X.max() > 1):
      raise ValueError('images (X with more than 2 axes) must be uint8 or floats in [0, 1].')
    return X

  def fit(self, X, y=None):
    """Trains a new run on X (y is ignored: the clustering is unsupervised); returns self.

    Raises:
      ValueError: X is not numeric, has NaN or infinite values, too few examples, or a
        setting is refused (the message names it).
    """
    del y
    X = self._examples(X, reset=True)
    self.example_shape_ = X.shape[1:]
    if getattr(self, 'workdir_owned_', False):  # a refit replaces its own temporary run
      shutil.rmtree(self.workdir_, ignore_errors=True)
    self.workdir_owned_ = not self.workdir
    self.workdir_ = self.workdir or tempfile.mkdtemp(prefix='icvae-sklearn-')
    dataset = data_lib.Dataset(X, None, X, None)
    values = dict(self._settings(), **(self.settings or {}))
    values.update(model=self._model, dataset='custom',
                  data_shape=data_lib.shape_text(X.shape[1:]), num_epochs=self.max_epochs,
                  batch_size=min(self.batch_size, len(X)), learning_rate=self.learning_rate,
                  seed=self.random_state or 0, workdir=self.workdir_, progress=False,
                  checkpoint_every=self.max_epochs, eval_every=self.max_epochs,
                  eval_batch_size=min(1000, len(X)), network=self.network)
    try:
      config = config_lib.RunConfig(**values)
      loop.train_and_evaluate(config, dataset, devices=jax.local_devices()[:1])
    except (config_lib.SettingError, loop.ExperimentError, data_lib.DataError) as e:
      raise ValueError(str(e)) from e
    self.model_ = checkpoints.load_model(self.workdir_)
    self.labels_ = self.model_.predict(X)
    return self

  def _codes(self, X):
    X = self._examples(X, reset=False)
    return self.model_.codes(X)

  def predict(self, X):
    """(N,) clusters, argmax_y p(y|x)."""
    return self._codes(X)['cluster']

  def predict_proba(self, X):
    """(N, n_clusters) p(y|x)."""
    return self._codes(X)['probabilities']

  def transform(self, X):
    """(N, latent_dim) means of q(z|x) (InfoCatVAE: of the most probable category's)."""
    return self._codes(X)['z_mean']

  def score(self, X, y=None):
    """Clustering accuracy against y; without y, I(x; y) of the clusters on X in nats."""
    probabilities = self.predict_proba(X)
    if y is not None:
      y = np.asarray(y)
      return metrics.clustering_accuracy(probabilities.argmax(-1), y,
                                         probabilities.shape[-1], int(y.max()) + 1)
    mutual, _, _ = information.categorical_mutual_information(
        np.log(np.maximum(probabilities, 1e-30)))
    return float(mutual)

  def __getstate__(self):
    state = dict(self.__dict__)
    state.pop('model_', None)  # networks are read again from workdir_
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    if 'workdir_' in state:
      self.model_ = checkpoints.load_model(self.workdir_)

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.input_tags.sparse = False
    tags.non_deterministic = False
    return tags


class IMAEClustering(_IcvaeClustering):
  """IMAE (`--model=imae`): K clusters y and a d-dimensional z, as an estimator.

  Args:
    n_clusters: K (--num_categories).
    latent_dim: d (--continuous_dim).
    max_epochs: --num_epochs.
    batch_size: --batch_size (at most the number of examples).
    learning_rate: Adam's.
    beta, gamma: IMAE's weights (eq. 10).
    network: 'mlp' (any X) or 'conv' (images).
    hidden_features: the MLP's width (Table 1: 500).
    random_state: --seed (int).
    workdir: where the run is written (None: a new temporary folder).
    settings: any other icvae settings by name (e.g. {'vat_weight': 30}).
  """
  _model = 'imae'

  def __init__(self, n_clusters=10, latent_dim=10, *, max_epochs=20, batch_size=128,
               learning_rate=1e-3, beta=5.0, gamma=10.0, network='mlp', hidden_features=500,
               random_state=0, workdir=None, settings=None):
    self.n_clusters = n_clusters
    self.latent_dim = latent_dim
    self.max_epochs = max_epochs
    self.batch_size = batch_size
    self.learning_rate = learning_rate
    self.beta = beta
    self.gamma = gamma
    self.network = network
    self.hidden_features = hidden_features
    self.random_state = random_state
    self.workdir = workdir
    self.settings = settings

  def _settings(self):
    return dict(num_categories=self.n_clusters, continuous_dim=self.latent_dim, beta=self.beta,
                gamma=self.gamma, hidden_features=self.hidden_features)


class InfoCatVAEClustering(_IcvaeClustering):
  """InfoCatVAE (`--model=infocatvae`, Pineau & Lelarge): K clusters c and z | c.

  Args:
    n_clusters: K (--num_categories).
    latent_dim: d = K * delta (a multiple of n_clusters; --latent_dim).
    **others: max_epochs, batch_size, learning_rate, network, hidden_features,
      random_state, workdir, settings: as `IMAEClustering` (the MLP's width: Table 2's 400).
  """
  _model = 'infocatvae'

  def __init__(self, n_clusters=10, latent_dim=20, *, max_epochs=20, batch_size=128,
               learning_rate=1e-3, network='mlp', hidden_features=400, random_state=0,
               workdir=None, settings=None):
    self.n_clusters = n_clusters
    self.latent_dim = latent_dim
    self.max_epochs = max_epochs
    self.batch_size = batch_size
    self.learning_rate = learning_rate
    self.network = network
    self.hidden_features = hidden_features
    self.random_state = random_state
    self.workdir = workdir
    self.settings = settings

  def _settings(self):
    return dict(num_categories=self.n_clusters, latent_dim=self.latent_dim,
                hidden_features=self.hidden_features)
