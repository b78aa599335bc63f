#!/usr/bin/env bash
# GPU discovery script for Spark (spark.worker.resource.gpu.discoveryScript on standalone workers,
# spark.executor.resource.gpu.discoveryScript on YARN/Kubernetes executors): prints the GPUs
# nvidia-smi sees as {"name": "gpu", "addresses": ["0", "1", ...]}. Spindle binds each training
# task's ND4J work to the address Spark assigns it (worker: TaskDevice, common: Nd4jRuntime).
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-discovery.sh: nvidia-smi not found; is the NVIDIA driver installed?" >&2
  exit 1
fi
indexes="$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | paste -sd, -)"
if [ -z "$indexes" ]; then
  echo "gpu-discovery.sh: nvidia-smi lists no GPUs" >&2
  exit 1
fi
printf '{"name": "gpu", "addresses": [%s]}\n' "$(echo "$indexes" | sed 's/[^,][^,]*/"&"/g')"
