#!/usr/bin/env bash
# Training vs batch-scoring throughput of the same model on the same machine (issue 17).
#
# Trains the default MLP (784-800-800-10) on MNIST with `spindle train` (EPOCHS epochs, default
# 2; pass RUN=DIR to reuse an earlier run instead) and takes training samples/s from its
# summary.json (`samples_per_second`: training rounds only, as `spindle train` reports it).
# Then runs `spindle predict` (one fresh process each, as a scheduler runs it) on
#   - the MNIST test set (10,000 images), and
#   - the MNIST training images (60,000), where the JVM's and Spark SQL's warm-up weigh less,
# and takes examples/s as predict prints it: the whole scoring job (read and decode the IDX file
# on the executors, forward passes, write Parquet atomically); JVM and Spark start-up, the model
# load and the input check before the job are not in it (the process's wall time, and the rate over
# it, are printed beside). The launcher's AppCDS archive for predict is made by its first run: when
# it is missing or older than the build, one untimed run makes it first (SPINDLE_CDS=0: none).
# With REPEAT=N (default 10) it also scores a generated IDX pair, the 60,000 training images
# repeated N times (uncompressed, in OUT_DIR; REPEAT=0 skips it), where the fixed cost of a fresh
# JVM (class loading, Spark SQL planning and code generation, Parquet writer set-up: ~4-5 s) is
# spread over more examples. Prints the figures, their ratios and the load. Run from the
# repository root:
#   SPINDLE_DATA_MIRROR=../shared/datasets HEAVY_EXCLUSIVE=1 /work/bin/heavy \
#     deploy/scripts/predict-throughput.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/runs/predict-throughput-$(date +%Y%m%d-%H%M%S)}"
mirror="${SPINDLE_DATA_MIRROR:-$root/../shared/datasets}"
epochs="${EPOCHS:-}"
repeat="${REPEAT:-10}"
mkdir -p "$out"
echo "load before: $(uptime)"
run="${RUN:-}"
if [ -z "$run" ]; then
  run="$out/run"
  # the default run (8 epochs) unless EPOCHS is given
  "$root/spindle" train --output "$run" ${epochs:+--set training.epochs="$epochs"} \
    --set data.mirror="$mirror" | tee "$out/train.log"
fi
train=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['samples_per_second'])" \
  "$run/summary.json")
score() { # name input
  local t0 t1
  t0=$(date +%s.%N)
  "$root/spindle" predict --model "$run" --input "$2" --output "$out/$1.parquet" --overwrite \
    | tee "$out/predict-$1.log"
  t1=$(date +%s.%N)
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$t1" \
    > "$out/predict-$1.wall"
}
"$root/spindle" --help > /dev/null # builds first if the sources changed (not in a timed run)
jsa="$root/.spindle-cache/cds/predict.jsa"
if [ "${SPINDLE_CDS:-1}" = 1 ] && [ ! "$jsa" -nt "$root/deploy/target/lib/.built" ]; then
  # as a scheduled job runs after its first night: the launcher's archive for predict exists
  echo "priming the launcher's AppCDS archive for predict (one untimed run)"
  score prime "$mirror/mnist/t10k-images-idx3-ubyte.gz" > /dev/null
  rm -rf "$out/prime.parquet"
fi
score test "$mirror/mnist/t10k-images-idx3-ubyte.gz"
score train "$mirror/mnist/train-images-idx3-ubyte.gz"
if [ "$repeat" -gt 0 ]; then
  mkdir -p "$out/large"
  python3 - "$mirror/mnist" "$out/large" "$repeat" <<'PY'
import gzip, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for kind, header in (("images-idx3-ubyte", 16), ("labels-idx1-ubyte", 8)):
    data = gzip.open(f"{src}/train-{kind}.gz").read()
    head = bytearray(data[:header])
    struct.pack_into(">I", head, 4, struct.unpack_from(">I", head, 4)[0] * n)
    with open(f"{dst}/large-{kind}", "wb") as f:
        f.write(head)
        for _ in range(n):
            f.write(data[header:])
PY
  score large "$out/large/large-images-idx3-ubyte"
  rm -rf "$out/large" "$out/large.parquet"
fi
python3 - "$train" "$out" <<'PY'
import re, sys
t, out = float(sys.argv[1]), sys.argv[2]
print(f"training {t:,.0f} samples/s (summary.json samples_per_second)")
import os
for name, n in (("test", "10,000 test images"), ("train", "60,000 training images"),
                ("large", "the training images repeated (generated IDX)")):
    if not os.path.exists(f"{out}/predict-{name}.log"):
        continue
    log = open(f"{out}/predict-{name}.log").read()
    m = re.search(r"scored (\d+) examples in ([0-9.]+) s \(([0-9.]+) examples/s\)", log)
    n = f"{int(m.group(1)):,} {n.split(' ', 1)[1]}" if name == "large" else n
    wall = open(f"{out}/predict-{name}.wall").read().strip()
    p = float(m.group(3))
    e = int(m.group(1)) / float(wall)
    print(f"predict {n}: {p:,.0f} examples/s over the scoring job ({m.group(2)} s;"
          f" process wall {wall} s); ratio {p / t:.2f}x (target >= 5x); over the process's"
          f" wall time (JVM start to exit) {e:,.0f} examples/s, {e / t:.2f}x")
PY
echo "load after: $(uptime)"
