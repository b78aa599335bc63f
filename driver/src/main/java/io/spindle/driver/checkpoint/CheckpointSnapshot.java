package io.spindle.driver.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.compress.ExchangeState;
import io.spindle.config.OptimizerType;
import java.time.Instant;
import java.util.Map;

/**
 * What one checkpoint holds, copied off the live model on the driver (see {@link CheckpointStore}
 * for the layout).
 *
 * @param globalStep optimiser steps applied (= the iteration of the next step)
 * @param epoch 0-based epoch of the last step
 * @param stepInEpoch steps of {@code epoch} done
 * @param stepsPerEpoch global steps in a full epoch
 * @param epochEvaluated whether {@code epoch}'s test evaluation already ran
 * @param examplesSeen training examples seen so far
 * @param seed the config seed every random draw derives from
 * @param batchSize global batch
 * @param workers data-parallel workers (how each global batch is split)
 * @param sync the sync strategy's config name
 * @param optimizer the optimiser type (fixes the state layout)
 * @param params the flat parameters
 * @param optimizerState the whole flat optimiser state
 * @param doublePrecision whether arrays are float64 (else float32)
 * @param configYaml the effective config
 * @param exchangeState the collective engine's lossy gradient exchange state ({@code
 *     ExchangeState.toBytes()}: every worker's error-feedback residual, PowerSGD's factors), or
 *     empty when the run keeps none
 */
public record CheckpointSnapshot(
    long globalStep,
    int epoch,
    int stepInEpoch,
    int stepsPerEpoch,
    boolean epochEvaluated,
    long examplesSeen,
    long seed,
    int batchSize,
    int workers,
    String sync,
    OptimizerType optimizer,
    double[] params,
    double[] optimizerState,
    boolean doublePrecision,
    byte[] configYaml,
    byte[] exchangeState) {

  /** A snapshot of a run without exchange state. */
  public CheckpointSnapshot(
      long globalStep,
      int epoch,
      int stepInEpoch,
      int stepsPerEpoch,
      boolean epochEvaluated,
      long examplesSeen,
      long seed,
      int batchSize,
      int workers,
      String sync,
      OptimizerType optimizer,
      double[] params,
      double[] optimizerState,
      boolean doublePrecision,
      byte[] configYaml) {
    this(
        globalStep,
        epoch,
        stepInEpoch,
        stepsPerEpoch,
        epochEvaluated,
        examplesSeen,
        seed,
        batchSize,
        workers,
        sync,
        optimizer,
        params,
        optimizerState,
        doublePrecision,
        configYaml,
        new byte[0]);
  }

  public CheckpointSnapshot {
    exchangeState = exchangeState == null ? new byte[0] : exchangeState;
  }

  /** The manifest without its {@code files} section. */
  ObjectNode manifest(ObjectMapper json) {
    ObjectNode m = json.createObjectNode();
    m.put("format", CheckpointStore.FORMAT);
    m.put("formatVersion", CheckpointStore.FORMAT_VERSION);
    m.put("createdAt", Instant.now().toString());
    m.put("globalStep", globalStep);
    m.put("epoch", epoch);
    m.put("stepInEpoch", stepInEpoch);
    m.put("stepsPerEpoch", stepsPerEpoch);
    m.put("epochEvaluated", epochEvaluated);
    m.put("examplesSeen", examplesSeen);
    m.put("sync", sync);
    ObjectNode cursor = m.putObject("dataCursor");
    cursor.put("epoch", epoch);
    cursor.put("permutationSeed", seed * 0x9E3779B97F4A7C15L + epoch);
    cursor.put("permutation", "EpochPlan: SplittableRandom(permutationSeed) Fisher-Yates");
    cursor.put("nextStep", stepInEpoch);
    cursor.put("nextPosition", (long) stepInEpoch * batchSize);
    cursor.put("batchSize", batchSize);
    ObjectNode rng = m.putObject("rng");
    rng.put("seed", seed);
    rng.put("nextIteration", globalStep);
    rng.put("workers", workers);
    rng.put("initialisation", "ModelFactory.create(model, inputs, seed)");
    rng.put(
        "dropout",
        "StepKey(seed, iteration, example index in the global batch): masks and corruption");
    rng.put("mutableState", "none: every draw is derived from seed, epoch, iteration, example");
    ObjectNode opt = m.putObject("optimizer");
    opt.put("type", optimizer.configName());
    opt.put("iteration", globalStep);
    opt.put("stateLayout", layout(optimizer));
    opt.put("stateLength", optimizerState.length);
    if (exchangeState.length == 0) {
      m.put("compressionResiduals", "none: the run's gradient exchange keeps no state");
    } else {
      ExchangeState s = ExchangeState.fromBytes(exchangeState, "the snapshot");
      m.put(
          "compressionResiduals",
          CheckpointStore.COMPRESSION
              + ": "
              + s.scheme()
              + ", the error-feedback residual"
              + (s.workers().get(0).factors().length > 0 ? " and warm-start factors" : "")
              + " of each of "
              + s.workers().size()
              + " workers at exchange step "
              + s.workers().get(0).step());
    }
    ObjectNode prov = m.putObject("provenance");
    for (Map.Entry<String, String> e : Provenance.current().entrySet()) {
      prov.put(e.getKey(), e.getValue());
    }
    return m;
  }

  static String layout(OptimizerType type) {
    return switch (type) {
      case SGD -> "[] (stateless)";
      case MOMENTUM, NESTEROV -> "[v]";
      case ADAGRAD -> "[h]";
      case RMSPROP -> "[s]";
      case ADAM -> "[m | v]";
    };
  }
}
