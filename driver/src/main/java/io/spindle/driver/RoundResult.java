package io.spindle.driver;

/**
 * What one round of a sync strategy did: global steps applied, training examples seen, how many of
 * them the model classified correctly (before their update), their mean loss, and the seconds the
 * round took.
 */
public record RoundResult(int steps, long examples, long correct, double meanLoss, double seconds) {
  public double accuracy() {
    return examples == 0 ? Double.NaN : (double) correct / examples;
  }
}
