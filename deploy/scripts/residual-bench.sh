#!/usr/bin/env bash
# Residual networks and their input pipeline on this machine (issue 15; io.spindle.bench.ResidualBench):
# the graph model's training step (1 and 2 threads, FLOPs, projected epoch time), augmentation and
# JPEG decoding per core, and the pipeline's delivery with augmentation against the model's
# consumption.
#   deploy/scripts/residual-bench.sh --config deploy/examples/fashion-mnist-resnet.yaml [--steps 5] [--epochs 4]
# Builds bench/target (mvn package, no install) when it is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ ! -d "$root/bench/target/lib" ] || [ ! -d "$root/bench/target/classes/io/spindle/bench" ]; then
  (cd "$root" && mvn -q -B -ntp -DskipTests -Dspotless.check.skip=true -pl bench -am package) >&2
fi
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
exec java ${SPINDLE_JAVA_OPTS:--Xmx6g} \
  -Dorg.bytedeco.javacpp.maxbytes="${SPINDLE_OFFHEAP:-6G}" \
  -Dorg.bytedeco.javacpp.maxphysicalbytes="${SPINDLE_MAXPHYSICAL:-14G}" \
  --add-opens=java.base/java.lang=ALL-UNNAMED \
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
  --add-opens=java.base/java.io=ALL-UNNAMED \
  --add-opens=java.base/java.net=ALL-UNNAMED \
  --add-opens=java.base/java.nio=ALL-UNNAMED \
  --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.cs=ALL-UNNAMED \
  --add-opens=java.base/sun.security.action=ALL-UNNAMED \
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED \
  -Djdk.reflect.useDirectMethodHandle=false \
  -cp "$root/bench/target/lib/*:$root/bench/target/classes" io.spindle.bench.ResidualBench "$@"
