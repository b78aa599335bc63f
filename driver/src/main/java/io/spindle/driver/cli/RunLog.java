package io.spindle.driver.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Marker;
import org.apache.logging.log4j.MarkerManager;
import org.apache.logging.log4j.core.Appender;
import org.apache.logging.log4j.core.Filter;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.ConsoleAppender;
import org.apache.logging.log4j.core.appender.FileAppender;
import org.apache.logging.log4j.core.config.AbstractConfiguration;
import org.apache.logging.log4j.core.config.AppenderRef;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.filter.AbstractFilter;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * A run's log file, {@code <output>/spindle.log}, and a quiet console while the run lasts.
 *
 * <p>{@link #attach} adds a file appender to the root logger of the Log4j 2 context that Spark and
 * Spindle log to (under {@code ./spindle}: the one {@code log4j2.properties} configures; under
 * {@code spark-submit}: whatever the cluster's Spark configuration set up), and puts a filter on
 * every console appender so that the console shows only Spindle's own one-line messages. Everything
 * else Log4j passes (Spark, Hadoop, ND4J at WARN and above, Spindle at INFO, and the stack traces
 * of failed tasks that Spark logs on the driver, executors' included) goes to the file. A failure
 * then reaches the console as the one line {@link SpindleCli} prints, naming this file, and its
 * stack trace is logged here with {@link #FILE_ONLY}. {@link #close} undoes all of it.
 *
 * <p>On a cluster, an executor's own log stays where the cluster manager keeps it (the worker's
 * {@code work/} folder, YARN's container logs); what the driver learns of a failed task, its
 * exception and stack trace, is in this file.
 */
public final class RunLog implements AutoCloseable {
  /** The file's name in the output directory. */
  public static final String FILE_NAME = "spindle.log";

  /** Events with this marker go to the log file only, never to the console. */
  public static final Marker FILE_ONLY = MarkerManager.getMarker("SPINDLE_FILE_ONLY");

  private static final String APPENDER = "spindle-run-log";
  private static final String PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5p [%t] %c: %m%n";
  private static volatile RunLog current;

  private final Path file;
  private final List<Runnable> undo = new ArrayList<>();

  private RunLog(Path file) {
    this.file = file;
  }

  /**
   * Sends the log to {@code <outputDir>/spindle.log} (appending, so a resumed run keeps one file)
   * and quiets the console until {@link #close}. Replaces a log attached before.
   */
  public static synchronized RunLog attach(Path outputDir) {
    detach();
    RunLog log = new RunLog(outputDir.resolve(FILE_NAME).toAbsolutePath());
    Set<LoggerContext> contexts = new LinkedHashSet<>();
    for (ClassLoader loader :
        new ClassLoader[] {
          RunLog.class.getClassLoader(), org.apache.spark.SparkContext.class.getClassLoader()
        }) {
      if (LogManager.getContext(loader, false) instanceof LoggerContext ctx) {
        contexts.add(ctx);
      }
    }
    for (LoggerContext ctx : contexts) {
      log.attachTo(ctx);
    }
    current = log;
    return log;
  }

  /** The file of the log attached now, if any. */
  public static Optional<Path> currentFile() {
    RunLog log = current;
    return log == null ? Optional.empty() : Optional.of(log.file);
  }

  /** Closes the log attached now, if any. */
  public static synchronized void detach() {
    RunLog log = current;
    if (log != null) {
      log.close();
    }
  }

  public Path file() {
    return file;
  }

  /**
   * Writes a failure with its stack trace into the attached log file, never to the console; false
   * (and nothing written) when no log is attached.
   */
  public static boolean logFailure(String line, Throwable failure) {
    if (current == null) {
      return false;
    }
    LogManager.getLogger(SpindleCli.class).error(FILE_ONLY, line, failure);
    return true;
  }

  private void attachTo(LoggerContext ctx) {
    Configuration config = ctx.getConfiguration();
    PatternLayout layout =
        PatternLayout.newBuilder().withPattern(PATTERN).withConfiguration(config).build();
    FileAppender appender =
        FileAppender.newBuilder()
            .setName(APPENDER)
            .withFileName(file.toString())
            .withAppend(true)
            .setImmediateFlush(true)
            .setLayout(layout)
            .setConfiguration(config)
            .build();
    appender.start();
    config.addAppender(appender);
    List<LoggerConfig> loggers = new ArrayList<>(config.getLoggers().values());
    if (!loggers.contains(config.getRootLogger())) {
      loggers.add(config.getRootLogger());
    }
    Filter spindleOnly = new SpindleOnly();
    for (LoggerConfig logger : loggers) {
      for (AppenderRef ref : List.copyOf(logger.getAppenderRefs())) {
        Appender console = logger.getAppenders().get(ref.getRef());
        if (console instanceof ConsoleAppender) {
          logger.removeAppender(ref.getRef());
          logger.addAppender(console, ref.getLevel(), spindleOnly);
          undo.add(
              () -> {
                logger.removeAppender(ref.getRef());
                logger.addAppender(console, ref.getLevel(), ref.getFilter());
              });
        }
      }
      if (logger == config.getRootLogger() || !logger.isAdditive()) {
        logger.addAppender(appender, null, null);
        undo.add(() -> logger.removeAppender(APPENDER));
      }
    }
    ctx.updateLoggers();
    undo.add(
        () -> {
          ctx.updateLoggers();
          appender.stop();
          if (config instanceof AbstractConfiguration c) {
            c.removeAppender(APPENDER);
          }
        });
  }

  @Override
  public synchronized void close() {
    for (Runnable r : undo) {
      r.run();
    }
    undo.clear();
    if (current == this) {
      current = null;
    }
  }

  /** Lets through Spindle's own events, unless marked {@link #FILE_ONLY}. */
  private static final class SpindleOnly extends AbstractFilter {
    @Override
    public Result filter(LogEvent event) {
      if (event.getMarker() != null && event.getMarker().isInstanceOf(FILE_ONLY)) {
        return Result.DENY;
      }
      return event.getLoggerName().startsWith("io.spindle") ? Result.NEUTRAL : Result.DENY;
    }
  }
}
