package io.spindle.worker;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Pulls from a source iterator on a background thread into a queue of at most {@code capacity}
 * elements, so that preparing the next mini-batches (reading them from Spark's block store,
 * deserialising, decoding) overlaps with computing on the current one, while memory stays bounded
 * by {@code capacity} elements. A failure of the source is rethrown to the consumer; {@link
 * #close()} stops the thread.
 */
public final class PrefetchIterator<T> implements Iterator<T>, AutoCloseable, SkipsAhead {
  private static final Object END = new Object();

  private final BlockingQueue<Object> queue;
  private final Iterator<T> source;
  private final Thread thread;
  private volatile boolean closed;
  private Object next;

  public PrefetchIterator(Iterator<T> source, int capacity, String name) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("prefetch capacity must be > 0, got " + capacity);
    }
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.source = source;
    this.thread =
        new Thread(
            () -> {
              try {
                while (!closed && source.hasNext()) {
                  put(source.next());
                }
                put(END);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } catch (Throwable t) {
                try {
                  put(new Failure(t));
                } catch (InterruptedException ie) {
                  Thread.currentThread().interrupt();
                }
              }
            },
            name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Wraps {@code source} unless {@code capacity} is 0 (no prefetching). */
  public static <T> Iterator<T> of(Iterator<T> source, int capacity, String name) {
    return capacity == 0 ? source : new PrefetchIterator<>(source, capacity, name);
  }

  private void put(Object o) throws InterruptedException {
    while (!closed) {
      if (queue.offer(o, 100, TimeUnit.MILLISECONDS)) {
        return;
      }
    }
  }

  @Override
  public boolean hasNext() {
    if (next == null) {
      try {
        next = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the next element", e);
      }
    }
    if (next instanceof Failure f) {
      close();
      if (f.error instanceof RuntimeException r) {
        throw r;
      }
      if (f.error instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(f.error);
    }
    return next != END;
  }

  @Override
  @SuppressWarnings("unchecked")
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    T t = (T) next;
    next = null;
    return t;
  }

  /** Passes the hint on to the source, if it can use it. */
  @Override
  public void skipTo(int step) {
    if (source instanceof SkipsAhead s) {
      s.skipTo(step);
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private record Failure(Throwable error) {}
}
