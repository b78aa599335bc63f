"""Airflow DAG: train with Spindle via spark-submit (BashOperator), then check the run.

Spindle's exit codes decide what Airflow does:
  0 success        -> "train" succeeds; "check" reads summary.json (written last, atomically)
  2 bad config     -> permanent: "train" exits 99 (Airflow marks it skipped, no retry) and
  3 bad data          "check" fails the DAG run with AirflowFailException, naming the code
  4 diverged
  5 Spark failure  -> transient: "train" fails and Airflow retries it (the cluster may be back)
  1 internal error -> "train" fails and is retried; if it keeps failing, read the log
Every try writes its own output directory, so a retry never meets a half-written one.
"""
import json
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator

RUNS = "/data/spindle/runs"

SPARK_SUBMIT = """
set -uo pipefail
out=%(runs)s/{{ ds_nodash }}-try{{ ti.try_number }}
/opt/spark/bin/spark-submit \\
  --master spark://spark-master:7077 --deploy-mode client \\
  --class io.spindle.driver.cli.SpindleCli \\
  --driver-memory 4g \\
  --driver-java-options "-Dorg.bytedeco.javacpp.maxbytes=3G -Dorg.bytedeco.javacpp.maxphysicalbytes=8G" \\
  --conf spark.executor.memory=4g --conf spark.executor.cores=2 --conf spark.task.cpus=2 \\
  --conf spark.executor.memoryOverhead=4g \\
  --conf "spark.executor.extraJavaOptions=-Dorg.bytedeco.javacpp.maxbytes=3G -Dorg.bytedeco.javacpp.maxphysicalbytes=8G" \\
  /opt/spindle/spindle-deploy-0.1.0-SNAPSHOT-app.jar \\
  train --config /opt/spindle/mnist.yaml --output "$out"
code=$?
echo "spindle exit code $code"
mkdir -p %(runs)s && echo "$code $out" > %(runs)s/{{ ds_nodash }}.last
case $code in
  2|3|4) exit 99 ;;   # permanent: skip (no retry); the check task fails the run
  *) exit $code ;;    # 0 ok; 1 and 5 fail the task and Airflow retries it
esac
""" % {"runs": RUNS}

MEANING = {2: "bad config or command line", 3: "bad or unreachable data", 4: "training diverged"}


def check_run(ds_nodash, **_):
    with open(os.path.join(RUNS, ds_nodash + ".last")) as f:
        code, out = f.read().split()
    code = int(code)
    if code != 0:
        raise AirflowFailException(f"spindle exit {code} ({MEANING.get(code, 'failed')}), see {out}")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    print("test accuracy", summary["test_accuracy"], "in", summary["wall_seconds"], "s")


with DAG(
    dag_id="spindle_train",
    start_date=datetime(2026, 1, 1),
    schedule="15 2 * * *",
    catchup=False,
) as dag:
    train = BashOperator(
        task_id="train",
        bash_command=SPARK_SUBMIT,
        skip_on_exit_code=99,
        retries=2,
        retry_delay=timedelta(minutes=10),
        execution_timeout=timedelta(hours=6),
    )
    check = PythonOperator(
        task_id="check", python_callable=check_run, trigger_rule="all_done", retries=0
    )
    train >> check
