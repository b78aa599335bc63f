package io.spindle.driver.ml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.driver.score.TrainedModel;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.deeplearning4j.util.ModelSerializer;

/**
 * Saving and loading a {@link SpindleModel} on any Hadoop file system.
 *
 * <pre>
 * PATH/metadata/part-00000   Spark ML's Params JSON (class, uid, Params), one line
 * PATH/data/model.json       {"format": "spindle-model", "formatVersion": 1, "task", "numFeatures",
 *                             "numOutputs", "numParams"}
 * PATH/data/model.zip        the network: DL4J's ModelSerializer zip (configuration JSON and
 *                             binary parameters)
 * PATH/data/config.yaml      the Spindle config it was trained with
 * PATH/data/summary.json     the training run's summary, when there is one
 * </pre>
 *
 * <p>Loading checks the network against model.json and config.yaml and fails naming the file when
 * they disagree (a model.zip of another architecture).
 */
final class SpindleModelIO {
  static final int FORMAT_VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  private SpindleModelIO() {}

  static final class Writer extends MLWriter {
    private final SpindleModel model;

    Writer(SpindleModel model) {
      this.model = model;
    }

    @Override
    public void saveImpl(String path) {
      Path data = new Path(path, "data");
      try {
        model.paramsWriter().save(path);
        FileSystem fs = data.getFileSystem(sc().hadoopConfiguration());
        fs.mkdirs(data);
        org.deeplearning4j.nn.api.Model net = model.scoringNetwork().buildModel();
        try (OutputStream out = fs.create(new Path(data, "model.zip"), true)) {
          ModelSerializer.writeModel(net, out, false);
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("format", "spindle-model");
        meta.put("formatVersion", FORMAT_VERSION);
        meta.put("task", model.isRegression() ? "regression" : "classification");
        meta.put("numFeatures", model.numFeatures());
        meta.put("numOutputs", model.scoringNetwork().numOutputs());
        meta.put("numParams", model.scoringNetwork().numParams());
        write(fs, new Path(data, "model.json"), JSON.writeValueAsBytes(meta));
        if (model.config() != null) {
          write(fs, new Path(data, "config.yaml"), model.config().getBytes(StandardCharsets.UTF_8));
        }
        if (model.hasSummary()) {
          Map<String, Object> s = new LinkedHashMap<>(model.summary().asMap());
          s.put("run_dir", model.summary().runDir().toString());
          s.put("evaluated_on", model.summary().evaluatedOn());
          write(fs, new Path(data, "summary.json"), JSON.writeValueAsBytes(s));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot save the model to " + path + ": " + e, e);
      }
    }

    private static void write(FileSystem fs, Path file, byte[] bytes) throws IOException {
      try (OutputStream out = fs.create(file, true)) {
        out.write(bytes);
      }
    }
  }

  static final class Reader extends MLReader<SpindleModel> {
    @Override
    public SpindleModel load(String path) {
      SpindleModel model = new DefaultParamsReadable<SpindleModel>() {}.read().load(path);
      Path data = new Path(path, "data");
      Path zip = new Path(data, "model.zip");
      try {
        FileSystem fs = data.getFileSystem(sc().hadoopConfiguration());
        JsonNode meta = JSON.readTree(read(fs, new Path(data, "model.json")));
        if (!"spindle-model".equals(meta.path("format").asText())
            || meta.path("formatVersion").asInt() > FORMAT_VERSION) {
          throw new DataFormatException(
              new Path(data, "model.json")
                  + ": expected format spindle-model version <= "
                  + FORMAT_VERSION
                  + ", found "
                  + meta);
        }
        SpindleConfig config = null;
        String yaml = null;
        Path configFile = new Path(data, "config.yaml");
        if (fs.exists(configFile)) {
          yaml = new String(read(fs, configFile), StandardCharsets.UTF_8);
          config = ConfigLoader.parse(yaml, configFile.toString(), List.of());
        }
        org.deeplearning4j.nn.api.Model net;
        try (InputStream in = fs.open(zip)) {
          net = TrainedModel.restore(in.readAllBytes(), zip.toString());
        } catch (IOException e) {
          throw new DataFormatException(zip + ": cannot read (" + e.getMessage() + ")", e);
        }
        TrainedModel trained = TrainedModel.of(net, config, path, zip.toString());
        int features = meta.path("numFeatures").asInt();
        int outputs = meta.path("numOutputs").asInt();
        if (trained.network().numInputs() != features
            || trained.network().numOutputs() != outputs) {
          throw new DataFormatException(
              zip
                  + ": the network takes "
                  + trained.network().numInputs()
                  + " features and gives "
                  + trained.network().numOutputs()
                  + " outputs, but model.json says "
                  + features
                  + " and "
                  + outputs
                  + "; is it a model of another architecture?");
        }
        SpindleTrainingSummary summary = null;
        Path summaryFile = new Path(data, "summary.json");
        if (fs.exists(summaryFile)) {
          summary = SpindleTrainingSummary.fromJson(JSON.readTree(read(fs, summaryFile)));
        }
        model.attach(
            trained.network(), "regression".equals(meta.path("task").asText()), yaml, summary);
        return model;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot load the model from " + path + ": " + e, e);
      }
    }

    private static byte[] read(FileSystem fs, Path file) throws IOException {
      try (InputStream in = fs.open(file)) {
        return in.readAllBytes();
      } catch (FileNotFoundException e) {
        throw new DataFormatException(file + ": missing; is this a saved SpindleModel?", e);
      }
    }
  }
}
