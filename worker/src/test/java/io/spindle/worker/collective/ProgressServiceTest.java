package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The progress channel: the service emits one interval per global iteration once every rank of an
 * attempt has reported it, as differences of the ranks' cumulative counters; a relaunched attempt
 * repeating reported steps emits nothing twice; frames under another secret or of another round are
 * refused; reporters deliver over real sockets, and a reporter whose driver is gone drops its
 * frames without stalling the training thread.
 */
class ProgressServiceTest {
  static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);

  static ProgressFrame frame(
      long round, int attempt, int rank, long iteration, long examples, double loss, long wall) {
    return new ProgressFrame(
        round,
        attempt,
        rank,
        2,
        iteration,
        (int) (iteration + 1),
        examples,
        examples / 2,
        loss,
        wall);
  }

  /**
   * {@link ProgressService#wake} ends a waiting poll at once with null (the driver's round-end
   * waiter), is never mistaken for an interval, and does not swallow the intervals around it.
   */
  @Test
  void aWakeEndsTheWaitWithNullAndLosesNoInterval() throws Exception {
    try (ProgressService s = ProgressService.start("127.0.0.1", 100, SECRET, 2)) {
      Thread waker =
          new Thread(
              () -> {
                try {
                  Thread.sleep(200);
                } catch (InterruptedException e) {
                  return;
                }
                s.wake();
              });
      long t0 = System.nanoTime();
      waker.start();
      assertNull(s.poll(60_000), "a wake-up is not an interval");
      waker.join();
      assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "the wake-up ended a 60 s wait early");
      s.add(frame(100, 0, 0, 103, 40, 80.0, 2_000_000_000L));
      s.add(frame(100, 0, 1, 103, 40, 60.0, 3_000_000_000L));
      s.wake(); // queued behind the interval, before anyone waits
      assertEquals(new ProgressService.Interval(103, 104, 4, 80, 40, 140.0, 3.0), s.poll(1_000));
      assertNull(s.poll(), "the queued wake-up reads as nothing, not as an interval");
      assertNull(s.poll(), "and is gone");
    }
  }

  @Test
  void anIntervalPerIterationOnceAllRanksReportedIt() throws Exception {
    try (ProgressService s = ProgressService.start("127.0.0.1", 100, SECRET, 2)) {
      s.add(frame(100, 0, 0, 103, 40, 80.0, 2_000_000_000L));
      assertNull(s.poll(), "rank 1 has not reported iteration 103 yet");
      s.add(frame(100, 0, 1, 103, 40, 60.0, 3_000_000_000L));
      ProgressService.Interval a = s.poll();
      assertEquals(new ProgressService.Interval(103, 104, 4, 80, 40, 140.0, 3.0), a);
      s.add(frame(100, 0, 1, 107, 80, 100.0, 5_000_000_000L));
      s.add(frame(100, 0, 0, 107, 80, 120.0, 4_000_000_000L));
      ProgressService.Interval b = s.poll();
      assertEquals(new ProgressService.Interval(107, 108, 4, 80, 40, 80.0, 2.0), b);
      // a relaunched attempt repeats iterations 103 and 107: nothing new to report
      for (int rank = 0; rank < 2; rank++) {
        s.add(frame(100, 1, rank, 103, 40, 70.0, 1_000_000_000L));
        s.add(frame(100, 1, rank, 107, 80, 110.0, 2_000_000_000L));
      }
      assertNull(s.poll(), "repeated steps are reported once");
      // its next iteration is reported relative to its own counters at the last one reported
      for (int rank = 0; rank < 2; rank++) {
        s.add(frame(100, 1, rank, 111, 120, 150.0, 3_500_000_000L));
      }
      ProgressService.Interval c = s.poll();
      assertEquals(111, c.iteration());
      assertEquals(4, c.steps());
      assertEquals(80, c.examples());
      assertEquals(80.0, c.lossSum(), 1e-9);
      assertEquals(1.5, c.seconds(), 1e-9);
      // another round's frame is refused
      s.add(frame(99, 0, 0, 111, 1, 1, 1));
      assertEquals(1, s.rejected());
    }
  }

  @Test
  void reportersDeliverOverSocketsAndForgedFramesAreRefused() throws Exception {
    try (ProgressService s = ProgressService.start("127.0.0.1", 0, SECRET, 2)) {
      ProgressTarget target = s.target(5);
      ProgressReporter r0 = ProgressReporter.start(target, 0, 0, 2, 5000);
      ProgressReporter r1 = ProgressReporter.start(target, 0, 1, 2, 5000);
      for (int it = 0; it < 12; it++) {
        boolean last = it == 11;
        r0.step(it, last, it + 1, 10L * (it + 1), 5L * (it + 1), 2.0 * (it + 1));
        r1.step(it, last, it + 1, 10L * (it + 1), 5L * (it + 1), 2.0 * (it + 1));
      }
      r0.close();
      r1.close();
      long[] expected = {4, 9, 11}; // global steps 5 and 10, and the round's last
      long examples = 0;
      for (long it : expected) {
        ProgressService.Interval i = s.poll(5000);
        assertEquals(it, i.iteration());
        examples += i.examples();
      }
      assertEquals(240, examples, "every example of both ranks, once");
      assertTrue(r0.reportNanos() < 50_000_000L, "queueing frames costs the trainer little");
      // the other threads' share is counted too (summary.json's progress_* facts)
      assertTrue(r0.senderCpuNanos() > 0, "the sender's CPU time is measured");
      assertTrue(r0.senderCpuNanos() < 1_000_000_000L, "signing 3 frames: " + r0.senderCpuNanos());
      assertTrue(s.readerCpuNanos() > 0, "the readers' CPU time is measured");

      // a frame signed with another secret closes its connection and is counted
      ProgressTarget forged =
          new ProgressTarget(
              target.endpoint(), 0, "another secret, 32 bytes long....".getBytes(), 5);
      ProgressReporter bad = ProgressReporter.start(forged, 0, 0, 2, 5000);
      bad.step(14, false, 15, 1, 1, 1);
      bad.close();
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (s.rejected() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(1, s.rejected());
      assertNull(s.poll(200));
    }
  }

  @Test
  void aReporterWhoseDriverIsGoneDropsFramesWithoutBlocking() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    ProgressReporter r =
        ProgressReporter.start(new ProgressTarget("127.0.0.1:" + port, 0, SECRET, 1), 0, 0, 1, 500);
    long t0 = System.nanoTime();
    for (int it = 0; it < 1000; it++) {
      r.step(it, false, it + 1, it, it, it);
    }
    assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "1,000 reports never block on the socket");
    r.close();
    assertTrue(r.dropped() > 0, "frames dropped and counted");
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void aGarbageConnectionIsRefused() throws Exception {
    try (ProgressService s = ProgressService.start("127.0.0.1", 0, SECRET, 1);
        Socket c = new Socket()) {
      String[] hp = s.target(1).endpoint().split(":");
      c.connect(new java.net.InetSocketAddress(hp[0], Integer.parseInt(hp[1])));
      DataOutputStream out = new DataOutputStream(c.getOutputStream());
      out.write(new byte[200]);
      out.flush();
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (s.rejected() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(1, s.rejected());
    }
  }
}
