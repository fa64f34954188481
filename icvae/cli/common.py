"""What the training programs share: flags made from the settings, validated once.

Every flag of a run is made from its `icvae.settings.Setting` (general ones in
`icvae.config`, model ones in `icvae.objectives.*`), and `RunConfig` checks the values, so a
setting is defined in one place. The evaluation flags come from `icvae.report.EvalOptions`.
Model plug-ins listed under the `icvae.models` entry points are imported first, so their
settings are flags too.
"""

import dataclasses
import logging as std_logging
import os
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging

from icvae import checkpoints
from icvae import config as config_lib
from icvae import data
from icvae import loop
from icvae import objectives
from icvae import report as report_lib
from icvae import settings as settings_lib
from icvae import sweep as sweep_lib
from icvae import workdir as workdir_lib

FLAGS = flags.FLAGS
_PATH_FLAGS = ('workdir', 'data_dir', 'restore_from')  # None in flags, '' in a config
_NOT_FLAGS = ('dataset',)  # defined below: its default is the program's


def define_flags(flag_values=FLAGS):
  """Defines a flag for every setting of every registered model not defined yet."""
  objectives.load_plugins()
  if 'dataset' not in flag_values:
    flags.DEFINE_string('dataset', None, 'The data: a registered dataset '
                        f'({", ".join(data.sources())}; custom reads --data). The shipped '
                        'flagfiles name theirs; `icvae train` defaults to custom, '
                        '`python -m experiments.<dataset>` to its own.',
                        flag_values=flag_values)
  for name, setting in config_lib.all_settings().items():
    if name in _NOT_FLAGS or name in flag_values:
      continue
    if name == 'model':
      models = ', '.join(f'{n} ({f.description})'
                         for n, f in objectives.families().items())
      flags.DEFINE_string(name, setting.default, f'The model: {models}.',
                          flag_values=flag_values)
    elif name in _PATH_FLAGS:
      flags.DEFINE_string(name, None, setting.help, flag_values=flag_values)
    elif setting.kind is bool:
      flags.DEFINE_boolean(name, setting.default, setting.help, flag_values=flag_values)
    elif setting.kind is int:
      flags.DEFINE_integer(name, setting.default, setting.help, flag_values=flag_values)
    elif setting.kind is float:
      flags.DEFINE_float(name, setting.default, setting.help, flag_values=flag_values)
    elif setting.choices:
      flags.DEFINE_enum(name, setting.default, list(setting.choices), setting.help,
                        flag_values=flag_values)
    else:
      flags.DEFINE_string(name, setting.default, setting.help, flag_values=flag_values)
  for field in dataclasses.fields(report_lib.EvalOptions):
    if 'help' in field.metadata and field.name not in flag_values:
      flags.DEFINE_integer(field.name, field.default, field.metadata['help'],
                           flag_values=flag_values)
  if 'seeds' not in flag_values:
    flags.DEFINE_list('seeds', [], 'Train these seeds (e.g. 0,1,2) as one sweep program: '
                      'runs in <workdir>/seed=<k>, each a complete run of its own.',
                      flag_values=flag_values)
    flags.DEFINE_multi_string('sweep', [], 'name:v1,v2,... trains a run per value of a '
                              'numeric setting as one sweep program (repeat for a grid; '
                              'with --seeds for seeds too): runs in '
                              '<workdir>/<name>=<v>/..., each a complete run of its own.',
                              flag_values=flag_values)
  if 'coordinator_address' not in flag_values:
    flags.DEFINE_string('coordinator_address', None, 'Several processes (jax.distributed): '
                        'host:port of process 0, with --num_processes and --process_id. '
                        'See BUILD.md, "Several hosts".', flag_values=flag_values)
    flags.DEFINE_integer('num_processes', None, 'Several processes: how many.',
                         flag_values=flag_values)
    flags.DEFINE_integer('process_id', None, 'Several processes: this one\'s index, 0 to '
                         '--num_processes - 1.', flag_values=flag_values)
    flags.DEFINE_boolean('distributed', False, 'Join a multi-process launch that jax '
                         'detects itself (TPU pod slices, SLURM, Open MPI): '
                         'jax.distributed.initialize() without arguments.',
                         flag_values=flag_values)
  if 'final_eval' not in flag_values:
    flags.DEFINE_boolean('final_eval', True, 'Evaluate the workdir (icvae evaluate) when '
                         'training ends (report.json and figures in <workdir>/eval).',
                         flag_values=flag_values)


