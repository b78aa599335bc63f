package io.spindle.driver;

/** The loss or the parameters became NaN or infinite; the run stops. */
public class TrainingDivergedException extends RuntimeException {
  public TrainingDivergedException(String message) {
    super(message);
  }
}
