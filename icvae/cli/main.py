"""`icvae`, the command: one entry with subcommands, each an absl program of `icvae.cli`.

  icvae train --config=mnist_smoke --data_dir=DIR     # a shipped flagfile, by name
  icvae train --data=my_images/ --model=imae          # your own data
  icvae evaluate --workdir=runs/mnist_smoke
  icvae encode --workdir=W --data=new/ --output=codes.csv
  icvae list-configs
  icvae cache clear                                   # the cache of your own data
  icvae <command> --help

`python -m icvae ...` is the same command. In a checkout, `python -m experiments.<binary>`
runs the same programs (`experiments/` holds thin entry points that are not installed).
"""

import dataclasses
import importlib
import sys
import textwrap

from icvae.cli import configs


@dataclasses.dataclass(frozen=True)
class Command:
  module: str  # the icvae.cli module whose main(argv) runs it
  summary: str


COMMANDS = {
    'train': Command('icvae.cli.train', 'Train (and evaluate) a model on a registered '
                     'dataset or on your own files; --config=NAME, --seeds, --sweep.'),
    'evaluate': Command('icvae.cli.evaluate', 'Evaluate a workdir\'s latest checkpoint: '
                        'eval/report.json and figures.'),
    'encode': Command('icvae.cli.encode', 'Write the codes (cluster, p(y|x), z) of new data '
                      'under a trained workdir, as .npz or .csv.'),
    'sweep-summary': Command('icvae.cli.summarize_results', 'A markdown table of the '
                             'evaluated runs under a folder (mean ± std over seeds).'),
    'compare-runs': Command('icvae.cli.compare_runs', 'Compare two workdirs number by '
                            'number (metrics.jsonl and eval/report.json).'),
    'beta-sweep': Command('icvae.cli.beta_sweep', 'The IMAE paper\'s Figure 3: accuracy, '
                          'I(x;y) and reconstruction against beta for four models.'),
    'dsprites-figure5': Command('icvae.cli.dsprites_figure5', 'The IMAE paper\'s Figure 5 '
                                'on dSprites: MIG against beta, reconstruction and TC.'),
    'figure5': Command('icvae.cli.figure5', 'InfoCatVAE Figure 5: samples per category of '
                       'several trained models, side by side.'),
    'n2d': Command('icvae.cli.n2d', 'N2D on a trained run\'s code (z -> UMAP -> Gaussian '
                   'mixture), a clustering baseline; needs icvae[n2d].'),
    'disentanglement': Command('icvae.cli.disentanglement', 'disentanglement_lib\'s metrics '
                               '(BetaVAE, FactorVAE, DCI, SAP, modularity, MIG, ...) on a run '
                               'of a dataset with factors.'),
    'cache': Command('icvae.cli.cache', 'Show the cache of your own data\'s arrays, or '
                     'empty it: icvae cache clear.'),
    'list-configs': Command('icvae.cli.main', 'The shipped flagfiles, by name, with what '
                            'each trains (use one with --config=NAME).'),
}


def registries():
  """The models, datasets and networks that --model, --dataset and --network accept."""
  from icvae import data  # pylint: disable=g-import-not-at-top
  from icvae import networks as networks_lib
  from icvae import objectives
  objectives.load_plugins()
  return {
      'models': ', '.join(objectives.families()),
      'datasets': ', '.join(data.sources()),
      'networks': ', '.join(networks_lib.names()),
  }


def usage():
  """The text of `icvae --help`."""
  width = max(len(name) for name in COMMANDS)
  lines = ['usage: icvae <command> [flags]   (icvae <command> --help for its flags)', '',
           'commands:']
  for name, command in COMMANDS.items():
    wrapped = textwrap.wrap(command.summary, 96 - width - 4)
    lines.append(f'  {name:<{width}}  {wrapped[0]}')
    lines.extend(f'  {"":<{width}}  {more}' for more in wrapped[1:])
  lines.append('')
  for kind, values in registries().items():
    lines.extend(textwrap.wrap(f'{kind}: {values}', 96, subsequent_indent='  '))
  return '\n'.join(lines)


def list_configs():
  """The text of `icvae list-configs`: one line per shipped flagfile."""
  width = max(len(name) for name in configs.names())
  return '\n'.join(f'{name:<{width}}  {configs.description(name)}'
                   for name in configs.names())


def command_help(name, module):
  """A command's docstring, then its flags: those named by the module's HELP_FLAGS, else
  every flag defined by the module and by its FLAG_MODULES."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  owners = [module.__name__] + list(getattr(module, 'FLAG_MODULES', ()))
  found = []
  for owner in owners:
    found.extend(flags.FLAGS.get_flags_for_module(owner))
  wanted = getattr(module, 'HELP_FLAGS', None)
  if wanted is not None:
    found = [f for f in found if f.name in wanted]
  text = [(module.__doc__ or '').strip(), '', f'icvae {name} flags:']
  for flag in sorted(found, key=lambda f: f.name):
    default = '' if flag.default in (None, '', []) else f' (default: {flag.default})'
    text.extend(textwrap.wrap(f'--{flag.name}: {flag.help}{default}', 96,
                              initial_indent='  ', subsequent_indent='      '))
  text += ['', '--config=NAME reads a shipped flagfile (icvae list-configs) and --flagfile=PATH '
           'your own; a flag given after either overrides it.']
  return '\n'.join(text)


_HELP = ('-h', '--help', '-help', '--helpshort')


def _resolve_and_run(main_function, argv):
  """Resolves --config and by-name --flagfile (`configs.resolve_argv`; an unknown name exits
  2), then lets absl parse the flags and call `main_function`."""
  from absl import app  # pylint: disable=g-import-not-at-top
  try:
    argv = configs.resolve_argv(argv)
  except configs.ConfigError as e:
    sys.stderr.write(f'error: {e}\n')
    sys.exit(2)
  app.run(main_function, argv=argv)


def run(name, argv):
  """Runs command `name` (a key of COMMANDS) with `argv` (argv[0] the program's name):
  --help prints its help, else the module's main runs on the parsed flags."""
  module = importlib.import_module(COMMANDS[name].module)
  if hasattr(module, 'define_flags'):  # programs whose flags are defined when run
    module.define_flags()
  if any(a in _HELP for a in argv[1:]):
    print(command_help(name, module))
    return
  _resolve_and_run(module.main, argv)


def run_dataset(dataset, argv, doc='', network=None):
  """`python -m experiments.<dataset>` in a checkout: `icvae train` with --dataset's default
  `dataset` (and another --dataset refused), `network` the default of --network; --help
  prints `doc` and the training flags."""
  from icvae.cli import common  # pylint: disable=g-import-not-at-top
  from icvae.cli import train
  if any(a in _HELP for a in argv[1:]):
    print(command_help('train', train).replace((train.__doc__ or '').strip(), doc.strip(), 1))
    return
  _resolve_and_run(common.main_for(dataset, network), argv)


def main(argv=None):
  """The `icvae` console script."""
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ('-h', '--help', 'help'):
    print(usage())
    return
  name = argv[1]
  if name not in COMMANDS:
    sys.stderr.write(f'icvae: no command {name!r}; the commands are '
                     f'{", ".join(COMMANDS)} (icvae --help).\n')
    sys.exit(2)
  if name == 'list-configs':
    print(list_configs())
    return
  run(name, [f'icvae {name}'] + argv[2:])


if __name__ == '__main__':
  main()