define_flags()


def _writable(path):
  """True when `path` exists as a writable folder or could be created as one."""
  path = pathlib.Path(path).absolute()
  if path.exists():
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
  parent = path.parent
  while not parent.exists():
    parent = parent.parent
  return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)


def config_from_flags(dataset):
  """Builds and checks the `RunConfig`; raises app.UsageError naming the flag.

  A flag that the chosen --model does not read is refused when it is given (on the command
  line or in a flagfile), unless it has its "off" value (e.g. --beta_info=0 for CatVAE).
  """
  try:
    own = config_lib.settings_of(FLAGS.model)
  except settings_lib.SettingError as e:
    raise app.UsageError(str(e)) from e
  values = {'dataset': dataset}
  for name in config_lib.all_settings():
    if name in _NOT_FLAGS:
      continue
    if name in own or FLAGS[name].present:
      value = FLAGS[name].value
      values[name] = '' if value is None and name in _PATH_FLAGS else value
  if values.get('data') and not pathlib.Path(values['data']).exists():
    raise app.UsageError(f'--data={values["data"]}: no such file or folder.')
  if ('latent_dim' in FLAGS and FLAGS.latent_dim and FLAGS['delta'].present
      and FLAGS.delta * FLAGS.num_categories != FLAGS.latent_dim):
    raise app.UsageError(f'--latent_dim={FLAGS.latent_dim} disagrees with --delta='
                         f'{FLAGS.delta} * --num_categories={FLAGS.num_categories}; pass only '
                         'one of them.')
  try:
    config = config_lib.RunConfig(**values)
  except settings_lib.SettingError as e:
    raise app.UsageError(str(e)) from e
  if not _writable(config.workdir):
    raise app.UsageError(f'--workdir={config.workdir}: not a writable folder (or cannot be '
                         'created there).')
  if config.data_dir and not pathlib.Path(config.data_dir).is_dir():
    raise app.UsageError(f'--data_dir={config.data_dir}: no such folder; pass an existing one '
                         '(MNIST, Fashion-MNIST: the four IDX files), or drop --data_dir to '
                         'use the cache or the download.')
  if config.restore_from and not pathlib.Path(config.restore_from).is_dir():
    raise app.UsageError(f'--restore_from={config.restore_from}: no such checkpoints folder; '
                         'pass <workdir>/checkpoints of a run of the same model.')
  if config.get('classifier_from') and not pathlib.Path(config.classifier_from).is_dir():
    raise app.UsageError(f'--classifier_from={config.classifier_from}: no such workdir; pass '
                         'the workdir of an --model=imsat run.')
  return config


def eval_options_from_flags():
  """`report.EvalOptions` from the evaluation flags; app.UsageError naming a bad one."""
  names = [f.name for f in dataclasses.fields(report_lib.EvalOptions) if 'help' in f.metadata]
  try:
    return report_lib.EvalOptions(**{name: FLAGS[name].value for name in names})
  except ValueError as e:  # EvalOptions names the field, which is the flag's name
    raise app.UsageError(f'--{e}') from e


def setup_logging():
  """icvae's log lines on stderr with the time; libraries (Orbax) only from WARNING."""
  logging.set_verbosity(logging.WARNING)
  handler = std_logging.StreamHandler(sys.stderr)
  handler.setFormatter(std_logging.Formatter('%(asctime)s %(message)s', '%H:%M:%S'))
  icvae_log = std_logging.getLogger('icvae')
  icvae_log.handlers[:] = [handler]
  # In a multi-process launch, process 0 tells the story; the others warn only.
  icvae_log.setLevel(std_logging.INFO if workdir_lib.is_writer() else std_logging.WARNING)
  icvae_log.propagate = False
  return icvae_log


