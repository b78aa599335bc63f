package io.spindle.worker.collective;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One direction of a ring link between two peers that run in the same JVM (the in-process transport
 * of {@link TcpRing}): the left peer (the sender) offers a range of its own array with the header
 * TCP would send, the right peer (the receiver) checks the header, adds or copies the values
 * straight from the sender's array (or native memory) and answers; the sender's exchange returns
 * only after the answer, so the range is never modified while the receiver reads it.
 *
 * <p>Pairing: both peers compute the link's key, a SHA-256 of the job's secret, the round, the
 * ring's size, the sender's rank and this JVM's random {@link #JVM_TOKEN}, and attach to the link
 * of that key in a process-wide registry, one as sender, one as receiver. Without the secret a peer
 * cannot compute the key, so no other job in the JVM can attach; a peer with another secret never
 * pairs and times out. A paired link leaves the registry.
 *
 * <p>Failure: {@link #close} from either side (the ring's close, as {@code KillWatch} calls it)
 * wakes a waiting partner at once, which fails; every wait has a deadline. A sender that gives up
 * waiting for the answer closes its side first, so a receiver still reading can never answer as if
 * the values were intact.
 */
final class LocalLink {
  /** This JVM's identity in ring endpoints: peers with the same token share this registry. */
  static final String JVM_TOKEN = newToken();

  private static final ConcurrentHashMap<String, LocalLink> REGISTRY = new ConcurrentHashMap<>();

  /**
   * A range {@code [from, to)} of the sender's values, offered with its header fields: in {@code
   * buffer} (native memory, index i holding value i) when it is not null, else in {@code data}.
   */
  record Offer(
      float[] data,
      FloatBuffer buffer,
      int from,
      int to,
      long step,
      int op,
      int phase,
      int chunk,
      long modelVersion) {}

  /** Why a wait on the link ended without its result. */
  enum Status {
    TIMEOUT,
    PEER_CLOSED,
    CLOSED,
    INTERRUPTED,
    REJECTED
  }

  /** A wait that failed; {@code detail} holds the receiver's reason for {@code REJECTED}. */
  static final class Broken extends Exception {
    final Status status;
    final String detail;

    Broken(Status status, String detail) {
      super(status + (detail == null ? "" : ": " + detail), null, false, false);
      this.status = status;
      this.detail = detail;
    }
  }

  private final String key;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private boolean senderAttached;
  private boolean receiverAttached;
  private boolean senderClosed;
  private boolean receiverClosed;
  private Offer offer;
  private boolean taken;
  private Offer answered;
  private String rejection;

  private LocalLink(String key) {
    this.key = key;
  }

  private static String newToken() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /**
   * The key of the link from rank {@code from} to its right neighbour, in the ring of {@code size}
   * peers of round {@code round} whose peers share {@code secret}, in the JVM {@code jvmToken}.
   */
  static String key(byte[] secret, long round, int size, int from, String jvmToken) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update("spindle-local-link".getBytes(StandardCharsets.UTF_8));
      d.update(
          ByteBuffer.allocate(20)
              .putInt(secret.length)
              .putLong(round)
              .putInt(size)
              .putInt(from)
              .array());
      d.update(secret);
      d.update(jvmToken.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /**
   * Attaches to the link of {@code key} as its sender or its receiver, without waiting for the
   * partner (peers attach to both their links first, then wait: see {@link #awaitPartner}).
   */
  static LocalLink attach(String key, boolean asSender, String who) {
    while (true) {
      LocalLink link =
          REGISTRY.compute(
              key, (k, old) -> old == null || old.anyClosed() ? new LocalLink(k) : old);
      link.lock.lock();
      try {
        if (link.senderClosed || link.receiverClosed) {
          continue; // closed between compute and lock: take a fresh one
        }
        if (asSender ? link.senderAttached : link.receiverAttached) {
          throw new CollectiveException(
              who
                  + ": another peer of this JVM already attached as the "
                  + (asSender ? "sender" : "receiver")
                  + " of this in-process link; two tasks claim the same rank of the round");
        }
        if (asSender) {
          link.senderAttached = true;
        } else {
          link.receiverAttached = true;
        }
        link.changed.signalAll();
        return link;
      } finally {
        link.lock.unlock();
      }
    }
  }

  private boolean anyClosed() {
    lock.lock();
    try {
      return senderClosed || receiverClosed;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until both peers attached; the link then leaves the registry. */
  void awaitPartner(boolean asSender, long deadlineNanos) throws Broken {
    lock.lock();
    try {
      while (!(senderAttached && receiverAttached)) {
        checkOpen(asSender);
        await(deadlineNanos);
      }
      checkOpen(asSender);
    } finally {
      lock.unlock();
    }
    REGISTRY.remove(key, this);
  }

  /** Sender: offers {@code o}; the previous offer has been answered. */
  void publish(Offer o) throws Broken {
    lock.lock();
    try {
      checkOpen(true);
      offer = o;
      taken = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sender: waits for the receiver's answer to {@code o}; on any failure closes the sender's side
   * (the receiver may still be reading, and must not answer as if the values were intact).
   */
  void awaitAnswer(Offer o, long deadlineNanos) throws Broken {
    lock.lock();
    try {
      while (answered != o) {
        try {
          checkOpen(true);
          await(deadlineNanos);
        } catch (Broken e) {
          closeLocked(true);
          throw e;
        }
      }
      if (rejection != null) {
        closeLocked(true);
        throw new Broken(Status.REJECTED, rejection);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Receiver: waits for the sender's next offer and takes it. An offer made before the sender
   * closed is still taken, so that its header can be checked (over TCP its bytes would be in the
   * socket already); its values count only if {@link #answer} succeeds.
   */
  Offer take(long deadlineNanos) throws Broken {
    lock.lock();
    try {
      while (true) {
        if (receiverClosed) {
          throw new Broken(Status.CLOSED, null);
        }
        if (offer != null && !taken) {
          taken = true;
          return offer;
        }
        if (senderClosed) {
          throw new Broken(Status.PEER_CLOSED, null);
        }
        await(deadlineNanos);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Receiver: the sender's offer not yet taken, if any, without waiting. */
  Offer peek() {
    lock.lock();
    try {
      return offer != null && !taken ? offer : null;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Receiver: answers {@code o}, accepted ({@code rejection} null) or refused with the reason.
   * Fails if either side closed meanwhile: the values read may then be torn.
   */
  void answer(Offer o, String rejection) throws Broken {
    lock.lock();
    try {
      checkOpen(false);
      if (offer != o) {
        throw new Broken(Status.PEER_CLOSED, null);
      }
      this.answered = o;
      this.rejection = rejection;
      offer = null;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Closes this side of the link; a partner waiting on it fails at once. */
  void close(boolean asSender) {
    lock.lock();
    try {
      closeLocked(asSender);
    } finally {
      lock.unlock();
    }
    REGISTRY.remove(key, this);
  }

  private void closeLocked(boolean asSender) {
    if (asSender) {
      senderClosed = true;
    } else {
      receiverClosed = true;
    }
    changed.signalAll();
  }

  private void checkOpen(boolean asSender) throws Broken {
    if (asSender ? senderClosed : receiverClosed) {
      throw new Broken(Status.CLOSED, null);
    }
    if (asSender ? receiverClosed : senderClosed) {
      throw new Broken(Status.PEER_CLOSED, null);
    }
  }

  private void await(long deadlineNanos) throws Broken {
    long left = deadlineNanos - System.nanoTime();
    if (left <= 0) {
      throw new Broken(Status.TIMEOUT, null);
    }
    try {
      changed.awaitNanos(left);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Broken(Status.INTERRUPTED, null);
    }
  }

  /** Links in the registry, paired or not yet (tests: a closed ring leaves none behind). */
  static int registered() {
    return REGISTRY.size();
  }
}
