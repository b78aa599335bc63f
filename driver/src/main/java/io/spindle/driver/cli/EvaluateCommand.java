package io.spindle.driver.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.config.ConfigException;
import io.spindle.config.DataConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.monitor.HtmlReport;
import io.spindle.driver.score.ClassificationMetrics;
import io.spindle.driver.score.RegressionMetrics;
import io.spindle.driver.score.Scoring;
import io.spindle.driver.score.ScoringInput;
import io.spindle.driver.score.ScoringSession;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code spindle evaluate}: measures a trained model on a labelled data set (by default the run's
 * own test set) and writes {@code evaluation.json}, then renders {@code report.html} with the
 * confusion matrix and per-class table.
 */
final class EvaluateCommand {
  static final String USAGE =
      """
      Usage: spindle evaluate --model RUN_DIR|model.zip [--data URI] [--input-format FORMAT]
                              [--output DIR] [--batch-size N] [--partitions N]
                              [--set key=value ...]

      Scores a labelled data set on Spark and measures, for a classifier: accuracy, loss (mean
      cross-entropy of the true class), top-5 accuracy (more than 5 classes), per-class
      precision, recall and F1, and the confusion matrix; for a regressor: RMSE, MAE, MSE, R^2.
      Writes evaluation.json and report.html (the run's curves and facts plus the confusion
      matrix picture and per-class table) into --output, by default the run directory.

      Options:
        --model         a run directory of 'spindle train', or a model.zip (then --data and
                        --output are required)
        --data          the labelled data (formats as for predict; default: the run's test set,
                        e.g. MNIST's t10k files from the mirror or cache)
        --input-format  as for predict (default: guessed)
        --output DIR    a local directory for evaluation.json and report.html
        --features-col, --label-col, --batch-size, --partitions, --set: as for predict
      """;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private EvaluateCommand() {}

  static int run(String[] args, PrintStream out) {
    CommandOptions o =
        CommandOptions.parse(
            "evaluate",
            args,
            List.of("--set", "--output"),
            List.of(
                "--model",
                "--data",
                "--input-format",
                "--features-col",
                "--label-col",
                "--batch-size",
                "--partitions"),
            List.of());
    if (o.help()) {
      out.print(USAGE);
      return ExitCode.SUCCESS.code();
    }
    String model = o.required("--model");
    Path given = o.hasOutput() ? o.outputDir((Path) null) : null; // a URI refused before Spark
    CommandLog.attach("evaluate", model, given, args);
    try (ScoringSession session =
        ScoringSession.open(model, PredictCommand.overrides(o), "spindle evaluate")) {
      int batch = o.positiveInt("--batch-size", session.model().network().suggestedBatch());
      Path outDir = outputDir(given, session);
      String data = o.extra("--data") != null ? o.extra("--data") : defaultData(session);
      int partitions = o.positiveInt("--partitions", session.sc().defaultParallelism());
      String format = o.extra("--input-format") == null ? "" : o.extra("--input-format");
      ScoringInput in = session.read(data, format, partitions);
      if (!in.labelled()) {
        throw new ConfigException(
            "evaluate needs labelled data; " + data + " has no labels (use predict to score it)");
      }
      long start = System.nanoTime();
      Scoring.Result result = Scoring.score(session.sc(), in, session.model().network(), batch);
      session.sc().setJobDescription("spindle evaluate: " + in.description());
      Map<String, Object> metrics;
      if (session.model().regression()) {
        metrics =
            result
                .scored()
                .mapPartitions(
                    it -> {
                      RegressionMetrics m = RegressionMetrics.empty();
                      it.forEachRemaining(s -> m.add(s.label(), s.output()[0]));
                      return Collections.singletonList(m).iterator();
                    })
                .reduce(RegressionMetrics::merge)
                .toMap();
      } else {
        int classes = session.model().network().numOutputs();
        metrics =
            result
                .scored()
                .mapPartitions(
                    it -> {
                      ClassificationMetrics m = ClassificationMetrics.empty(classes);
                      it.forEachRemaining(s -> m.add((int) s.label(), s.output()));
                      return Collections.singletonList(m).iterator();
                    })
                .reduce(ClassificationMetrics::merge)
                .toMap();
      }
      result.broadcast().destroy();
      Map<String, Object> evaluation = new LinkedHashMap<>();
      evaluation.put("model", session.model().modelFile());
      evaluation.put("data", in.description());
      evaluation.putAll(metrics);
      evaluation.put("seconds", (System.nanoTime() - start) / 1e9);
      writeJson(outDir.resolve("evaluation.json"), evaluation);
      HtmlReport.render(outDir);
      if (metrics.containsKey("accuracy")) {
        out.printf(
            Locale.ROOT,
            "spindle: %d examples: accuracy %.4f, loss %.4f%s, macro F1 %.4f%n",
            (Long) metrics.get("examples"),
            (Double) metrics.get("accuracy"),
            (Double) metrics.get("loss"),
            metrics.containsKey("top5_accuracy")
                ? String.format(Locale.ROOT, ", top-5 %.4f", (Double) metrics.get("top5_accuracy"))
                : "",
            (Double) metrics.get("macro_f1"));
      } else {
        out.printf(
            Locale.ROOT,
            "spindle: %d examples: RMSE %.6g, MAE %.6g, R^2 %.4f%n",
            (Long) metrics.get("examples"),
            (Double) metrics.get("rmse"),
            (Double) metrics.get("mae"),
            (Double) metrics.get("r2"));
      }
      out.println(
          "spindle: wrote "
              + outDir.resolve("evaluation.json")
              + " and "
              + outDir.resolve("report.html"));
    }
    return ExitCode.SUCCESS.code();
  }

  /** {@code given} (--output), else the run directory when it is local; created. */
  private static Path outputDir(Path given, ScoringSession session) {
    Path p = given;
    if (p == null) {
      String run = session.model().runDir();
      if (run == null) {
        throw new ConfigException(
            "evaluate --model " + session.model().modelFile() + " needs --output DIR");
      }
      if (io.spindle.driver.RunOutput.isRemote(run)) {
        throw new ConfigException(
            "the run directory " + run + " is not local; give --output DIR for evaluation.json");
      }
      p = io.spindle.driver.RunOutput.localPath(run);
    }
    try {
      Files.createDirectories(p);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create --output " + p + ": " + e, e);
    }
    return p;
  }

  /** The run's test set: data.testPath (tables, image folders), else the named data set's. */
  static String defaultData(ScoringSession session) {
    if (session.model().config() == null) {
      throw new ConfigException(
          "evaluate --model " + session.model().modelFile() + " needs --data URI");
    }
    SpindleConfig config = session.config();
    DataConfig data = config.data();
    return switch (data.effectiveFormat()) {
      case "table" -> data.testPath();
      case "image_folder" ->
          data.testPath().isEmpty()
              ? (data.path().endsWith("/") ? data.path() + "val" : data.path() + "/val")
              : data.testPath();
      case "generated" ->
          throw new ConfigException(
              "evaluate cannot read the generated data set " + data.dataset() + "; give --data");
      default -> {
        if (!data.path().isEmpty()) {
          yield data.path();
        }
        Map<String, Path> files = DatasetFiles.fetch(config);
        Path any =
            files.containsKey("folder") ? files.get("folder") : files.values().iterator().next();
        yield (files.containsKey("folder") ? any : any.getParent()).toUri().toString();
      }
    };
  }

  private static void writeJson(Path file, Map<String, Object> value) {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    try {
      JSON.writeValue(tmp.toFile(), value);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e, e);
    }
  }
}
