# Shared by experiments/run_results.sh and experiments/run_baselines.sh (source it).
# Needs EPOCHS, PYTHON and ROOT set by the caller; SUFFIX (optional) goes after the
# flagfile's name in the workdir's.

run() {  # run <binary> <flagfile> <seed> [more flags...]: train + evaluate unless done
  local binary=$1 flagfile=$2 seed=$3
  shift 3
  local workdir="$ROOT/${flagfile}${SUFFIX:-}_seed${seed}"
  if [[ -f "$workdir/eval/report.json" ]] && "$PYTHON" -c "import json,sys; \
      sys.exit(json.load(open('$workdir/eval/report.json'))['epoch'] != $EPOCHS)"; then
    echo "done already: $workdir"
    return
  fi
  echo "=== $workdir ($EPOCHS epochs)"
  "$PYTHON" -m "experiments.$binary" --flagfile="experiments/flags/$flagfile.flags" \
    --seed="$seed" --num_epochs="$EPOCHS" --eval_every=10 --checkpoint_every=10 \
    --workdir="$workdir" --progress=false "$@"
}
