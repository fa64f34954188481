#!/usr/bin/env bash
# The GPU rows of BENCHMARKS.md, as one prepared script for a lent GPU machine (its image has
# jax, flax, optax, orbax, torch; not tensorflow-datasets or tensorboardX, which travel as
# wheels in .whl/, nor ../shared, so MNIST travels in .gpu_data/mnist: bash
# benchmarks/gpu_prepare.sh makes both; carry them).
#
#   PART=bench  bash benchmarks/gpu_session.sh   # sweep throughput, bf16 speed and metrics,
#                                                # icvae beside torch.compile / CUDA graphs
#   PART=table1 bash benchmarks/gpu_session.sh   # AAE, CatVAE, InfoCatVAE x 3 seeds, 600 epochs
#   PART=dsprites bash benchmarks/gpu_session.sh # dSprites epoch speed; Figure 5 at GPU size
#                                                # (values 1,4,10 x seeds 0,1, EPOCHS=2, full
#                                                # grid, MIG on the whole grid, S = 10,000)
#   PART=figure3 bash benchmarks/gpu_session.sh  # IMAE's Figure 3 at the paper's 10 seeds: the
#                                                # four models x betas 1,2,5,10,20 x seeds 0-9,
#                                                # 30 epochs, each model's grid one program;
#                                                # one dataset a call (DATASETS=fashion_mnist:
#                                                # it travels in .gpu_data/fashion_mnist)
#   PART=equal_recipe bash benchmarks/gpu_session.sh # issue 31: the four models with IMAE's
#                                                # recipe (beta-sweep --recipe), betas 10,30,100
#                                                # x seeds 0,1,2, 30 epochs, each model's grid
#                                                # one program; DATASETS as for figure3
#   PART=fashion_levers bash benchmarks/gpu_session.sh # issue 31: each Fashion-MNIST lever
#                                                # alone on IMAE's recipe (neighbours,
#                                                # consistency, conv), seeds 0,1,2, 30 epochs
#                                                # (experiments/fashion_levers.sh)
#   PART=freeprior bash benchmarks/gpu_session.sh # InfoCatVAE section 11's free-prior claim at
#                                                # 600 epochs: the recurrent free-prior CatVAE,
#                                                # CatVAE and InfoCatVAE x seeds 0 1 2, each one
#                                                # sweep program, then how far the prior moved
#
# Writes its tables and logs under $OUT (default /tmp/gpu_out).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}
PART=${PART:-bench}
DATA=${DATA:-.gpu_data/mnist}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ICVAE_CACHE_DIR=/tmp/icvae-cache

