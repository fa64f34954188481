#!/usr/bin/env bash
# The search for an IMAE recipe on MNIST (RESULTS.md, "IMAE: what reaches the target"): one
# ingredient at a time, seed 0, EPOCHS epochs (default 15), test accuracy logged every epoch.
# Safe to re-run: a finished run is skipped, a stopped one resumes.
#
#   DATA_DIR=../shared/data/mnist bash experiments/imae_ablation.sh
#   python -m experiments.summarize_results --runs=runs/imae_ablation   # after evaluation
#
# Workdirs: $RUNS/<name> (default runs/imae_ablation); no final evaluation (the per-epoch
# test metrics are in metrics.jsonl). Two runs go side by side (2 cores).
set -euo pipefail
EPOCHS=${EPOCHS:-15}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/imae_ablation}
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")
paper=experiments/flags/mnist_imae_paper.flags
best=experiments/flags/mnist_imae_shared_trunk.flags

run() {  # run <name> <flags...>
  local name=$1
  shift
  [[ -f "$ROOT/$name/.done" ]] && return
  "$PYTHON" -m experiments.mnist "$@" "${data[@]}" --num_epochs="$EPOCHS" --final_eval=false \
    --checkpoint_every="$EPOCHS" --progress=false --workdir="$ROOT/$name" \
    > "$ROOT/$name.log" 2>&1 && touch "$ROOT/$name/.done"
}

mkdir -p "$ROOT"
# 1. The paper's recipe; 2. IMSAT's weighting of H(y) (mu = 4).
run paper --flagfile=$paper &
run paper_mu4 --flagfile=$paper --marginal_entropy_weight=4
wait
# 3. IMSAT's ingredients with VAT weight 10 (per-example radius, mu = 4, beta 30, gamma 60);
# 4. the same with the paper's fixed radius eps = 1.
run imsat_vat10 --flagfile=$best --vat_weight=10 &
run imsat_vat10_fixed_eps1 --flagfile=$best --vat_weight=10 --vat_epsilon_neighbour=0 \
  --vat_epsilon=1.0
wait
# 5, 6. VAT weighted 100 (the best recipe) and 300.
run imsat_vat100 --flagfile=$best &
run imsat_vat300 --flagfile=$best --vat_weight=300
wait
# 7. IMSAT's optimiser: batch 250, Adam 2e-3 (with VAT weight 10, as 3).
run imsat_vat10_batch250 --flagfile=$best --vat_weight=10 --batch_size=250 \
  --learning_rate=2e-3
# 8. The best recipe with the information terms weighted more against the reconstruction
# (beta 100, gamma 200); 9. the best recipe with the paper's I(x; y) (mu = 1).
run imsat_vat100_beta100 --flagfile=$best --beta=100 --gamma=200 &
run imsat_vat100_mu1 --flagfile=$best --marginal_entropy_weight=1
wait
# 10. The best recipe trained on to 40 epochs (RESULTS.md copied run 5 and resumed it).
EPOCHS=40 run imsat_vat100_40_epochs --flagfile=$best
# 11. The best recipe with IMSAT's width (1200; Table 1 has 500).
run imsat_vat100_width1200 --flagfile=$best --hidden_features=1200
