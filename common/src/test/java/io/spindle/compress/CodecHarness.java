package io.spindle.compress;

import java.util.List;

/**
 * N workers' codecs in one thread, with the collective operations done by plain sums in rank order:
 * what the ring computes (the ring's summation order differs per chunk, which changes float
 * rounding only).
 */
final class CodecHarness {
  private CodecHarness() {}

  /** One PowerSGD step of every worker; returns the decompressed sum gradient (full vector). */
  static float[] powerSgdStep(List<PowerSgdCodec> workers, List<float[]> gradients) {
    PowerSgdCodec c0 = workers.get(0);
    float[] firstSum = new float[c0.firstLength()];
    float[] secondSum = new float[c0.secondLength()];
    float[] buffer = new float[c0.firstLength()];
    for (int w = 0; w < workers.size(); w++) {
      workers.get(w).compress(gradients.get(w), 0, buffer);
      add(buffer, firstSum);
    }
    float[] second = new float[c0.secondLength()];
    for (PowerSgdCodec c : workers) {
      c.project(firstSum, second);
      add(second, secondSum);
    }
    float[] out = new float[c0.layout().length()];
    for (PowerSgdCodec c : workers) {
      float[] mine = new float[out.length];
      c.decompress(firstSum, secondSum, mine, 0, 0, out.length);
      out = mine; // identical on every worker (checked by the tests that care)
    }
    return out;
  }

  /** One top-k step of every worker; returns the summed pairs (full vector). */
  static float[] topKStep(List<TopKCodec> workers, List<float[]> gradients, int length) {
    int wire = workers.get(0).wireLength();
    float[] gathered = new float[wire * workers.size()];
    for (int w = 0; w < workers.size(); w++) {
      workers.get(w).compress(gradients.get(w), 0, gathered, w * wire);
    }
    float[] out = new float[length];
    for (int w = 0; w < workers.size(); w++) {
      TopKCodec.accumulate(gathered, w * wire, workers.get(w).k(), out, 0, 0, length);
    }
    return out;
  }

  static void add(float[] from, float[] into) {
    for (int i = 0; i < from.length; i++) {
      into[i] += from[i];
    }
  }
}
