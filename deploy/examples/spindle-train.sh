#!/usr/bin/env bash
# Runs one Spindle training with spark-submit and turns its exit code into a scheduler decision.
# Used by the cron entry and the Airflow DAG in this folder. Settings come from the environment:
#   SPARK_HOME         Spark 3.5 (Scala 2.12) installation with bin/spark-submit
#   SPARK_MASTER       e.g. spark://master:7077, yarn, k8s://https://api:6443
#   SPINDLE_JAR        the application jar (deploy/target/spindle-deploy-*-app.jar)
#   SPINDLE_CONFIG     the run's YAML config
#   SPINDLE_RUNS       folder of runs; each run gets its own dated output directory
# Exit codes (Spindle's): 0 ok, 1 internal error, 2 bad config/command line, 3 bad data,
# 4 training diverged, 5 Spark/cluster failure. Only 5 is worth retrying automatically.
set -uo pipefail
run_dir="${SPINDLE_RUNS:?}/$(date -u +%Y%m%d-%H%M%S)"
"${SPARK_HOME:?}/bin/spark-submit" \
  --master "${SPARK_MASTER:?}" --deploy-mode client \
  --class io.spindle.driver.cli.SpindleCli \
  --driver-memory 4g --driver-java-options "-Dorg.bytedeco.javacpp.maxbytes=3G -Dorg.bytedeco.javacpp.maxphysicalbytes=8G" \
  --conf spark.executor.memory=4g \
  --conf spark.executor.cores=2 --conf spark.task.cpus=2 \
  --conf spark.executor.memoryOverhead=4g \
  --conf "spark.executor.extraJavaOptions=-Dorg.bytedeco.javacpp.maxbytes=3G -Dorg.bytedeco.javacpp.maxphysicalbytes=8G" \
  --conf spark.executorEnv.OMP_NUM_THREADS=2 \
  "${SPINDLE_JAR:?}" train --config "${SPINDLE_CONFIG:?}" --output "$run_dir"
code=$?
case $code in
  0) echo "spindle: run finished, summary in $run_dir/summary.json" ;;
  2) echo "spindle: bad config or command line; fix $SPINDLE_CONFIG (not retried)" >&2 ;;
  3) echo "spindle: bad or unreachable data (not retried)" >&2 ;;
  4) echo "spindle: training diverged; lower optimizer.learningRate (not retried)" >&2 ;;
  5) echo "spindle: Spark/cluster failure (retry later)" >&2 ;;
  *) echo "spindle: internal error $code (see the log)" >&2 ;;
esac
exit $code
