#!/usr/bin/env bash
# ResNet-20 training throughput on CIFAR-shaped generated input (3x32x32), 2 workers (issue 15's
# closing note): writes generated files in the CIFAR-10 binary layout (2,000 records per file:
# 10,000 training and 2,000 test images), then runs deploy/examples/cifar10-resnet20.yaml as
# shipped (batch 128, collective, ZeRO-1) for STEPS global steps and prints the step records'
# samples/s and the summary's. Take the median of the step records after the first few (warm-up).
#   deploy/scripts/resnet20-throughput.sh [STEPS] [OUTPUT]     (defaults: 60, runs/resnet20-throughput)
# On a shared machine: HEAVY_EXCLUSIVE=1 /work/bin/heavy deploy/scripts/resnet20-throughput.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
steps="${1:-60}"
out="${2:-$root/runs/resnet20-throughput}"
data="$out/cifar-10-batches-bin"
"$root/spindle" train --help > /dev/null 2>&1 || true # builds deploy/target/lib when needed
if [ ! -f "$data/test_batch.bin" ]; then
  java -cp "$root/deploy/target/lib/*" io.spindle.data.CifarGenerator "$data" 2000 1
fi
rm -rf "$out/run"
echo "load before: $(uptime)"
"$root/spindle" train --config "$root/deploy/examples/cifar10-resnet20.yaml" \
  --set "data.path=file://$data" --set "training.maxSteps=$steps" --set training.logEvery=5 \
  --output "$out/run"
echo "load after: $(uptime)"
grep '"type":"step"' "$out/run/metrics.jsonl" | sed 's/.*"global_step":\([0-9]*\).*"samples_per_second":\([0-9.]*\).*/step \1: \2 samples\/s/'
grep -o '"samples_per_second" *: *[0-9.]*\|"end_to_end_samples_per_second" *: *[0-9.]*' "$out/run/summary.json"