ERRORS = (workdir_lib.ExperimentError, checkpoints.CheckpointError, data.DataError)


def sweep_from_flags(config):
  """The runs of --seeds and --sweep (None without them); app.UsageError naming the flag."""
  if not FLAGS.seeds and not FLAGS.sweep:
    return None
  try:
    return sweep_lib.expand(config, FLAGS.seeds, FLAGS.sweep)
  except settings_lib.SettingError as e:
    raise app.UsageError(str(e)) from e


def distributed_from_flags():
  """Joins a multi-process launch when the flags ask for one (`jax.distributed`).

  Raises app.UsageError, before anything is written, for an incomplete or inconsistent
  launch (the three explicit flags go together; 0 <= --process_id < --num_processes), or
  when the processes cannot meet within two minutes.
  """
  explicit = {'coordinator_address': FLAGS.coordinator_address,
              'num_processes': FLAGS.num_processes, 'process_id': FLAGS.process_id}
  given = {k: v for k, v in explicit.items() if v is not None}
  if not given and not FLAGS.distributed:
    return
  if given and len(given) < 3:
    missing = ', '.join(f'--{k}' for k in explicit if k not in given)
    raise app.UsageError(f'{", ".join(f"--{k}" for k in given)} without {missing}: a '
                         'multi-process launch gives all three (or --distributed alone, where '
                         'jax detects the cluster).')
  if given and not (FLAGS.num_processes >= 1 and 0 <= FLAGS.process_id < FLAGS.num_processes):
    raise app.UsageError(f'--process_id={FLAGS.process_id} with --num_processes='
                         f'{FLAGS.num_processes}: process ids run from 0 to '
                         f'{FLAGS.num_processes - 1}.')
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU-only launches
  try:
    jax.distributed.initialize(**given, initialization_timeout=120)
  except Exception as e:  # jax raises several types when the processes do not meet
    raise app.UsageError(f'could not join the multi-process launch ({e}). Start every '
                         'process with the same --coordinator_address and --num_processes '
                         'and its own --process_id.') from e
  if given and jax.process_count() != FLAGS.num_processes:
    raise app.UsageError(f'--num_processes={FLAGS.num_processes}, but {jax.process_count()} '
                         'processes joined: give every process the same --num_processes.')


def check_same_config(config):
  """In a multi-process launch, refuses (app.UsageError) processes started with other
  settings than process 0's."""
  import hashlib  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  if jax.process_count() == 1:
    return
  digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).digest()
  mine = np.frombuffer(digest, np.uint8)
  everyone = np.asarray(multihost_utils.process_allgather(mine))
  differ = [i for i in range(len(everyone)) if not np.array_equal(everyone[i], everyone[0])]
  if differ:
    raise app.UsageError(f'processes {differ} were started with other settings than process '
                         '0: start every process with the same flags (only --process_id '
                         'differs).')


def dataset_from_flags(default):
  """--dataset, or `default` when it is not given; app.UsageError for an unknown name."""
  dataset = FLAGS.dataset or default
  if dataset not in data.sources():
    raise app.UsageError(f'--dataset={dataset}: must be one of {", ".join(data.sources())}.')
  return dataset


