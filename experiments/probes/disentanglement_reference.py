r"""icvae's disentanglement metrics against disentanglement_lib's own code, on the same codes,
factors and random draws.

    python -m experiments.probes.disentanglement_reference \
        [--reference=DIR] [--seeds=10] [--points=600]

--reference: a checkout of google-research/disentanglement_lib (the folder holding the
`disentanglement_lib` package); by default its metric files are read from the fetched mirror
under /work/.mirror/google-research+disentanglement_lib (`git archive`). The reference's
imports of gin, absl and six are stubbed where those are not installed: gin's `configurable`
fills a function's unset arguments from the study's bindings (the metric configs of
`unsupervised_study_v1`: 20-bin histogram discretiser, FactorVAE's pruning threshold 0.05),
which is all the metric functions read from it. No TensorFlow is needed.

Part 1, the scores on arrays: codes (N, D) mixing three factors linearly plus noise, scored by
both sides (DCI after `np.random.seed(s)` on the reference's side, since its classifiers draw
from numpy's global state, and `random_state=s` on icvae's).

Part 2, the protocols: a small factor source (sizes 3, 4, 5; an observation is its factors)
and a non-linear representation, each metric run end to end by both sides from
`np.random.RandomState(s)`, so the draws are compared too.

Each row gives the largest |difference| over the seeds, and the scores' spread over them (the
Monte Carlo spread the sampled metrics' differences are to be judged against).
"""

import importlib
import pathlib
import subprocess
import sys
import tempfile
import types
import warnings

from absl import app
from absl import flags
import numpy as np

from icvae.disentanglement import dci
from icvae.disentanglement import mig
from icvae.disentanglement import modularity
from icvae.disentanglement import sap
from icvae.disentanglement import suite
from icvae.disentanglement import unsupervised

flags.DEFINE_string('reference', '', 'A disentanglement_lib checkout (default: the fetched '
                    'mirror).')
flags.DEFINE_integer('seeds', 10, 'Seeds per comparison.')
flags.DEFINE_integer('points', 600, 'Training points of part 1 (test: half).')
FLAGS = flags.FLAGS

MIRROR = pathlib.Path('/work/.mirror/google-research+disentanglement_lib/repo')
SIZES = (3, 4, 5)
# The metric configs of disentanglement_lib's study (config/unsupervised_study_v1).
STUDY_BINDINGS = {'prune_dims': {'threshold': 0.05}, 'discretizer': {'num_bins': 20}}


def _stub_gin():
  """A `gin` module whose `configurable` fills unset arguments from `STUDY_BINDINGS`."""
  gin = types.ModuleType('gin')
  gin.REQUIRED = object()

  def configurable(name=None, blacklist=None, **unused):
    del blacklist, unused

    def wrap(function, name=name):
      import functools
      import inspect
      bound = STUDY_BINDINGS.get(name or function.__name__, {})
      parameters = list(inspect.signature(function).parameters)

      @functools.wraps(function)
      def call(*args, **kwargs):
        given = set(parameters[:len(args)]) | set(kwargs)
        kwargs.update({k: v for k, v in bound.items() if k not in given})
        return function(*args, **kwargs)
      return call

    return wrap(name) if callable(name) else wrap

  gin.configurable = configurable
  gin.tf = types.ModuleType('gin.tf')
  return gin


def import_reference(folder):
  """The reference's metric modules, imported from `folder` with the stubs in place."""
  sys.modules.setdefault('gin', _stub_gin())
  sys.modules.setdefault('gin.tf', sys.modules['gin'].tf)
  try:
    import six  # pylint: disable=unused-import
  except ImportError:
    six = types.ModuleType('six')
    six.moves = types.ModuleType('six.moves')
    six.moves.range = range
    sys.modules.update({'six': six, 'six.moves': six.moves})
  sys.path.insert(0, str(folder))
  names = ('utils', 'beta_vae', 'factor_vae', 'dci', 'sap_score', 'modularity_explicitness',
           'mig', 'unsupervised_metrics')
  modules = {n: importlib.import_module(f'disentanglement_lib.evaluation.metrics.{n}')
             for n in names}
  # `make_discretizer`'s discretizer_fn is a gin reference in the study: the histogram one.
  STUDY_BINDINGS['discretizer']['discretizer_fn'] = modules['utils']._histogram_discretize  # pylint: disable=protected-access
  return types.SimpleNamespace(**modules)


def reference_folder():
  """FLAGS.reference, or the mirror's metric files extracted to a temporary folder."""
  if FLAGS.reference:
    return pathlib.Path(FLAGS.reference)
  if not MIRROR.exists():
    raise app.UsageError(f'no --reference and no mirror at {MIRROR}: clone '
                         'google-research/disentanglement_lib and pass --reference=DIR.')
  folder = pathlib.Path(tempfile.mkdtemp())
  archive = subprocess.run(['git', f'--git-dir={MIRROR}', 'archive', 'HEAD',
                            'disentanglement_lib/__init__.py',
                            'disentanglement_lib/evaluation/__init__.py',
                            'disentanglement_lib/evaluation/metrics'],
                           capture_output=True, check=True).stdout
  subprocess.run(['tar', '-x', '-C', str(folder)], input=archive, check=True)
  return folder


class ToySource:
  """Both sides' ground-truth data: factors of SIZES, observed as themselves."""
  factor_sizes = SIZES
  num_factors = len(SIZES)
  factors_num_values = list(SIZES)
  observation_shape = [len(SIZES)]

  def sample_factors(self, num, random_state):
    return np.stack([random_state.randint(s, size=num) for s in SIZES], 1).astype(np.int64)

  def observe(self, factors, random_state):
    del random_state
    return factors.astype(np.float64)

  sample_observations_from_factors = observe

  def sample(self, num, random_state):
    factors = self.sample_factors(num, random_state)
    return factors, self.observe(factors, random_state)

  def sample_observations(self, num, random_state):
    return self.sample(num, random_state)[1]


