#!/usr/bin/env bash
# Every check that needs a GPU, in one run on a lent GPU machine (docs: README.md here).
#
#   facts         nvidia-smi, PyTorch's view of the GPU, the versions imported
#   tests         the suite's CUDA cases (-k "$DEVICE"): the engine on the GPU against the
#                 CPU, a Flower node's training on the GPU, and a real Flower simulation on
#                 the GPU against `edgealloc train` on the GPU, round by round
#   profile-*     `edgealloc profile` (issue 11, item 4): the training step against the
#                 batch size and the fit of Assumption 1 (the FEEL paper's Fig. 2(b)), for
#                 the CNN over 1..256 and 1..16384 and the MLP over 1..256
#   bench-flower  benchmarks/bench_flower.py --sizes 50 on the GPU (issue 13's 10x target)
#   bench-learn   benchmarks/bench_learn.py on the GPU (sequential loop against batched)
#   bench-flower-cpu  the same Flower benchmark on this machine's CPUs, for comparison
#
# Each step runs under `timeout` within BUDGET seconds in all (default 540: the device
# tool allows 600 per call) and is skipped when too little is left, most important first.
# Output: $OUT/log.txt (step headers and the tail of each step) and $OUT/results.tar.gz
# (every step's whole output and the profiles' files). With .whl/ present (prepare.sh),
# its wheels are installed into a scratch folder first.
#
# Environment: OUT (default ./device-out), DEVICE (default cuda), QUICK=1 (small variants,
# to try the script on a CPU: DEVICE=cpu QUICK=1 bash benchmarks/device/check.sh), BUDGET.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out="${OUT:-$root/device-out}"
device="${DEVICE:-cuda}"
quick="${QUICK:-0}"
budget="${BUDGET:-540}"
work=$(mktemp -d)
res="$work/results"
mkdir -p "$out" "$res"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg MPLCONFIGDIR="$work/mpl"
exec > >(tee -a "$out/log.txt") 2>&1
start=$SECONDS

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$work/site" .whl/*.whl || { echo "installing .whl/ failed"; exit 1; }
  export PYTHONPATH="$work/site:$root/src"
else
  export PYTHONPATH="$root/src"
fi
echo "== wheels installed after $((SECONDS - start)) s; device $device, quick $quick"

# step NAME NEED_S LIMIT_S COMMAND...: run COMMAND into $res/NAME.txt if NEED_S are left.
step() {
  local name=$1 need=$2 limit=$3
  shift 3
  local left=$((budget - (SECONDS - start)))
  if ((left < need)); then
    echo "== $name: skipped ($left s left, it needs about $need s)"
    return 0
  fi
  ((limit > left - 5)) && limit=$((left - 5))
  echo "== $name (at most $limit s): $*"
  local t0=$SECONDS
  timeout --signal=INT --kill-after=20 "$limit" "$@" >"$res/$name.txt" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  tail -n "${TAIL:-30}" "$res/$name.txt"
}

py=python3
cli=(python3 -m edgealloc)
if [ "$quick" = 1 ]; then
  narrow=(--batches 1..64 --points 6 --repeats 3 --warmup 1)
  wide=(--batches 1..1024 --points 6 --repeats 3 --warmup 1)
  flower=(--quick)
  learn=(--quick)
else
  narrow=(--batches 1..256)
  wide=(--batches 1..16384 --points 32)
  flower=(--sizes 50 --deadlines 0.1,1)
  learn=()
fi

step facts 10 60 bash -c 'nvidia-smi; python3 benchmarks/device/facts.py'
step tests 60 200 $py -m pytest -q -rs -p no:cacheprovider -k "$device" \
  tests/test_learn_engine.py tests/test_flower_aggregate.py tests/test_flower_engines.py
step profile-cnn 20 90 "${cli[@]}" profile --model cnn "${narrow[@]}" --device "$device" \
  -o "$res/profile-cnn"
step bench-flower 120 300 $py benchmarks/bench_flower.py "${flower[@]}" --device "$device" --plain
step bench-learn 60 200 $py benchmarks/bench_learn.py "${learn[@]}" --device "$device" --plain
step profile-cnn-wide 20 90 "${cli[@]}" profile --model cnn "${wide[@]}" --device "$device" \
  -o "$res/profile-cnn-wide"
step profile-mlp 20 60 "${cli[@]}" profile --model mlp "${narrow[@]}" --device "$device" \
  -o "$res/profile-mlp"
if [ "$device" != cpu ]; then
  step bench-flower-cpu 120 300 $py benchmarks/bench_flower.py "${flower[@]}" --device cpu --plain
fi

tar -czf "$out/results.tar.gz" -C "$work" results
echo "== done after $((SECONDS - start)) s: $out/log.txt, $out/results.tar.gz"
rm -rf "$work"
