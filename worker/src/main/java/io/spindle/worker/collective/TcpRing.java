package io.spindle.worker.collective;

import io.spindle.config.WireFormat;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A ring of N peers over TCP: each peer sends to its right neighbour ({@code rank + 1}) and
 * receives from its left ({@code rank - 1}).
 *
 * <p>Protocol, for a flat float vector cut into N chunks ({@code bounds[c]..bounds[c+1]}):
 *
 * <ul>
 *   <li><b>reduce-scatter</b>, phases k = 0..N-2: send chunk (r-k-1) mod N, receive chunk (r-k-2)
 *       mod N and add it in. Afterwards peer r holds the full sum of chunk r.
 *   <li><b>all-gather</b>, phases k = 0..N-2: send chunk (r-k) mod N, receive chunk (r-k-1) mod N
 *       and overwrite. Afterwards every peer holds every chunk.
 * </ul>
 *
 * Each chunk travels in blocks (little-endian), each behind a header (step, operation, phase,
 * chunk, offset, length, model version) that the receiver checks, so peers that disagree on the
 * step, the shape or the model fail loudly instead of mixing data. A sender thread writes while the
 * caller receives and sums, so sending overlaps with summing. Each peer sends 2 (N-1)/N of the
 * vector per all-reduce. Every socket read has a timeout; {@link #close} closes sockets and stops
 * the thread.
 */
public final class TcpRing implements AutoCloseable {
  private static final int BLOCK_MAGIC = 0x53424c4b; // "SBLK"
  private static final int HEADER_BYTES = 4 + 8 + 4 + 4 + 4 + 4 + 4 + 8;
  static final int BLOCK_VALUES = 1 << 16;

  private final int rank;
  private final int size;
  private final WireFormat wire;
  private final long modelVersion;
  private final int timeoutMillis;
  private final ServerSocket server;
  private final ExecutorService sender;
  private Socket right;
  private Socket left;
  private DataOutputStream toRight;
  private DataInputStream fromLeft;
  private final byte[] receiveBuffer;
  private final float[] receiveScratch = new float[BLOCK_VALUES];
  private final ByteBuffer sendBuffer;
  private long bytesSent;
  private long nanosWaiting;

  private TcpRing(
      int rank, int size, WireFormat wire, long modelVersion, int timeoutMillis, ServerSocket s) {
    this.rank = rank;
    this.size = size;
    this.wire = wire;
    this.modelVersion = modelVersion;
    this.timeoutMillis = timeoutMillis;
    this.server = s;
    this.sender =
        size > 1
            ? Executors.newSingleThreadExecutor(
                r -> {
                  Thread t = new Thread(r, "spindle-ring-sender-" + rank);
                  t.setDaemon(true);
                  return t;
                })
            : null;
    this.receiveBuffer = new byte[HEADER_BYTES + BLOCK_VALUES * 4];
    this.sendBuffer =
        ByteBuffer.allocate(HEADER_BYTES + BLOCK_VALUES * 4).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Opens this peer's listener on {@code host} (the executor's own address) at an ephemeral port.
   */
  public static TcpRing bind(
      String host, int rank, int size, WireFormat wire, long modelVersion, int timeoutMillis) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside a ring of " + size);
    }
    if (size == 1) {
      return new TcpRing(rank, size, wire, modelVersion, timeoutMillis, null);
    }
    try {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(true);
      s.setSoTimeout(timeoutMillis);
      s.setReceiveBufferSize(4 << 20);
      s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 4);
      return new TcpRing(rank, size, wire, modelVersion, timeoutMillis, s);
    } catch (IOException e) {
      throw new CollectiveException("rank " + rank + ": cannot listen on " + host + ": " + e, e);
    }
  }

  /** host:port of this peer's listener, for the other peers. */
  public String endpoint() {
    return server == null
        ? "local"
        : server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
  }

  public int rank() {
    return rank;
  }

  public int size() {
    return size;
  }

  /** Bytes this peer has sent so far, headers included. */
  public long bytesSent() {
    return bytesSent;
  }

  /** Nanoseconds spent in the collective operations (waiting, sending, summing). */
  public long nanosInCollectives() {
    return nanosWaiting;
  }

  /**
   * Connects to the right neighbour and accepts the left one, each side proving the job's secret
   * (see {@link PeerAuthenticator}) before any data moves.
   */
  public void connect(List<String> endpoints, byte[] secret, long round) {
    if (endpoints.size() != size) {
      throw new CollectiveException(
          "rank " + rank + ": expected " + size + " peer endpoints, found " + endpoints.size());
    }
    if (size == 1) {
      return;
    }
    PeerAuthenticator auth = new PeerAuthenticator(secret, round);
    int leftRank = (rank - 1 + size) % size;
    String rightEndpoint = endpoints.get((rank + 1) % size);
    Future<?> accepting =
        sender.submit(
            () -> {
              acceptLeft(auth, leftRank);
              return null;
            });
    try {
      right = connectWithRetry(rightEndpoint);
      toRight = new DataOutputStream(new BufferedOutputStream(right.getOutputStream(), 1 << 16));
      DataInputStream ack = new DataInputStream(right.getInputStream());
      auth.asConnector(ack, toRight, rank, "rank " + (rank + 1) % size + " at " + rightEndpoint);
    } catch (IOException e) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": cannot reach rank "
              + (rank + 1) % size
              + " at "
              + rightEndpoint
              + ": "
              + e,
          e);
    }
    await(accepting, "accepting rank " + leftRank);
  }

  /** Accepts the left neighbour; a connection that fails authentication is closed and fatal. */
  private void acceptLeft(PeerAuthenticator auth, int leftRank) throws IOException {
    Socket s;
    try {
      s = server.accept();
    } catch (SocketTimeoutException e) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": timed out after "
              + timeoutMillis
              + " ms waiting for rank "
              + leftRank
              + " to connect");
    }
    configure(s);
    DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
    DataOutputStream out = new DataOutputStream(s.getOutputStream());
    try {
      auth.asAcceptor(in, out, leftRank, s.getRemoteSocketAddress().toString());
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
    left = s;
    fromLeft = in;
  }

  private Socket connectWithRetry(String endpoint) throws IOException {
    int colon = endpoint.lastIndexOf(':');
    InetSocketAddress address =
        new InetSocketAddress(
            endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1)));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    IOException last = null;
    while (System.nanoTime() < deadline) {
      Socket s = new Socket();
      try {
        configure(s);
        s.connect(address, timeoutMillis);
        return s;
      } catch (IOException e) {
        last = e;
        s.close();
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", ie);
        }
      }
    }
    throw new IOException("no connection within " + timeoutMillis + " ms", last);
  }

  private void configure(Socket s) throws IOException {
    s.setTcpNoDelay(true);
    s.setSoTimeout(timeoutMillis);
    s.setSendBufferSize(4 << 20);
    s.setReceiveBufferSize(4 << 20);
  }

  /** Chunk boundaries of a vector of {@code n} values over {@code parts} peers. */
  public static int[] bounds(int n, int parts) {
    int[] b = new int[parts + 1];
    for (int c = 0; c <= parts; c++) {
      b[c] = (int) ((long) c * n / parts);
    }
    return b;
  }

  /** After this, {@code data}'s chunk {@code rank} holds the sum over all peers. */
  public void reduceScatter(float[] data, int[] bounds, long step) {
    reduceScatter(data, bounds, step, 0, wire, null);
  }

  /** After this, every chunk of {@code data} holds its owner's values. */
  public void allGather(float[] data, int[] bounds, long step) {
    allGather(data, bounds, step, 0, wire, null);
  }

  /** Sum over all peers, everywhere. */
  public void allReduce(float[] data, int[] bounds, long step) {
    allReduce(data, bounds, step, 0, wire, null);
  }

  /**
   * Reduce-scatter as {@link #reduceScatter(float[], int[], long)}, as exchange {@code tag} of the
   * step (0 to {@value #MAX_TAG}; peers check it in every header, so one running another exchange
   * fails loudly), encoding values as {@code wire}; {@code hook} (or null) sees every range before
   * it is sent.
   */
  public void reduceScatter(
      float[] data, int[] bounds, long step, int tag, WireFormat wire, SendHook hook) {
    for (int k = 0; k < size - 1; k++) {
      exchange(
          data,
          bounds,
          step,
          op(1, tag),
          wire,
          hook,
          k,
          mod(rank - k - 1),
          mod(rank - k - 2),
          true);
    }
  }

  /** All-gather as {@link #allGather(float[], int[], long)}, tagged, in {@code wire}, hooked. */
  public void allGather(
      float[] data, int[] bounds, long step, int tag, WireFormat wire, SendHook hook) {
    for (int k = 0; k < size - 1; k++) {
      exchange(
          data, bounds, step, op(2, tag), wire, hook, k, mod(rank - k), mod(rank - k - 1), false);
    }
  }

  /** All-reduce as {@link #allReduce(float[], int[], long)}, tagged, in {@code wire}, hooked. */
  public void allReduce(
      float[] data, int[] bounds, long step, int tag, WireFormat wire, SendHook hook) {
    reduceScatter(data, bounds, step, tag, wire, hook);
    allGather(data, bounds, step, tag, wire, hook);
  }

  /**
   * Sees the values {@code data[from, to)} on the caller's thread just before the ring sends them
   * (a chunk in reduce-scatter, the own or a received chunk in all-gather). A lossy wire format
   * rounds what it sends; a hook may round those values in place first (so that the encoding is
   * exact) and keep what the rounding removed, as error feedback.
   */
  @FunctionalInterface
  public interface SendHook {
    void beforeSend(float[] data, int from, int to);
  }

  /** The largest exchange tag of a step. */
  public static final int MAX_TAG = (1 << 27) - 1;

  private static int op(int kind, int tag) {
    if (tag < 0 || tag > MAX_TAG) {
      throw new IllegalArgumentException(
          "exchange tag must be in [0, " + MAX_TAG + "], got " + tag);
    }
    return kind | tag << 4;
  }

  private static String describeOp(int op) {
    String kind = (op & 15) == 1 ? "reduce-scatter" : (op & 15) == 2 ? "all-gather" : "op " + op;
    return (op >>> 4) == 0 ? kind : kind + " (exchange " + (op >>> 4) + ")";
  }

  private int mod(int x) {
    return ((x % size) + size) % size;
  }

  private void exchange(
      float[] data,
      int[] bounds,
      long step,
      int op,
      WireFormat wire,
      SendHook hook,
      int phase,
      int sendChunk,
      int recvChunk,
      boolean add) {
    if (bounds.length != size + 1 || bounds[size] != data.length) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": chunk bounds do not fit a vector of "
              + data.length
              + " over "
              + size
              + " peers");
    }
    long start = System.nanoTime();
    if (hook != null) {
      hook.beforeSend(data, bounds[sendChunk], bounds[sendChunk + 1]);
    }
    Future<?> sending =
        sender.submit(
            () -> {
              send(
                  data, bounds[sendChunk], bounds[sendChunk + 1], step, op, wire, phase, sendChunk);
              return null;
            });
    try {
      receive(
          data, bounds[recvChunk], bounds[recvChunk + 1], step, op, wire, phase, recvChunk, add);
    } catch (IOException e) {
      sending.cancel(true);
      throw failure(e, step, op, phase);
    }
    await(sending, "sending step " + step);
    nanosWaiting += System.nanoTime() - start;
  }

  private void send(
      float[] data, int from, int to, long step, int op, WireFormat wire, int phase, int chunk)
      throws IOException {
    for (int off = from; off < to || (off == from && from == to); off += BLOCK_VALUES) {
      int len = Math.min(BLOCK_VALUES, to - off);
      ByteBuffer b = sendBuffer;
      b.clear();
      b.putInt(BLOCK_MAGIC).putLong(step).putInt(op).putInt(phase).putInt(chunk);
      b.putInt(off).putInt(len).putLong(modelVersion);
      wire.encode(data, off, len, b);
      toRight.write(b.array(), 0, b.position());
      bytesSent += b.position();
      if (from == to) {
        break;
      }
    }
    toRight.flush();
  }

  private void receive(
      float[] data,
      int from,
      int to,
      long step,
      int op,
      WireFormat wire,
      int phase,
      int chunk,
      boolean add)
      throws IOException {
    for (int off = from; off < to || (off == from && from == to); off += BLOCK_VALUES) {
      int len = Math.min(BLOCK_VALUES, to - off);
      fromLeft.readFully(receiveBuffer, 0, HEADER_BYTES);
      ByteBuffer h = ByteBuffer.wrap(receiveBuffer, 0, HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      int magic = h.getInt();
      long theirStep = h.getLong();
      int theirOp = h.getInt();
      int theirPhase = h.getInt();
      int theirChunk = h.getInt();
      int theirOff = h.getInt();
      int theirLen = h.getInt();
      long theirVersion = h.getLong();
      if (magic != BLOCK_MAGIC
          || theirStep != step
          || theirOp != op
          || theirPhase != phase
          || theirChunk != chunk
          || theirOff != off
          || theirLen != len
          || theirVersion != modelVersion) {
        throw new CollectiveException(
            String.format(
                "rank %d: left neighbour sent (magic %x, step %d, op %d, phase %d, chunk %d,"
                    + " offset %d, length %d, model %x), expected (magic %x, step %d, op %d,"
                    + " phase %d, chunk %d, offset %d, length %d, model %x): peers disagree on"
                    + " the step, the shape or the model",
                rank,
                magic,
                theirStep,
                theirOp,
                theirPhase,
                theirChunk,
                theirOff,
                theirLen,
                theirVersion,
                BLOCK_MAGIC,
                step,
                op,
                phase,
                chunk,
                off,
                len,
                modelVersion));
      }
      int payload = len * wire.bytesPerValue();
      fromLeft.readFully(receiveBuffer, HEADER_BYTES, payload);
      ByteBuffer p =
          ByteBuffer.wrap(receiveBuffer, HEADER_BYTES, payload).order(ByteOrder.LITTLE_ENDIAN);
      if (add) {
        wire.addInto(p, data, off, len, receiveScratch);
      } else {
        wire.copyInto(p, data, off, len);
      }
      if (from == to) {
        break;
      }
    }
  }

  private CollectiveException failure(IOException e, long step, int op, int phase) {
    String what = describeOp(op);
    if (e instanceof SocketTimeoutException) {
      return new CollectiveException(
          "rank "
              + rank
              + ": timed out after "
              + timeoutMillis
              + " ms in "
              + what
              + " phase "
              + phase
              + " of step "
              + step
              + " waiting for rank "
              + mod(rank - 1),
          e);
    }
    if (e instanceof EOFException) {
      return new CollectiveException(
          "rank "
              + rank
              + ": rank "
              + mod(rank - 1)
              + " closed the connection in "
              + what
              + " phase "
              + phase
              + " of step "
              + step,
          e);
    }
    return new CollectiveException(
        "rank " + rank + ": " + what + " phase " + phase + " of step " + step + " failed: " + e, e);
  }

  private void await(Future<?> f, String what) {
    try {
      f.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof CollectiveException ce) {
        throw ce;
      }
      throw new CollectiveException("rank " + rank + ": " + what + " failed: " + c, c);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new CollectiveException(
          "rank " + rank + ": " + what + " timed out after " + timeoutMillis + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException("rank " + rank + ": interrupted while " + what, e);
    }
  }

  @Override
  public void close() {
    closeQuietly(right);
    closeQuietly(left);
    if (server != null) {
      try {
        server.close();
      } catch (IOException ignored) {
        // closing; nothing to recover
      }
    }
    if (sender != null) {
      sender.shutdownNow();
      try {
        sender.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void closeQuietly(Socket s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing; nothing to recover
      }
    }
  }
}
