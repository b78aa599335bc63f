package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.WireFormat;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A task that Spark kills while it waits on a peer that died must stop waiting: the watch closes
 * its sockets, so the blocked call fails with "socket closed" rather than after the peer timeout.
 */
class KillWatchTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();

  @Test
  void closesABlockedAcceptWhenTheTaskIsKilled() throws Exception {
    AtomicBoolean killed = new AtomicBoolean();
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        KillWatch watch = new KillWatch(killed::get, 20, "test-watch")) {
      server.setSoTimeout(120_000);
      watch.guard(server);
      CompletableFuture<Throwable> accept =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  server.accept().close();
                  return null;
                } catch (IOException e) {
                  return e;
                }
              });
      Thread.sleep(200);
      assertFalse(accept.isDone(), "accept returned before anyone connected");
      assertFalse(watch.fired());
      killed.set(true);
      // Bounded wait only so a broken watch fails the test instead of hanging it.
      Throwable t = accept.get(60, TimeUnit.SECONDS);
      assertTrue(t instanceof SocketException, "expected the accept to fail on close, got " + t);
      assertFalse(t instanceof SocketTimeoutException, "the accept timed out instead: " + t);
      assertTrue(watch.fired());
      assertTrue(server.isClosed());
    }
  }

  @Test
  void guardingAfterTheKillClosesAtOnce() throws Exception {
    try (KillWatch watch = new KillWatch(() -> true, 5, "test-watch");
        ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      for (int i = 0; i < 200 && !watch.fired(); i++) {
        Thread.sleep(10);
      }
      assertTrue(watch.fired());
      watch.guard(server);
      assertTrue(server.isClosed());
    }
  }

  @Test
  void ringWaitingForADeadPeerFailsAsSoonAsTheTaskIsKilled() throws Exception {
    AtomicBoolean killed = new AtomicBoolean();
    // Rank 1 never comes; the peer timeout (two minutes) would be the only way out without the
    // watch.
    TcpRing ring = TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 120_000);
    try (KillWatch watch = new KillWatch(killed::get, 20, "test-watch")) {
      watch.guard(ring::close);
      try (ServerSocket nobody = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        String silentPeer = "127.0.0.1:" + nobody.getLocalPort();
        CompletableFuture<Void> connect =
            CompletableFuture.runAsync(
                () -> ring.connect(List.of(ring.endpoint(), silentPeer), SECRET, 1L));
        Thread.sleep(300);
        assertFalse(connect.isDone(), "connect finished although rank 1 never answered");
        killed.set(true);
        var e =
            assertThrows(
                java.util.concurrent.ExecutionException.class,
                () -> connect.get(60, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof CollectiveException, "got " + e.getCause());
        assertFalse(
            e.getCause().getMessage().contains("timed out"),
            "the ring timed out instead of failing on close: " + e.getCause().getMessage());
      }
    } finally {
      ring.close();
    }
  }
}
