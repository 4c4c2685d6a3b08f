#!/usr/bin/env bash
# The performance table on an accelerator, as one prepared script (issue 11). Run from the
# repository root on the GPU/TPU machine, with that machine's own python (no PyTorch there:
# locornn's columns only):
#   PYTHONPATH=src bash benchmarks/gpu.sh [OUTDIR]
# Prints and writes OUTDIR/bench_dynamics_gpu.json, bench_train_step_gpu.json and
# bench_forecast_gpu.json: rollout forward / forward+backward per size, and the time of one
# paper-preset train step of every experiment. About 5 minutes on one H200.
set -euo pipefail
OUT=${1:-${OUT:-results}}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-src}
$PY -c "import jax; print('jax', jax.__version__, jax.devices())"
# Recurrence, the same rows as on CPU (the naive lax.conv row is a CPU trap: skipped)
$PY benchmarks/bench_dynamics.py --no-torch --naive-steps 0 --json "$OUT/bench_dynamics_gpu.json"
# One paper-preset train step of each experiment (data cut to one batch, shapes unchanged)
$PY benchmarks/bench_train_step.py --preset paper --steps 5 --json "$OUT/bench_train_step_gpu.json"
$PY benchmarks/bench_forecast.py --preset paper --seeds 1 --steps 5 --json "$OUT/bench_forecast_gpu.json"
