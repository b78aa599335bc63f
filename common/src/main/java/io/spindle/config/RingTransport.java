package io.spindle.config;

/**
 * How the collective engine's ring neighbours reach each other ({@code cluster.ringTransport}).
 *
 * <ul>
 *   <li>{@code auto} (default): neighbours that run in the same JVM (workers that are threads of
 *       one executor, or of Spark's local mode) hand their values over in memory; the others over
 *       TCP. Results are bit-identical to TCP, and the ring counts the bytes TCP would send.
 *   <li>{@code tcp}: every neighbour over TCP, also inside one JVM.
 * </ul>
 *
 * See {@code docs/ring-transport.md}.
 */
public enum RingTransport implements ConfigEnum {
  AUTO,
  TCP
}
