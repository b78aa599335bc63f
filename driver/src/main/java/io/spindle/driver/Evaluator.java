package io.spindle.driver;

import io.spindle.data.MiniBatch;
import io.spindle.sync.Evaluation;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.PartitionTrainer;
import java.util.Collections;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/** Test-set accuracy and loss of the global model, computed on the executors. */
public final class Evaluator {
  private final JavaSparkContext sc;
  private final JavaRDD<MiniBatch> test;

  public Evaluator(JavaSparkContext sc, JavaRDD<MiniBatch> test) {
    this.sc = sc;
    this.test = test;
  }

  public Evaluation evaluate(GlobalModel model) {
    ModelSpec spec = model.spec();
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    try {
      return test.mapPartitions(
              it ->
                  Collections.singletonList(PartitionTrainer.evaluate(spec, params.value(), it))
                      .iterator())
          .reduce(Evaluation::merge);
    } finally {
      params.destroy();
    }
  }
}
