package io.spindle.driver.score;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.worker.ScoringNetwork;
import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

/**
 * A trained model as {@code predict} and {@code evaluate} take it: a run directory ({@code
 * config.yaml} + {@code model.zip}, as {@code spindle train} writes it) or a bare {@code model.zip}
 * (DL4J's ModelSerializer format), on any Hadoop file system.
 *
 * <p>A run directory's config tells how to decode inputs the way training did (image size and
 * normalisation, CIFAR labels, table columns) and whether the model is a regressor; a bare {@code
 * model.zip} is taken with Spindle's default decoding, and is a regressor when its output is one
 * unit without softmax. A {@code model.zip} whose layers do not match its run's {@code config.yaml}
 * (a model of another architecture copied into the run) is refused, naming the file.
 *
 * @param network the network in its scoring form
 * @param config the run's config, or null for a bare model.zip
 * @param regression whether the model predicts a value rather than a class
 * @param runDir the run directory, or null for a bare model.zip
 * @param modelFile the model.zip read
 */
public record TrainedModel(
    ScoringNetwork network,
    SpindleConfig config,
    boolean regression,
    String runDir,
    String modelFile) {

  /** Reads {@code location}: a run directory or a model.zip (local path or Hadoop URI). */
  public static TrainedModel load(String location, Configuration hadoop) {
    Path path = new Path(location);
    FileSystem fs;
    try {
      fs = path.getFileSystem(hadoop);
      if (!fs.exists(path)) {
        throw new ConfigException("--model " + location + ": no such run directory or model.zip");
      }
      if (fs.getFileStatus(path).isDirectory()) {
        Path zip = new Path(path, "model.zip");
        Path yaml = new Path(path, "config.yaml");
        if (!fs.exists(zip)) {
          throw new ConfigException(
              "--model "
                  + location
                  + ": the run directory has no model.zip (the run has not finished, or this is"
                  + " not a run directory)");
        }
        SpindleConfig config = null;
        if (fs.exists(yaml)) {
          String text;
          try (InputStream in = fs.open(yaml)) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
          }
          config = ConfigLoader.parse(text, yaml.toString(), List.of());
        }
        return of(readNetwork(fs, zip), config, location, zip.toString());
      }
      return of(readNetwork(fs, path), null, null, path.toString());
    } catch (IOException e) {
      throw new DataFormatException("--model " + location + ": cannot read: " + e, e);
    }
  }

  /**
   * A model from a network and, when known, the config it was trained with; checks that they agree.
   */
  public static TrainedModel of(Model net, SpindleConfig config, String runDir, String modelFile) {
    ScoringNetwork scoring;
    try {
      scoring = ScoringNetwork.of(net, modelFile);
    } catch (IllegalArgumentException e) {
      throw new DataFormatException(e.getMessage(), e);
    }
    if (config != null) {
      if (net instanceof MultiLayerNetwork stack) {
        checkArchitecture(stack, config, modelFile);
      } else {
        checkGraphArchitecture((ComputationGraph) net, scoring.numInputs(), config, modelFile);
      }
    }
    boolean regression =
        config != null
            ? config.data().task().equals("regression")
            : scoring.numOutputs() == 1 && !scoring.softmax();
    return new TrainedModel(scoring, config, regression, runDir, modelFile);
  }

  /** Fails, naming the file, when {@code net} is not the network {@code config} describes. */
  static void checkArchitecture(MultiLayerNetwork net, SpindleConfig config, String modelFile) {
    int layers = net.getLayerWiseConfigurations().getConfs().size();
    int expectedLayers =
        (int)
            config.model().layers().stream()
                .filter(l -> l.type() != io.spindle.config.LayerType.LAST_TIME_STEP)
                .count();
    long params = net.numParams();
    long expectedParams;
    int inputs = ScoringNetwork.of(net, modelFile).numInputs();
    try {
      expectedParams =
          io.spindle.model.ModelFactory.createStock(config.model(), inputs, 0L).numParams();
    } catch (RuntimeException e) {
      throw new DataFormatException(
          modelFile
              + ": does not match the run's config.yaml (the config's layers cannot take the"
              + " model's "
              + inputs
              + " inputs: "
              + e.getMessage()
              + "); is it a model of another run?",
          e);
    }
    if (layers != expectedLayers || params != expectedParams) {
      throw new DataFormatException(
          modelFile
              + ": does not match the run's config.yaml: the model has "
              + layers
              + " layers and "
              + params
              + " parameters, the config describes "
              + expectedLayers
              + " layers and "
              + expectedParams
              + " parameters; is it a model of another run?");
    }
  }

  /** Fails, naming the file, when graph {@code net} is not the graph {@code config} describes. */
  static void checkGraphArchitecture(
      ComputationGraph net, int inputs, SpindleConfig config, String modelFile) {
    if (!config.model().isGraph()) {
      throw new DataFormatException(
          modelFile
              + ": does not match the run's config.yaml: the model is a graph"
              + " (ComputationGraph), the config describes a stack of layers; is it a model of"
              + " another run?");
    }
    long expected;
    try {
      expected = io.spindle.model.GraphFactory.createStock(config.model(), inputs, 0L).numParams();
    } catch (RuntimeException e) {
      throw new DataFormatException(
          modelFile
              + ": does not match the run's config.yaml (the config's graph cannot take the"
              + " model's "
              + inputs
              + " inputs: "
              + e.getMessage()
              + "); is it a model of another run?",
          e);
    }
    if (net.numParams() != expected) {
      throw new DataFormatException(
          modelFile
              + ": does not match the run's config.yaml: the model has "
              + net.numParams()
              + " parameters, the config's graph "
              + expected
              + "; is it a model of another run?");
    }
  }

  private static Model readNetwork(FileSystem fs, Path zip) {
    try (InputStream in = fs.open(zip)) {
      return restore(in.readAllBytes(), zip.toString());
    } catch (FileNotFoundException e) {
      throw new ConfigException("--model " + zip + ": no such file");
    } catch (IOException e) {
      throw new DataFormatException(zip + ": cannot read (" + e.getMessage() + ")", e);
    }
  }

  /**
   * The network of a DL4J {@code model.zip}: a {@code MultiLayerNetwork} (a stack) or a {@code
   * ComputationGraph} (a graph model), told apart by its configuration; {@code where} is named in
   * errors.
   */
  public static Model restore(byte[] zip, String where) {
    String json = configurationJson(zip, where);
    boolean graph = json.contains("\"vertices\"");
    try {
      return graph
          ? ModelSerializer.restoreComputationGraph(new ByteArrayInputStream(zip), false)
          : ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(zip), false);
    } catch (IOException | RuntimeException e) {
      throw new DataFormatException(
          where
              + ": not a DL4J "
              + (graph ? "ComputationGraph" : "MultiLayerNetwork")
              + " model.zip ("
              + e.getMessage()
              + ")",
          e);
    }
  }

  private static String configurationJson(byte[] zip, String where) {
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
      for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        if (e.getName().equals("configuration.json")) {
          return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new DataFormatException(
          where + ": not a DL4J model.zip (not a zip file: " + e.getMessage() + ")", e);
    }
    throw new DataFormatException(
        where + ": not a DL4J model.zip (no configuration.json in the archive)");
  }

  /** The run's config, or Spindle's defaults for a bare model.zip. */
  public SpindleConfig configOrDefaults() {
    return config != null ? config : SpindleConfig.defaults();
  }

  /** Classes of a classifier (its outputs); 0 for a regressor. */
  public int numClasses() {
    return regression ? 0 : network.numOutputs();
  }
}
