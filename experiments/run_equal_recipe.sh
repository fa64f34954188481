#!/usr/bin/env bash
# Issue 31, part 1: IMAE's claim on equal terms. Every method (IMAE, beta-VAE, InfoVAE,
# JointVAE) trained with IMAE's best recipe (`icvae beta-sweep --recipe`), 30 epochs,
# held-out protocol: beta = 30 (the recipe's) on MNIST and Fashion-MNIST with 3 seeds, and
# beta = 10 and 100 on MNIST with 2 seeds: 40 runs, two sweeps at once, one pinned to each
# core. Finished points are skipped and a stopped one resumes, so the same command goes on
# where it stopped.
#
#   bash experiments/run_equal_recipe.sh [RUNS] [MNIST_DIR]
#   CORE=1 bash experiments/run_equal_recipe.sh   # both sweeps in turn on one core
#
# Finished runs' config.json and metrics.jsonl are kept in experiments/results/equal_recipe
# (a session's runs/ does not outlive it): copied into RUNS first, so their points are
# skipped. The tables: the same beta-sweep commands with --plot_only.
set -uo pipefail
runs=${1:-runs/equal_recipe}
mnist=${2:-../shared/data/mnist}
python=${PYTHON:-python}
mkdir -p "$runs"
if [ -d experiments/results/equal_recipe ]; then
  cp -rn experiments/results/equal_recipe/. "$runs"/
fi
sweep() {  # sweep DATASET BETAS SEEDS [DATA_DIR]
  "$python" -m icvae beta-sweep --recipe --dataset="$1" --betas="$2" --seeds="$3" \
    --num_epochs=30 --runs="$runs/$1" ${4:+--data_dir=$4}
}
first="sweep mnist 30 0,1,2 $mnist && sweep mnist 10 0,1 $mnist"
second="sweep fashion_mnist 30 0,1,2 && sweep mnist 100 0,1 $mnist"
if [[ -n ${CORE:-} ]]; then  # CORE=N: both sweeps one after the other on core N
  taskset -c "$CORE" bash -c "$(declare -f sweep); python=$python runs=$runs; $first; $second" \
      > "$runs/sweep.log" 2>&1
  exit
fi
(taskset -c 1 bash -c "$(declare -f sweep); python=$python runs=$runs; $first") \
    > "$runs/sweep1.log" 2>&1 &
(taskset -c 0 bash -c "$(declare -f sweep); python=$python runs=$runs; $second") \
    > "$runs/sweep2.log" 2>&1 &
wait
