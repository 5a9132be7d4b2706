#!/usr/bin/env bash
# One-command GPU check (target: under 8 minutes on one H100/H200):
#   1. CUDA parity tests of every fused neuron variant against the torch kernel, eager and compiled;
#   1b. the same CUDA source compiled by g++ and emulated on the CPU (tests/neurons/test_cuda_emulation.py, the
#      suite CI runs without a GPU) against the device, variant by variant: what the CPU proves holds on the GPU;
#   2. benchmark_neurons: LIF fp16/bf16, T=4 and 16, N=64x64x32x32: torch loop vs cupy vs spikingjelly 2.0,
#      % of the HBM floor (PASS/FAIL lines for the targets);
#   3. a training step of sew_resnet18_cifar and spikformer_4_384_cifar, eager and torch.compile (fp32, bf16)
#      with both compiled neuron backends (Inductor-fused plain torch, and +cupy: the fused kernel kept under
#      compile), against spikingjelly 2.0 in the same modes.
# Writes logs and tables to $OUT when set (else ./gpu_check_out) and prints the short table last.
#
# Usage, from the repository root:
#   bash hub_scripts/gpu_check.sh --prepare   # on a machine with a package registry: wheels the GPU box lacks -> .whl/
#   bash hub_scripts/gpu_check.sh             # on the GPU machine (no network needed when .whl/ travelled along)
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(spikingjelly==2.0.0 loguru==0.7.3)
if [[ "${1:-}" == "--prepare" ]]; then
  # Pure-Python wheels only: they install on any CPython 3.
  python3 -m pip download --no-deps --only-binary=:all: -d .whl "${WHEELS[@]}" || exit 1
  ls -la .whl
  exit 0
fi

OUT_DIR="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
START=$(date +%s)
step() { echo "== [$(( $(date +%s) - START ))s] $*" | tee -a "$LOG"; }

# --- install: the repo on the path, plus wheels the machine lacks (spikingjelly, loguru) ---------------
PY=python3
step "python: $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())')"
if ! $PY -c "import spikingjelly" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      >>"$LOG" 2>&1 || { echo "wheel install failed; see $LOG"; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  else
    $PY -m pip install -q -e ".[dev]" >>"$LOG" 2>&1 || {
      echo "spikingjelly is missing and no network: run 'bash hub_scripts/gpu_check.sh --prepare' where pip works, then carry .whl/"
      exit 1; }
  fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the source tree itself: no build step needed
$PY -c "import snn_zoo, spikingjelly, cupy; print('snn_zoo', snn_zoo.__file__, 'cupy', cupy.__version__)" 2>&1 | tee -a "$LOG"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"

# --- 1. CUDA parity, eager and compiled ------------------------------------------------------------------
step "parity tests (tests/neurons)"
timeout 180 $PY -m pytest tests/neurons -q -x -p no:cacheprovider --ignore=tests/neurons/test_cuda_emulation.py \
  >"$OUT_DIR/parity.log" 2>&1
PARITY_RC=$?
PARITY=$(tail -n 1 "$OUT_DIR/parity.log")
echo "$PARITY" | tee -a "$LOG"

# --- 1b. CPU emulation of the CUDA source (g++) vs the device ----------------------------------------------
step "emulated CUDA (CPU, g++) vs device"
timeout 120 $PY -m pytest tests/neurons/test_cuda_emulation.py -q -p no:cacheprovider >"$OUT_DIR/emulation.log" 2>&1
EMU_RC=$?
EMU=$(tail -n 1 "$OUT_DIR/emulation.log")
echo "$EMU (test_emulation_matches_the_device: one per variant; skipped ones mean no g++ or no cupy)" | tee -a "$LOG"

# --- 2. neuron kernels ----------------------------------------------------------------------------------
step "benchmark_neurons"
rm -f "$OUT_DIR/neurons.md"
timeout 150 $PY hub_scripts/benchmark_neurons.py --neurons lif --dtypes fp16 bf16 --T 4 16 --shape 64 64 32 32 \
  --iters 20 --markdown "$OUT_DIR/neurons.md" >"$OUT_DIR/neurons.log" 2>&1
NEURONS_RC=$?

# --- 3. compiled training steps vs spikingjelly ------------------------------------------------------------
MODELS_RC=0
for model in sew_resnet18_cifar spikformer_4_384_cifar; do
  step "train step: $model"
  timeout 200 $PY hub_scripts/benchmark.py --model "$model" --device cuda --T 4 -b 64 --train --compare spikingjelly \
    --modes eager,eager+bf16,compile,compile+bf16,compile+cupy,compile+bf16+cupy --num-warm-iter 3 --num-bench-iter 8 \
    --results-file "$OUT_DIR/train_$model.csv" >"$OUT_DIR/train_$model.log" 2>&1 || MODELS_RC=1
done

# --- summary (printed last) -------------------------------------------------------------------------------
SUMMARY="$OUT_DIR/summary.md"
{
  echo "# gpu_check $(date -u +%Y-%m-%dT%H:%MZ), $(( $(date +%s) - START )) s"
  echo
  echo "parity (rc $PARITY_RC): $PARITY"
  echo "emulated CUDA vs device (rc $EMU_RC): $EMU"
  echo
  echo "## neuron kernels (rc $NEURONS_RC): fwd+bwd ms, median"
  grep -E "^\| (neuron|lif)" "$OUT_DIR/neurons.md" 2>/dev/null || tail -n 5 "$OUT_DIR/neurons.log"
  grep -E "^- LIF" "$OUT_DIR/neurons.md" 2>/dev/null
  echo
  echo "## training steps (rc $MODELS_RC)"
  for model in sew_resnet18_cifar spikformer_4_384_cifar; do
    grep -E "^$model|train: |error" "$OUT_DIR/train_$model.log" 2>/dev/null || tail -n 3 "$OUT_DIR/train_$model.log"
  done
} >"$SUMMARY"
cat "$SUMMARY"
[[ $PARITY_RC -eq 0 && $EMU_RC -eq 0 && $NEURONS_RC -eq 0 && $MODELS_RC -eq 0 ]]
