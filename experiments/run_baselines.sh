#!/usr/bin/env bash
# Trains and evaluates the rows of RESULTS.md for section 11 and Table 1: the recurrent
# CatVAE, InfoCatVAE and free-prior CatVAE on sequential MNIST (seeds 0 1 2) and the AAE
# baseline on MNIST (seed 0). Safe to re-run: runs resume, evaluated runs are skipped.
#
#   EPOCHS=100 DATA_DIR=../shared/data/mnist bash experiments/run_baselines.sh
set -euo pipefail
EPOCHS=${EPOCHS:-100}
SEEDS=${SEEDS:-"0 1 2"}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/results}
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")

source "$(dirname "$0")/run_lib.sh"

run mnist mnist_aae 0 "${data[@]}"
for seed in $SEEDS; do
  run seq_mnist seq_mnist_catvae "$seed" "${data[@]}"
  run seq_mnist seq_mnist_infocatvae "$seed" "${data[@]}"
  run seq_mnist seq_mnist_catvae_free_prior "$seed" "${data[@]}"
done
