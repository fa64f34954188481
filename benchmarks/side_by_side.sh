#!/usr/bin/env bash
# Training speed of this checkout against another commit, side by side in one run (the VM's
# speed drifts between sessions, so only numbers from the same run compare).
#
#   bash benchmarks/side_by_side.sh OLD_REF [DATA_DIR] [ROUNDS]
#
# For each round, alternating old and new: `python -m benchmarks.epoch_throughput` (the
# jitted epoch alone), then the whole loop (`experiments.mnist`, appendix B InfoCatVAE flags,
# 3 epochs, both estimators), printing the train seconds of epochs 2 and 3 (epoch 1 compiles).
# OLD_REF is checked out as a git worktree under $TMPDIR; the current venv's python runs both.
set -euo pipefail
old_ref=$1
data_dir=${2:-../shared/data/mnist}
rounds=${3:-2}
python=${PYTHON:-$(command -v python)}
new_dir=$(pwd)
data_dir=$(cd "$data_dir" && pwd)
work=$(mktemp -d)
git worktree add --detach "$work/old" "$old_ref" > /dev/null
trap 'git worktree remove --force "$work/old"; rm -rf "$work"' EXIT
for round in $(seq "$rounds"); do
  for side in old new; do
    dir=$new_dir; [[ $side == old ]] && dir=$work/old
    echo "== epoch_throughput, $side ($(cd "$dir" && git rev-parse --short HEAD)), round $round"
    (cd "$dir" && "$python" -m benchmarks.epoch_throughput --data_dir="$data_dir" 2>&1 | grep '^|')
  done
done
for round in $(seq "$rounds"); do
  for side in old new; do
    dir=$new_dir; [[ $side == old ]] && dir=$work/old
    for estimator in soft_code expected; do
      run=$work/${side}_${estimator}_$round
      (cd "$dir" && "$python" -m experiments.mnist \
          --flagfile=experiments/flags/mnist_infocatvae.flags --data_dir="$data_dir" \
          --workdir="$run" --num_epochs=3 --final_eval=false --progress=false \
          --reconstruction="$estimator" > "$run.log" 2>&1)
      "$python" -c "import json; r = [json.loads(l) for l in open('$run/metrics.jsonl')]; \
print('loop, $side, $estimator, round $round: train s/epoch, epochs 2 and 3:', \
[round(x['train/seconds'], 2) for x in r[1:]])"
    done
  done
done
