package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The driver-side rendezvous: complete groups, authentication both ways, clear refusals. */
class RendezvousTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();

  @Test
  void everyRankGetsEveryEndpointInRankOrder() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(42, SECRET);
      List<Future<List<String>>> answers = new ArrayList<>();
      for (int rank = 2; rank >= 0; rank--) { // join out of order
        int k = rank;
        answers.add(
            pool.submit(
                () -> Rendezvous.join(r.endpoint(), 42, 0, k, 3, "h" + k + ":1", SECRET, 10_000)));
      }
      for (Future<List<String>> f : answers) {
        assertEquals(List.of("h0:1", "h1:1", "h2:1"), f.get(20, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aJoinWithTheWrongSecretIsRefusedAndTold() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(7, SECRET);
      byte[] wrong = "not-the-secret-not-the-secret-!!".getBytes();
      CollectiveException e =
          assertThrows(
              CollectiveException.class,
              () -> Rendezvous.join(r.endpoint(), 7, 0, 0, 2, "h:1", wrong, 5000));
      assertTrue(e.getMessage().contains("authentication failed"), e.getMessage());
    }
  }

  @Test
  void aRoundThatIsNotOpenAndATakenRankAreRefused() throws Exception {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      CollectiveException notOpen =
          assertThrows(
              CollectiveException.class,
              () -> Rendezvous.join(r.endpoint(), 9, 0, 0, 2, "h:1", SECRET, 5000));
      assertTrue(notOpen.getMessage().contains("round 9 is not open"), notOpen.getMessage());
      r.open(9, SECRET);
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        Future<List<String>> first =
            pool.submit(() -> Rendezvous.join(r.endpoint(), 9, 0, 0, 2, "a:1", SECRET, 10_000));
        awaitWaiting(r, 9, 1); // rank 0 is filed before the second claim on it
        CollectiveException taken =
            assertThrows(
                CollectiveException.class,
                () -> Rendezvous.join(r.endpoint(), 9, 0, 0, 2, "b:1", SECRET, 5000));
        assertTrue(taken.getMessage().contains("taken or out of range"), taken.getMessage());
        assertEquals(List.of("a:1", "c:1"), joinAndGet(r, pool, first, 1, "c:1"));
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** Waits until {@code count} ranks of round {@code round} (attempt 0) wait at the service. */
  private static void awaitWaiting(Rendezvous r, long round, int count) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (r.waiting(round, 0) < count) {
      assertTrue(System.nanoTime() < deadline, "rank 0's join never reached the service");
      Thread.onSpinWait();
    }
  }

  private static List<String> joinAndGet(
      Rendezvous r, ExecutorService pool, Future<List<String>> first, int rank, String endpoint)
      throws Exception {
    List<String> mine = Rendezvous.join(r.endpoint(), 9, 0, rank, 2, endpoint, SECRET, 10_000);
    assertEquals(mine, first.get(10, TimeUnit.SECONDS));
    return mine;
  }

  @Test
  void aMissingRankTimesOutWithAClearError() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(3, SECRET);
      CollectiveException e =
          assertThrows(
              CollectiveException.class,
              () -> Rendezvous.join(r.endpoint(), 3, 0, 0, 2, "h:1", SECRET, 500));
      assertTrue(e.getMessage().contains("timed out after 500 ms"), e.getMessage());
      assertTrue(e.getMessage().contains("other 1 ranks of round 3"), e.getMessage());
    }
  }

  @Test
  void anImpostorServiceIsNotBelieved() throws Exception {
    try (ServerSocket fake = new ServerSocket()) {
      fake.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
      Thread t =
          new Thread(
              () -> {
                try (Socket s = fake.accept()) {
                  DataInputStream in = new DataInputStream(s.getInputStream());
                  in.readInt();
                  in.readLong();
                  in.readInt();
                  in.readInt();
                  in.readInt();
                  in.readUTF();
                  in.readFully(new byte[32]);
                  DataOutputStream out = new DataOutputStream(s.getOutputStream());
                  out.writeByte(0);
                  out.writeInt(1);
                  out.writeUTF("evil:1");
                  out.write(new byte[32]);
                  out.flush();
                } catch (Exception ignored) {
                  // the test asserts on the client side
                }
              });
      t.start();
      String endpoint = "127.0.0.1:" + fake.getLocalPort();
      PeerAuthenticationException e =
          assertThrows(
              PeerAuthenticationException.class,
              () -> Rendezvous.join(endpoint, 1, 0, 0, 1, "h:1", SECRET, 5000));
      assertTrue(e.getMessage().contains("failed authentication"), e.getMessage());
      t.join(5000);
    }
  }
}
