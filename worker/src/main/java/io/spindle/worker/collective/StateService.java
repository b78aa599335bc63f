package io.spindle.worker.collective;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The round's state through the driver's {@link Rendezvous} server, off Spark's serialiser: each
 * task uploads its end state there, and a task whose executor does not hold the committed start
 * fetches it from there by digest (see {@link StateWire} for the bytes). Every request is
 * authenticated with HMAC-SHA256 under the round's secret, which the service holds per open round
 * (the rendezvous' own map).
 *
 * <p>Protocol, one TCP connection per value:
 *
 * <ul>
 *   <li><b>upload</b>: task: magic, PUT, round, stage attempt, rank, kind, length, digest,
 *       HMAC("put" | those fields); service: status 1 and the reason (round not open, proof wrong,
 *       that attempt's rank already uploaded that kind), or status 0; task: the bytes; service
 *       digests them as they arrive and answers status 1 and the reason (not the digest announced),
 *       or status 0 and HMAC("stored" | round | attempt | rank | kind | digest), which the task
 *       checks before it reports success. Uploads are filed by (round, attempt, rank, kind): the
 *       driver takes only those of the attempt whose Spark result it holds, and only with the
 *       digest that result names, so an abandoned or relaunched attempt's upload is never taken.
 *   <li><b>fetch</b>: task: magic, GET, round, rank, kind, digest, HMAC("get" | those fields);
 *       service: status 1 and the reason, or status 0, the length and the bytes of the value it
 *       offers for the round under that digest; the task checks the bytes against the digest (which
 *       it got from the driver in its closure).
 * </ul>
 *
 * Each connection is served on a thread of its own; {@link #close} closes them.
 */
final class StateService implements AutoCloseable {
  static final int MAGIC = 0x53505354; // "SPST"
  private static final byte PUT = 1;
  private static final byte GET = 2;
  private final Map<Long, byte[]> secrets;
  private final Map<OfferKey, Object> offers = new ConcurrentHashMap<>();
  private final Map<UploadKey, StateWire.Read> uploads = new ConcurrentHashMap<>();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private record OfferKey(long round, StickyState.Kind kind, String digest) {}

  private record UploadKey(long round, int attempt, int rank, StickyState.Kind kind) {}

  StateService(Map<Long, byte[]> secrets) {
    this.secrets = secrets;
  }

  void offer(long round, StickyState.Kind kind, String digest, Object value) {
    StateWire.length(value); // refuses what cannot travel
    offers.put(new OfferKey(round, kind, digest), value);
  }

  Object take(long round, int attempt, int rank, StickyState.Kind kind, String digest) {
    StateWire.Read r = uploads.get(new UploadKey(round, attempt, rank, kind));
    if (r == null) {
      throw new CollectiveException(
          "rank "
              + rank
              + " of round "
              + round
              + " stage attempt "
              + attempt
              + " uploaded no "
              + kind
              + " value, though its result names one with digest "
              + digest);
    }
    if (!r.digest().equals(digest)) {
      throw new CollectiveException(
          "rank "
              + rank
              + " of round "
              + round
              + " stage attempt "
              + attempt
              + " uploaded a "
              + kind
              + " value with digest "
              + r.digest()
              + ", but its result names "
              + digest);
    }
    return StateWire.value(kind, r.bytes());
  }

  /** Drops the round's offers and uploads. */
  void forget(long round) {
    offers.keySet().removeIf(k -> k.round == round);
    uploads.keySet().removeIf(k -> k.round == round);
  }

  /** Serves one request on a thread of its own. */
  void serve(Socket s, DataInputStream in, DataOutputStream out) {
    if (closed) {
      Rendezvous.closeQuietly(s);
      return;
    }
    open.add(s);
    try {
      s.setTcpNoDelay(true); // as the task's side: a value's last bytes and the answers at once
    } catch (java.net.SocketException e) {
      Rendezvous.closeQuietly(s);
      open.remove(s);
      return;
    }
    Thread t =
        new Thread(
            () -> {
              try {
                byte op = in.readByte();
                DataOutputStream buffered =
                    new DataOutputStream(new BufferedOutputStream(out, 1 << 16));
                if (op == PUT) {
                  put(s, in, buffered);
                } else if (op == GET) {
                  get(s, in, buffered);
                } else {
                  Rendezvous.refuse(out, s, "unknown state operation " + op);
                }
              } catch (IOException | RuntimeException e) {
                // the task sees the broken connection and fails its stage
              } finally {
                Rendezvous.closeQuietly(s);
                open.remove(s);
                threads.remove(Thread.currentThread());
              }
            },
            "spindle-round-state");
    t.setDaemon(true);
    threads.add(t);
    t.start();
  }

  private void put(Socket s, DataInputStream in, DataOutputStream out) throws IOException {
    long round = in.readLong();
    int attempt = in.readInt();
    int rank = in.readInt();
    StickyState.Kind kind = kind(in.readByte());
    long length = in.readLong();
    String digest = in.readUTF();
    byte[] proof = new byte[32];
    in.readFully(proof);
    byte[] secret = secrets.get(round);
    if (secret == null) {
      Rendezvous.refuse(out, s, "round " + round + " is not open (finished, or not this driver's)");
      return;
    }
    if (!MessageDigest.isEqual(proof, putMac(secret, round, attempt, rank, kind, length, digest))) {
      Rendezvous.refuse(
          out,
          s,
          "authentication failed for rank "
              + rank
              + "'s upload: its proof does not match the round's secret");
      return;
    }
    UploadKey key = new UploadKey(round, attempt, rank, kind);
    if (uploads.containsKey(key)) {
      Rendezvous.refuse(
          out,
          s,
          "rank " + rank + " of stage attempt " + attempt + " already uploaded its " + kind);
      return;
    }
    out.writeByte(0);
    out.flush();
    StateWire.Read r = StateWire.read(kind, length, in);
    if (!r.digest().equals(digest)) {
      Rendezvous.refuse(
          out,
          s,
          "the "
              + length
              + " bytes of rank "
              + rank
              + "'s "
              + kind
              + " have digest "
              + r.digest()
              + ", not the announced "
              + digest);
      return;
    }
    if (uploads.putIfAbsent(key, r) != null) {
      Rendezvous.refuse(
          out,
          s,
          "rank " + rank + " of stage attempt " + attempt + " already uploaded its " + kind);
      return;
    }
    out.writeByte(0);
    out.write(storedMac(secret, round, attempt, rank, kind, digest));
    out.flush();
  }

  private void get(Socket s, DataInputStream in, DataOutputStream out) throws IOException {
    long round = in.readLong();
    int rank = in.readInt();
    StickyState.Kind kind = kind(in.readByte());
    String digest = in.readUTF();
    byte[] proof = new byte[32];
    in.readFully(proof);
    byte[] secret = secrets.get(round);
    if (secret == null) {
      Rendezvous.refuse(out, s, "round " + round + " is not open (finished, or not this driver's)");
      return;
    }
    if (!MessageDigest.isEqual(proof, getMac(secret, round, rank, kind, digest))) {
      Rendezvous.refuse(
          out,
          s,
          "authentication failed for rank "
              + rank
              + "'s fetch: its proof does not match the round's secret");
      return;
    }
    Object value = offers.get(new OfferKey(round, kind, digest));
    if (value == null) {
      Rendezvous.refuse(
          out, s, "no " + kind + " with digest " + digest + " is offered for round " + round);
      return;
    }
    out.writeByte(0);
    out.writeLong(StateWire.length(value));
    StateWire.write(value, out);
    out.flush();
  }

  /**
   * Run by a task: uploads {@code value} as rank {@code rank}'s end {@code kind} of {@code round},
   * stage attempt {@code attempt}, to the round's service at {@code service}, and returns its
   * digest once the service has stored it (its answer signed with the round's secret).
   *
   * @throws CollectiveException when the upload fails or is refused: the task fails its stage
   */
  static String upload(
      String service,
      long round,
      int attempt,
      int rank,
      StickyState.Kind kind,
      Object value,
      String digest,
      byte[] secret,
      int timeoutMillis) {
    String what = "rank " + rank + ": uploading its end " + kind + " to " + service;
    try (Socket s = connect(service, timeoutMillis)) {
      DataOutputStream out =
          new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 1 << 16));
      DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
      long length = StateWire.length(value);
      out.writeInt(MAGIC);
      out.writeByte(PUT);
      out.writeLong(round);
      out.writeInt(attempt);
      out.writeInt(rank);
      out.writeByte(kind.ordinal());
      out.writeLong(length);
      out.writeUTF(digest);
      out.write(putMac(secret, round, attempt, rank, kind, length, digest));
      out.flush();
      answer(in, what);
      StateWire.write(value, out);
      out.flush();
      answer(in, what);
      byte[] proof = new byte[32];
      in.readFully(proof);
      if (!MessageDigest.isEqual(proof, storedMac(secret, round, attempt, rank, kind, digest))) {
        throw new PeerAuthenticationException(
            what + ": the service's receipt is not signed with the round's secret");
      }
      return digest;
    } catch (SocketTimeoutException e) {
      throw new CollectiveException(what + ": timed out after " + timeoutMillis + " ms", e);
    } catch (IOException e) {
      throw new CollectiveException(what + " failed: " + e, e);
    }
  }

  /**
   * Run by a task: fetches the value of {@code kind} with SHA-256 {@code digest} the service at
   * {@code service} offers for {@code round}; the bytes are checked against the digest.
   */
  static Object fetch(
      String service,
      long round,
      int rank,
      StickyState.Kind kind,
      String digest,
      byte[] secret,
      int timeoutMillis) {
    String what = "rank " + rank + ": fetching the committed " + kind + " from " + service;
    try (Socket s = connect(service, timeoutMillis)) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      DataInputStream in =
          new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
      out.writeInt(MAGIC);
      out.writeByte(GET);
      out.writeLong(round);
      out.writeInt(rank);
      out.writeByte(kind.ordinal());
      out.writeUTF(digest);
      out.write(getMac(secret, round, rank, kind, digest));
      out.flush();
      answer(in, what);
      StateWire.Read r = StateWire.read(kind, in.readLong(), in);
      if (!r.digest().equals(digest)) {
        throw new PeerAuthenticationException(
            what
                + ": the bytes served have digest "
                + r.digest()
                + ", not the committed "
                + digest);
      }
      return StateWire.value(kind, r.bytes());
    } catch (SocketTimeoutException e) {
      throw new CollectiveException(what + ": timed out after " + timeoutMillis + " ms", e);
    } catch (IOException e) {
      throw new CollectiveException(what + " failed: " + e, e);
    }
  }

  private static Socket connect(String service, int timeoutMillis) throws IOException {
    int colon = service.lastIndexOf(':');
    InetSocketAddress address =
        new InetSocketAddress(
            service.substring(0, colon), Integer.parseInt(service.substring(colon + 1)));
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true); // no Nagle wait (40 ms with a delayed ack) on a value's last bytes
      s.connect(address, timeoutMillis);
      s.setSoTimeout(timeoutMillis);
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  private static void answer(DataInputStream in, String what) throws IOException {
    int status = in.readByte();
    if (status != 0) {
      throw new CollectiveException(what + ": the service refused: " + in.readUTF());
    }
  }

  private static StickyState.Kind kind(byte b) throws IOException {
    StickyState.Kind[] all = StickyState.Kind.values();
    if (b < 0 || b >= all.length) {
      throw new IOException("unknown kind of state value " + b);
    }
    return all[b];
  }

  private static byte[] putMac(
      byte[] secret,
      long round,
      int attempt,
      int rank,
      StickyState.Kind kind,
      long length,
      String digest) {
    return Rendezvous.hmac(
        secret,
        "put|" + round + "|" + attempt + "|" + rank + "|" + kind + "|" + length + "|" + digest);
  }

  private static byte[] storedMac(
      byte[] secret, long round, int attempt, int rank, StickyState.Kind kind, String digest) {
    return Rendezvous.hmac(
        secret, "stored|" + round + "|" + attempt + "|" + rank + "|" + kind + "|" + digest);
  }

  private static byte[] getMac(
      byte[] secret, long round, int rank, StickyState.Kind kind, String digest) {
    return Rendezvous.hmac(secret, "get|" + round + "|" + rank + "|" + kind + "|" + digest);
  }

  @Override
  public void close() {
    closed = true;
    open.forEach(Rendezvous::closeQuietly);
    for (Thread t : threads) {
      try {
        t.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    offers.clear();
    uploads.clear();
  }
}
