package io.spindle.worker.collective;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;

/**
 * The driver's end of a collective round's progress channel: a small TCP service (on the driver's
 * own address) that the round's tasks send {@link ProgressFrame}s to while the round runs. Frames
 * that fail the round's HMAC, or name another round, close their connection. When every rank has
 * reported the same global iteration within one stage attempt, the service emits one {@link
 * Interval}: the steps since the previous one emitted, their examples, correct predictions and loss
 * sum over all ranks, and the slowest rank's wall time. Each iteration is emitted at most once per
 * round, so the steps a relaunched attempt repeats are not reported twice.
 */
public final class ProgressService implements AutoCloseable {
  /**
   * Steps since the previous interval of the round (or its start).
   *
   * @param iteration global iteration (0-based) of the last step covered
   * @param stepInEpoch steps of the epoch done after it
   * @param steps steps covered
   * @param seconds the slowest rank's wall seconds over them
   */
  public record Interval(
      long iteration,
      int stepInEpoch,
      int steps,
      long examples,
      long correct,
      double lossSum,
      double seconds) {}

  private record Sum(long examples, long correct, double lossSum, long wallNanos) {
    static final Sum ZERO = new Sum(0, 0, 0, 0);
  }

  private final ServerSocket server;
  private final long round;
  private final byte[] secret;
  private final int size;
  private final Thread acceptor;
  private final List<Socket> sockets = new ArrayList<>();
  private final AtomicLong readerCpuNanos = new AtomicLong();
  private final LinkedBlockingQueue<Interval> out = new LinkedBlockingQueue<>();
  private static final Interval WAKE = new Interval(Long.MIN_VALUE, 0, 0, 0, 0, 0, 0); // wake()
  private final Map<String, ProgressFrame[]> pending = new HashMap<>();
  private final Map<Integer, TreeMap<Long, Sum>> complete = new HashMap<>();
  private long lastEmitted;
  private long rejected;

  private ProgressService(ServerSocket server, long round, byte[] secret, int size) {
    this.server = server;
    this.round = round;
    this.secret = secret.clone();
    this.size = size;
    this.lastEmitted = round - 1;
    this.acceptor = new Thread(this::acceptLoop, "spindle-progress-service");
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  /**
   * Starts the service for round {@code round} of {@code size} ranks on {@code host} at an
   * ephemeral port.
   */
  public static ProgressService start(String host, long round, byte[] secret, int size) {
    try {
      ServerSocket s = new ServerSocket();
      s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 64);
      return new ProgressService(s, round, secret, size);
    } catch (IOException e) {
      throw new CollectiveException("cannot start the progress service on " + host + ": " + e, e);
    }
  }

  /** Where the tasks send their frames. */
  public ProgressTarget target(int every) {
    return new ProgressTarget(
        server.getInetAddress().getHostAddress() + ":" + server.getLocalPort(),
        round,
        secret,
        every);
  }

  /**
   * The next interval, waiting at most {@code millis}; null if none came, or when {@link #wake} cut
   * the wait short.
   */
  public Interval poll(long millis) throws InterruptedException {
    Interval i = out.poll(millis, TimeUnit.MILLISECONDS);
    return i == WAKE ? null : i;
  }

  /** The next interval if one is ready, else null. */
  public Interval poll() {
    Interval i = out.poll();
    return i == WAKE ? null : i;
  }

  /**
   * Ends the wait of a {@link #poll(long)} (now, or the next one if none waits) with null: lets the
   * driver wait for progress and for its job's end without polling on a short timer.
   */
  public void wake() {
    out.offer(WAKE);
  }

  /** Frames refused so far (bad proof, other round, malformed). */
  public synchronized long rejected() {
    return rejected;
  }

  /** Files one authenticated frame; emits an interval when it completes a new iteration. */
  synchronized void add(ProgressFrame f) {
    if (f.round() != round || f.size() != size || f.rank() < 0 || f.rank() >= size) {
      rejected++;
      return;
    }
    String key = f.attempt() + "/" + f.iteration();
    ProgressFrame[] ranks = pending.computeIfAbsent(key, k -> new ProgressFrame[size]);
    ranks[f.rank()] = f;
    for (ProgressFrame r : ranks) {
      if (r == null) {
        return;
      }
    }
    pending.remove(key);
    long examples = 0;
    long correct = 0;
    double loss = 0;
    long wall = 0;
    for (ProgressFrame r : ranks) {
      examples += r.examples();
      correct += r.correct();
      loss += r.lossSum();
      wall = Math.max(wall, r.wallNanos());
    }
    Sum sum = new Sum(examples, correct, loss, wall);
    TreeMap<Long, Sum> sums = complete.computeIfAbsent(f.attempt(), a -> new TreeMap<>());
    sums.put(f.iteration(), sum);
    if (f.iteration() <= lastEmitted) {
      return; // a relaunched attempt repeating steps already reported
    }
    Map.Entry<Long, Sum> prev = sums.floorEntry(lastEmitted);
    Sum base = prev == null ? Sum.ZERO : prev.getValue();
    out.add(
        new Interval(
            f.iteration(),
            f.stepInEpoch(),
            (int) (f.iteration() - lastEmitted),
            sum.examples - base.examples,
            sum.correct - base.correct,
            sum.lossSum - base.lossSum,
            (sum.wallNanos - base.wallNanos) / 1e9));
    lastEmitted = f.iteration();
  }

  private synchronized void reject() {
    rejected++;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      synchronized (sockets) {
        sockets.add(s);
      }
      Thread reader = new Thread(() -> read(s), "spindle-progress-reader");
      reader.setDaemon(true);
      reader.start();
    }
  }

  private void read(Socket s) {
    Mac mac = ProgressFrame.mac(secret);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    boolean cpu = threads.isCurrentThreadCpuTimeSupported();
    long last = cpu ? threads.getCurrentThreadCpuTime() : 0;
    try (s) {
      DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
      ProgressFrame f;
      while ((f = ProgressFrame.read(in, mac)) != null) {
        add(f);
        if (cpu) {
          long now = threads.getCurrentThreadCpuTime();
          readerCpuNanos.addAndGet(now - last);
          last = now;
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!server.isClosed()) {
        reject(); // a bad frame closes its connection
      }
    }
  }

  /**
   * CPU nanoseconds the reader threads have spent so far (reading, checking and filing frames),
   * counted after each frame; 0 where the JVM does not measure thread CPU time.
   */
  public long readerCpuNanos() {
    return readerCpuNanos.get();
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException ignored) {
      // closing; nothing to recover
    }
    synchronized (sockets) {
      for (Socket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
