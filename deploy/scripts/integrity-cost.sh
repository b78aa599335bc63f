#!/usr/bin/env bash
# Measures what Spindle's gzip integrity check costs (docs/integrity.md): decompression speed of
# the checked stream against the JDK's, and MNIST load times with every file verified vs. with the
# verdicts cached, with and without data.trainLimit. Also times the slot refusal of
# `cluster.workers: 4` on `local[2]` through ./spindle. Run from the repository root:
#   deploy/scripts/integrity-cost.sh
set -euo pipefail
# one reactor build, so the sibling modules resolve to their target/ folders (the classpath file
# is written per module; driver is built last)
mvn -q -B -ntp -o -DskipTests -Dspotless.check.skip=true -pl driver -am test-compile \
  dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
cp="driver/target/test-classes:driver/target/classes:$(cat driver/target/test-classpath.txt)"
opens=$(grep -o '<spindle.test.argLine>[^<]*' pom.xml | sed 's/<spindle.test.argLine>//; s/\${nd4j.native.variant}/-onednn/')
SPARK_LOCAL_IP=127.0.0.1 java $opens -Dspindle.shared.datasets="$PWD/../shared/datasets" \
  -cp "$cp" io.spindle.driver.data.IntegrityCostBench
./spindle --help > /dev/null   # build first, so the timing below excludes it
start=$(date +%s.%N)
set +e
./spindle train --set cluster.workers=4 --set cluster.master='local[2]' --output runs/slot-refusal
code=$?
set -e
end=$(date +%s.%N)
echo "slot refusal: exit $code after $(awk "BEGIN{printf \"%.2f\", $end-$start}") s (JVM start included)"
