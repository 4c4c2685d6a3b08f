#!/usr/bin/env bash
# Figures 1 and 2 at the `reference` preset on one GPU, as one prepared script:
# the reference runs trained at their full budget side by side on the one device, then the
# figures and the wave table drawn from them. From the repository root, with the machine's python:
#   PYTHONPATH=src bash experiments/reference_gpu.sh [OUTDIR] [SECONDS]
# SECONDS (default 420) bounds the training: a run still going then gets SIGTERM, which
# checkpoints it (`make train ... PRESET=reference` resumes it). Runs are started in priority
# order (Figure 2's two 72x72 runs first) only while their measured step time x budget, plus
# OVERHEAD seconds (data, compilation, final analysis), fits SECONDS: a run that starts should
# finish. The skipped ones are named in the log. Rotating MNIST needs LOCORNN_MNIST_DIR (the
# Fashion-MNIST IDX files); without it, it is skipped. Figure 1's spring quadrant is trained
# from the Hamiltonian cpu preset (the reference has no rotating-MNIST-style spring run).
# Writes into OUTDIR: steps.json (one step of each, alone), train_<run>.log, figure1*.png,
# figure2*.png, figure2.md, waves.md, and runs.tar.gz (each run's config, metrics, summary and
# analyses: RUNS without checkpoints).
# PRESET=smoke runs the same script in a minute on a CPU (how it is tested).
set -uo pipefail
OUT=${1:-${OUT:-results/reference_gpu}}
SECONDS_FOR_TRAINING=${2:-420}
PRESET=${PRESET:-reference}
OVERHEAD=${OVERHEAD:-100}
SPRING_PRESET=$([ "$PRESET" = reference ] && echo cpu || echo "$PRESET")
PY=${PYTHON:-python3}
RUNS=${RUNS:-runs}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-src} PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
say() { echo "[reference_gpu $(date +%T)] $*"; }

# name|experiment|preset|extra config fields; the order is the priority
RUN_LIST=(
  "orientation|orientation|$PRESET|"
  "orientation_noise|orientation|$PRESET|--config.data.name=noise --config.experiment=orientation_noise"
  "waves|waves|$PRESET|"
  "noise|noise|$PRESET|"
  "rotating_mnist|rotating_mnist|$PRESET|"
  "mass_spring|hamiltonian|$SPRING_PRESET|--config.data.system=mass_spring --config.model.kind=locornn"
)
[ -n "${LOCORNN_MNIST_DIR:-}" ] || say "LOCORNN_MNIST_DIR unset: rotating_mnist is skipped"

# 1. One step of each experiment, alone on the device: the times decide what fits.
$PY benchmarks/bench_train_step.py --preset "$PRESET" --steps 20 \
    --experiments orientation waves rotating_mnist --json "$OUT/steps.json" || exit 1
plan=$($PY - "$OUT/steps.json" "$SECONDS_FOR_TRAINING" "$OVERHEAD" "${LOCORNN_MNIST_DIR:-}" <<'EOF'
import json, sys
budget = {r["experiment"]: r["budget_s"] for r in json.load(open(sys.argv[1]))}
budget["orientation_noise"], budget["noise"] = budget["orientation"], budget["waves"]
budget["mass_spring"] = 0.0  # the cpu preset: 1200 small steps, about a minute on 2 cores
left = float(sys.argv[2]) - float(sys.argv[3])
for name in ("orientation", "orientation_noise", "waves", "noise", "rotating_mnist",
             "mass_spring"):
    need = 1.15 * budget[name]  # evaluations, probes and checkpoints: ~15% on top
    if (name != "rotating_mnist" or sys.argv[4]) and need <= left:
        left -= need
        print(name)
EOF
)
say "training side by side: ${plan//$'\n'/ }"

# 2. The runs, side by side, each bounded by SECONDS_FOR_TRAINING.
pids=()
for entry in "${RUN_LIST[@]}"; do
  IFS='|' read -r name file preset extra <<<"$entry"
  grep -qx "$name" <<<"$plan" || { say "skipped $name (does not fit)"; continue; }
  # shellcheck disable=SC2086
  timeout --signal=TERM --kill-after=60 "$SECONDS_FOR_TRAINING" $PY -m locornn train \
      --config "$file:$preset" --runs-root "$RUNS" --quiet $extra > "$OUT/train_$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || say "a run ended with status $? (see train_*.log)"; done
say "training done"

# 3. Figures and the wave table from the finished runs (nothing more is trained).
$PY -m locornn reproduce figure2 --preset "$PRESET" --results-dir "$OUT" --runs-root "$RUNS" \
    --no-train --wavelengths --kernel-sizes || say "figure2 failed"
$PY -m locornn reproduce figure1 --preset "$PRESET" --results-dir "$OUT" --runs-root "$RUNS" \
    --no-train || say "figure1 failed"
$PY -m locornn reproduce waves-table --preset "$PRESET" --results-dir "$OUT" \
    --runs-root "$RUNS" --no-train || say "waves-table failed"
tar czf "$OUT/runs.tar.gz" --exclude=checkpoints "$RUNS"
say "done"
