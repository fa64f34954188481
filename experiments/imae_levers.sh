#!/usr/bin/env bash
# IMAE past the 4/9 confusion (RESULTS.md, issue 20): the levers the first search did not
# try, each on mnist_imae_shared_trunk.flags (the best recipe of issue 12), SEEDS seeds (default 0 1),
# EPOCHS epochs (default 40), MNIST's training split, the 10,000 test images scored every
# epoch. Safe to re-run: finished runs are skipped, stopped ones resume. ROWS picks rows.
#
#   DATA_DIR=../shared/data/mnist IMSAT=runs/imsat_results/mnist_imsat_heldout_seed0 \
#     bash experiments/imae_levers.sh
#
# IMSAT is the workdir of an IMSAT run on the same protocol (held-out), for the warm start.
# Workdirs: $RUNS/<row>_seed<N> (default runs/imae_levers); two runs side by side.
set -euo pipefail
EPOCHS=${EPOCHS:-40}
SEEDS=${SEEDS:-"0 1"}
ROWS=${ROWS:-"base momentum own_classifier late_reconstruction warm_start anneal"}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/imae_levers}
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")
best=experiments/flags/mnist_imae_shared_trunk.flags
steps=$((60000 / 128))  # optimiser steps per epoch at batch 128
# p(y|x) as IMSAT's: a 1200-wide network of its own, IMSAT's input scaling and initialisation.
own=(--classifier_features=1200 --input_scaling=imsat --initialization=imsat)

flags_of() {  # the flags of a row
  case "$1" in
    # The recipe itself, no lever: the row the others compare with.
    base) echo ;;
    # The paper's optimiser: momentum SGD at 1e-3, decayed 0.98 per epoch.
    momentum) echo --optimizer=momentum --learning_rate=1e-3 --learning_rate_decay=0.98 ;;
    own_classifier) echo "${own[@]}" ;;
    # IMSAT's weighting (VAT 10x the information term) and the reconstruction entering after
    # 15 epochs, over 5 more: the categorical code forms as in IMSAT first.
    late_reconstruction) echo "${own[@]}" --vat_weight=300 \
        --reconstruction_delay_steps=$((15 * steps)) --reconstruction_warmup_steps=$((5 * steps)) ;;
    warm_start) echo "${own[@]}" --vat_weight=300 --classifier_from="${IMSAT:?set IMSAT}" ;;
    # The Gumbel-softmax temperature annealed from 0.67 to 0.1 over 20 epochs.
    anneal) echo --temperature_final=0.1 --temperature_anneal_steps=$((20 * steps)) ;;
    *) echo "unknown row $1" >&2; return 2 ;;
  esac
}

run() {  # run <row> <seed>
  local workdir="$ROOT/$1_seed$2"
  [[ -f "$workdir/.done" ]] && return
  mkdir -p "$ROOT"
  # shellcheck disable=SC2046
  "$PYTHON" -m experiments.mnist --flagfile=$best $(flags_of "$1") "${data[@]}" --seed="$2" \
    --num_epochs="$EPOCHS" --checkpoint_every=5 --final_eval=false --progress=false \
    --workdir="$workdir" > "$workdir.log" 2>&1 && touch "$workdir/.done"
}

jobs=()
for row in $ROWS; do for seed in $SEEDS; do jobs+=("$row $seed"); done; done
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  run ${jobs[i]} &
  if ((i + 1 < ${#jobs[@]})); then run ${jobs[i + 1]}; fi
  wait
done
