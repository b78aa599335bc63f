package io.spindle.config;

import java.io.IOException;
import java.io.StringReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads a {@link SpindleConfig} from YAML plus {@code --set key=value} overrides, and writes one
 * back.
 *
 * <p>Keys are the record component names ({@code optimizer.learningRate}); enum values are written
 * in lower case ({@code cross_entropy}). A key missing from the file keeps its value from {@link
 * SpindleConfig#defaults()}; a field missing from an element of a list of records ({@code
 * model.layers}) is null, 0 or false, and the record's constructor decides whether that is allowed.
 * A list given in the file replaces the default list whole. Overrides apply to the YAML tree before
 * binding, so they win over the file; their values are YAML ({@code --set model.layers=[{type:
 * output, units: 10, activation: softmax, loss: mse}]}). Every error names the source (file and
 * line, or the override), the dotted key and what was expected.
 */
public final class ConfigLoader {
  /** The key {@code cluster.compression} replaced; still read, see {@code replaceWire}. */
  private static final String LEGACY_WIRE = "cluster.wire";

  private ConfigLoader() {}

  public static SpindleConfig load(Path yamlFileOrNull, List<String> overrides) {
    if (yamlFileOrNull == null) {
      return parse("", "defaults", overrides);
    }
    String text;
    try {
      text = Files.readString(yamlFileOrNull, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException("config file " + yamlFileOrNull + " does not exist");
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + yamlFileOrNull + ": " + e, e);
    }
    return parse(text, yamlFileOrNull.toString(), overrides);
  }

  public static SpindleConfig parse(String yamlText, String sourceName, List<String> overrides) {
    Binder binder = new Binder(sourceName);
    Node root = binder.compose(yamlText);
    if (root == null) {
      root = new MappingNode(Tag.MAP, new ArrayList<>(), DumperOptions.FlowStyle.BLOCK);
    }
    if (!(root instanceof MappingNode)) {
      throw new ConfigException(
          binder.where(root)
              + "the top level must be a mapping of model, optimizer, data,"
              + " training, cluster and checkpoint, found "
              + describe(root));
    }
    for (String override : overrides) {
      binder.applyOverride((MappingNode) root, override);
    }
    binder.presetReplacesDefaultLayers((MappingNode) root);
    binder.replaceWire((MappingNode) root);
    return (SpindleConfig)
        binder.bind(root, SpindleConfig.class, "", SpindleConfig.defaults(), true);
  }

  /** The effective config as YAML; {@link #parse} reads it back to an equal record. */
  public static String toYaml(SpindleConfig config) {
    DumperOptions options = new DumperOptions();
    options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    options.setIndent(2);
    options.setPrettyFlow(true);
    return new Yaml(options).dump(toPlain(config));
  }

  /** Records to ordered maps, enums to their config names, lists element-wise. */
  static Object toPlain(Object value) {
    if (value == null) {
      return null;
    }
    if (value instanceof Record r) {
      Map<String, Object> map = new LinkedHashMap<>();
      for (RecordComponent c : r.getClass().getRecordComponents()) {
        Object v = invoke(c, r);
        if (v != null) {
          map.put(c.getName(), toPlain(v));
        }
      }
      return map;
    }
    if (value instanceof ConfigEnum e) {
      return e.configName();
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>();
      for (Object o : list) {
        out.add(toPlain(o));
      }
      return out;
    }
    return value;
  }

