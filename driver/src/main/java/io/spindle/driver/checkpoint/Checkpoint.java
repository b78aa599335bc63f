package io.spindle.driver.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** A checkpoint read back and verified by {@link CheckpointStore#read}. */
public final class Checkpoint {
  private final String path;
  private final JsonNode manifest;
  private final byte[] params;
  private final byte[] optimizerState;
  private final boolean float64;
  private final String configYaml;
  private final byte[] exchangeState;

  Checkpoint(
      String path,
      JsonNode manifest,
      byte[] params,
      byte[] optimizerState,
      boolean float64,
      String configYaml,
      byte[] exchangeState) {
    this.path = path;
    this.manifest = manifest;
    this.params = params;
    this.optimizerState = optimizerState;
    this.float64 = float64;
    this.configYaml = configYaml;
    this.exchangeState = exchangeState;
  }

  /**
   * The bytes of {@code compression.bin} (the lossy gradient exchange's state, verified against the
   * manifest), or null when the checkpoint has none.
   */
  public byte[] exchangeState() {
    return exchangeState == null ? null : exchangeState.clone();
  }

  public String path() {
    return path;
  }

  public JsonNode manifest() {
    return manifest;
  }

  public long globalStep() {
    return manifest.path("globalStep").asLong();
  }

  public int epoch() {
    return manifest.path("epoch").asInt();
  }

  public int stepInEpoch() {
    return manifest.path("stepInEpoch").asInt();
  }

  public int stepsPerEpoch() {
    return manifest.path("stepsPerEpoch").asInt();
  }

  public boolean epochEvaluated() {
    return manifest.path("epochEvaluated").asBoolean();
  }

  public long examplesSeen() {
    return manifest.path("examplesSeen").asLong();
  }

  public boolean float64() {
    return float64;
  }

  public String configYaml() {
    return configYaml;
  }

  public long numParams() {
    return params.length / (float64 ? 8 : 4);
  }

  public long optimizerStateLength() {
    return optimizerState.length / (float64 ? 8 : 4);
  }

  /** The parameters as a new flat array. */
  public INDArray params() {
    return array(params);
  }

  /** The optimiser state as a new flat array (empty for SGD). */
  public INDArray optimizerState() {
    return array(optimizerState);
  }

  private INDArray array(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (float64) {
      double[] out = new double[bytes.length / 8];
      b.asDoubleBuffer().get(out);
      return Nd4j.createFromArray(out);
    }
    float[] out = new float[bytes.length / 4];
    b.asFloatBuffer().get(out);
    return Nd4j.createFromArray(out);
  }
}