if [[ -d ${WHEELS:-.whl} ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
  # tensorflow-metadata needs protobuf >= 6.31.1; bring ours only when the image's is older.
  if ! python3 -c "import google.protobuf as p, sys; v = tuple(map(int, p.__version__.split('.')[:2])); sys.exit(v < (6, 31))"; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/optional/protobuf-*.whl || exit 1
  fi
  export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
python3 -c "import jax, flax, optax, orbax.checkpoint, torch; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__, jax.devices())" | tee -a "$OUT/device.txt"

if [[ $PART == bench ]]; then
  timeout 200 python3 -m benchmarks.sweep_throughput \
      --flagfile=experiments/flags/mnist_infocatvae.flags --data_dir="$DATA" --workdir=/tmp/w \
      --num_runs=1,4,16,64 --timed_epochs=2 2>"$OUT/sweep.log" | tee "$OUT/sweep_infocatvae.md"
  timeout 120 python3 -m benchmarks.sweep_throughput \
      --flagfile=experiments/flags/mnist_infocatvae.flags --data_dir="$DATA" --workdir=/tmp/w \
      --num_runs=1,16 --timed_epochs=2 --compute_dtype=bfloat16 2>>"$OUT/sweep.log" \
      | tee "$OUT/sweep_infocatvae_bf16.md"
  # bfloat16 against float32: InfoCatVAE (appendix B), 3 seeds as one sweep each, 100 epochs.
  for dtype in float32 bfloat16; do
    timeout 150 python3 -m experiments.mnist --flagfile=experiments/flags/mnist_infocatvae.flags \
        --data_dir="$DATA" --workdir="/tmp/dtype/$dtype" --seeds=0,1,2 --num_epochs=100 \
        --compute_dtype=$dtype --eval_every=50 --checkpoint_every=100 --final_eval=false \
        --progress=false 2>"$OUT/dtype_$dtype.log"
    for seed in 0 1 2; do
      tail -n 1 "/tmp/dtype/$dtype/seed=$seed/metrics.jsonl" \
          | sed "s/^/{\"run\": \"$dtype\/seed=$seed\", \"last\": /; s/$/}/" >> "$OUT/dtype_last.jsonl"
    done
  done
  timeout 240 python3 -m benchmarks.compare_pytorch --data_dir="$DATA" --batch_sizes=128 \
      --estimators=soft_code,expected --models=infocatvae \
      --torch_modes=eager,compile,cudagraphs --out="$OUT/compare_pytorch_gpu.json" \
      2>"$OUT/compare.log" | tee "$OUT/compare_pytorch_gpu.md"
fi

if [[ $PART == table1 ]]; then
  # Table 1's three models, 3 seeds each as one sweep program per model, 600 epochs. Test
  # metrics every 100 epochs; no final report.
  for run in ${RUNS:-aae:float32 catvae:float32 infocatvae:float32}; do
    model=${run%%:*}; dtype=${run##*:}
    started=$(date +%s.%N)
    timeout 300 python3 -m experiments.mnist --flagfile="experiments/flags/mnist_$model.flags" \
        --data_dir="$DATA" --workdir="/tmp/t1/${model}_$dtype" --seeds=0,1,2 \
        --num_epochs=${EPOCHS:-600} --compute_dtype="$dtype" --eval_every=100 \
        --checkpoint_every=300 --final_eval=false --progress=false \
        2>"$OUT/table1_${model}_$dtype.log"
    status=$?
    echo "$model $dtype exit $status wall $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s" \
        | tee -a "$OUT/table1_times.txt"
    for seed in 0 1 2; do
      tail -n 1 "/tmp/t1/${model}_$dtype/seed=$seed/metrics.jsonl" \
          | sed "s/^/{\"run\": \"${model}_$dtype\/seed=$seed\", \"last\": /; s/$/}/" \
          >> "$OUT/table1_last.jsonl"
    done
  done
fi
if [[ $PART == dsprites ]]; then
  timeout 240 python3 -m benchmarks.dsprites_epoch --steps=20 2>"$OUT/dsprites_epoch.log" \
      | tee "$OUT/dsprites_epoch.md"
  timeout ${FIGURE5_TIMEOUT:-420} python3 -m experiments.dsprites_figure5 \
      --values=${VALUES:-1,4,10} --seeds=${SEEDS:-0,1} --runs=/tmp/figure5 \
      --override=--num_epochs=${EPOCHS:-2} --override=joint_vae:--capacity_steps=$((360 * ${EPOCHS:-2})) \
      2>"$OUT/figure5.log" | tee "$OUT/figure5.md"
  cp /tmp/figure5/figure5.png "$OUT/" 2>/dev/null
  find /tmp/figure5 -name report.json | tar -cf "$OUT/figure5_reports.tar" -T - 2>/dev/null
fi
if [[ $PART == figure3 ]]; then
  # Each model's grid is one program: 50 runs x 30 epochs, a few minutes per model on an
  # H100, so one call does one dataset (a second call on the warm machine, DATASETS=
  # fashion_mnist, the other; a program cut by its timeout resumes there). IMSAT reference
  # lines come from runs/imsat_results when it is carried.
  for dataset in ${DATASETS:-mnist}; do
    reference=runs/imsat_results/${dataset}_imsat_heldout_seed*
    [[ $dataset == fashion_mnist ]] && reference=runs/imsat_results/fashion_mnist_imsat_seed*
    sweep=(python3 -m experiments.beta_sweep --dataset=$dataset --data_dir=.gpu_data/$dataset
           --betas=${BETAS:-1,2,5,10,20} --seeds=${SEEDS:-0,1,2,3,4,5,6,7,8,9}
           --num_epochs=${EPOCHS:-30} --runs=/tmp/figure3/$dataset --reference="$reference")
    timeout ${FIGURE3_TIMEOUT:-540} "${sweep[@]}" --one_program >/dev/null 2>"$OUT/figure3_$dataset.log"
    echo "figure3 $dataset exit $?" | tee -a "$OUT/figure3_$dataset.log"
    "${sweep[@]}" --plot_only 2>>"$OUT/figure3_$dataset.log" | tee "$OUT/figure3_$dataset.md"
    cp /tmp/figure3/$dataset/figure3.png "$OUT/figure3_$dataset.png" 2>/dev/null
    find /tmp/figure3/$dataset -name metrics.jsonl | tar -cf "$OUT/figure3_${dataset}_metrics.tar" -T - 2>/dev/null
    tail -n 3 /tmp/figure3/$dataset/*.log >> "$OUT/figure3_$dataset.log" 2>/dev/null
  done
fi
if [[ $PART == equal_recipe ]]; then
  # The CPU sweep (experiments/run_equal_recipe.sh) in one call per dataset: every method
  # trained with IMAE's recipe; the table and verdicts from --plot_only.
  for dataset in ${DATASETS:-mnist}; do
    sweep=(python3 -m icvae beta-sweep --recipe --dataset=$dataset --data_dir=.gpu_data/$dataset
           --betas=${BETAS:-10,30,100} --seeds=${SEEDS:-0,1,2} --num_epochs=${EPOCHS:-30}
           --runs=/tmp/equal_recipe/$dataset)
    timeout ${EQUAL_TIMEOUT:-540} "${sweep[@]}" --one_program >/dev/null 2>"$OUT/equal_recipe_$dataset.log"
    echo "equal_recipe $dataset exit $?" | tee -a "$OUT/equal_recipe_$dataset.log"
    "${sweep[@]}" --plot_only 2>>"$OUT/equal_recipe_$dataset.log" | tee "$OUT/equal_recipe_$dataset.md"
    find /tmp/equal_recipe/$dataset -name metrics.jsonl -o -name config.json \
        | tar -cf "$OUT/equal_recipe_${dataset}_runs.tar" -T - 2>/dev/null
  done
fi
if [[ $PART == fashion_levers ]]; then
  # One run at a time (a run fills the GPU); a run cut by the timeout resumes from its last
  # 5-epoch checkpoint on the next call of the same warm machine.
  RUNS=/tmp/fashion_levers PARALLEL=1 PYTHON=python3 SEEDS=${SEEDS:-"0 1 2"} \
      DATA_DIR=.gpu_data/fashion_mnist timeout ${LEVERS_TIMEOUT:-540} \
      bash experiments/fashion_levers.sh 2>&1 | tail -n 20 > "$OUT/fashion_levers.log"
  echo "fashion_levers exit ${PIPESTATUS[0]}" | tee -a "$OUT/fashion_levers.log"
  find /tmp/fashion_levers -name metrics.jsonl -o -name config.json \
      | tar -cf "$OUT/fashion_levers_runs.tar" -T - 2>/dev/null
fi
if [[ $PART == freeprior ]]; then
  workdirs=() seeds=${SEEDS:-0,1,2}
  for config in seq_mnist_catvae_free_prior seq_mnist_catvae seq_mnist_infocatvae; do
    timeout ${FREEPRIOR_TIMEOUT:-170} python3 -m experiments.seq_mnist \
        --flagfile=experiments/flags/$config.flags --data_dir="$DATA" --workdir=/tmp/fp/$config \
        --seeds=$seeds --num_epochs=${EPOCHS:-600} --eval_every=100 \
        --checkpoint_every=100 --final_eval=false --progress=false 2>"$OUT/freeprior_$config.log"
    for seed in ${seeds//,/ }; do
      tail -n 1 "/tmp/fp/$config/seed=$seed/metrics.jsonl" \
          | sed "s/^/{\"run\": \"$config\/seed=$seed\", \"last\": /; s/$/}/" >> "$OUT/freeprior_last.jsonl"
      workdirs+=("/tmp/fp/$config/seed=$seed")
    done
  done
  python3 -m experiments.probes.prior_drift --workdirs="$(IFS=,; echo "${workdirs[*]}")" \
      2>>"$OUT/freeprior_drift.log" | tee "$OUT/freeprior_drift.md"
fi
ls -la "$OUT"
