package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.WireFormat;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A task that Spark kills while it waits on a peer that died must stop waiting: the watch closes
 * its sockets, so the blocked call fails with "socket closed" rather than after the peer timeout
 * (two minutes here, so a test that passed by timing out would hang instead). Each test first
 * observes the waiting thread inside its blocking call (from its stack), then sets the kill flag.
 */
class KillWatchTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();

  /** A thread running {@code body}, whose failure (or null) is in {@code failure} at the end. */
  private static Thread start(String name, AtomicReference<Throwable> failure, Runnable body) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.set(e);
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * Waits until {@code t} is inside a call of {@code method} of class {@code className} (from its
   * stack); fails the test if it ends or never gets there.
   */
  private static void awaitBlockedIn(Thread t, String className, String method)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      assertTrue(t.isAlive(), t.getName() + " ended before blocking in " + method);
      for (StackTraceElement e : t.getStackTrace()) {
        if (e.getClassName().equals(className) && e.getMethodName().equals(method)) {
          return;
        }
      }
      Thread.onSpinWait();
    }
    throw new AssertionError(t.getName() + " never reached " + className + "." + method);
  }

  @Test
  void closesABlockedAcceptWhenTheTaskIsKilled() throws Exception {
    AtomicBoolean killed = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        KillWatch watch = new KillWatch(killed::get, 20, "test-watch")) {
      server.setSoTimeout(120_000);
      watch.guard(server);
      Thread accept =
          start(
              "test-accept",
              failure,
              () -> {
                try {
                  server.accept().close();
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      awaitBlockedIn(accept, ServerSocket.class.getName(), "accept");
      assertFalse(watch.fired(), "the watch fired before the kill");
      assertNull(failure.get(), "accept failed before the kill");
      killed.set(true);
      accept.join(TimeUnit.SECONDS.toMillis(60)); // bounded only so a broken watch fails
      assertFalse(accept.isAlive(), "accept still blocked after the kill");
      Throwable t = failure.get() == null ? null : failure.get().getCause();
      assertInstanceOf(SocketException.class, t, "expected the accept to fail on close");
      assertFalse(t instanceof SocketTimeoutException, "the accept timed out instead: " + t);
      assertTrue(watch.fired());
      assertTrue(server.isClosed());
    }
  }

  @Test
  void guardingAfterTheKillClosesAtOnce() throws Exception {
    CountDownLatch asked = new CountDownLatch(1);
    try (KillWatch watch =
            new KillWatch(
                () -> {
                  asked.countDown();
                  return true;
                },
                5,
                "test-watch");
        ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      assertTrue(asked.await(60, TimeUnit.SECONDS), "the watch never polled");
      // it fires right after its first poll answers true
      for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
          !watch.fired() && System.nanoTime() < deadline; ) {
        Thread.onSpinWait();
      }
      assertTrue(watch.fired());
      assertFalse(server.isClosed());
      watch.guard(server);
      assertTrue(server.isClosed(), "guarding after the kill must close at once");
    }
  }

  @Test
  void ringWaitingForADeadPeerFailsAsSoonAsTheTaskIsKilled() throws Exception {
    AtomicBoolean killed = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    // Rank 1 never answers: its socket accepts the connection into its backlog and stays silent,
    // so rank 0 blocks reading the handshake; the peer timeout (two minutes) would be the only way
    // out without the watch.
    TcpRing ring = TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 120_000);
    try (KillWatch watch = new KillWatch(killed::get, 20, "test-watch");
        ServerSocket nobody = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      watch.guard(ring::close);
      String silentPeer = "127.0.0.1:" + nobody.getLocalPort();
      Thread connect =
          start(
              "test-connect",
              failure,
              () -> ring.connect(List.of(ring.endpoint(), silentPeer), SECRET, 1L));
      awaitBlockedIn(connect, PeerAuthenticator.class.getName(), "asConnector");
      assertNull(failure.get(), "connect failed before the kill");
      killed.set(true);
      connect.join(TimeUnit.SECONDS.toMillis(60));
      assertFalse(connect.isAlive(), "connect still blocked after the kill");
      assertInstanceOf(CollectiveException.class, failure.get());
      assertFalse(
          failure.get().getMessage().contains("timed out"),
          "the ring timed out instead of failing on close: " + failure.get().getMessage());
      assertTrue(watch.fired());
    } finally {
      ring.close();
    }
  }
}
