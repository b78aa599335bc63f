package io.spindle.worker.collective;

import java.io.Serializable;

/**
 * Where one task of a collective round spent its time outside its steady steps: its launch (the
 * wall clock when its function started, for the driver to set against its submission), the network
 * replica ({@code NetworkPool}: borrowed, or built on the executor's first round), the committed
 * state (looked up in {@link StickyState} or fetched, and loaded into the network and optimiser),
 * the ring's set-up (listener, rendezvous, connections: after the replica and the state, so that
 * the rendezvous's wait for the slowest rank overlaps them), the first {@value #WARM_STEPS} steps
 * (where the JIT warms up, next to all steps), and the end (the state kept in the executor and the
 * result made), with the wall clock when the result was handed to Spark. The driver sets the two
 * wall clocks against its own (exact in local mode, as good as the clocks' agreement on a cluster).
 * A plain class: Spark's Kryo cannot rebuild records.
 */
public final class RoundTimeline implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The steps counted as the round's first ones. */
  public static final int WARM_STEPS = 10;

  final long startedAtMillis;
  final long setupNanos;
  final long networkNanos;
  final long stateNanos;
  final int firstSteps;
  final long firstStepsNanos;
  final int steps;
  final long stepsNanos;
  final long endNanos;
  final long endedAtMillis;

  RoundTimeline(
      long startedAtMillis,
      long setupNanos,
      long networkNanos,
      long stateNanos,
      int firstSteps,
      long firstStepsNanos,
      int steps,
      long stepsNanos,
      long endNanos,
      long endedAtMillis) {
    this.startedAtMillis = startedAtMillis;
    this.setupNanos = setupNanos;
    this.networkNanos = networkNanos;
    this.stateNanos = stateNanos;
    this.firstSteps = firstSteps;
    this.firstStepsNanos = firstStepsNanos;
    this.steps = steps;
    this.stepsNanos = stepsNanos;
    this.endNanos = endNanos;
    this.endedAtMillis = endedAtMillis;
  }

  /** Wall clock ({@code System.currentTimeMillis}) when the task's function started. */
  public long startedAtMillis() {
    return startedAtMillis;
  }

  /**
   * Ring set-up: listener bound, endpoints exchanged (waiting for the slowest rank to get there),
   * connections made and authenticated.
   */
  public long setupNanos() {
    return setupNanos;
  }

  /**
   * From the task's start to the start of the state's loading: the data cursor and progress
   * reporter opened, the network replica borrowed from the executor's pool (built when it had
   * none).
   */
  public long networkNanos() {
    return networkNanos;
  }

  /**
   * The committed state looked up (or fetched) and loaded into the network and optimiser, and, once
   * the ring is up, the exchange made and the step's arrays allocated.
   */
  public long stateNanos() {
    return stateNanos;
  }

  /** How many steps {@link #firstStepsNanos} covers: {@value #WARM_STEPS}, or fewer. */
  public int firstSteps() {
    return firstSteps;
  }

  /** The round's first {@link #firstSteps} steps. */
  public long firstStepsNanos() {
    return firstStepsNanos;
  }

  public int steps() {
    return steps;
  }

  /** All the round's steps, the first ones included. */
  public long stepsNanos() {
    return stepsNanos;
  }

  /** After the last step: the end state kept in the executor and the result made. */
  public long endNanos() {
    return endNanos;
  }

  /** Wall clock when the result was handed to Spark. */
  public long endedAtMillis() {
    return endedAtMillis;
  }

  /**
   * How much longer the first steps took than as many steps at the rate of the round's later ones
   * (JIT warm-up, cold caches); 0 when the round had no later steps.
   */
  public long warmupNanos() {
    int later = steps - firstSteps;
    if (later <= 0) {
      return 0;
    }
    double perStep = (double) (stepsNanos - firstStepsNanos) / later;
    return Math.max(0, firstStepsNanos - Math.round(perStep * firstSteps));
  }
}
