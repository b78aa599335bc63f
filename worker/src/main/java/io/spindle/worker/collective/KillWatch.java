package io.spindle.worker.collective;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Closes a task's sockets as soon as Spark marks the task killed.
 *
 * <p>When one task of a barrier stage fails (its executor died, say), Spark kills the stage's other
 * tasks without interrupting their threads: it only sets the kill flag of their {@code
 * TaskContext}. A task blocked in a socket read, an accept or the rendezvous would not notice until
 * its peer timeout (two minutes by default), and the stage's relaunch waits for it. This watch
 * polls the flag and closes every registered socket, so the blocked call fails at once and the task
 * ends.
 */
final class KillWatch implements AutoCloseable {
  private final BooleanSupplier killed;
  private final List<Closeable> guarded = new ArrayList<>();
  private final Thread thread;
  private volatile boolean fired;
  private volatile boolean stopped;

  /**
   * @param killed whether the task has been killed (e.g. {@code TaskContext::isInterrupted})
   * @param pollMillis how often to ask
   */
  KillWatch(BooleanSupplier killed, long pollMillis, String name) {
    this.killed = killed;
    this.thread =
        new Thread(
            () -> {
              while (!stopped) {
                if (killed.getAsBoolean()) {
                  fire();
                  return;
                }
                try {
                  Thread.sleep(pollMillis);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Registers {@code c} to be closed if the task is killed (at once if it already was). */
  void guard(Closeable c) {
    boolean now;
    synchronized (guarded) {
      guarded.add(c);
      now = fired;
    }
    if (now) {
      closeQuietly(c);
    }
  }

  /** Whether the task was killed and the guarded sockets closed. */
  boolean fired() {
    return fired;
  }

  private void fire() {
    List<Closeable> toClose;
    synchronized (guarded) {
      fired = true;
      toClose = List.copyOf(guarded);
    }
    toClose.forEach(KillWatch::closeQuietly);
  }

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException | RuntimeException ignored) {
      // the task is being killed; nothing to recover
    }
  }

  @Override
  public void close() {
    stopped = true;
    thread.interrupt();
  }
}
