#!/usr/bin/env bash
# Trains and evaluates the IMAE rows of RESULTS.md (issue 12). Safe to re-run: runs resume,
# evaluated runs are skipped. PART picks a share, so that two copies can run side by side:
#
#   PART=mnist   DATA_DIR=../shared/data/mnist bash experiments/run_imae_results.sh
#   PART=fashion bash experiments/run_imae_results.sh
#   PART=catvae  DATA_DIR=../shared/data/mnist bash experiments/run_imae_results.sh
#
#   PART=recipe  DATA_DIR=../shared/data/mnist bash experiments/run_imae_results.sh
#
# recipe: IMAE's recipe of issue 20 (mnist_imae.flags, fashion_mnist_imae.flags) alone, on
# both datasets, seeds SEEDS, EPOCHS epochs.
# mnist / fashion: IMAE (best recipe and the paper's), beta-VAE, InfoVAE, JointVAE, seeds
# SEEDS (0 1 2), EPOCHS epochs (default 15, a CPU protocol). catvae: CatVAE and InfoCatVAE
# at appendix B's settings with and without VAT, CAT_EPOCHS epochs (default 10), evaluated
# with smaller sizes (IWAE S = 100 on 1,000 test images; 2,000 generated images; the KDE on
# 10,000 training images). Workdirs: $RUNS/<flagfile>_seed<seed> (default
# runs/imae_results). Summarise with python -m experiments.summarize_results --runs=...
set -euo pipefail
EPOCHS=${EPOCHS:-15}
CAT_EPOCHS=${CAT_EPOCHS:-10}
SEEDS=${SEEDS:-"0 1 2"}
PART=${PART:-mnist}
PYTHON=${PYTHON:-python}
ROOT=${RUNS:-runs/imae_results}
data=()
[[ -n "${DATA_DIR:-}" ]] && data=(--data_dir="$DATA_DIR")

source "$(dirname "$0")/run_lib.sh"

for seed in $SEEDS; do
  case "$PART" in
    mnist|fashion)
      [[ "$PART" == mnist ]] && prefix=mnist binary=mnist extra=("${data[@]}")
      [[ "$PART" == fashion ]] && prefix=fashion_mnist binary=fashion_mnist extra=()
      for model in imae imae_paper beta_vae info_vae joint_vae; do
        run "$binary" "${prefix}_${model}" "$seed" "${extra[@]}"
      done ;;
    recipe)
      run mnist mnist_imae "$seed" "${data[@]}"
      run fashion_mnist fashion_mnist_imae "$seed" ;;
    catvae)
      for flagfile in mnist_catvae_vat mnist_infocatvae_vat mnist_catvae mnist_infocatvae; do
        EPOCHS=$CAT_EPOCHS run mnist "$flagfile" "$seed" "${data[@]}" --iwae_samples=100 \
          --iwae_examples=1000 --num_generated=2000 --kde_train_examples=10000
      done ;;
    *) echo "PART must be mnist, fashion, recipe or catvae, got $PART" >&2; exit 2 ;;
  esac
done
