package io.spindle.config;

/**
 * How the collective engine's workers exchange gradients each step ({@code cluster.compression}).
 * Every lossy choice keeps an error-feedback residual per worker: what a step did not send is added
 * to the next step's gradient, so nothing is lost, only delayed (see {@code docs/network.md}).
 */
public enum Compression implements ConfigEnum {
  /** Exact: a ring all-reduce (or reduce-scatter, ZeRO-1) of fp32 gradients. */
  NONE(false),
  /** The same ring in bfloat16, half the bytes; every rounding is kept as error feedback. */
  BF16(true),
  /**
   * PowerSGD (Vogels et al. 2019): each weight matrix as rank-{@code powersgdRank} factors,
   * warm-started, two all-reduces of the factors per step.
   */
  POWERSGD(true),
  /**
   * Top-k sparsification (Stich et al. 2018): the {@code topkFraction} largest entries per worker
   * as (index, value) pairs, one all-gather per step.
   */
  TOPK(true);

  private final boolean lossy;

  Compression(boolean lossy) {
    this.lossy = lossy;
  }

  /** Whether it approximates the gradient (and so keeps error-feedback state). */
  public boolean lossy() {
    return lossy;
  }

  /** How the ring encodes values for this scheme: bf16 for BF16, else fp32. */
  public WireFormat wire() {
    return this == BF16 ? WireFormat.BF16 : WireFormat.FP32;
  }
}
