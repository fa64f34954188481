#!/usr/bin/env bash
# Trains and evaluates the rows of RESULTS.md for section 11 and Table 1: the recurrent
# CatVAE, InfoCatVAE and free-prior CatVAE on sequential MNIST (seeds 0 1 2) and the AAE
# baseline on MNIST (seed 0). Safe to re-run: runs resume, evaluated runs are skipped.
#
#   EPOCHS=100 SEQ_EPOCHS=20 DATA_DIR=../shared/data/mnist bash experiments/run_baselines.sh
#
# The recurrent rows run a CPU-sized protocol, not appendix C's 600 epochs: SEQ_EPOCHS epochs
# (default 20) with the soft-code estimator and Adam 1e-3 (SEQ_FLAGS), and the importance-
# weighted bound on 1,000 test images. The recurrent model costs about 30x the MLP per example
# on CPU (benchmarks/gru_step.py), and the expected estimator decodes each example K = 10
# times. AAE=0 skips the AAE row (e.g. for a second copy of this script running other SEEDS).
set -euo pipefail
EPOCHS=${EPOCHS:-100}
SEQ_EPOCHS=${SEQ_EPOCHS:-20}
SEEDS=${SEEDS:-"0 1 2"}
AAE=${AAE:-1}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/results}
read -r -a seq_flags <<< "${SEQ_FLAGS:---reconstruction=soft_code --learning_rate=1e-3 --iwae_examples=1000}"
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")

source "$(dirname "$0")/run_lib.sh"

[[ "$AAE" == 1 ]] && run mnist mnist_aae 0 "${data[@]}"
for seed in $SEEDS; do
  for flagfile in seq_mnist_catvae seq_mnist_infocatvae seq_mnist_catvae_free_prior; do
    EPOCHS=$SEQ_EPOCHS run seq_mnist "$flagfile" "$seed" "${data[@]}" "${seq_flags[@]}"
  done
done
