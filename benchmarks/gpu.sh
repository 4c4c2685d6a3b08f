#!/usr/bin/env bash
# The performance table on an accelerator, as one prepared script. Run from the
# repository root on the GPU/TPU machine, with that machine's own python (no PyTorch there:
# locornn's columns only):
#   PYTHONPATH=src bash benchmarks/gpu.sh [OUTDIR]
# Prints and writes OUTDIR/bench_dynamics_gpu.json, bench_train_step_gpu.json and
# bench_forecast_gpu.json: rollout forward / forward+backward per size, and the time of one
# paper-preset train step of every experiment. Each part is bounded by LIMIT seconds (default
# 300) and a part that fails or runs out is reported and skipped, so the others still run.
set -uo pipefail
OUT=${1:-${OUT:-results}}
PY=${PYTHON:-python3}
LIMIT=${LIMIT:-300}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-src}
part() { timeout --kill-after=10 "$LIMIT" "$@" || echo "gpu.sh: '$*' failed or ran out (status $?)"; }
$PY -c "import jax, flax, optax, orbax.checkpoint as ocp; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"
# Recurrence, the same rows as on CPU (the naive lax.conv row is a CPU trap: skipped)
part $PY benchmarks/bench_dynamics.py --no-torch --naive-steps 0 --repeats 2 \
    --json "$OUT/bench_dynamics_gpu.json"
# One paper-preset train step of each experiment (data cut to one batch, shapes unchanged)
part $PY benchmarks/bench_train_step.py --preset paper --steps 5 --json "$OUT/bench_train_step_gpu.json"
part $PY benchmarks/bench_forecast.py --preset paper --seeds 1 --steps 5 --json "$OUT/bench_forecast_gpu.json"