  private static Object invoke(RecordComponent c, Object record) {
    try {
      return c.getAccessor().invoke(record);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  static String describe(Node node) {
    if (node instanceof ScalarNode s) {
      return "'" + s.getValue() + "'";
    }
    if (node instanceof MappingNode) {
      return "a mapping";
    }
    if (node instanceof SequenceNode) {
      return "a list";
    }
    return "nothing";
  }

  /** Binds YAML nodes to records; remembers where each node came from for error messages. */
  private static final class Binder {
    private final String source;
    private final Map<Node, String> overrideOf = new IdentityHashMap<>();

    Binder(String source) {
      this.source = source;
    }

    Node compose(String text) {
      try {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        return new Yaml(options).compose(new StringReader(text));
      } catch (MarkedYAMLException e) {
        int line = e.getProblemMark() == null ? -1 : e.getProblemMark().getLine() + 1;
        throw new ConfigException(
            source + " line " + line + ": malformed YAML: " + e.getProblem(), e);
      } catch (YAMLException e) {
        throw new ConfigException(source + ": malformed YAML: " + e.getMessage(), e);
      }
    }

    String where(Node node) {
      String override = overrideOf.get(node);
      if (override != null) {
        return "--set " + override + ": ";
      }
      if (node != null && node.getStartMark() != null) {
        return source + " line " + (node.getStartMark().getLine() + 1) + ": ";
      }
      return source + ": ";
    }

    /**
     * A {@code model.preset} stands for the layers: when the file or an override gives a preset but
     * no {@code model.layers}, the default layers must not fill in, so the layers are bound empty
     * and {@link ModelConfig} puts the preset's in their place.
     */
    void presetReplacesDefaultLayers(MappingNode root) {
      NodeTuple model = find(root, "model");
      if (model == null || !(model.getValueNode() instanceof MappingNode m)) {
        return;
      }
      NodeTuple preset = find(m, "preset");
      if (preset == null || isNull(preset.getValueNode())) {
        return;
      }
      NodeTuple layers = find(m, "layers");
      Node empty = new SequenceNode(Tag.SEQ, new ArrayList<>(), DumperOptions.FlowStyle.FLOW);
      if (layers == null) {
        m.getValue()
            .add(
                new NodeTuple(
                    new ScalarNode(Tag.STR, "layers", null, null, DumperOptions.ScalarStyle.PLAIN),
                    empty));
      } else if (filledInByOverride(layers.getValueNode())) {
        replace(m, "layers", empty);
      }
    }

    /**
     * Whether {@code node} is a default that an override of another key filled in (for example the
     * default layers when {@code --set model.preset=...} created the {@code model} section).
     */
    private boolean filledInByOverride(Node node) {
      String override = overrideOf.get(node);
      if (override == null) {
        return false;
      }
      String key = override.substring(0, Math.max(0, override.indexOf('='))).trim();
      return !key.equals("model") && !key.startsWith("model.layers");
    }

    void applyOverride(MappingNode root, String override) {
      int eq = override.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException(
            "--set " + override + ": expected key=value, for example optimizer.learningRate=0.01");
      }
      String key = override.substring(0, eq).trim();
      String text = override.substring(eq + 1);
      Node value;
      try {
        value = new Yaml().compose(new StringReader(text));
      } catch (YAMLException e) {
        throw new ConfigException("--set " + override + ": the value is not valid YAML: " + e);
      }
      if (value == null) {
        value = new ScalarNode(Tag.NULL, "", null, null, DumperOptions.ScalarStyle.PLAIN);
      }
      markOverride(value, override);
      if (key.equals(LEGACY_WIRE)) {
        // replaced by cluster.compression; replaceWire() translates it with the file's own
        NodeTuple cluster = find(root, "cluster");
        if (cluster == null || !(cluster.getValueNode() instanceof MappingNode)) {
          MappingNode fresh =
              new MappingNode(Tag.MAP, new ArrayList<>(), DumperOptions.FlowStyle.BLOCK);
          if (cluster != null) {
            markOverride(fresh, override);
          }
          replace(root, "cluster", fresh);
          cluster = find(root, "cluster");
        }
        replace((MappingNode) cluster.getValueNode(), "wire", value);
        return;
      }
      List<Object> segments = segments(key, override);
      Node node = root;
      Object defaults = SpindleConfig.defaults();
      Class<?> type = SpindleConfig.class;
      Type elementType = null;
      StringBuilder path = new StringBuilder();
      for (int i = 0; i < segments.size(); i++) {
        Object seg = segments.get(i);
        boolean last = i == segments.size() - 1;
        if (seg instanceof String name) {
          if (!(node instanceof MappingNode map) || !type.isRecord()) {
            throw new ConfigException(
                "--set " + override + ": '" + path + "' has no key '" + name + "'");
          }
          RecordComponent component = component(type, name);
          if (component == null) {
            throw new ConfigException(
                "--set "
                    + override
                    + ": unknown key '"
                    + join(path, name)
                    + "'; expected one of "
                    + componentNames(type));
          }
          path = new StringBuilder(join(path, name));
          Object childDefault = defaults == null ? null : invoke(component, defaults);
          NodeTuple tuple = find(map, name);
          if (last) {
            replace(map, name, value);
            return;
          }
          Node child = tuple == null ? null : tuple.getValueNode();
          if (child == null) {
            child =
                childDefault != null
                    ? toNode(childDefault)
                    : new MappingNode(Tag.MAP, new ArrayList<>(), DumperOptions.FlowStyle.BLOCK);
            markOverride(child, override);
            replace(map, name, child);
          }
          node = child;
          defaults = childDefault;
          type = component.getType();
          elementType = component.getGenericType();
        } else {
          int index = (Integer) seg;
          if (!(node instanceof SequenceNode seq)) {
            throw new ConfigException("--set " + override + ": '" + path + "' is not a list");
          }
          if (index < 0 || index >= seq.getValue().size()) {
            throw new ConfigException(
                "--set "
                    + override
                    + ": index "
                    + index
                    + " out of range for '"
                    + path
                    + "', which has "
                    + seq.getValue().size()
                    + " elements");
          }
          path.append('[').append(index).append(']');
          if (last) {
            seq.getValue().set(index, value);
            return;
          }
          node = seq.getValue().get(index);
          defaults = null;
          type = elementClass(elementType);
        }
      }
    }

    /**
     * Translates the key {@code cluster.wire} of configs (and checkpoints) written before {@code
     * cluster.compression} existed: {@code bf16} becomes {@code compression: bf16}, {@code fp32}
     * (the old default, which every saved config holds) is dropped. A wire that contradicts the
     * compression set beside it is refused.
     */
    void replaceWire(MappingNode root) {
      NodeTuple clusterTuple = find(root, "cluster");
      if (clusterTuple == null || !(clusterTuple.getValueNode() instanceof MappingNode cluster)) {
        return;
      }
      NodeTuple wire = find(cluster, "wire");
      if (wire == null) {
        return;
      }
      cluster.getValue().remove(wire);
      Node value = wire.getValueNode();
      String v =
          value instanceof ScalarNode s ? s.getValue().trim().toLowerCase(Locale.ROOT) : null;
      NodeTuple compressionTuple = find(cluster, "compression");
      String compression =
          compressionTuple != null && compressionTuple.getValueNode() instanceof ScalarNode s
              ? s.getValue().trim().toLowerCase(Locale.ROOT)
              : null;
      if ("fp32".equals(v)) {
        if ("bf16".equals(compression)) {
          throw new ConfigException(
              where(value)
                  + "cluster.wire fp32 contradicts cluster.compression bf16; cluster.wire was"
                  + " replaced by cluster.compression: remove cluster.wire");
        }
        return;
      }
      if ("bf16".equals(v)) {
        if (compression == null) {
          replace(cluster, "compression", value);
        } else if (!compression.equals("bf16")) {
          throw new ConfigException(
              where(value)
                  + "cluster.wire bf16 contradicts cluster.compression "
                  + compression
                  + "; cluster.wire was replaced by cluster.compression: set only"
                  + " cluster.compression (none, bf16, powersgd or topk)");
        }
        return;
      }
      throw new ConfigException(
          where(value)
              + "cluster.wire (replaced by cluster.compression: none, bf16, powersgd or topk)"
              + " must be fp32 or bf16, got "
              + describe(value));
    }

    private void markOverride(Node node, String override) {
      overrideOf.put(node, override);
      if (node instanceof MappingNode m) {
        for (NodeTuple t : m.getValue()) {
          markOverride(t.getKeyNode(), override);
          markOverride(t.getValueNode(), override);
        }
      } else if (node instanceof SequenceNode s) {
        for (Node n : s.getValue()) {
          markOverride(n, override);
        }
      }
    }

    private static List<Object> segments(String key, String override) {
      List<Object> out = new ArrayList<>();
      for (String part : key.split("\\.", -1)) {
        String name = part;
        List<Integer> indices = new ArrayList<>();
        int bracket = part.indexOf('[');
        if (bracket >= 0) {
          name = part.substring(0, bracket);
          String rest = part.substring(bracket);
          while (!rest.isEmpty()) {
            int close = rest.indexOf(']');
            if (!rest.startsWith("[") || close < 0) {
              throw new ConfigException("--set " + override + ": malformed key '" + key + "'");
            }
            try {
              indices.add(Integer.parseInt(rest.substring(1, close).trim()));
            } catch (NumberFormatException e) {
              throw new ConfigException(
                  "--set " + override + ": malformed list index in '" + key + "'");
            }
            rest = rest.substring(close + 1);
          }
        }
        if (name.isEmpty()) {
          throw new ConfigException("--set " + override + ": malformed key '" + key + "'");
        }
        out.add(name);
        out.addAll(indices);
      }
      return out;
    }

    private static Node toNode(Object value) {
      Yaml yaml = new Yaml();
      return yaml.compose(new StringReader(yaml.dump(toPlain(value))));
    }

    static NodeTuple find(MappingNode map, String key) {
      for (NodeTuple t : map.getValue()) {
        if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
          return t;
        }
      }
      return null;
    }

    private static void replace(MappingNode map, String key, Node value) {
      List<NodeTuple> tuples = map.getValue();
      for (int i = 0; i < tuples.size(); i++) {
        if (tuples.get(i).getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
          tuples.set(i, new NodeTuple(tuples.get(i).getKeyNode(), value));
          return;
        }
      }
      tuples.add(
          new NodeTuple(
              new ScalarNode(Tag.STR, key, null, null, DumperOptions.ScalarStyle.PLAIN), value));
    }

    /**
     * Binds {@code node} to {@code type}. {@code defaultValue} supplies missing record fields when
     * {@code useDefaults}; otherwise missing fields are null, 0 or false.
     */
    Object bind(Node node, Type type, String path, Object defaultValue, boolean useDefaults) {
      Class<?> raw = rawClass(type);
      if (isNull(node)) {
        if (raw.isPrimitive()) {
          throw new ConfigException(
              where(node) + path + ": expected " + expected(raw) + ", got nothing");
        }
        return null;
      }
      if (raw.isRecord()) {
        return bindRecord(node, raw, path, defaultValue, useDefaults);
      }
      if (List.class.isAssignableFrom(raw)) {
        if (!(node instanceof SequenceNode seq)) {
          throw new ConfigException(
              where(node) + path + ": expected a list, got " + describe(node));
        }
        Type element = ((ParameterizedType) type).getActualTypeArguments()[0];
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < seq.getValue().size(); i++) {
          out.add(bind(seq.getValue().get(i), element, path + "[" + i + "]", null, false));
        }
        return out;
      }
      if (!(node instanceof ScalarNode scalar)) {
        throw new ConfigException(
            where(node) + path + ": expected " + expected(raw) + ", got " + describe(node));
      }
      return scalar(scalar, raw, path);
    }

