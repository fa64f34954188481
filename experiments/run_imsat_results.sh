#!/usr/bin/env bash
# Trains and evaluates the IMSAT rows of RESULTS.md (issue 20). Safe to re-run: runs resume,
# evaluated runs are skipped. PART picks a share, so that two copies can run side by side:
#
#   PART=all     DATA_DIR=../shared/data/mnist bash experiments/run_imsat_results.sh
#   PART=heldout DATA_DIR=../shared/data/mnist bash experiments/run_imsat_results.sh
#   PART=fashion bash experiments/run_imsat_results.sh
#
# all: mnist_imsat.flags as published (trained and scored on all 70,000 images); heldout:
# the same trained on the 60,000 training images, scored on the 10,000 test images; fashion:
# fashion_mnist_imsat.flags. Seeds SEEDS (0 1 2), EPOCHS epochs (default 50, IMSAT's).
# Workdirs: $RUNS/<flagfile>[_heldout]_seed<seed> (default runs/imsat_results). Summarise
# with python -m experiments.summarize_results --runs=runs/imsat_results
set -euo pipefail
EPOCHS=${EPOCHS:-50}
SEEDS=${SEEDS:-"0 1 2"}
PART=${PART:-all}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/imsat_results}
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")

source "$(dirname "$0")/run_lib.sh"

for seed in $SEEDS; do
  case "$PART" in
    all) run mnist mnist_imsat "$seed" "${data[@]}" ;;
    heldout) SUFFIX=_heldout run mnist mnist_imsat "$seed" "${data[@]}" --protocol=heldout ;;
    fashion) run fashion_mnist fashion_mnist_imsat "$seed" ;;
    *) echo "PART must be all, heldout or fashion, got $PART" >&2; exit 2 ;;
  esac
done
