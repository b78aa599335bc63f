package io.spindle.worker;

import io.spindle.runtime.Nd4jRuntime;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * The network replicas of this executor JVM. Each replica is built once and reused across steps and
 * epochs; concurrent tasks of one executor each borrow their own replica, so nothing is shared
 * between threads while it is in use. Every task's ND4J work starts here, so this is also where the
 * task's thread is bound to the GPU Spark assigned it ({@link TaskDevice}).
 */
public final class NetworkPool {
  private static final Map<ModelSpec, Queue<TrainableNetwork>> POOLS = new ConcurrentHashMap<>();

  private NetworkPool() {}

  /** Runs {@code work} with a replica of {@code spec}'s network, returning it to the pool after. */
  public static <T> T withNetwork(ModelSpec spec, Function<TrainableNetwork, T> work) {
    Nd4jRuntime.configureThreads(spec.threads());
    TaskDevice.bind();
    Queue<TrainableNetwork> pool = POOLS.computeIfAbsent(spec, s -> new ConcurrentLinkedQueue<>());
    TrainableNetwork net = pool.poll();
    if (net == null) {
      net = spec.newNetwork();
    }
    try {
      return work.apply(net);
    } finally {
      pool.offer(net);
    }
  }
}