def _arrays(seed, points):
  rng = np.random.default_rng(seed)
  mix = rng.normal(size=(3, 5))

  def draw(n):
    factors = np.stack([rng.integers(0, s, n) for s in SIZES], 1)
    return factors @ mix + 0.5 * rng.normal(size=(n, 5)), factors
  return draw(points) + draw(points // 2)


def _representation(seed):
  rng = np.random.default_rng(100 + seed)
  mix, warp = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
  return lambda x: np.tanh(x @ warp) + 0.5 * np.cos(3 * x @ mix)


def part_one(ref, seed, points):
  """{row: (reference, icvae)} of the array-level scores."""
  codes_train, factors_train, codes_test, factors_test = _arrays(seed, points)
  split = (codes_train, factors_train, codes_test, factors_test)
  transposed = (codes_train.T, factors_train.T, codes_test.T, factors_test.T)
  np.random.seed(seed)
  ref_dci = ref.dci._compute_dci(*transposed)  # pylint: disable=protected-access
  ours_dci = dci.dci(*split, random_state=seed)
  covariance = np.cov(codes_train.T)
  rows = {f'DCI {k}': (ref_dci[k], ours_dci[k]) for k in
          ('disentanglement', 'completeness', 'informativeness_train', 'informativeness_test')}
  rows['SAP'] = (ref.sap_score._compute_sap(*transposed, False)['SAP_score'],  # pylint: disable=protected-access
                 sap.sap(*split)['sap'])
  information = ref.utils.discrete_mutual_info(ref.utils.make_discretizer(codes_train.T),
                                               factors_train.T)
  rows['modularity'] = (ref.modularity_explicitness.modularity(information),
                        modularity.modularity(modularity.mutual_information_matrix(
                            codes_train, factors_train)))
  rows['MIG (histogram)'] = (ref.mig._compute_mig(codes_train.T, factors_train.T)['discrete_mig'],  # pylint: disable=protected-access
                             mig.mig_histogram(codes_train, factors_train)['mig'])
  rows['Gaussian total correlation'] = (
      ref.unsupervised_metrics.gaussian_total_correlation(covariance),
      unsupervised.gaussian_total_correlation(covariance))
  rows['Wasserstein dependency'] = (
      ref.unsupervised_metrics.gaussian_wasserstein_correlation(covariance),
      unsupervised.gaussian_wasserstein_correlation(covariance))
  return rows


def part_two(ref, seed):
  """{row: (reference, icvae)} of the protocols run end to end from RandomState(seed)."""
  source, represent = ToySource(), _representation(seed)
  state = lambda: np.random.RandomState(seed)
  small = dict(batch_size=64, num_train=300, num_eval=200)
  rows = {}
  ref_beta = ref.beta_vae.compute_beta_vae_sklearn(source, represent, state(), None, **small)
  ours_beta = suite.beta_vae_score(source, represent, state(), **small)
  rows['BetaVAE score (eval)'] = (ref_beta['eval_accuracy'], ours_beta['eval_accuracy'])
  ref_factor = ref.factor_vae.compute_factor_vae(source, represent, state(), None,
                                                 num_variance_estimate=1000, **small)
  ours_factor = suite.factor_vae_score(source, represent, state(), num_variance_estimate=1000,
                                       **small)
  rows['FactorVAE score (eval)'] = (ref_factor['eval_accuracy'], ours_factor['eval_accuracy'])
  np.random.seed(seed)
  ref_dci = ref.dci.compute_dci(source, represent, state(), None, num_train=300, num_test=200)
  ours_dci = suite.dci_score(source, represent, state(), num_train=300, num_test=200,
                             classifier_seed=seed)
  rows['DCI disentanglement (protocol)'] = (ref_dci['disentanglement'],
                                            ours_dci['disentanglement'])
  ref_modularity = ref.modularity_explicitness.compute_modularity_explicitness(
      source, represent, state(), None, num_train=500, num_test=300)
  ours_modularity = suite.modularity_explicitness_score(source, represent, state(),
                                                        num_train=500, num_test=300)
  rows['explicitness (test)'] = (ref_modularity['explicitness_score_test'],
                                 ours_modularity['explicitness_test'])
  ref_unsupervised = ref.unsupervised_metrics.unsupervised_metrics(source, represent, state(),
                                                                   None, num_train=500)
  ours_unsupervised = suite.unsupervised_score(source, represent, state(), num_train=500)
  rows['mutual information score'] = (ref_unsupervised['mutual_info_score'],
                                      ours_unsupervised['mutual_info_score'])
  return rows


def main(argv):
  del argv
  warnings.simplefilter('ignore')
  ref = import_reference(reference_folder())
  table = {}
  for seed in range(FLAGS.seeds):
    for part, rows in (('arrays', part_one(ref, seed, FLAGS.points)),
                       ('protocol', part_two(ref, seed))):
      for name, values in rows.items():
        table.setdefault((part, name), []).append(values)
  print(f'| part | score | seeds | reference mean | icvae mean | largest abs. difference | '
        f'spread over seeds (std) |')
  print('|---|---|---|---|---|---|---|')
  for (part, name), values in table.items():
    values = np.asarray(values, np.float64)
    print(f'| {part} | {name} | {len(values)} | {values[:, 0].mean():.6f} | '
          f'{values[:, 1].mean():.6f} | {np.max(np.abs(values[:, 0] - values[:, 1])):.1e} | '
          f'{values[:, 0].std():.4f} |')


if __name__ == '__main__':
  app.run(main)