    private Object bindRecord(
        Node node, Class<?> type, String path, Object defaultValue, boolean useDefaults) {
      if (!(node instanceof MappingNode map)) {
        throw new ConfigException(
            where(node)
                + (path.isEmpty() ? "top level" : path)
                + ": expected a mapping with keys "
                + componentNames(type)
                + ", got "
                + describe(node));
      }
      RecordComponent[] components = type.getRecordComponents();
      Map<String, NodeTuple> given = new LinkedHashMap<>();
      for (NodeTuple t : map.getValue()) {
        if (!(t.getKeyNode() instanceof ScalarNode k)) {
          throw new ConfigException(where(t.getKeyNode()) + path + ": keys must be plain names");
        }
        String key = k.getValue();
        if (component(type, key) == null) {
          throw new ConfigException(
              where(t.getKeyNode())
                  + "unknown key '"
                  + join(path, key)
                  + "'; expected one of "
                  + componentNames(type));
        }
        if (given.put(key, t) != null) {
          throw new ConfigException(
              where(t.getKeyNode()) + "duplicate key '" + join(path, key) + "'");
        }
      }
      Object[] args = new Object[components.length];
      Class<?>[] types = new Class<?>[components.length];
      for (int i = 0; i < components.length; i++) {
        RecordComponent c = components[i];
        types[i] = c.getType();
        Object fallback =
            useDefaults && defaultValue != null ? invoke(c, defaultValue) : zero(c.getType());
        NodeTuple t = given.get(c.getName());
        args[i] =
            t == null
                ? fallback
                : bind(
                    t.getValueNode(),
                    c.getGenericType(),
                    join(path, c.getName()),
                    fallback,
                    useDefaults);
      }
      try {
        Constructor<?> ctor = type.getDeclaredConstructor(types);
        return ctor.newInstance(args);
      } catch (InvocationTargetException e) {
        Throwable cause = e.getCause();
        if (cause instanceof IllegalArgumentException) {
          Node at = map;
          for (Map.Entry<String, NodeTuple> g : given.entrySet()) {
            if (cause.getMessage() != null && cause.getMessage().startsWith(g.getKey())) {
              at = refine(g.getValue().getValueNode(), cause.getMessage(), g.getKey().length());
            }
          }
          String prefix = path.isEmpty() ? "" : path + ": ";
          throw new ConfigException(where(at) + prefix + cause.getMessage(), cause);
        }
        throw new IllegalStateException("cannot build " + type.getSimpleName(), cause);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot build " + type.getSimpleName(), e);
      }
    }

