package io.spindle.config;

/**
 * Floating-point type of parameters, activations and gradients ({@code model.precision}).
 *
 * <p>{@code bf16} keeps float32 parameters, gradients and optimiser state (the master copy) and
 * computes the fast dense path's matrix products on bfloat16 operands (AMX-BF16 through oneDNN,
 * {@code docs/bf16.md}). Where that cannot run (no AMX, another backend, layers outside the fast
 * dense path) the run computes in float32 and says so once; {@link #storage()} is float32 either
 * way.
 */
public enum Precision implements ConfigEnum {
  FLOAT32,
  FLOAT64,
  BF16;

  /** The type parameters, gradients and optimiser state are stored in: float32 for bf16. */
  public Precision storage() {
    return this == BF16 ? FLOAT32 : this;
  }
}
