"""icvae.cli.summarize_results: groups seeds and prints mean ± sample std."""

import json

from icvae.cli import summarize_results


def _report(accuracy, usage, iwae=None):
  report = {
      'epoch': 100,
      'clustering': {split: {'accuracy': accuracy, 'many_to_one_accuracy': accuracy + 0.1,
                             'nmi': 0.5, 'ari': 0.4, 'cluster_usage': usage}
                     for split in ('train', 'test')},
      'information_cross_entropy': {'proper': 1.0, 'as_published': 2.0},
      'parzen': {'log_likelihood': 100.0},
      'test': {'elbo': -150.0, 'reconstruction_squared_error': 20.0}}
  if iwae is not None:
    report['test']['iwae_bound'] = iwae
  return report


def test_seeds_are_grouped_with_mean_and_sample_std(tmp_path):
  for seed, (accuracy, iwae) in enumerate([(0.5, -140.0), (0.7, -130.0)]):
    eval_dir = tmp_path / f'mnist_catvae_seed{seed}' / 'eval'
    eval_dir.mkdir(parents=True)
    (eval_dir / 'report.json').write_text(json.dumps(_report(accuracy, [0.2, 0.8], iwae)))
  eval_dir = tmp_path / 'mnist_aae_seed0' / 'eval'
  eval_dir.mkdir(parents=True)
  (eval_dir / 'report.json').write_text(json.dumps(_report(0.3, [1.0])))
  groups = summarize_results.collect(tmp_path)
  assert sorted(groups) == ['mnist_aae', 'mnist_catvae'] and len(groups['mnist_catvae']) == 2
  rows = {line.split(' | ')[0].strip('| '): line.split(' | ')
          for line in summarize_results.table(groups).splitlines()[2:]}
  header = summarize_results.table(groups).splitlines()[0].split(' | ')
  catvae, aae = rows['mnist_catvae'], rows['mnist_aae']
  assert catvae[1] == '2' and catvae[header.index('test acc')] == '0.600 ± 0.141'  # std, ddof 1
  assert catvae[header.index('smallest test cluster')] == '0.200 ± 0.000'
  assert catvae[header.index('test IWAE')] == '-135.0 ± 7.1'
  assert aae[header.index('test IWAE')] == '–'  # no bound for the AAE


def test_restarts_keep_the_run_whose_training_objective_ended_lowest(tmp_path):
  # seeds 0-1 and 2-3 are two sets of restarts; seed 4 is an incomplete set (dropped).
  runs = [(0.86, -0.86), (0.98, -0.87), (0.97, -0.869), (0.85, -0.861), (0.99, -0.9)]
  for seed, (accuracy, loss) in enumerate(runs):
    workdir = tmp_path / f'mnist_imsat_seed{seed}'
    (workdir / 'eval').mkdir(parents=True)
    report = dict(_report(accuracy, [0.1] * 10), workdir=str(workdir), config={'seed': seed})
    (workdir / 'eval' / 'report.json').write_text(json.dumps(report))
    (workdir / 'metrics.jsonl').write_text(
        json.dumps({'epoch': 99, 'train/loss': 0.0}) + '\n'
        + json.dumps({'epoch': 100, 'train/loss': loss}) + '\n')
  chosen = summarize_results.best_of_restarts(summarize_results.collect(tmp_path), 2)
  assert list(chosen) == ['mnist_imsat best of 2']
  assert [r['clustering']['test']['accuracy'] for r in chosen['mnist_imsat best of 2']] == [
      0.98, 0.97]
  assert summarize_results.best_of_restarts(summarize_results.collect(tmp_path), 6) == {}
