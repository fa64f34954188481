#!/usr/bin/env bash
# Fashion-MNIST past N2D (issue 31, part 2): each lever alone on IMAE's recipe
# (fashion_mnist_imae.flags as it was before the levers, i.e. the equal-recipe IMAE runs at
# beta 30, experiments/results/equal_recipe, are the row without a lever), SEEDS seeds
# (default 0 1), EPOCHS epochs (default 30), the held-out protocol, the 10,000 test images
# scored every 5 epochs. Safe to re-run: finished runs are skipped, stopped ones resume (from
# their last checkpoint, every 5 epochs). ROWS picks rows; two runs side by side
# (PARALLEL=1: one at a time).
#
#   bash experiments/fashion_levers.sh
#   ROWS=neighbours SEEDS="0 1 2" DATASET=mnist DATA_DIR=../shared/data/mnist \
#       bash experiments/fashion_levers.sh      # the same lever on MNIST
#
# Workdirs: $RUNS/<dataset>_<row>_seed<N> (default runs/fashion_levers). Finished runs'
# config.json and metrics.jsonl are kept in experiments/results/fashion_levers (copied back
# into RUNS first, so they are skipped).
set -uo pipefail
EPOCHS=${EPOCHS:-30}
SEEDS=${SEEDS:-"0 1"}
ROWS=${ROWS:-"neighbours consistency conv"}
DATASET=${DATASET:-fashion_mnist}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/fashion_levers}
KEEP=experiments/results/fashion_levers
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")
mkdir -p "$ROOT"
[[ -d $KEEP ]] && cp -rn "$KEEP"/. "$ROOT"/

flags_of() {  # the flags of a row, added to <dataset>_imae.flags; every other lever off, so
  # that a row is its lever alone whatever the flagfile holds now
  local off=(--neighbour_weight=0 --neighbours=5)
  case "$1" in
    # SCAN's neighbour consistency: one of the 5 nearest training images (pixels) shares the
    # category; weighted 90 = 0.3 x IMSAT's scale (beta 30 / IMSAT's lambda 0.1).
    neighbours) echo --neighbour_weight=90 --neighbours=5 ;;
    # Augmentation consistency (UDA eq. 1), weighted as VAT (300): shifts of up to 2 pixels,
    # rotations up to 10 degrees, scale 0.9-1.1, left-right flips (they keep clothes' class).
    consistency) echo "${off[@]}" --consistency_weight=300 --augment_translate=2 --augment_rotate=10 \
        --augment_scale=0.1 --augment_flip ;;
    # Issue 21's conv networks (p(y|x), q(z|x) and the decoder) instead of the MLPs.
    conv) echo "${off[@]}" --network=conv ;;
    *) echo "unknown row $1" >&2; return 2 ;;
  esac
}

finished() {  # finished <workdir>: its metrics have the last epoch's test accuracy
  "$PYTHON" - "$1/metrics.jsonl" "$EPOCHS" <<'PY' 2>/dev/null
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
sys.exit(0 if any(r.get('epoch') == int(sys.argv[2]) and 'test/clustering_accuracy' in r
                  for r in records) else 1)
PY
}

run() {  # run <row> <seed>
  local workdir="$ROOT/${DATASET}_$1_seed$2"
  finished "$workdir" && return
  # shellcheck disable=SC2046
  "$PYTHON" -m icvae train --config="${DATASET}_imae" $(flags_of "$1") "${data[@]}" \
    --seed="$2" --num_epochs="$EPOCHS" --eval_every=5 --checkpoint_every=5 \
    --final_eval=false --progress=false --workdir="$workdir" > "$workdir.log" 2>&1
  if finished "$workdir"; then
    mkdir -p "$KEEP/$(basename "$workdir")"
    cp "$workdir/config.json" "$workdir/metrics.jsonl" "$KEEP/$(basename "$workdir")/"
  fi
}

jobs=()
for row in $ROWS; do for seed in $SEEDS; do jobs+=("$row $seed"); done; done
if [[ ${PARALLEL:-2} == 1 ]]; then  # one run at a time (the other core busy elsewhere)
  for job in "${jobs[@]}"; do run $job; done
  exit
fi
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  run ${jobs[i]} &
  if ((i + 1 < ${#jobs[@]})); then run ${jobs[i + 1]}; fi
  wait
done
