"""The Colab notebook runs top to bottom (on CPU, one epoch: ICVAE_NOTEBOOK_SHORT=1)."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / 'notebooks' / 'icvae_colab.ipynb'


@pytest.mark.slow
def test_the_colab_notebook_runs_top_to_bottom(tmp_path, mnist_dir, monkeypatch):
  import nbclient
  import nbformat
  monkeypatch.setenv('ICVAE_NOTEBOOK_SHORT', '1')
  monkeypatch.setenv('ICVAE_NOTEBOOK_DATA_DIR', str(mnist_dir))
  monkeypatch.setenv('ICVAE_NOTEBOOK_WORKDIR', str(tmp_path / 'runs'))
  monkeypatch.setenv('ICVAE_CACHE_DIR', str(tmp_path / 'cache'))
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  nbclient.NotebookClient(notebook, timeout=900, kernel_name='python3',
                          resources={'metadata': {'path': str(tmp_path)}}).execute()
  outputs = '\n'.join(output.get('text', '') for cell in notebook.cells
                      for output in cell.get('outputs', []))
  assert 'jax ' in outputs and ' on cpu' in outputs
  assert 'test accuracy' in outputs
  images = [o for cell in notebook.cells for o in cell.get('outputs', [])
            if 'image/png' in o.get('data', {})]
  assert len(images) >= 4  # the evaluation's figures and the sweep's curves, inline
  for seed in (0, 1):
    run = tmp_path / 'runs' / 'imae' / f'seed={seed}'
    assert json.loads((run / 'config.json').read_text())['seed'] == seed
    assert (run / 'metrics.jsonl').read_text().count('\n') == 1


def test_the_notebook_links_to_colab_and_has_a_parameters_cell():
  notebook = json.loads(NOTEBOOK.read_text())
  assert 'colab.research.google.com/github/' in ''.join(notebook['cells'][0]['source'])
  assert any('parameters' in cell.get('metadata', {}).get('tags', [])
             for cell in notebook['cells'])
  readme = (ROOT / 'README.md').read_text()
  assert 'colab.research.google.com/github/' in readme and 'icvae_colab.ipynb' in readme
