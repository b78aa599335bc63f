#!/usr/bin/env bash
# Measures checkpoint size and write time, resume time, and the time lost to a driver kill, on the
# default MLP for one epoch of MNIST: trains with a checkpoint every 50 steps, kills the driver
# (SIGKILL) right after the step-180 progress line, resumes with --resume and prints the figures.
#   deploy/scripts/checkpoint-recovery.sh [OUTPUT_DIR]     (run from the repository root)
set -u
out="${1:-runs/checkpoint-recovery}"
rm -rf "$out" "$out.first.log" "$out.resumed.log"
args=(--output "$out" --set training.epochs=1 --set checkpoint.everySteps=50)
./spindle --help > /dev/null   # build first, so the timings below exclude it
./spindle train "${args[@]}" > "$out.first.log" 2>&1 &
pid=$!
until grep -q "(global 180)" "$out.first.log" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "training ended early"; cat "$out.first.log"; exit 1; }
  sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
echo "killed after global step 180; checkpoints left:"
du -sb "$out"/checkpoints/step-*
start=$(date +%s.%N)
./spindle train "${args[@]}" --resume > "$out.resumed.log" 2>&1
code=$?
end=$(date +%s.%N)
echo "resumed run: exit $code, $(awk "BEGIN{printf \"%.1f\", $end-$start}") s in all"
grep -h "checkpoint step\|resuming from\|(global 1[5-8]0)\|done" "$out.first.log" "$out.resumed.log"
grep -h '"global_step":151' "$out/metrics.jsonl"
grep -h '"wall_seconds"\|"checkpoint' "$out/summary.json"
