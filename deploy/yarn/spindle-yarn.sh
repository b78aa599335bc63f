#!/usr/bin/env bash
# Submits a Spindle training run to YARN. This is the YARN recipe of deploy/README.md, and the
# script YarnSubmitIT runs (against in-process YARN and HDFS mini clusters), unchanged.
#
#   deploy/yarn/spindle-yarn.sh [--client] [spark-submit option ...] -- [spindle train argument ...]
#
# Cluster mode (the default) runs the driver in YARN's ApplicationMaster container; --client runs
# it in this process. Options before "--" are added to spark-submit (e.g. --conf key=value, --queue
# q); the arguments after it go to "spindle train" (--output hdfs:///runs/1, --set key=value, ...),
# after --set cluster.workers=SPINDLE_EXECUTORS.
#
# Environment (defaults in brackets):
#   SPARK_HOME            Spark 3.5 (Scala 2.12, Java 17) with bin/spark-submit and YARN support
#   HADOOP_CONF_DIR       the cluster's core-site.xml / yarn-site.xml (read by spark-submit)
#   SPINDLE_JAR           the application jar, deploy/target/spindle-deploy-*-app.jar
#   SPINDLE_CONFIG        a YAML config; shipped to the containers (spark.yarn.dist.files) and
#                         passed as --config [none: the defaults and --set only]
#   SPINDLE_EXECUTORS     executors, one training worker each (= cluster.workers) [2]
#   SPINDLE_CORES         cores per executor = spark.task.cpus = ND4J threads per worker [1]
#   SPINDLE_MEMORY        executor and driver JVM heap [1g]
#   SPINDLE_MAXBYTES      ND4J's off-heap array limit (JavaCPP maxbytes) [1G]
#   SPINDLE_MAXPHYSICAL   JavaCPP maxphysicalbytes: heap + off-heap of one JVM [2500M]
#   SPINDLE_OVERHEAD      container memory beyond the heap: at least MAXBYTES + 400m for ND4J's
#                         arrays and native libraries, checked by Spindle before it starts [1536m]
#   SPARK_YARN_JARS       spark.yarn.jars [local:$SPARK_HOME/jars/*: Spark installed at the same
#                         path on every node; else e.g. hdfs:///spark/jars/*]
# Exit code: spark-submit's. In cluster mode that is 0 when the application succeeded and 1 when
# it failed; YARN's diagnostics line then names Spindle's exit code ("spindle exit code 3 (bad
# data)"). In client mode it is Spindle's exit code itself (0-5, see deploy/README.md).
set -euo pipefail
mode=cluster
if [[ "${1:-}" == "--client" ]]; then
  mode=client
  shift
fi
submit_opts=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
  submit_opts+=("$1")
  shift
done
[[ "${1:-}" == "--" ]] && shift
train_args=("$@")

executors="${SPINDLE_EXECUTORS:-2}"
cores="${SPINDLE_CORES:-1}"
memory="${SPINDLE_MEMORY:-1g}"
java_opts="-Dorg.bytedeco.javacpp.maxbytes=${SPINDLE_MAXBYTES:-1G}"
java_opts+=" -Dorg.bytedeco.javacpp.maxphysicalbytes=${SPINDLE_MAXPHYSICAL:-2500M}"
overhead="${SPINDLE_OVERHEAD:-1536m}"

config_args=()
if [[ -n "${SPINDLE_CONFIG:-}" ]]; then
  # In cluster mode the driver runs in a container: the config travels with the application and
  # is read from the container's working directory.
  submit_opts+=(--conf "spark.yarn.dist.files=${SPINDLE_CONFIG}")
  if [[ $mode == cluster ]]; then
    config_args=(--config "$(basename "$SPINDLE_CONFIG")")
  else
    config_args=(--config "$SPINDLE_CONFIG")
  fi
fi

exec "${SPARK_HOME:?}/bin/spark-submit" \
  --master yarn --deploy-mode "$mode" \
  --name spindle \
  --class io.spindle.driver.cli.SpindleCli \
  --num-executors "$executors" --executor-cores "$cores" --executor-memory "$memory" \
  --driver-memory "$memory" \
  --conf spark.task.cpus="$cores" \
  --conf spark.executor.memoryOverhead="$overhead" \
  --conf spark.driver.memoryOverhead="$overhead" \
  --conf "spark.executor.extraJavaOptions=$java_opts" \
  --conf "spark.driver.extraJavaOptions=$java_opts" \
  --conf spark.executorEnv.OMP_NUM_THREADS="$cores" \
  --conf spark.yarn.appMasterEnv.OMP_NUM_THREADS="$cores" \
  --conf "spark.yarn.jars=${SPARK_YARN_JARS:-local:${SPARK_HOME}/jars/*}" \
  --conf spark.yarn.maxAppAttempts=1 \
  "${submit_opts[@]}" \
  "${SPINDLE_JAR:?}" train "${config_args[@]}" --set cluster.workers="$executors" "${train_args[@]}"
