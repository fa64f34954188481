"""scikit-learn estimators: cluster and encode arrays with IMAE or InfoCatVAE, no loop code.

    from icvae.sklearn import IMAEClustering
    model = IMAEClustering(n_clusters=10, latent_dim=10, max_epochs=20, random_state=0)
    clusters = model.fit_predict(X)        # X: (N, features), (N, H, W) or (N, H, W, C)
    z = model.transform(X)                  # (N, latent_dim) means of q(z|x)

scikit-learn is an optional extra (`pip install icvae[sklearn]`). Each `fit` is a complete
icvae run (`icvae.train_and_evaluate`, on one device) on X as --dataset=custom, with X's
every example as its training set and also as its per-epoch test set (there is no held-out
split: model selection belongs to scikit-learn, e.g. `GridSearchCV`). X passes through the
rule every icvae entry point applies (`icvae.examples`): NaN and infinities refused, integer
images scaled by their type (uint8 by 255, uint16 by 65,535), float images in [0, 1],
channels-first (N, C, H, W) refused with the transpose to use; feature tables (2-D X) are
standardised as the binaries do (a Gaussian likelihood), images get the Bernoulli one.
`predict`, `transform` and `score` apply the same rule to new X.

Deployed as scikit-learn models are:
- A fitted estimator holds its model in memory: the parameters, batch-norm statistics and
  standardisation as numpy arrays. It pickles (and `joblib.dump`s) self-contained: loading
  needs icvae, not the folder it was trained in (arrays and settings, no code beyond the
  classes'; unpickling a file is trusting it, as for every scikit-learn model).
- Without `workdir`, the run is written to a temporary folder that `fit` deletes once the
  model is read back: a GridSearchCV leaves no folders, and a `clone` or copy shares none.
- With `workdir`, the run is kept there for inspection (metrics, TensorBoard, the
  evaluation report), and `fit` trains afresh, replacing a run there (a folder that is not
  an icvae run is refused, never emptied); `warm_start=True` resumes that run instead
  (to a larger `max_epochs`).
- `random_state`: None draws a seed, an int or a `numpy.random.RandomState` fixes it.
- `n_features_in_` is the number of values per example (H * W * C for images);
  `feature_names_in_` is set from a DataFrame; `get_feature_names_out` names the z
  dimensions `transform` gives.

`score(X, y=None)`: with labels (numbers or names), the clustering accuracy (Hungarian
matching, `icvae.metrics.clustering_accuracy`); without, I(x; y) of the clusters in nats (eq.
7 on X), which rewards confident, balanced clusters. Higher is better for both, as
scikit-learn expects.

scikit-learn's estimator checks (`sklearn.utils.estimator_checks.check_estimator`) pass,
except those that set n_clusters=1 (check_dont_overwrite_parameters,
check_methods_subset_invariance, check_fit2d_1feature, check_fit2d_predict1d): icvae's
categorical codes need K >= 2, and `fit` refuses K = 1 with a ValueError naming it.
`tests/test_sklearn.py` runs every check on both estimators and tests those checks'
properties at K = 2 itself. Sparse input is refused (dense arrays only).
"""

import numbers
import pathlib
import shutil
import tempfile

import jax
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.base import ClusterMixin
from sklearn.base import TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array
from sklearn.utils.validation import check_is_fitted
from sklearn.utils.validation import validate_data

from icvae import checkpoints
from icvae import config as config_lib
from icvae import data as data_lib
from icvae import examples as examples_lib
from icvae import inference
from icvae import information
from icvae import loop
from icvae import metrics
from icvae import workdir as workdir_lib


