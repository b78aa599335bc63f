package io.spindle.deploy;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Locale;

/**
 * Measures one link of the test bed from the JVM, the way the collective engine uses it: TCP with
 * {@code TCP_NODELAY} and 4 MiB socket buffers (as {@code TcpRing}).
 *
 * <ul>
 *   <li>{@code serve ADDRESS PORT}: accepts connections until killed; each starts with one byte:
 *       {@code T} (throughput: read a long N, then N bytes; answer the nanoseconds from the first
 *       to the last byte received) or {@code P} (ping-pong: echo 8-byte messages until the peer
 *       closes).
 *   <li>{@code measure ADDRESS PORT BYTES PINGS}: sends BYTES in one stream, then PINGS round trips
 *       of 8 bytes (after 200 unmeasured ones), and prints one line: {@code bytes=.. seconds=..
 *       mbit_per_s=.. rtt_us_median=.. rtt_us_p10=.. rtt_us_p90=.. rtt_us_min=..}.
 * </ul>
 *
 * The rate is the receiver's: bytes over the time from its first to its last byte, so connection
 * set-up and the first round trip do not count.
 */
public final class LinkProbe {
  private static final int BUFFER = 4 << 20;

  private LinkProbe() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 3 && args[0].equals("serve")) {
      serve(args[1], Integer.parseInt(args[2]));
    } else if (args.length == 5 && args[0].equals("measure")) {
      System.out.println(
          measure(
              args[1],
              Integer.parseInt(args[2]),
              Long.parseLong(args[3]),
              Integer.parseInt(args[4])));
    } else {
      System.err.println(
          "usage: LinkProbe serve ADDRESS PORT | measure ADDRESS PORT BYTES PINGS, got "
              + Arrays.toString(args));
      System.exit(2);
    }
  }

  static void serve(String address, int port) throws IOException {
    try (ServerSocket server = new ServerSocket()) {
      server.setReuseAddress(true);
      server.setReceiveBufferSize(BUFFER);
      server.bind(new InetSocketAddress(InetAddress.getByName(address), port));
      System.out.println("listening " + address + ":" + port);
      System.out.flush();
      while (true) {
        try (Socket s = server.accept()) {
          configure(s);
          DataInputStream in = new DataInputStream(s.getInputStream());
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          int mode = in.read();
          if (mode == 'T') {
            out.writeLong(receive(in, in.readLong()));
            out.flush();
          } else if (mode == 'P') {
            echo(in, out);
          }
        } catch (IOException e) {
          System.err.println("connection failed: " + e);
        }
      }
    }
  }

  private static long receive(InputStream in, long bytes) throws IOException {
    byte[] buf = new byte[1 << 16];
    long got = 0;
    long first = 0;
    while (got < bytes) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, bytes - got));
      if (n < 0) {
        throw new IOException("peer closed after " + got + " of " + bytes + " bytes");
      }
      if (got == 0) {
        first = System.nanoTime();
      }
      got += n;
    }
    return System.nanoTime() - first;
  }

  private static void echo(InputStream in, OutputStream out) throws IOException {
    byte[] msg = new byte[8];
    while (true) {
      int n = in.readNBytes(msg, 0, 8);
      if (n < 8) {
        return;
      }
      out.write(msg);
      out.flush();
    }
  }

  static String measure(String address, int port, long bytes, int pings) throws IOException {
    long nanos;
    try (Socket s = connect(address, port)) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.write('T');
      out.writeLong(bytes);
      byte[] buf = new byte[1 << 16];
      for (long sent = 0; sent < bytes; sent += buf.length) {
        out.write(buf, 0, (int) Math.min(buf.length, bytes - sent));
      }
      out.flush();
      nanos = new DataInputStream(s.getInputStream()).readLong();
    }
    long[] rtt = new long[pings];
    try (Socket s = connect(address, port)) {
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      out.write('P');
      byte[] msg = new byte[8];
      for (int i = -200; i < pings; i++) {
        long t0 = System.nanoTime();
        out.write(msg);
        out.flush();
        if (in.readNBytes(msg, 0, 8) < 8) {
          throw new IOException("peer closed during ping-pong");
        }
        if (i >= 0) {
          rtt[i] = System.nanoTime() - t0;
        }
      }
    }
    Arrays.sort(rtt);
    double seconds = nanos / 1e9;
    return String.format(
        Locale.ROOT,
        "bytes=%d seconds=%.4f mbit_per_s=%.2f rtt_us_median=%.1f rtt_us_p10=%.1f"
            + " rtt_us_p90=%.1f rtt_us_min=%.1f",
        bytes,
        seconds,
        bytes * 8 / seconds / 1e6,
        rtt.length == 0 ? Double.NaN : rtt[rtt.length / 2] / 1e3,
        rtt.length == 0 ? Double.NaN : rtt[rtt.length / 10] / 1e3,
        rtt.length == 0 ? Double.NaN : rtt[rtt.length * 9 / 10] / 1e3,
        rtt.length == 0 ? Double.NaN : rtt[0] / 1e3);
  }

  private static Socket connect(String address, int port) throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < 100; attempt++) {
      Socket s = new Socket();
      try {
        configure(s);
        s.connect(new InetSocketAddress(InetAddress.getByName(address), port), 5000);
        return s;
      } catch (IOException e) {
        last = e;
        s.close();
        try {
          Thread.sleep(100);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", ie);
        }
      }
    }
    throw new IOException("cannot connect to " + address + ":" + port, last);
  }

  private static void configure(Socket s) throws IOException {
    s.setTcpNoDelay(true);
    s.setSendBufferSize(BUFFER);
    s.setReceiveBufferSize(BUFFER);
    s.setSoTimeout(60_000);
  }
}
