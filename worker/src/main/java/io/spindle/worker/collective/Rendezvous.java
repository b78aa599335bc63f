package io.spindle.worker.collective;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * How the tasks of a collective round learn each other's ring endpoints: through a small service on
 * the driver, instead of {@code BarrierTaskContext.allGather}, whose every call sleeps at least one
 * second (Spark 3.5 polls the barrier RPC with {@code Thread.sleep(1000)}), a tenth of an MNIST
 * epoch on two cores.
 *
 * <p>Protocol, one TCP connection per task, every message authenticated with HMAC-SHA256 under the
 * round's secret (which the driver ships to the tasks in their closure and never sends over this
 * socket):
 *
 * <ol>
 *   <li>task: magic, round, stage attempt, rank, size, its endpoint, HMAC("join" | those fields).
 *   <li>service: when all {@code size} ranks of that (round, attempt) have joined, status 0, the
 *       endpoints by rank and HMAC("peers" | round | attempt | endpoints) to each; a join whose
 *       proof fails, for an unknown round or a rank already taken gets status 1 and the reason.
 * </ol>
 *
 * A relaunched stage joins as a new attempt, so a stale task of a failed attempt can never be
 * paired with the new one. Tasks wait at most their peer timeout; the service listens on the
 * driver's own address only.
 *
 * <p>The same server carries the round's state off Spark's serialiser ({@link StateService}): each
 * task uploads its end state, the driver takes the uploads its Spark results name ({@link
 * #withUploads}), and a task that misses a start value fetches it by digest ({@link #offer}).
 */
public final class Rendezvous implements AutoCloseable {
  private static final int MAGIC = 0x5350524e; // "SPRN"
  private final ServerSocket server;
  private final Thread acceptor;
  private final Map<Long, byte[]> secrets = new ConcurrentHashMap<>();
  private final Map<String, Group> groups = new ConcurrentHashMap<>();
  private final StateService state = new StateService(secrets);

  private Rendezvous(ServerSocket server) {
    this.server = server;
    this.acceptor = new Thread(this::acceptLoop, "spindle-rendezvous");
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  /** Starts the service on {@code host} (the driver's address) at an ephemeral port. */
  public static Rendezvous start(String host) {
    try {
      ServerSocket s = new ServerSocket();
      s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 64);
      return new Rendezvous(s);
    } catch (IOException e) {
      throw new CollectiveException("cannot start the rendezvous service on " + host + ": " + e, e);
    }
  }

  /** host:port for the tasks. */
  public String endpoint() {
    return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
  }

  /** Accepts joins for {@code round} proven with {@code secret}. */
  public void open(long round, byte[] secret) {
    secrets.put(round, secret.clone());
  }

  /** Forgets {@code round}: its pending joins are refused. */
  public void close(long round) {
    secrets.remove(round);
    state.forget(round);
    groups.entrySet().removeIf(e -> e.getValue().round == round && e.getValue().fail());
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException ignored) {
      // closing; nothing to recover
    }
    groups.values().forEach(Group::fail);
    groups.clear();
    state.close();
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      try {
        s.setSoTimeout(10_000);
        DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        int magic = in.readInt();
        if (magic == MAGIC) {
          handle(s, in, out);
        } else if (magic == StateService.MAGIC) {
          // megabytes to read or write: on a thread of its own, so joins are not held up
          state.serve(s, in, out);
        } else {
          refuse(
              out,
              s,
              "not a Spindle rendezvous request (magic " + Integer.toHexString(magic) + ")");
        }
      } catch (IOException | RuntimeException e) {
        closeQuietly(s);
      }
    }
  }

  /** Reads one join (small, with a short timeout) and files it; replies when its group is full. */
  private void handle(Socket s, DataInputStream in, DataOutputStream out) throws IOException {
    long round = in.readLong();
    int attempt = in.readInt();
    int rank = in.readInt();
    int size = in.readInt();
    String endpoint = in.readUTF();
    byte[] proof = new byte[32];
    in.readFully(proof);
    byte[] secret = secrets.get(round);
    if (secret == null) {
      refuse(out, s, "round " + round + " is not open (finished, or not started by this driver)");
      return;
    }
    if (!MessageDigest.isEqual(proof, mac(secret, "join", round, attempt, rank, size, endpoint))) {
      refuse(
          out,
          s,
          "authentication failed for rank "
              + rank
              + ": its proof does not match the round's secret");
      return;
    }
    String key = round + "/" + attempt;
    Group g = groups.computeIfAbsent(key, k -> new Group(round, attempt, size));
    if (size != g.endpoints.length || rank < 0 || rank >= size || g.endpoints[rank] != null) {
      refuse(
          out,
          s,
          "rank "
              + rank
              + " of "
              + size
              + " does not fit round "
              + round
              + " attempt "
              + attempt
              + " of "
              + g.endpoints.length
              + " ranks (taken or out of range)");
      return;
    }
    boolean full;
    synchronized (g) {
      g.endpoints[rank] = endpoint;
      g.sockets[rank] = s;
      full = Arrays.stream(g.endpoints).allMatch(e -> e != null);
    }
    if (full) {
      groups.remove(key);
      g.complete(secret);
    }
  }

  /**
   * Serves {@code value} (a float32 {@link io.spindle.tensor.FlatVector} or a {@code byte[]}, not
   * changed afterwards) of {@code kind} to the tasks of {@code round} that ask for it by {@code
   * digest} (the SHA-256 of its bits, {@link StickyState#digest}): a round's start, read only by a
   * task whose executor does not hold it.
   */
  public void offer(long round, StickyState.Kind kind, String digest, Object value) {
    state.offer(round, kind, digest, value);
  }

  /**
   * The value of {@code kind} rank {@code rank} of {@code round}'s stage attempt {@code attempt}
   * uploaded, which must have SHA-256 {@code digest} (named by that attempt's Spark result); an
   * upload of another attempt is never taken.
   *
   * @throws CollectiveException when that attempt's rank uploaded no such value
   */
  public Object take(long round, int attempt, int rank, StickyState.Kind kind, String digest) {
    return state.take(round, attempt, rank, kind, digest);
  }

  /**
   * The round's results with the state their tasks uploaded: for each, the values of its own stage
   * attempt with the digests it names (an upload of any other attempt, or with other bits, is never
   * taken). Results that carry their state (the Spark path) come back as they are.
   *
   * @throws CollectiveException when a result names a value its attempt did not upload
   */
  public List<CollectiveResult> withUploads(List<CollectiveResult> results, long round) {
    List<CollectiveResult> out = new ArrayList<>(results.size());
    for (CollectiveResult r : results) {
      if (!r.raw()) {
        out.add(r);
        continue;
      }
      io.spindle.tensor.FlatVector params =
          r.paramsDigest() == null
              ? null
              : (io.spindle.tensor.FlatVector)
                  take(round, r.attempt(), r.rank(), StickyState.Kind.PARAMS, r.paramsDigest());
      io.spindle.tensor.FlatVector state =
          r.stateDigest() == null
              ? null
              : (io.spindle.tensor.FlatVector)
                  take(round, r.attempt(), r.rank(), StickyState.Kind.OPTIMIZER, r.stateDigest());
      byte[] exchange =
          r.exchangeDigest() == null
              ? null
              : (byte[])
                  take(round, r.attempt(), r.rank(), StickyState.Kind.EXCHANGE, r.exchangeDigest());
      out.add(r.withState(params, state, exchange));
    }
    return out;
  }

  /** Ranks of (round, attempt) that have joined and wait for the others to join. */
  int waiting(long round, int attempt) {
    Group g = groups.get(round + "/" + attempt);
    if (g == null) {
      return 0;
    }
    synchronized (g) {
      return (int) Arrays.stream(g.endpoints).filter(e -> e != null).count();
    }
  }

  static void refuse(DataOutputStream out, Socket s, String why) throws IOException {
    out.writeByte(1);
    out.writeUTF(why);
    out.flush();
    s.close();
  }

  /**
   * Run by each task: joins (round, attempt) as {@code rank} of {@code size} and returns every
   * rank's endpoint, once all have joined and the service proved the round's secret.
   */
  public static List<String> join(
      String service,
      long round,
      int attempt,
      int rank,
      int size,
      String endpoint,
      byte[] secret,
      int timeoutMillis) {
    return join(service, round, attempt, rank, size, endpoint, secret, timeoutMillis, s -> {});
  }

  /**
   * As {@link #join(String, long, int, int, int, String, byte[], int)}, handing the connection to
   * {@code onOpen} first (a {@link KillWatch} closes it if the task is killed while it waits).
   */
  static List<String> join(
      String service,
      long round,
      int attempt,
      int rank,
      int size,
      String endpoint,
      byte[] secret,
      int timeoutMillis,
      java.util.function.Consumer<java.io.Closeable> onOpen) {
    int colon = service.lastIndexOf(':');
    InetSocketAddress address =
        new InetSocketAddress(
            service.substring(0, colon), Integer.parseInt(service.substring(colon + 1)));
    try (Socket s = new Socket()) {
      onOpen.accept(s);
      s.connect(address, timeoutMillis);
      s.setSoTimeout(timeoutMillis);
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeInt(MAGIC);
      out.writeLong(round);
      out.writeInt(attempt);
      out.writeInt(rank);
      out.writeInt(size);
      out.writeUTF(endpoint);
      out.write(mac(secret, "join", round, attempt, rank, size, endpoint));
      out.flush();
      DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
      int status = in.readByte();
      if (status != 0) {
        throw new CollectiveException(
            "rank "
                + rank
                + ": the rendezvous service at "
                + service
                + " refused: "
                + in.readUTF());
      }
      int n = in.readInt();
      if (n != size) {
        throw new CollectiveException(
            "rank " + rank + ": the rendezvous returned " + n + " endpoints, expected " + size);
      }
      List<String> endpoints = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        endpoints.add(in.readUTF());
      }
      byte[] proof = new byte[32];
      in.readFully(proof);
      if (!MessageDigest.isEqual(proof, peersMac(secret, round, attempt, endpoints))) {
        throw new PeerAuthenticationException(
            "rank "
                + rank
                + ": the rendezvous service at "
                + service
                + " failed authentication: its answer is not signed with the round's secret");
      }
      return endpoints;
    } catch (SocketTimeoutException e) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": timed out after "
              + timeoutMillis
              + " ms waiting at the rendezvous "
              + service
              + " for the other "
              + (size - 1)
              + " ranks of round "
              + round,
          e);
    } catch (IOException e) {
      throw new CollectiveException(
          "rank " + rank + ": rendezvous with " + service + " failed: " + e, e);
    }
  }

  private static byte[] mac(
      byte[] secret, String what, long round, int attempt, int rank, int size, String endpoint) {
    return hmac(
        secret, what + "|" + round + "|" + attempt + "|" + rank + "|" + size + "|" + endpoint);
  }

  private static byte[] peersMac(byte[] secret, long round, int attempt, List<String> endpoints) {
    return hmac(secret, "peers|" + round + "|" + attempt + "|" + String.join(",", endpoints));
  }

  static byte[] hmac(byte[] secret, String message) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(secret, "HmacSHA256"));
      return m.doFinal(message.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing; nothing to recover
    }
  }

  /** The joins of one (round, attempt) so far. */
  private static final class Group {
    final long round;
    final int attempt;
    final String[] endpoints;
    final Socket[] sockets;

    Group(long round, int attempt, int size) {
      this.round = round;
      this.attempt = attempt;
      this.endpoints = new String[size];
      this.sockets = new Socket[size];
    }

    void complete(byte[] secret) {
      List<String> all = Arrays.asList(endpoints);
      byte[] proof = peersMac(secret, round, attempt, all);
      for (Socket s : sockets) {
        try {
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          out.writeByte(0);
          out.writeInt(all.size());
          for (String e : all) {
            out.writeUTF(e);
          }
          out.write(proof);
          out.flush();
        } catch (IOException ignored) {
          // that task is gone; it fails on its own side and Spark relaunches the stage
        } finally {
          closeQuietly(s);
        }
      }
    }

    /** Closes the waiting tasks' connections (they fail and time out cleanly); returns true. */
    boolean fail() {
      for (Socket s : sockets) {
        if (s != null) {
          closeQuietly(s);
        }
      }
      return true;
    }
  }
}
