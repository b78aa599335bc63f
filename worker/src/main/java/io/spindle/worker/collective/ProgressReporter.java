package io.spindle.worker.collective;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import javax.crypto.Mac;

/**
 * A task's side of the progress channel: the training thread hands a {@link ProgressFrame} to a
 * bounded queue every {@code logEvery} steps (a few hundred nanoseconds, never a socket write); a
 * daemon thread sends the frames to the driver's {@link ProgressService}. Progress is best effort:
 * if the driver cannot be reached or the queue is full, frames are dropped (the oldest first) and
 * counted, and training goes on; the round's result, committed at its end, stays the exact record.
 */
public final class ProgressReporter implements AutoCloseable {
  private static final ProgressFrame END = new ProgressFrame(-1, -1, -1, -1, -1, -1, -1, -1, 0, -1);
  private final ProgressTarget target;
  private final int attempt;
  private final int rank;
  private final int size;
  private final int timeoutMillis;
  private final BlockingQueue<ProgressFrame> queue = new ArrayBlockingQueue<>(256);
  private final Thread sender;
  private final long startNanos = System.nanoTime();
  private volatile long dropped;
  private volatile long senderCpuNanos;
  private long reportNanos;

  private ProgressReporter(
      ProgressTarget target, int attempt, int rank, int size, int timeoutMillis) {
    this.target = target;
    this.attempt = attempt;
    this.rank = rank;
    this.size = size;
    this.timeoutMillis = timeoutMillis;
    this.sender = new Thread(this::send, "spindle-progress-" + rank);
    this.sender.setDaemon(true);
    this.sender.start();
  }

  /** A reporter to {@code target}, or null when there is none (progress off). */
  static ProgressReporter start(
      ProgressTarget target, int attempt, int rank, int size, int timeoutMillis) {
    return target == null ? null : new ProgressReporter(target, attempt, rank, size, timeoutMillis);
  }

  /**
   * Called by the training thread after each step with this rank's counters since the round began;
   * queues a frame when the step is one to report.
   */
  void step(
      long iteration,
      boolean lastOfRound,
      int stepInEpoch,
      long examples,
      long correct,
      double lossSum) {
    if (!target.reports(iteration, lastOfRound)) {
      return;
    }
    long t0 = System.nanoTime();
    ProgressFrame f =
        new ProgressFrame(
            target.round(),
            attempt,
            rank,
            size,
            iteration,
            stepInEpoch,
            examples,
            correct,
            lossSum,
            t0 - startNanos);
    while (!queue.offer(f)) {
      if (queue.poll() != null) {
        dropped++;
      }
    }
    reportNanos += System.nanoTime() - t0;
  }

  /** Nanoseconds the training thread spent reporting (queueing frames). */
  long reportNanos() {
    return reportNanos;
  }

  /**
   * CPU nanoseconds the sender thread has spent since it connected (signing and writing frames), as
   * of its last frame sent; 0 where the JVM does not measure thread CPU time.
   */
  long senderCpuNanos() {
    return senderCpuNanos;
  }

  /** Frames dropped (queue full, or the driver unreachable). */
  long dropped() {
    return dropped;
  }

  private void send() {
    Mac mac = ProgressFrame.mac(target.secret());
    int colon = target.endpoint().lastIndexOf(':');
    InetSocketAddress address =
        new InetSocketAddress(
            target.endpoint().substring(0, colon),
            Integer.parseInt(target.endpoint().substring(colon + 1)));
    try (Socket s = new Socket()) {
      s.connect(address, timeoutMillis);
      s.setTcpNoDelay(true);
      DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      boolean cpu = threads.isCurrentThreadCpuTimeSupported();
      long cpuStart = cpu ? threads.getCurrentThreadCpuTime() : 0;
      while (true) {
        ProgressFrame f = queue.take();
        if (f == END) {
          return;
        }
        f.write(out, mac);
        if (cpu) {
          senderCpuNanos = threads.getCurrentThreadCpuTime() - cpuStart;
        }
      }
    } catch (IOException e) {
      dropQueued();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void dropQueued() {
    // the driver is gone or refused: count what is left and stop taking frames
    long n = 0;
    ProgressFrame f;
    while ((f = queue.poll()) != null) {
      if (f != END) {
        n++;
      }
    }
    dropped += n + 1;
  }

  /**
   * Sends what is queued (waiting at most a second, so that the round's last frame reaches the
   * driver before the task returns its result) and stops the sender.
   */
  @Override
  public void close() {
    while (!queue.offer(END)) {
      queue.poll();
    }
    try {
      sender.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (sender.isAlive()) {
      sender.interrupt();
    }
  }
}