    /**
     * The node a message about {@code key[i].field...} (the key being {@code message[0, from)})
     * points at: element {@code i} of the list {@code node}, then its {@code field}, as far as they
     * exist; so an error about one layer of a list names that layer's line.
     */
    private static Node refine(Node node, String message, int from) {
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile("\\[(\\d+)\\](?:\\.([A-Za-z]+))?").matcher(message);
      if (!m.find(from) || m.start() != from || !(node instanceof SequenceNode seq)) {
        return node;
      }
      int i = Integer.parseInt(m.group(1));
      if (i >= seq.getValue().size()) {
        return node;
      }
      Node element = seq.getValue().get(i);
      if (m.group(2) != null && element instanceof MappingNode map) {
        NodeTuple t = find(map, m.group(2));
        if (t != null) {
          return t.getValueNode();
        }
      }
      return element;
    }

    private Object scalar(ScalarNode node, Class<?> type, String path) {
      String v = node.getValue().trim();
      try {
        if (type == String.class) {
          return node.getValue();
        }
        if (type == int.class || type == Integer.class) {
          return Integer.parseInt(v);
        }
        if (type == long.class || type == Long.class) {
          return Long.parseLong(v);
        }
        if (type == double.class || type == Double.class) {
          double d = Double.parseDouble(v);
          if (Double.isNaN(d)) {
            throw new NumberFormatException("NaN");
          }
          return d;
        }
        if (type == boolean.class || type == Boolean.class) {
          if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
          }
          throw new NumberFormatException(v);
        }
      } catch (NumberFormatException e) {
        throw new ConfigException(
            where(node)
                + path
                + ": expected "
                + expected(type)
                + ", got '"
                + node.getValue()
                + "'");
      }
      if (type.isEnum() && ConfigEnum.class.isAssignableFrom(type)) {
        for (Object constant : type.getEnumConstants()) {
          if (((ConfigEnum) constant).configName().equals(v.toLowerCase(Locale.ROOT))) {
            return constant;
          }
        }
        throw new ConfigException(
            where(node)
                + path
                + ": expected "
                + expected(type)
                + ", got '"
                + node.getValue()
                + "'");
      }
      throw new IllegalStateException("no binding for " + type + " at " + path);
    }

    static boolean isNull(Node node) {
      return node == null
          || (node instanceof ScalarNode s
              && (node.getTag().equals(Tag.NULL)
                  || (s.getScalarStyle() == DumperOptions.ScalarStyle.PLAIN
                      && (s.getValue().isEmpty()
                          || s.getValue().equals("~")
                          || s.getValue().equals("null")))));
    }
  }

  private static Class<?> rawClass(Type type) {
    if (type instanceof Class<?> c) {
      return c;
    }
    return (Class<?>) ((ParameterizedType) type).getRawType();
  }

  private static Class<?> elementClass(Type listType) {
    if (listType instanceof ParameterizedType p) {
      return rawClass(p.getActualTypeArguments()[0]);
    }
    return Object.class;
  }

  private static RecordComponent component(Class<?> type, String name) {
    for (RecordComponent c : type.getRecordComponents()) {
      if (c.getName().equals(name)) {
        return c;
      }
    }
    return null;
  }

  private static String componentNames(Class<?> type) {
    TreeSet<String> names = new TreeSet<>();
    for (RecordComponent c : type.getRecordComponents()) {
      names.add(c.getName());
    }
    return names.toString();
  }

  private static String join(CharSequence path, String key) {
    return path.length() == 0 ? key : path + "." + key;
  }

  private static Object zero(Class<?> type) {
    if (type == int.class) {
      return 0;
    }
    if (type == long.class) {
      return 0L;
    }
    if (type == double.class) {
      return 0.0;
    }
    if (type == boolean.class) {
      return false;
    }
    return null;
  }

  private static String expected(Class<?> type) {
    if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
      return "an integer";
    }
    if (type == double.class || type == Double.class) {
      return "a number";
    }
    if (type == boolean.class || type == Boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a string";
    }
    if (type.isEnum() && ConfigEnum.class.isAssignableFrom(type)) {
      List<String> names = new ArrayList<>();
      for (Object c : type.getEnumConstants()) {
        names.add(((ConfigEnum) c).configName());
      }
      return "one of " + names;
    }
    return type.getSimpleName();
  }
}