def run(dataset):
  """Validates the flags, then trains and evaluates `dataset`; errors exit 1 with one
  message."""
  config = config_from_flags(dataset)
  runs = sweep_from_flags(config)
  distributed_from_flags()
  check_same_config(config)
  options = eval_options_from_flags()
  icvae_log = setup_logging()
  icvae_log.info('config: %s', config.to_dict())
  try:
    if runs is None:
      loop.train_and_evaluate(config)
    else:
      icvae_log.info('sweep of %d runs in %s: %s', len(runs), config.workdir,
                     ', '.join(pathlib.Path(r.workdir).relative_to(config.workdir).as_posix()
                               for r in runs))
      loop.train_sweep(runs)
    if FLAGS.final_eval and workdir_lib.is_writer():  # process 0 of a multi-process launch
      for run_config in runs or [config]:
        report = report_lib.evaluate_run(run_config.workdir,
                                          data_dir=config.data_dir or None, options=options)
        icvae_log.info('final evaluation%s: %s', '' if runs is None else
                       f' of {run_config.workdir}', summary_line(report))
      if runs is not None:
        icvae_log.info('the sweep as a table: icvae sweep-summary --runs=%s', config.workdir)
  except workdir_lib.Stopped as e:
    sys.stderr.write(f'{e}\n')
    sys.stderr.flush()
    os._exit(130)  # do not wait for the abandoned epoch still running on the device
  except KeyboardInterrupt:
    sys.stderr.write(f'interrupted; the checkpoints in {config.workdir} are kept. Rerun the '
                     'same command to resume, or evaluate with icvae evaluate '
                     f'--workdir={config.workdir}\n')
    sys.stderr.flush()
    os._exit(130)
  except (*ERRORS, settings_lib.SettingError) as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(1)


def main_for(dataset, network=None):
  """main() of a program that trains `dataset` (`python -m experiments.mnist`); `network`
  sets the default of --network. A --dataset naming another dataset is refused."""
  if network is not None:
    FLAGS.set_default('network', network)

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f'unexpected arguments: {argv[1:]}')
    if FLAGS.dataset not in (None, dataset):
      raise app.UsageError(f'--dataset={FLAGS.dataset}: this program trains {dataset}; use '
                           f'icvae train --dataset={FLAGS.dataset} (python -m '
                           'experiments.train in a checkout).')
    run(dataset)
  return main


def summary_line(report):
  """The headline numbers of an evaluation report, on one line."""
  parts = []
  if 'clustering' in report and 'accuracy' in report['clustering']['test']:
    test = report['clustering']['test']
    parts.append(f"test accuracy {test['accuracy']:.4f} NMI {test['nmi']:.4f} "
                 f"ARI {test['ari']:.4f}")
  elif 'clustering' in report:
    usage = report['clustering']['test']['cluster_usage']
    parts.append(f"test clusters used {sum(u > 0 for u in usage)} of {len(usage)} "
                 '(no labels: no accuracy)')
  terms = report['test']
  if 'elbo' in terms:
    bound = (f" IWAE(S={terms['iwae_samples']}) {terms['iwae_bound']:.2f}"
             if 'iwae_bound' in terms else '')
    parts.append(f"ELBO {terms['elbo']:.2f}{bound} nats")
  elif 'reconstruction_squared_error' in terms:
    parts.append(f"reconstruction squared error {terms['reconstruction_squared_error']:.2f}")
  if 'total_correlation' in report.get('codes', {}):
    codes = report['codes']
    parts.append(f"I(x;y) {codes['mutual_information_y']:.3f} of "
                 f"{codes['log_num_categories']:.3f} nats, sum I(x;z_k) "
                 f"{codes['mutual_information_z_total']:.2f} nats "
                 f"({codes['informative_dimensions']} dims > 0.1), TC "
                 f"{codes['total_correlation']:.3f}")
  if 'disentanglement' in report:
    found = report['disentanglement']
    parts.append(f"MIG (Chen, continuous factors) {found['mig_chen']:.3f}, with "
                 f"{found.get('discrete_factor', 'the discrete factor')} and y "
                 f"{found['mig_chen_with_discrete']:.3f}, histogram {found['mig_histogram']:.3f}"
                 + (f"; y against {found['discrete_factor']} "
                    f"{found['accuracy_y_against_discrete']:.3f}"
                    if 'accuracy_y_against_discrete' in found else ''))
  if 'information_cross_entropy' in report:
    info = report['information_cross_entropy']
    parts.append(f"information CE {info['proper']:.4f} (as published "
                 f"{info['as_published']:.4f})")
  if 'parzen' in report:
    parts.append(f"Parzen {report['parzen']['log_likelihood']:.1f} "
                 f"(h={report['parzen']['bandwidth']:.3f})")
  return ' | '.join(parts)
