package io.spindle.model.fast;

import io.spindle.runtime.Nd4jRuntime;

/** Prints this JVM's bf16 verdict ({@link Bf16Products#unavailable}), for a test in a fresh JVM. */
public final class Bf16Verdict {
  private Bf16Verdict() {}

  public static void main(String[] args) {
    Nd4jRuntime.selectNativeBuild();
    Nd4jRuntime.configureThreads(1);
    String why = Bf16Products.unavailable();
    System.out.println("verdict: " + (why == null ? "bf16" : why));
  }
}
