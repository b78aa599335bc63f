#!/usr/bin/env bash
# Fake GPU discovery for tests on machines without GPUs: reports the addresses in
# SPINDLE_FAKE_GPUS (comma-separated, default "0") in the format Spark expects from
# spark.worker.resource.gpu.discoveryScript. The real script is deploy/gpu-discovery.sh.
set -euo pipefail
addresses="${SPINDLE_FAKE_GPUS:-0}"
printf '{"name": "gpu", "addresses": [%s]}\n' "$(echo "$addresses" | sed 's/[^,][^,]*/"&"/g')"
