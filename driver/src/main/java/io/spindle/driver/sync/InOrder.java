package io.spindle.driver.sync;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.BinaryOperator;
import org.apache.spark.api.java.JavaRDD;
import scala.reflect.ClassTag;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * Merges the one result of each partition on the driver in partition order: {@code ((r0 + r1) + r2)
 * + ...}. Spark's {@code reduce} merges in the order the tasks finish, so a float sum over three or
 * more partitions would depend on scheduling (and on how many executors ran them); in partition
 * (logical shard) order it does not. A result that arrives ahead of its turn waits; the others are
 * merged at once.
 */
final class InOrder {
  private InOrder() {}

  /** The merge of {@code results}' one element per partition, in partition order. */
  static <T> T reduce(JavaRDD<T> results, BinaryOperator<T> merge) {
    Merger<T> merger = new Merger<>(merge);
    ClassTag<T> tag = scala.reflect.ClassTag$.MODULE$.apply(Object.class);
    results.context().runJob(results.rdd(), new Only<T>(), merger, tag);
    return merger.result(results.getNumPartitions());
  }

  /** A partition's only element. */
  private static final class Only<T> extends AbstractFunction1<scala.collection.Iterator<T>, T>
      implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public T apply(scala.collection.Iterator<T> it) {
      if (!it.hasNext()) {
        throw new NoSuchElementException("a partition without its result");
      }
      T only = it.next();
      if (it.hasNext()) {
        throw new IllegalStateException("a partition with more than one result");
      }
      return only;
    }
  }

  /** Spark's result handler: merges results as soon as all before them have arrived. */
  private static final class Merger<T> extends AbstractFunction2<Object, T, BoxedUnit> {
    private final BinaryOperator<T> merge;
    private final Map<Integer, T> ahead = new HashMap<>();
    private T total;
    private int next;

    Merger(BinaryOperator<T> merge) {
      this.merge = merge;
    }

    @Override
    public synchronized BoxedUnit apply(Object index, T result) {
      ahead.put((Integer) index, result);
      for (T r = ahead.remove(next); r != null; r = ahead.remove(next)) {
        total = total == null ? r : merge.apply(total, r);
        next++;
      }
      return BoxedUnit.UNIT;
    }

    synchronized T result(int partitions) {
      if (next != partitions || total == null) {
        throw new IllegalStateException(
            "merged " + next + " of " + partitions + " partition results");
      }
      return total;
    }
  }
}
