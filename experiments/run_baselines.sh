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

run() {  # run <binary> <flagfile> <seed>
  local binary=$1 flagfile=$2 seed=$3
  local workdir="$ROOT/${flagfile}_seed${seed}"
  if [[ -f "$workdir/eval/report.json" ]] && "$PYTHON" -c "import json,sys; \
      sys.exit(json.load(open('$workdir/eval/report.json'))['epoch'] != $EPOCHS)"; then
    echo "done already: $workdir"
    return
  fi
  echo "=== $workdir ($EPOCHS epochs)"
  "$PYTHON" -m "experiments.$binary" --flagfile="experiments/flags/$flagfile.flags" \
    --seed="$seed" --num_epochs="$EPOCHS" --eval_every=10 --checkpoint_every=10 \
    --workdir="$workdir" --progress=false "${data[@]}"
}

run mnist mnist_aae 0
for seed in $SEEDS; do
  run seq_mnist seq_mnist_catvae "$seed"
  run seq_mnist seq_mnist_infocatvae "$seed"
  run seq_mnist seq_mnist_catvae_free_prior "$seed"
done
