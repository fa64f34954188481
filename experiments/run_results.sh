#!/usr/bin/env bash
# Trains and evaluates every row of RESULTS.md, one run after another; safe to re-run: a run
# resumes from its checkpoints, and a run whose evaluation is already written is skipped.
#
#   EPOCHS=100 DATA_DIR=../shared/data/mnist bash experiments/run_results.sh
#
# Rows: CatVAE and InfoCatVAE at the paper's settings on MNIST and Fashion-MNIST (seeds 0 1 2)
# and InfoCatVAE / CatVAE at the published code's settings on MNIST (seed 0). Workdirs:
# runs/results/<flagfile>_seed<seed>. Summarise with python -m experiments.summarize_results.
set -euo pipefail
EPOCHS=${EPOCHS:-100}
SEEDS=${SEEDS:-"0 1 2"}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/results}
mnist_data=()
[[ -n "${DATA_DIR:-}" ]] && mnist_data=(--data_dir="$DATA_DIR")

source "$(dirname "$0")/run_lib.sh"

for seed in $SEEDS; do
  run mnist mnist_infocatvae "$seed" "${mnist_data[@]}"
  run mnist mnist_catvae "$seed" "${mnist_data[@]}"
  run fashion_mnist fashion_mnist_infocatvae "$seed"
  run fashion_mnist fashion_mnist_catvae "$seed"
  if [[ "$seed" == 0 ]]; then
    run mnist mnist_catvae_reference 0 "${mnist_data[@]}"
    run mnist mnist_infocatvae_reference 0 "${mnist_data[@]}"
  fi
done