class _IcvaeClustering(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin,
                       BaseEstimator):
  """What the estimators share; a subclass names `_model`, `_settings()` and
  `_n_features_out`."""

  _model = None

  def _settings(self):
    raise NotImplementedError

  @property
  def _n_features_out(self):
    return self.latent_dim_

  def _examples(self, X, reset):
    """X checked as every icvae entry point checks examples (`icvae.examples`): uint8
    images kept, everything else float32."""
    if not reset:
      check_is_fitted(self, 'model_')
    validate_data(self, X, reset=reset, skip_check_array=True, ensure_2d=False)
    X = check_array(X, allow_nd=True, dtype=None, ensure_min_samples=2 if reset else 1,
                    input_name='X', estimator=self)
    if X.dtype.kind not in 'biuf':
      X = check_array(X, allow_nd=True, dtype=np.float32, input_name='X', estimator=self)
    try:
      checked = examples_lib.checked_examples(X, 'X')
    except data_lib.DataError as e:
      raise ValueError(str(e)) from None
    shape = X.shape[1:]
    if reset:
      self.example_shape_ = shape
      self.n_features_in_ = int(np.prod(shape))
    elif shape != self.example_shape_ and checked.shape[1:] != tuple(self.model_.config.image_shape):
      count = int(np.prod(shape))
      raise ValueError(f'X has {count} features, but {type(self).__name__} is expecting '
                       f'{self.n_features_in_} features as input (examples of shape '
                       f'{self.example_shape_}, these {shape}).')
    return checked

  def _seed(self):
    if isinstance(self.random_state, numbers.Integral):
      return int(self.random_state)
    return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

  # What an icvae run writes in its workdir: `fit` replaces a folder holding only these.
  _RUN_FILES = ('config.json', 'data.json', 'standardization.json', 'metrics.jsonl', '.lock',
                'checkpoints', 'checkpoints-unreadable', 'tensorboard', 'eval')

  def _run_folder(self):
    """(folder, owned): the workdir (a previous run there is removed unless warm_start), or
    a new temporary folder (owned: deleted once the model is read)."""
    if not self.workdir:
      if self.warm_start:
        raise ValueError('warm_start=True resumes the run in workdir: pass workdir=FOLDER '
                         '(without one, every fit is a new run in a temporary folder).')
      return tempfile.mkdtemp(prefix='icvae-sklearn-'), True
    folder = pathlib.Path(self.workdir)
    if folder.exists() and any(folder.iterdir()) and not self.warm_start:
      others = sorted(p.name for p in folder.iterdir() if p.name not in self._RUN_FILES)
      if others or not (folder / 'config.json').is_file():
        raise ValueError(f'workdir={folder}: holds files that are not an icvae run '
                         f'({", ".join(others[:3]) or "no config.json"}); fit writes a new run '
                         'there and will not delete them: pass an empty or new folder.')
      checkpoints.read_config(folder)  # an icvae run's config.json, else CheckpointError
      shutil.rmtree(folder)  # fit trains afresh (warm_start=True resumes instead)
    return str(folder), False

  def fit(self, X, y=None):
    """Trains a new run on X (y is ignored: the clustering is unsupervised); returns self.

    Raises:
      ValueError: X is not numeric, has NaN or infinite values, too few examples, or a
        setting is refused (the message names it).
    """
    del y
    X = self._examples(X, reset=True)
    dataset = data_lib.Dataset(X, None, X, None)
    values = dict(self._settings(), **(self.settings or {}))
    values.update(model=self._model, dataset='custom',
                  data_shape=data_lib.shape_text(X.shape[1:]), num_epochs=self.max_epochs,
                  batch_size=min(self.batch_size, len(X)), learning_rate=self.learning_rate,
                  seed=self._seed(), progress=False,
                  checkpoint_every=self.max_epochs, eval_every=0,
                  eval_batch_size=min(1000, len(X)), network=self.network)
    try:  # the settings are checked before a previous run in workdir is replaced
      config_lib.RunConfig(**values, workdir='')
      folder, owned = self._run_folder()
    except (config_lib.SettingError, checkpoints.CheckpointError) as e:
      raise ValueError(str(e)) from e
    try:
      config = config_lib.RunConfig(**values, workdir=folder)
      state = loop.train_and_evaluate(config, dataset, devices=jax.local_devices()[:1])
      saved = checkpoints.read_config(folder)  # the run's config, as a workdir holds it
      graphdef, _, _ = checkpoints.new_state(saved)
      self.model_ = inference.model_of_state(saved, graphdef, jax.device_get(state),
                                               saved.num_epochs, folder)
    except (config_lib.SettingError, workdir_lib.ExperimentError, data_lib.DataError,
            checkpoints.CheckpointError) as e:
      raise ValueError(str(e)) from e
    finally:
      if owned:
        shutil.rmtree(folder, ignore_errors=True)
    self.workdir_ = None if owned else folder
    codes = self.model_.codes(X)
    self.labels_ = codes['cluster']
    self.latent_dim_ = codes['z_mean'].shape[1]
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
    """Clustering accuracy against y (numbers or names, `icvae.examples.label_classes`);
    without y, I(x; y) of the clusters on X in nats."""
    probabilities = self.predict_proba(X)
    if y is not None:
      try:
        y, names = examples_lib.label_classes(np.asarray(y), 'y')
      except data_lib.DataError as e:
        raise ValueError(str(e)) from None
      return metrics.clustering_accuracy(probabilities.argmax(-1), y,
                                         probabilities.shape[-1], len(names))
    mutual, _, _ = information.categorical_mutual_information(
        np.log(np.maximum(probabilities, 1e-30)))
    return float(mutual)

  def __getstate__(self):
    state = dict(self.__dict__)
    if 'model_' in state:  # the model as arrays: the pickle needs no folder
      state['model_'] = state['model_'].to_arrays()
    return state

  def __setstate__(self, state):
    state = dict(state)
    if isinstance(state.get('model_'), dict):
      state['model_'] = inference.LoadedModel.from_arrays(state['model_'])
    self.__dict__.update(state)

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
    network: a registered --network ('mlp': any X; 'conv': images) or your own,
      'package.module:attribute' (`icvae.networks`).
    hidden_features: the MLP's width (Table 1: 500).
    random_state: --seed: an int, a `numpy.random.RandomState`, or None (a random seed).
    workdir: where the run is written and kept (None: a temporary folder, deleted after
      fit); fit replaces a run there unless warm_start.
    warm_start: resume the run in workdir (up to max_epochs) instead of training afresh.
    settings: any other icvae settings by name (e.g. {'vat_weight': 30}).
  """
  _model = 'imae'

  def __init__(self, n_clusters=10, latent_dim=10, *, max_epochs=20, batch_size=128,
               learning_rate=1e-3, beta=5.0, gamma=10.0, network='mlp', hidden_features=500,
               random_state=0, workdir=None, warm_start=False, settings=None):
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
    self.warm_start = warm_start
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
      random_state, workdir, warm_start, settings: as `IMAEClustering` (the MLP's width:
      Table 2's 400).
  """
  _model = 'infocatvae'

  def __init__(self, n_clusters=10, latent_dim=20, *, max_epochs=20, batch_size=128,
               learning_rate=1e-3, network='mlp', hidden_features=400, random_state=0,
               workdir=None, warm_start=False, settings=None):
    self.n_clusters = n_clusters
    self.latent_dim = latent_dim
    self.max_epochs = max_epochs
    self.batch_size = batch_size
    self.learning_rate = learning_rate
    self.network = network
    self.hidden_features = hidden_features
    self.random_state = random_state
    self.workdir = workdir
    self.warm_start = warm_start
    self.settings = settings

  def _settings(self):
    return dict(num_categories=self.n_clusters, latent_dim=self.latent_dim,
                hidden_features=self.hidden_features)
