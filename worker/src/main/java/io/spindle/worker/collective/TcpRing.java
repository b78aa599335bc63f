package io.spindle.worker.collective;

import io.spindle.config.RingTransport;
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
import java.nio.FloatBuffer;
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
 *
 * <p>With {@link RingTransport#AUTO}, a neighbour in the same JVM (workers that are threads of one
 * executor) is reached through a {@link LocalLink} instead of a socket: the receiver checks the
 * same header and adds (or copies) the values straight from the sender's array, through the wire
 * format's encoding when it is lossy, so the results are bit-identical to TCP; {@link #bytesSent}
 * counts what TCP would send. Mixed rings (some links in process, some over TCP) work. See {@code
 * docs/ring-transport.md}.
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
  // the JVM this peer announces for in-process links, or null (TCP only)
  private final String jvmToken;
  // in-process links: this peer sends into rightLink and receives from leftLink (null: TCP)
  private volatile LocalLink rightLink;
  private volatile LocalLink leftLink;
  private ByteBuffer localBuffer;
  private Socket right;
  private Socket left;
  private DataOutputStream toRight;
  private DataInputStream fromLeft;
  private final byte[] receiveBuffer;
  private final float[] receiveScratch = new float[BLOCK_VALUES];
  // the sender thread's block of values read from native memory (TCP sends from a native range)
  private float[] sendScratch;
  // a block of the left neighbour's values read from native memory, to encode (in process, lossy)
  private float[] localValues;
  // the sums of a block of values added in from the left neighbour's native memory (in process)
  private float[] addScratch;
  private static final int ADD_BLOCK = 1 << 14;
  private final ByteBuffer sendBuffer;
  private long bytesSent;
  private long nanosWaiting;

  private TcpRing(
      int rank,
      int size,
      WireFormat wire,
      long modelVersion,
      int timeoutMillis,
      ServerSocket s,
      String jvmToken) {
    this.jvmToken = jvmToken;
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
   * Opens this peer's listener on {@code host} (the executor's own address) at an ephemeral port;
   * every neighbour over TCP ({@link RingTransport#TCP}).
   */
  public static TcpRing bind(
      String host, int rank, int size, WireFormat wire, long modelVersion, int timeoutMillis) {
    return bind(host, rank, size, wire, modelVersion, timeoutMillis, RingTransport.TCP);
  }

  /**
   * As {@link #bind(String, int, int, WireFormat, long, int)}; with {@link RingTransport#AUTO}
   * neighbours in this JVM exchange values in process.
   */
  public static TcpRing bind(
      String host,
      int rank,
      int size,
      WireFormat wire,
      long modelVersion,
      int timeoutMillis,
      RingTransport transport) {
    return bind(
        host,
        rank,
        size,
        wire,
        modelVersion,
        timeoutMillis,
        transport == RingTransport.AUTO ? LocalLink.JVM_TOKEN : null);
  }

  /**
   * As above, announcing {@code jvmToken} as this peer's JVM (null: TCP only); tests give peers of
   * one JVM different tokens to build mixed rings.
   */
  static TcpRing bind(
      String host,
      int rank,
      int size,
      WireFormat wire,
      long modelVersion,
      int timeoutMillis,
      String jvmToken) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside a ring of " + size);
    }
    if (size == 1) {
      return new TcpRing(rank, size, wire, modelVersion, timeoutMillis, null, jvmToken);
    }
    try {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(true);
      s.setSoTimeout(timeoutMillis);
      s.setReceiveBufferSize(4 << 20);
      s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 4);
      return new TcpRing(rank, size, wire, modelVersion, timeoutMillis, s, jvmToken);
    } catch (IOException e) {
      throw new CollectiveException("rank " + rank + ": cannot listen on " + host + ": " + e, e);
    }
  }

  /**
   * host:port of this peer's listener, for the other peers; with in-process links allowed, followed
   * by {@code ;jvm=} and this JVM's token.
   */
  public String endpoint() {
    if (server == null) {
      return "local";
    }
    String address = server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    return jvmToken == null ? address : address + JVM_SUFFIX + jvmToken;
  }

  private static final String JVM_SUFFIX = ";jvm=";

  /** The host:port part of an endpoint. */
  private static String address(String endpoint) {
    int cut = endpoint.indexOf(';');
    return cut < 0 ? endpoint : endpoint.substring(0, cut);
  }

  /**
   * Whether the peer at {@code endpoint} runs in this peer's JVM and both allow in-process links.
   */
  private boolean inProcess(String endpoint) {
    int cut = endpoint.indexOf(JVM_SUFFIX);
    return jvmToken != null
        && cut >= 0
        && endpoint.substring(cut + JVM_SUFFIX.length()).equals(jvmToken);
  }

  /** Whether this peer reaches its right or its left neighbour in process. */
  public boolean inProcess() {
    return rightLink != null || leftLink != null;
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
    int leftRank = (rank - 1 + size) % size;
    if (inProcess(endpoints.get((rank + 1) % size)) || inProcess(endpoints.get(leftRank))) {
      connectMixed(endpoints, secret, round);
      return;
    }
    PeerAuthenticator auth = new PeerAuthenticator(secret, round);
    String rightEndpoint = address(endpoints.get((rank + 1) % size));
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

  /**
   * {@link #connect} when at least one neighbour is in this JVM: attaches to the in-process links
   * first (without waiting, so that a ring of in-process peers cannot wait in a circle), connects
   * and accepts the TCP neighbour as usual, then waits for the in-process partners.
   */
  private void connectMixed(List<String> endpoints, byte[] secret, long round) {
    int leftRank = mod(rank - 1);
    int rightRank = mod(rank + 1);
    String rightEndpoint = endpoints.get(rightRank);
    boolean rightLocal = inProcess(rightEndpoint);
    boolean leftLocal = inProcess(endpoints.get(leftRank));
    String who = "rank " + rank;
    try {
      if (rightLocal) {
        rightLink = LocalLink.attach(LocalLink.key(secret, round, size, rank, jvmToken), true, who);
      }
      if (leftLocal) {
        leftLink =
            LocalLink.attach(LocalLink.key(secret, round, size, leftRank, jvmToken), false, who);
      }
      PeerAuthenticator auth = new PeerAuthenticator(secret, round);
      Future<?> accepting =
          leftLocal
              ? null
              : sender.submit(
                  () -> {
                    acceptLeft(auth, leftRank);
                    return null;
                  });
      if (!rightLocal) {
        String address = address(rightEndpoint);
        try {
          right = connectWithRetry(address);
          toRight =
              new DataOutputStream(new BufferedOutputStream(right.getOutputStream(), 1 << 16));
          DataInputStream ack = new DataInputStream(right.getInputStream());
          auth.asConnector(ack, toRight, rank, "rank " + rightRank + " at " + address);
        } catch (IOException e) {
          throw new CollectiveException(
              "rank " + rank + ": cannot reach rank " + rightRank + " at " + address + ": " + e, e);
        }
      }
      if (accepting != null) {
        await(accepting, "accepting rank " + leftRank);
      }
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
      if (rightLocal) {
        awaitPartner(rightLink, true, rightRank, deadline);
      }
      if (leftLocal) {
        awaitPartner(leftLink, false, leftRank, deadline);
      }
    } catch (RuntimeException e) {
      closeLinks();
      throw e;
    }
  }

  private void awaitPartner(LocalLink link, boolean asSender, int peer, long deadline) {
    try {
      link.awaitPartner(asSender, deadline);
    } catch (LocalLink.Broken e) {
      throw new CollectiveException(
          "rank "
              + rank
              + (e.status == LocalLink.Status.TIMEOUT
                  ? ": timed out after "
                      + timeoutMillis
                      + " ms waiting for rank "
                      + peer
                      + " to connect in process (only peers of the same job, with its secret,"
                      + " pair)"
                  : ": connecting rank " + peer + " in process failed: " + describe(e, peer)));
    }
  }

  private static String describe(LocalLink.Broken e, int peer) {
    return switch (e.status) {
      case CLOSED -> "this peer's ring was closed";
      case PEER_CLOSED -> "rank " + peer + " closed the connection";
      case INTERRUPTED -> "interrupted";
      case TIMEOUT -> "timed out";
      case REJECTED -> "rank " + peer + " refused the values: " + e.detail;
    };
  }

  private void closeLinks() {
    LocalLink r = rightLink;
    LocalLink l = leftLink;
    if (r != null) {
      r.close(true);
    }
    if (l != null) {
      l.close(false);
    }
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
   * {@link #reduceScatter(float[], int[], long)} of values this peer holds in native memory, {@code
   * local} (index i holding value i: {@code FlatVector.nativeView} of a network's gradient),
   * instead of in {@code data}, whose values are not read; {@code local} null: the values are in
   * {@code data}, as there. The ring reads each chunk of {@code local} where it needs it, and
   * nothing is copied to the heap whole first: a chunk this peer sends before summing into it goes
   * from {@code local} (over TCP through a block of scratch, in process read by the neighbour), a
   * chunk it sums into becomes {@code local + received} in {@code data}, the order of the additions
   * of a copy followed by the reduce-scatter, so the sums are the same bits. Afterwards {@code
   * data}'s chunk {@code rank} holds the sum over all peers; its other chunks are undefined.
   */
  public void reduceScatter(float[] data, FloatBuffer local, int[] bounds, long step) {
    requireOneChunkPerPeer(bounds);
    requireCovers(local, data.length);
    runPhases(REDUCE_SCATTER, data, local, bounds, step, 0, wire, null);
    if (size == 1 && local != null) {
      local.get(bounds[rank], data, bounds[rank], bounds[rank + 1] - bounds[rank]);
    }
  }

  /**
   * {@link #allReduce(float[], int[], long)} of values in native memory, as {@link
   * #reduceScatter(float[], FloatBuffer, int[], long)} reads them; afterwards {@code data} holds
   * the sum, everywhere.
   */
  public void allReduce(float[] data, FloatBuffer local, int[] bounds, long step) {
    reduceScatter(data, local, bounds, step);
    allGather(data, bounds, step);
  }

  /**
   * All-gather of the chunks this peer's {@code data} holds (its chunk {@code rank}) into {@code
   * into}, native memory (index i holding value i: {@code FlatVector.nativeView} of a network's
   * parameters), instead of into {@code data}: every received chunk is written to {@code into} (a
   * bulk copy) and sent on from there, and this peer's own chunk is copied into it at the end, so
   * that afterwards {@code into} holds every chunk, the bits the all-gather into {@code data} would
   * leave there, while {@code data}'s other chunks are left as they were. {@code into} null: {@link
   * #allGather(float[], int[], long, int, WireFormat, SendHook)} into {@code data}, no hook.
   */
  public void allGather(
      float[] data, FloatBuffer into, int[] bounds, long step, int tag, WireFormat wire) {
    requireOneChunkPerPeer(bounds);
    requireCovers(into, data.length);
    runPhases(ALL_GATHER, data, into, bounds, step, tag, wire, null);
    if (into != null) {
      into.put(bounds[rank], data, bounds[rank], bounds[rank + 1] - bounds[rank]);
    }
  }

  private void requireCovers(FloatBuffer values, int length) {
    if (values != null && values.capacity() < length) {
      throw new IllegalArgumentException(
          "rank "
              + rank
              + ": a native buffer of "
              + values.capacity()
              + " values cannot hold a vector of "
              + length);
    }
  }

  /**
   * Reduce-scatter as {@link #reduceScatter(float[], int[], long)}, as exchange {@code tag} of the
   * step (0 to {@value #MAX_TAG}; peers check it in every header, so one running another exchange
   * fails loudly), encoding values as {@code wire}; {@code hook} (or null) sees every range before
   * it is sent.
   */
  public void reduceScatter(
      float[] data, int[] bounds, long step, int tag, WireFormat wire, SendHook hook) {
    requireOneChunkPerPeer(bounds);
    runPhases(REDUCE_SCATTER, data, null, bounds, step, tag, wire, hook);
  }

  /** All-gather as {@link #allGather(float[], int[], long)}, tagged, in {@code wire}, hooked. */
  public void allGather(
      float[] data, int[] bounds, long step, int tag, WireFormat wire, SendHook hook) {
    requireOneChunkPerPeer(bounds);
    runPhases(ALL_GATHER, data, null, bounds, step, tag, wire, hook);
  }

  /**
   * Runs the N-1 phases of a {@link #REDUCE_SCATTER} or an {@link #ALL_GATHER}, as exchange {@code
   * tag}. Reduce-scatter phase k sends chunk (r-k-1) mod N and adds in the chunk before it;
   * all-gather phase k sends chunk (r-k) mod N and overwrites the chunk before it. {@code own} (or
   * null): native memory, the reduce-scatter's addends of this peer (as {@link
   * #reduceScatter(float[], FloatBuffer, int[], long)} reads them) or where the all-gather's
   * received chunks go (as {@link #allGather(float[], FloatBuffer, int[], long, int, WireFormat)}
   * fills it).
   */
  private void runPhases(
      int kind,
      float[] data,
      FloatBuffer own,
      int[] bounds,
      long step,
      int tag,
      WireFormat wire,
      SendHook hook) {
    boolean add = kind == REDUCE_SCATTER;
    for (int k = 0; k < size - 1; k++) {
      int sendChunk = add ? mod(rank - k - 1) : mod(rank - k);
      // the sent chunk's values are in own in a reduce-scatter's phase 0 (a chunk nothing has been
      // added to yet; later phases send what they summed, in data) and in an all-gather's later
      // phases (the chunk the phase before received there; phase 0 sends this peer's own chunk)
      FloatBuffer sendNative = (add ? k == 0 : k > 0) ? own : null;
      exchange(
          new Phase(
              data,
              bounds,
              step,
              op(kind, tag),
              wire,
              hook,
              k,
              sendChunk,
              mod(sendChunk - 1),
              add,
              sendNative,
              own));
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

  /** The operations' kinds, in the low 4 bits of a block header's op (the tag above them). */
  private static final int REDUCE_SCATTER = 1;

  private static final int ALL_GATHER = 2;

  private static int op(int kind, int tag) {
    if (tag < 0 || tag > MAX_TAG) {
      throw new IllegalArgumentException(
          "exchange tag must be in [0, " + MAX_TAG + "], got " + tag);
    }
    return kind | tag << 4;
  }

  private static String describeOp(int op) {
    String kind =
        (op & 15) == REDUCE_SCATTER
            ? "reduce-scatter"
            : (op & 15) == ALL_GATHER
                ? "all-gather"
                : op == ShardRing.OP ? "reduce-scatter of shards" : "op " + op;
    return (op >>> 4) == 0 ? kind : kind + " (exchange " + (op >>> 4) + ")";
  }

  private void requireOneChunkPerPeer(int[] bounds) {
    if (bounds.length != size + 1) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": expected one chunk per peer ("
              + size
              + "), got "
              + (bounds.length - 1));
    }
  }

  private int mod(int x) {
    return ((x % size) + size) % size;
  }

  /**
   * One phase of a ring operation over chunks of any cut ({@code chunkBounds}, not necessarily one
   * chunk per peer): sends chunk {@code sendChunk} of {@code data} to the right neighbour while
   * receiving chunk {@code recvChunk} from the left one, adding it in ({@code add}) or overwriting.
   * The right neighbour must call it with the same {@code op}, {@code phase} and its {@code
   * recvChunk} equal to this peer's {@code sendChunk}; the headers check it. {@link ShardRing} runs
   * a ring of logical shards over fewer peers with it.
   */
  public void shift(
      float[] data,
      int[] chunkBounds,
      long step,
      int op,
      int phase,
      int sendChunk,
      int recvChunk,
      boolean add) {
    exchange(
        new Phase(
            data, chunkBounds, step, op, wire, null, phase, sendChunk, recvChunk, add, null, null));
  }

  /**
   * One phase of a ring operation as this peer runs it: it sends chunk {@code sendChunk} of {@code
   * data} (cut at {@code bounds}) to the right neighbour while it receives chunk {@code recvChunk}
   * from the left one and adds it in ({@code add}) or overwrites; every block's header carries
   * {@code step}, {@code op}, {@code phase} and the chunk. {@code wire} encodes the values; {@code
   * hook} (or null) sees the sent range first. {@code sendNative} (or null): the sent chunk's
   * values are there, not in {@code data}; {@code recvNative} (or null): the received chunk's own
   * values are there and the sum goes to {@code data} ({@code add}), or the received values go
   * there instead of to {@code data}.
   */
  private record Phase(
      float[] data,
      int[] bounds,
      long step,
      int op,
      WireFormat wire,
      SendHook hook,
      int phase,
      int sendChunk,
      int recvChunk,
      boolean add,
      FloatBuffer sendNative,
      FloatBuffer recvNative) {

    int sendFrom() {
      return bounds[sendChunk];
    }

    int sendTo() {
      return bounds[sendChunk + 1];
    }

    int recvFrom() {
      return bounds[recvChunk];
    }

    int recvTo() {
      return bounds[recvChunk + 1];
    }

    /** What this phase offers a right neighbour in this JVM: the sent chunk and its header. */
    LocalLink.Offer offer(long modelVersion) {
      return new LocalLink.Offer(
          data, sendNative, sendFrom(), sendTo(), step, op, phase, sendChunk, modelVersion);
    }

    /** Where this phase stands, for messages: its operation, phase and step. */
    String where() {
      return describeOp(op) + " phase " + phase + " of step " + step;
    }
  }

  /** Runs one phase, over TCP or, when a neighbour is in this JVM, {@link #exchangeMixed}. */
  private void exchange(Phase p) {
    float[] data = p.data();
    int[] bounds = p.bounds();
    if (bounds.length < 2 || bounds[bounds.length - 1] != data.length) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": chunk bounds do not fit a vector of "
              + data.length
              + " over "
              + size
              + " peers");
    }
    if (p.hook() != null && p.sendNative() != null) {
      throw new IllegalArgumentException("a send hook needs the sent values on the heap");
    }
    if (rightLink != null || leftLink != null) {
      exchangeMixed(p);
      return;
    }
    long start = System.nanoTime();
    if (p.hook() != null) {
      p.hook().beforeSend(data, p.sendFrom(), p.sendTo());
    }
    Future<?> sending =
        sender.submit(
            () -> {
              send(p);
              return null;
            });
    try {
      receive(p);
    } catch (IOException e) {
      sending.cancel(true);
      throw failure(e, p);
    }
    await(sending, "sending step " + p.step());
    nanosWaiting += System.nanoTime() - start;
  }

  /**
   * {@link #exchange} when a neighbour is in this JVM: offers the send range to the right neighbour
   * in process (or sends it over TCP), receives from the left one in process (or over TCP), then
   * waits until the right neighbour has answered, so that the caller may modify the range again.
   * Any failure closes the in-process links: a failed exchange leaves the ring unusable, as on TCP.
   */
  private void exchangeMixed(Phase p) {
    long start = System.nanoTime();
    int sendFrom = p.sendFrom();
    int sendTo = p.sendTo();
    if (p.hook() != null) {
      p.hook().beforeSend(p.data(), sendFrom, sendTo);
    }
    LocalLink toLink = rightLink;
    LocalLink fromLink = leftLink;
    Future<?> sending = null;
    LocalLink.Offer offer = null;
    try {
      if (toLink != null) {
        offer = p.offer(modelVersion);
        try {
          toLink.publish(offer);
        } catch (LocalLink.Broken e) {
          // a left neighbour's offer that disagrees says more than a closed right one (it is
          // what TCP reports, whose send would have gone into the socket's buffer)
          LocalLink.Offer theirs = fromLink == null ? null : fromLink.peek();
          String disagreement = theirs == null ? null : disagreement(theirs, p);
          closeLinks();
          if (disagreement != null) {
            throw new CollectiveException(disagreement);
          }
          throw sendFailure(e, p);
        }
        bytesSent += wireBytes(sendTo - sendFrom, p.wire());
      } else {
        sending =
            sender.submit(
                () -> {
                  send(p);
                  return null;
                });
      }
      if (fromLink != null) {
        receiveInProcess(fromLink, p);
      } else {
        receive(p);
      }
    } catch (IOException e) {
      abandon(sending);
      throw failure(e, p);
    } catch (LocalLink.Broken e) {
      abandon(sending);
      throw receiveFailure(e, p);
    } catch (RuntimeException e) {
      abandon(sending);
      throw e;
    }
    if (offer != null) {
      try {
        toLink.awaitAnswer(offer, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
      } catch (LocalLink.Broken e) {
        closeLinks();
        throw sendFailure(e, p);
      }
    } else {
      await(sending, "sending step " + p.step());
    }
    nanosWaiting += System.nanoTime() - start;
  }

  private void abandon(Future<?> sending) {
    if (sending != null) {
      sending.cancel(true);
    }
    closeLinks();
  }

  /** The bytes TCP sends for a range of {@code len} values: its blocks' headers and payloads. */
  static long wireBytes(int len, WireFormat wire) {
    long blocks = len == 0 ? 1 : (len + BLOCK_VALUES - 1) / BLOCK_VALUES;
    return blocks * HEADER_BYTES + (long) len * wire.bytesPerValue();
  }

  /**
   * Takes the left neighbour's offer, checks its header as {@link #receive} checks each block's,
   * and adds or copies its values: fp32 straight from the sender's array or native memory (what the
   * wire's bulk copy would deliver), a lossy format through its own encoding and decoding, block by
   * block, exactly as over TCP. The phase's {@code recvNative} (or null): as {@link #receive}'s,
   * this peer's addends, or where the copied values go. Then answers, which releases the sender.
   */
  private void receiveInProcess(LocalLink link, Phase p) throws LocalLink.Broken {
    float[] data = p.data();
    FloatBuffer own = p.recvNative();
    int from = p.recvFrom();
    int to = p.recvTo();
    WireFormat wire = p.wire();
    boolean add = p.add();
    LocalLink.Offer o = link.take(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
    String disagreement = disagreement(o, p);
    if (disagreement != null) {
      try {
        link.answer(o, disagreement);
      } catch (LocalLink.Broken ignored) {
        // the sender is gone already; this peer's error says what went wrong
      }
      throw new CollectiveException(disagreement);
    }
    float[] source = o.data();
    FloatBuffer sourceNative = o.buffer();
    if (wire == WireFormat.FP32 && !add) {
      int len = to - from;
      if (sourceNative == null) {
        if (own == null) {
          System.arraycopy(source, from, data, from, len);
        } else {
          own.put(from, source, from, len);
        }
      } else if (own == null) {
        sourceNative.get(from, data, from, len);
      } else {
        own.put(from, sourceNative, from, len);
      }
    } else if (wire == WireFormat.FP32 && sourceNative == null) {
      // block by block, so that a block copied in from native memory is still in cache for its add
      for (int off = from; off < to; off += BLOCK_VALUES) {
        int len = Math.min(BLOCK_VALUES, to - off);
        if (own != null) {
          own.get(off, data, off, len);
        }
        addSameIndex(data, source, off, off + len);
      }
    } else if (wire == WireFormat.FP32) {
      // both addends to blocks at index 0, added there and copied to data: a loop whose arrays
      // share one index is vectorised by C2, one that indexes data at an offset is not
      if (addScratch == null) {
        addScratch = new float[ADD_BLOCK];
      }
      float[] sum = addScratch;
      float[] theirs = receiveScratch;
      for (int off = from; off < to; off += ADD_BLOCK) {
        int len = Math.min(ADD_BLOCK, to - off);
        if (own != null) {
          own.get(off, sum, 0, len);
        } else {
          System.arraycopy(data, off, sum, 0, len);
        }
        sourceNative.get(off, theirs, 0, len);
        addSameIndex(sum, theirs, 0, len);
        System.arraycopy(sum, 0, data, off, len);
      }
    } else {
      if (localBuffer == null) {
        localBuffer = ByteBuffer.allocate(BLOCK_VALUES * 4).order(ByteOrder.LITTLE_ENDIAN);
      }
      for (int off = from; off < to; off += BLOCK_VALUES) {
        int len = Math.min(BLOCK_VALUES, to - off);
        ByteBuffer b = localBuffer;
        b.clear();
        if (sourceNative == null) {
          wire.encode(source, off, len, b);
        } else {
          if (localValues == null) {
            localValues = new float[BLOCK_VALUES];
          }
          sourceNative.get(off, localValues, 0, len);
          wire.encode(localValues, 0, len, b);
        }
        b.flip();
        deliver(p, b, off, len);
      }
    }
    link.answer(o, null);
  }

  /**
   * What {@link #receive} reports for the first block whose header differs between the offer and
   * what this peer expects for the phase's received chunk, or null when they agree.
   */
  private String disagreement(LocalLink.Offer o, Phase p) {
    int from = p.recvFrom();
    int to = p.recvTo();
    int k = 0;
    if (o.step() == p.step()
        && o.op() == p.op()
        && o.phase() == p.phase()
        && o.chunk() == p.recvChunk()
        && o.modelVersion() == modelVersion) {
      while (true) {
        int off = from + k * BLOCK_VALUES;
        int theirOff = o.from() + k * BLOCK_VALUES;
        boolean mine = k == 0 || off < to;
        boolean theirs = k == 0 || theirOff < o.to();
        if (!mine && !theirs) {
          return null;
        }
        if (mine != theirs
            || off != theirOff
            || Math.min(BLOCK_VALUES, to - off) != Math.min(BLOCK_VALUES, o.to() - theirOff)) {
          break;
        }
        k++;
      }
    }
    int off = from + k * BLOCK_VALUES;
    int theirOff = o.from() + k * BLOCK_VALUES;
    return mismatch(
        BLOCK_MAGIC,
        o.step(),
        o.op(),
        o.phase(),
        o.chunk(),
        theirOff,
        Math.max(0, Math.min(BLOCK_VALUES, o.to() - theirOff)),
        o.modelVersion(),
        p.step(),
        p.op(),
        p.phase(),
        p.recvChunk(),
        off,
        Math.max(0, Math.min(BLOCK_VALUES, to - off)));
  }

  private CollectiveException receiveFailure(LocalLink.Broken e, Phase p) {
    return new CollectiveException(
        switch (e.status) {
          case TIMEOUT -> timedOutReceiving(p);
          case PEER_CLOSED -> leftClosed(p);
          default -> failedReceiving(p, describe(e, mod(rank - 1)));
        },
        e);
  }

  /** The messages of a failed receive, the same in process and over TCP. */
  private String timedOutReceiving(Phase p) {
    return "rank "
        + rank
        + ": timed out after "
        + timeoutMillis
        + " ms in "
        + p.where()
        + " waiting for rank "
        + mod(rank - 1);
  }

  private String leftClosed(Phase p) {
    return "rank " + rank + ": rank " + mod(rank - 1) + " closed the connection in " + p.where();
  }

  private String failedReceiving(Phase p, String cause) {
    return "rank " + rank + ": " + p.where() + " failed: " + cause;
  }

  private CollectiveException sendFailure(LocalLink.Broken e, Phase p) {
    int right = mod(rank + 1);
    String where = p.where();
    return new CollectiveException(
        switch (e.status) {
          case TIMEOUT ->
              "rank "
                  + rank
                  + ": sending step "
                  + p.step()
                  + " timed out after "
                  + timeoutMillis
                  + " ms";
          case PEER_CLOSED ->
              "rank " + rank + ": rank " + right + " closed the connection in " + where;
          default ->
              "rank "
                  + rank
                  + ": sending "
                  + where
                  + " to rank "
                  + right
                  + " failed: "
                  + describe(e, right);
        },
        e);
  }

  /** {@code data[i] += source[i]} over {@code [from, to)}: one index, which C2 vectorises. */
  private static void addSameIndex(float[] data, float[] source, int from, int to) {
    for (int i = from; i < to; i++) {
      data[i] += source[i];
    }
  }

  /**
   * Sends the phase's chunk block by block, each behind its header, from {@code data} or, with
   * {@code sendNative}, from native memory. Runs on the sender thread.
   */
  private void send(Phase p) throws IOException {
    float[] data = p.data();
    FloatBuffer source = p.sendNative();
    int from = p.sendFrom();
    int to = p.sendTo();
    WireFormat wire = p.wire();
    for (int off = from; off < to || (off == from && from == to); off += BLOCK_VALUES) {
      int len = Math.min(BLOCK_VALUES, to - off);
      ByteBuffer b = sendBuffer;
      b.clear();
      b.putInt(BLOCK_MAGIC)
          .putLong(p.step())
          .putInt(p.op())
          .putInt(p.phase())
          .putInt(p.sendChunk());
      b.putInt(off).putInt(len).putLong(modelVersion);
      if (source == null) {
        wire.encode(data, off, len, b);
      } else {
        // runs on the sender thread, the only one that touches sendScratch
        if (sendScratch == null) {
          sendScratch = new float[BLOCK_VALUES];
        }
        source.get(off, sendScratch, 0, len);
        wire.encode(sendScratch, 0, len, b);
      }
      toRight.write(b.array(), 0, b.position());
      bytesSent += b.position();
      if (from == to) {
        break;
      }
    }
    toRight.flush();
  }

  /**
   * Receives the phase's chunk block by block, checking each block's header, and {@link #deliver}s
   * each block's values.
   */
  private void receive(Phase p) throws IOException {
    int from = p.recvFrom();
    int to = p.recvTo();
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
          || theirStep != p.step()
          || theirOp != p.op()
          || theirPhase != p.phase()
          || theirChunk != p.recvChunk()
          || theirOff != off
          || theirLen != len
          || theirVersion != modelVersion) {
        throw new CollectiveException(
            mismatch(
                magic,
                theirStep,
                theirOp,
                theirPhase,
                theirChunk,
                theirOff,
                theirLen,
                theirVersion,
                p.step(),
                p.op(),
                p.phase(),
                p.recvChunk(),
                off,
                len));
      }
      int payload = len * p.wire().bytesPerValue();
      fromLeft.readFully(receiveBuffer, HEADER_BYTES, payload);
      deliver(
          p,
          ByteBuffer.wrap(receiveBuffer, HEADER_BYTES, payload).order(ByteOrder.LITTLE_ENDIAN),
          off,
          len);
      if (from == to) {
        break;
      }
    }
  }

  /**
   * Adds a received block of {@code len} encoded values into {@code data} from {@code off} or
   * copies it there; with the phase's {@code recvNative} ({@code own}), adding writes {@code own +
   * received} to {@code data} and copying writes to {@code own} instead of {@code data}.
   */
  private void deliver(Phase p, ByteBuffer values, int off, int len) {
    float[] data = p.data();
    FloatBuffer own = p.recvNative();
    WireFormat wire = p.wire();
    if (p.add()) {
      if (own != null) {
        own.get(off, data, off, len);
      }
      wire.addInto(values, data, off, len, receiveScratch);
    } else if (own != null) {
      wire.copyInto(values, receiveScratch, 0, len);
      own.put(off, receiveScratch, 0, len);
    } else {
      wire.copyInto(values, data, off, len);
    }
  }

  private String mismatch(
      int magic,
      long theirStep,
      int theirOp,
      int theirPhase,
      int theirChunk,
      int theirOff,
      int theirLen,
      long theirVersion,
      long step,
      int op,
      int phase,
      int chunk,
      int off,
      int len) {
    return String.format(
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
        modelVersion);
  }

  private CollectiveException failure(IOException e, Phase p) {
    if (e instanceof SocketTimeoutException) {
      return new CollectiveException(timedOutReceiving(p), e);
    }
    if (e instanceof EOFException) {
      return new CollectiveException(leftClosed(p), e);
    }
    return new CollectiveException(failedReceiving(p, e.toString()), e);
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
    closeLinks();
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
