#!/usr/bin/env bash
# Training vs batch-scoring throughput of the same model on the same machine (issue 17).
# Trains the default MLP on MNIST (EPOCHS epochs, default 2; training samples/s from
# summary.json: training rounds only, no shuffles or evaluation), then scores the 60,000 MNIST
# training images with `spindle predict` (examples/s over the scoring job: read, decode,
# forward, write Parquet; Spark start-up and the model load excluded) and prints both figures
# and their ratio. Run from the repository root:
#   SPINDLE_DATA_MIRROR=../shared/datasets deploy/scripts/predict-throughput.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/runs/predict-throughput-$(date +%Y%m%d-%H%M%S)}"
mirror="${SPINDLE_DATA_MIRROR:-$root/../shared/datasets}"
epochs="${EPOCHS:-2}"
mkdir -p "$out"
"$root/spindle" train --output "$out/run" --set training.epochs="$epochs" --set data.mirror="$mirror" \
  | tee "$out/train.log"
"$root/spindle" predict --model "$out/run" --input "$mirror/mnist/train-images-idx3-ubyte.gz" \
  --output "$out/scores.parquet" | tee "$out/predict.log"
train=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['samples_per_second'])" "$out/run/summary.json")
predict=$(sed -n 's/.*(\([0-9.]*\) examples\/s).*/\1/p' "$out/predict.log" | tail -1)
python3 - "$train" "$predict" <<'PY'
import sys
t, p = float(sys.argv[1]), float(sys.argv[2])
print(f"training {t:,.0f} samples/s; predict {p:,.0f} examples/s; ratio {p / t:.2f}x (target >= 5x)")
PY
echo "load: $(uptime)"
