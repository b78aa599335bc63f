package io.spindle.worker.collective;

import io.spindle.config.CompressionSpec;
import io.spindle.config.RingTransport;
import io.spindle.data.BatchLayout;
import io.spindle.data.ShardAssignment;
import io.spindle.worker.ModelSpec;
import java.io.Serializable;

/**
 * What every task of one collective round needs, shipped in the task closure.
 *
 * @param model the network and optimiser
 * @param compression how gradients travel each step (see {@link GradientExchange})
 * @param sharded ZeRO-1: each peer owns 1/N of the parameters and their optimiser state
 * @param layout how each step's global batch is split over the workers (each step's size, and where
 *     a worker's share starts in it)
 * @param round a unique id of this round (its first global iteration); peers must agree on it
 * @param secret the round's shared secret, proven between peers, never sent between them
 * @param timeoutMillis connect and read timeout between peers
 * @param rendezvous host:port of the driver's {@link Rendezvous} service, or null to find peers
 *     with {@code BarrierTaskContext.allGather} (which costs at least a second per round)
 * @param shards which logical shards each rank of the round trains on (its task's partition holds
 *     their batches, step by step in shard order); {@code shards.workers()} is the ring's size
 * @param ringTransport how ring neighbours in the same JVM exchange values ({@code
 *     cluster.ringTransport}; null: {@code auto})
 */
public record CollectiveSpec(
    ModelSpec model,
    CompressionSpec compression,
    boolean sharded,
    BatchLayout layout,
    long round,
    byte[] secret,
    int timeoutMillis,
    String rendezvous,
    ShardAssignment shards,
    RingTransport ringTransport)
    implements Serializable {

  public CollectiveSpec {
    ringTransport = ringTransport == null ? RingTransport.AUTO : ringTransport;
  }

  /**
   * A fingerprint of the model peers must share (its config and parameter count). Built from the
   * config's text, not its {@code hashCode()}: enum hash codes differ between JVMs, so executors of
   * a real cluster would disagree.
   */
  public long modelVersion(long numParams) {
    return model.toString().hashCode() * 31L + numParams;
  }
}
