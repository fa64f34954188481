#!/usr/bin/env bash
# The same numbers before and after a change: trains the MNIST smoke, the sequential MNIST
# smoke and the AAE (2 epochs) at OLD_REF (a git worktree under $TMPDIR) and in this
# checkout, same flags and seeds, each with its final evaluation, compares each pair number
# by number (experiments.compare_runs), then resumes OLD_REF's smoke workdir here (a
# workdir of the older format must resume).
#
#   bash experiments/compare_commits.sh OLD_REF [DATA_DIR]     # DATA_DIR: MNIST IDX folder
set -euo pipefail
old_ref=$1
data_dir=$(cd "${2:-../shared/data/mnist}" && pwd)
python=${PYTHON:-$(command -v python)}
new_dir=$(pwd)
work=$(mktemp -d)
git worktree add --detach "$work/old" "$old_ref" > /dev/null
trap 'git worktree remove --force "$work/old"; rm -rf "$work"' EXIT
for side in old new; do
  dir=$new_dir; [[ $side == old ]] && dir=$work/old
  (cd "$dir"
   "$python" -m experiments.mnist --flagfile=experiments/flags/mnist_smoke.flags \
     --data_dir="$data_dir" --workdir="$work/${side}_smoke" --progress=false > "$work/${side}_smoke.log" 2>&1
   "$python" -m experiments.seq_mnist --flagfile=experiments/flags/seq_mnist_smoke.flags \
     --data_dir="$data_dir" --workdir="$work/${side}_seq" --progress=false > "$work/${side}_seq.log" 2>&1
   "$python" -m experiments.mnist --flagfile=experiments/flags/mnist_aae.flags --num_epochs=2 \
     --data_dir="$data_dir" --workdir="$work/${side}_aae" --progress=false > "$work/${side}_aae.log" 2>&1)
done
status=0
for run in smoke seq aae; do
  echo "== $run"
  "$python" -m experiments.compare_runs --workdirs="$work/old_$run,$work/new_$run" | tail -3 \
    || status=1
done
"$python" -m experiments.mnist --flagfile=experiments/flags/mnist_smoke.flags \
  --data_dir="$data_dir" --workdir="$work/old_smoke" --num_epochs=4 --final_eval=false \
  --progress=false 2>&1 | grep -i 'resuming'
exit $status
