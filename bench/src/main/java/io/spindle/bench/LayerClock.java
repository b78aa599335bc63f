package io.spindle.bench;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * Times each layer (and each input preprocessor) of a DL4J network where the network calls it, with
 * DL4J's own training loop, workspaces and helpers left as they are: every layer is replaced by a
 * {@link Proxy} that implements the layer's interfaces, forwards every call to the real layer and
 * adds the wall time of {@code activate} (forward, including the dropout DL4J applies to the
 * layer's input), {@code backpropGradient} (backward) and {@code computeScore} (the loss) to a
 * counter of that layer. Calls the real layer makes on itself are not intercepted, so nothing is
 * counted twice.
 *
 * <p>Only for profiling: DL4J code that tests a layer's class ({@code instanceof}) sees the proxy,
 * which is fine for the feed-forward networks profiled here (dense, output, convolution, pooling,
 * batch norm) and not for recurrent or frozen layers.
 */
public final class LayerClock {
  /** What a counter measures. */
  public enum Phase {
    FORWARD,
    BACKWARD,
    LOSS
  }

  /** One counter: a layer (or the preprocessor before it) and a phase. */
  public record Key(String part, Phase phase) {}

  private final Map<Key, long[]> nanos = new LinkedHashMap<>();
  private final List<String> parts = new ArrayList<>();

  private LayerClock() {}

  /**
   * Replaces {@code net}'s layers and preprocessors by timing proxies; returns the clock they
   * report to. Layer {@code i} is named {@code "<i> <class>"}, its preprocessor {@code "<i> pre
   * <class>"}.
   */
  public static LayerClock install(MultiLayerNetwork net) {
    LayerClock clock = new LayerClock();
    Layer[] layers = net.getLayers().clone();
    Map<Integer, InputPreProcessor> pre = net.getLayerWiseConfigurations().getInputPreProcessors();
    for (int i = 0; i < layers.length; i++) {
      InputPreProcessor p = pre.get(i);
      if (p != null) {
        String name = i + " pre " + p.getClass().getSimpleName();
        clock.parts.add(name);
        pre.put(i, (InputPreProcessor) clock.proxy(p, name));
      }
      String name = i + " " + layers[i].getClass().getSimpleName();
      clock.parts.add(name);
      layers[i] = (Layer) clock.proxy(layers[i], name);
    }
    net.setLayers(layers);
    return clock;
  }

  /** The parts in network order: preprocessors and layers. */
  public List<String> parts() {
    return List.copyOf(parts);
  }

  /** Nanoseconds counted for {@code part} in {@code phase} since the last {@link #reset}. */
  public long nanos(String part, Phase phase) {
    long[] n = nanos.get(new Key(part, phase));
    return n == null ? 0 : n[0];
  }

  /** Sum over all counters. */
  public long totalNanos() {
    long t = 0;
    for (long[] n : nanos.values()) {
      t += n[0];
    }
    return t;
  }

  public void reset() {
    for (long[] n : nanos.values()) {
      n[0] = 0;
    }
  }

  private Object proxy(Object target, String part) {
    Set<Class<?>> interfaces = new LinkedHashSet<>();
    for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
      collect(c, interfaces);
    }
    long[] fwd = counter(part, Phase.FORWARD);
    long[] bwd = counter(part, Phase.BACKWARD);
    long[] loss = counter(part, Phase.LOSS);
    InvocationHandler h =
        (proxy, method, args) -> {
          long[] counter = counterFor(method, fwd, bwd, loss);
          long t0 = counter == null ? 0 : System.nanoTime();
          try {
            return method.invoke(target, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          } finally {
            if (counter != null) {
              counter[0] += System.nanoTime() - t0;
            }
          }
        };
    return Proxy.newProxyInstance(
        target.getClass().getClassLoader(), interfaces.toArray(new Class<?>[0]), h);
  }

  private static long[] counterFor(Method m, long[] fwd, long[] bwd, long[] loss) {
    return switch (m.getName()) {
      case "activate", "preProcess" -> fwd;
      case "backpropGradient", "backprop" -> bwd;
      case "computeScore" -> loss;
      default -> null;
    };
  }

  private long[] counter(String part, Phase phase) {
    return nanos.computeIfAbsent(new Key(part, phase), k -> new long[1]);
  }

  private static void collect(Class<?> c, Set<Class<?>> out) {
    for (Class<?> i : c.getInterfaces()) {
      if (out.add(i)) {
        collect(i, out);
      }
    }
  }
}
