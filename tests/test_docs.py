"""The documentation's examples run as written: every python block of the guides that teach
the library, each in a fresh interpreter, and the "Your own data" guide's blocks in order."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FASHION_MNIST = pathlib.Path('/usr/share/datasets/fashion-mnist')


GUIDES = ROOT / 'docs' / 'guides'
# The pages whose python blocks run, each alone.
RUN_PAGES = ('library.md', 'objective.md', 'metric.md', 'network.md', 'own-data.md')


def _python_blocks():
  blocks = []
  for page in RUN_PAGES:
    text = (GUIDES / page).read_text()
    blocks += re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)
  return blocks


def test_guides_have_the_library_examples():
  blocks = _python_blocks()
  assert len(blocks) >= 4
  assert any('icvae.Objective' in block and 'train_and_evaluate' in block
             for block in blocks), 'a guide needs a user-defined objective trained by the loop'
  assert any('make_train_step' in block for block in blocks), 'a guide needs our own loop'


def test_readme_links_every_guide():
  readme = (ROOT / 'README.md').read_text()
  for page in sorted(GUIDES.glob('*.md')):
    assert f'docs/guides/{page.name}' in readme, page.name


@pytest.mark.slow
@pytest.mark.parametrize('index', range(len(_python_blocks())))
def test_guide_python_block_runs(tmp_path, index):
  if not (FASHION_MNIST / 'train-images-idx3-ubyte.gz').exists():
    message = ('the guides\' examples use Fashion-MNIST from the Debian package: run '
               '`apt-get install -y dataset-fashion-mnist`')
    if os.environ.get('ICVAE_REQUIRE_DATA') == '1':
      pytest.fail(message)
    pytest.skip(message)
  block = _python_blocks()[index]
  script = tmp_path / f'block{index}.py'
  script.write_text(block)
  # From a copy of the repository root's point of view: relative paths land in tmp_path.
  result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
  assert result.returncode == 0, f'guide python block {index}:\n{block}\n{result.stderr[-3000:]}'


def _own_data_blocks():
  """The ("python" | "bash", text) blocks of the "Your own data" guide, in order."""
  section = (GUIDES / 'own-data.md').read_text()
  return re.findall(r'^```(python|bash)\n(.*?)^```', section, flags=re.S | re.M)


def test_own_data_guide_has_a_command_per_format_and_the_encode_command():
  commands = '\n'.join(block for kind, block in _own_data_blocks() if kind == 'bash')
  for needle in ('--data=my_images ', '--data=my_arrays.npz', '--data=my_table.csv',
                 'icvae encode', '--network=conv'):
    assert needle in commands, needle


@pytest.mark.slow
def test_own_data_guide_runs_in_order(tmp_path):
  env = dict(os.environ, PYTHONPATH=str(ROOT), ICVAE_CACHE_DIR=str(tmp_path / 'cache'),
             PATH=f'{pathlib.Path(sys.executable).parent}:{os.environ.get("PATH", "")}')
  for index, (kind, block) in enumerate(_own_data_blocks()):
    if kind == 'python':
      script = tmp_path / f'own{index}.py'
      script.write_text(block)
      command = [sys.executable, str(script)]
    else:
      command = ['bash', '-euo', 'pipefail', '-c', block]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                            timeout=900, env=env)
    assert result.returncode == 0, f'block {index}:\n{block}\n{result.stderr[-3000:]}'
  assert (tmp_path / 'codes.csv').exists() and (tmp_path / 'codes.npz').exists()
  report = (tmp_path / 'runs' / 'my_table_imae' / 'eval' / 'report.json').read_text()
  assert '"accuracy"' in report
