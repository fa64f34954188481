"""The `icvae` command: subcommands, help from the registries, shipped configs by name."""

import pathlib
import re
import subprocess
import sys

import pytest

from icvae import config as config_lib
from icvae import data
from icvae import models
from icvae import objectives
from icvae.cli import configs
from icvae.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_shipped_config_says_what_it_trains_in_one_line_and_names_its_dataset():
  names = configs.names()
  assert len(names) >= 30 and 'mnist_smoke' in names and 'mnist_imae' in names
  for name in names:
    first = configs.path(name).read_text().splitlines()[0]
    assert first.startswith('# ') and first.endswith('.') and len(first) <= 102, name
    assert configs.description(name) == first[2:]
    config = config_lib.RunConfig.from_flagfile(configs.path(name))  # no dataset argument
    prefix = name.split('_')[0]
    expected = {'dsprites': 'dsprites', 'fashion': 'fashion_mnist'}.get(prefix, 'mnist')
    assert config.dataset == expected, name


def test_checkout_flags_folder_is_the_shipped_one():
  link = ROOT / 'experiments' / 'flags'
  assert link.resolve() == configs.folder().resolve()


def test_config_by_name_becomes_the_shipped_flagfile_and_a_path_stays_a_path(tmp_path):
  smoke = str(configs.path('mnist_smoke'))
  own = tmp_path / 'mine.flags'
  own.write_text('--num_epochs=1\n')
  assert configs.resolve_argv(['p', '--config=mnist_smoke', '--seed=1']) == [
      'p', f'--flagfile={smoke}', '--seed=1']
  assert configs.resolve_argv(['p', '--config', 'mnist_smoke']) == ['p', f'--flagfile={smoke}']
  assert configs.resolve_argv(['p', '--flagfile=mnist_smoke.flags']) == [
      'p', f'--flagfile={smoke}']
  assert configs.resolve_argv(['p', f'--flagfile={own}']) == ['p', f'--flagfile={own}']
  # After '--' nothing is a flag: left alone.
  assert configs.resolve_argv(['p', '--', '--config=x']) == ['p', '--', '--config=x']


def test_unknown_config_is_refused_with_the_closest_names():
  with pytest.raises(configs.ConfigError, match=r"'mnist_imea'.*Did you mean mnist_imae"):
    configs.resolve_argv(['p', '--config=mnist_imea'])
  with pytest.raises(configs.ConfigError, match='needs a value'):
    configs.resolve_argv(['p', '--config'])
  with pytest.raises(configs.ConfigError, match='no shipped config'):
    configs.path('../mnist_smoke')


def test_help_lists_the_commands_and_every_registry(capsys):
  main.main(['icvae', '--help'])
  out = capsys.readouterr().out
  for command in main.COMMANDS:
    assert f'  {command} ' in out, command
  objectives.load_plugins()
  for name in [*objectives.families(), *data.sources(), *models.NETWORKS]:
    assert name in out, name


def test_list_configs_prints_each_with_its_description(capsys):
  main.main(['icvae', 'list-configs'])
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == len(configs.names())
  assert any(line.startswith('mnist_smoke ') and 'Smoke test' in line for line in lines)


def test_unknown_command_exits_2_naming_the_commands(capsys):
  with pytest.raises(SystemExit) as exit_info:
    main.main(['icvae', 'trian'])
  assert exit_info.value.code == 2
  assert 'no command' in capsys.readouterr().err


def test_train_help_lists_the_settings_and_evaluate_help_only_its_own(capsys):
  main.main(['icvae', 'train', '--help'])
  train_help = capsys.readouterr().out
  for flag in ('--model', '--dataset', '--network', '--num_epochs', '--seeds', '--data'):
    assert f'  {flag}:' in train_help, flag
  main.main(['icvae', 'evaluate', '--help'])
  evaluate_help = capsys.readouterr().out
  assert '  --workdir:' in evaluate_help and '  --iwae_samples:' in evaluate_help
  assert '  --model:' not in evaluate_help


def _run(*args, cwd=ROOT):
  return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                        timeout=300)


def test_a_dataset_program_refuses_another_dataset_and_a_bad_config_exits_2(tmp_path):
  refused = _run('-m', 'experiments.mnist', '--config=fashion_mnist_smoke',
                 f'--workdir={tmp_path}/w')
  assert refused.returncode == 1, refused.stderr
  assert 'this program trains mnist' in refused.stderr
  assert 'icvae train --dataset=fashion_mnist' in refused.stderr
  unknown = _run('-m', 'icvae', 'train', '--config=nope', cwd=tmp_path)
  assert unknown.returncode == 2 and 'list-configs' in unknown.stderr
  assert not (tmp_path / 'w').exists()


def test_train_without_data_says_what_to_give(tmp_path):
  result = _run('-m', 'icvae', 'train', '--model=imae', cwd=tmp_path)
  assert result.returncode == 1
  assert '--data=PATH is required' in result.stderr and '--config' in result.stderr
  assert not (tmp_path / 'runs').exists()


SCRIPTS = sorted([*ROOT.glob('benchmarks/*.sh'), *ROOT.glob('experiments/*.sh'),
                  *(ROOT / '.ci').iterdir()])


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shell_script_parses(script):
  # The scripts CI cannot run (the GPU session, the long reproductions) are at least parsed.
  completed = subprocess.run(['bash', '-n', str(script)], capture_output=True, text=True)
  assert completed.returncode == 0, completed.stderr


def test_every_part_the_gpu_script_offers_is_handled():
  text = (ROOT / 'benchmarks' / 'gpu_session.sh').read_text()
  header = text.split('\nset ')[0]
  offered = set(re.findall(r'PART=(\w+) +bash benchmarks/gpu_session.sh', header))
  handled = set(re.findall(r'\[\[ \$PART == (\w+) \]\]', text))
  assert offered == handled == {'bench', 'table1', 'dsprites', 'figure3', 'equal_recipe',
                                 'fashion_levers', 'freeprior'}
