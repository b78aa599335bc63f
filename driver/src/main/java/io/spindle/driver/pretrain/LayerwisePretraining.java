package io.spindle.driver.pretrain;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.PretrainConfig;
import io.spindle.config.ReconstructionLoss;
import io.spindle.config.SpindleConfig;
import io.spindle.data.MiniBatch;
import io.spindle.driver.Evaluator;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainJob;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.ParameterSync;
import io.spindle.model.Corruption;
import io.spindle.model.EncoderStack;
import io.spindle.model.Reconstruction;
import io.spindle.worker.FrozenEncoder;
import io.spindle.worker.ModelSpec;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Greedy layer-wise unsupervised pre-training of a classifier's hidden layers as (denoising)
 * autoencoders, before its supervised training.
 *
 * <p>For hidden layer k = 0, 1, ... in turn:
 *
 * <ol>
 *   <li>The autoencoder of layer k is a network of two layers: the encoder, shaped and activated
 *       like hidden layer k, and a decoder output layer back to the encoder's input size (the first
 *       decoder with {@code pretrain.decoderActivation}, deeper ones with the activation of the
 *       layer whose output they reconstruct), with loss {@code pretrain.loss}. It is trained like
 *       any model: a {@link GlobalModel} with its own optimiser state from {@code optimizer} (at
 *       {@code pretrain.learningRate} if set), updated by the run's {@link ParameterSync} (so
 *       distributed, through the same sync path as training), {@code pretrain.epochsPerLayer}
 *       epochs over the training set.
 *   <li>Its input is the output of the already pre-trained layers 0..k-1, frozen: each epoch the
 *       workers map their own mini-batches through the {@link EncoderStack} (shipped in the task
 *       closure) and cache the result for the epoch, so no encoded data set is collected or
 *       written. For k = 0 the input is the data itself.
 *   <li>On the worker, each step's input is corrupted ({@link Corruption}, seeded by the step's
 *       (seed, iteration, worker)) and the loss is taken against the clean input ({@link
 *       Reconstruction}); class labels are unused.
 *   <li>The trained encoder's weights and biases are copied into hidden layer k of the classifier
 *       and appended to the frozen stack; the decoder is discarded.
 * </ol>
 *
 * Fine-tuning then trains the whole classifier (output layer included, nothing frozen) from these
 * weights. Pre-training is not checkpointed: a run resumed from a checkpoint skips it (the
 * checkpoint holds the pre-trained weights), and a run interrupted during it starts it again.
 */
public final class LayerwisePretraining {
  private final JavaSparkContext sc;
  private final SpindleConfig config;
  private final DistributedDataset data;
  private final int threads;
  private final PrintStream console;

  public LayerwisePretraining(
      JavaSparkContext sc,
      SpindleConfig config,
      DistributedDataset data,
      int threads,
      PrintStream console) {
    this.sc = sc;
    this.config = config;
    this.data = data;
    this.threads = threads;
    this.console = console;
  }

  /** What pre-training one layer did. */
  public record LayerResult(
      int layer,
      int inputs,
      int units,
      int epochs,
      long steps,
      double initialTestLoss,
      double trainLoss,
      double testLoss,
      double seconds) {
    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("layer", layer);
      m.put("inputs", inputs);
      m.put("units", units);
      m.put("epochs", epochs);
      m.put("steps", steps);
      m.put("initial_test_loss", initialTestLoss);
      m.put("train_loss", trainLoss);
      m.put("test_loss", testLoss);
      m.put("seconds", seconds);
      return m;
    }
  }

  /**
   * Checks that {@code config}'s model can be pre-trained layer-wise: at least one hidden layer,
   * all of them dense, and with binary cross-entropy every reconstructed layer output in (0, 1).
   */
  public static void validate(SpindleConfig config) {
    List<LayerConfig> layers = config.model().layers();
    if (layers.size() < 2) {
      throw new ConfigException(
          "pretrain.enabled: layer-wise pre-training needs at least one hidden layer before the"
              + " output layer, model.layers has none");
    }
    for (int i = 0; i < layers.size() - 1; i++) {
      LayerConfig l = layers.get(i);
      if (l.type() != LayerType.DENSE) {
        throw new ConfigException(
            "pretrain.enabled: layer-wise pre-training needs dense hidden layers, got model.layers["
                + i
                + "].type "
                + l.type().configName());
      }
      if (l.activation() == Activation.SOFTMAX) {
        throw new ConfigException(
            "pretrain.enabled: model.layers["
                + i
                + "].activation softmax cannot be pre-trained (use sigmoid, tanh, relu or"
                + " identity)");
      }
      if (i > 0
          && config.pretrain().loss() == ReconstructionLoss.BINARY_CROSS_ENTROPY
          && layers.get(i - 1).activation() != Activation.SIGMOID) {
        throw new ConfigException(
            "pretrain.loss binary_cross_entropy needs values in [0, 1] to reconstruct, but layer "
                + i
                + "'s autoencoder reconstructs the output of model.layers["
                + (i - 1)
                + "], whose activation is "
                + layers.get(i - 1).activation().configName()
                + " (use sigmoid there, or pretrain.loss mse)");
      }
    }
  }

  /** What pre-training did, layer by layer, and the trained encoders, bottom first. */
  public record Result(List<LayerResult> layers, EncoderStack encoders) {
    /** The summary facts of the run. */
    public Map<String, Object> facts() {
      Map<String, Object> out = new LinkedHashMap<>();
      List<Map<String, Object>> list = new ArrayList<>();
      double seconds = 0;
      for (LayerResult r : layers) {
        list.add(r.toMap());
        seconds += r.seconds();
      }
      out.put("pretrain_seconds", seconds);
      out.put("pretrain_layers", list);
      return out;
    }
  }

  /**
   * Pre-trains every hidden layer of {@code classifier} in turn and writes the encoders' weights
   * into it; its output layer is left as it is.
   */
  public Result run(GlobalModel classifier) {
    validate(config);
    PretrainConfig pre = config.pretrain();
    ModelConfig model = config.model();
    int hidden = model.layers().size() - 1;
    Reconstruction reconstruction =
        new Reconstruction(new Corruption(pre.maskProbability(), pre.gaussianSigma()), pre.loss());
    EncoderStack stack = EncoderStack.empty();
    List<LayerResult> results = new ArrayList<>();
    int inputs = data.numFeatures();
    for (int k = 0; k < hidden; k++) {
      LayerConfig layer = model.layers().get(k);
      Activation decoder =
          k == 0 ? pre.decoderActivation() : model.layers().get(k - 1).activation();
      ModelConfig autoencoderModel =
          new ModelConfig(
              List.of(
                  LayerConfig.dense(layer.units(), layer.activation()),
                  LayerConfig.output(inputs, decoder, Loss.MSE)),
              model.weightInit(),
              model.l1(),
              model.l2(),
              model.precision());
      ModelSpec spec =
          new ModelSpec(
              autoencoderModel,
              pre.optimizer(config.optimizer()),
              inputs,
              inputs,
              config.training().seed() + k,
              threads,
              reconstruction);
      GlobalModel autoencoder = new GlobalModel(spec);
      LayerResult r = trainLayer(k, hidden, autoencoder, stack, inputs, layer.units());
      results.add(r);
      INDArray w = autoencoder.network().getLayer(0).getParam("W");
      INDArray b = autoencoder.network().getLayer(0).getParam("b");
      classifier.network().getLayer(k).getParam("W").assign(w);
      classifier.network().getLayer(k).getParam("b").assign(b);
      stack = stack.plus(w, b, layer.activation());
      inputs = layer.units();
    }
    return new Result(List.copyOf(results), stack);
  }

  private LayerResult trainLayer(
      int k, int hidden, GlobalModel autoencoder, EncoderStack stack, int inputs, int units) {
    long start = System.nanoTime();
    ParameterSync sync = TrainJob.syncFor(sc, config, data);
    JavaRDD<MiniBatch> test = encoded(data.test(), stack, "test");
    Evaluator evaluator = new Evaluator(sc, test);
    double initial = evaluator.evaluate(autoencoder).meanLoss();
    int epochs = config.pretrain().epochsPerLayer();
    int stepsPerEpoch = data.stepsPerEpoch();
    long iteration = 0;
    double trainLoss = Double.NaN;
    double testLoss = initial;
    try {
      for (int epoch = 0; epoch < epochs; epoch++) {
        long epochStart = System.nanoTime();
        JavaRDD<MiniBatch> batches = encoded(data.epoch(epoch), stack, "epoch " + epoch);
        double lossSum = 0;
        long examples = 0;
        try {
          for (int step = 0; step < stepsPerEpoch; ) {
            RoundResult round =
                sync.round(batches, step, stepsPerEpoch - step, iteration, autoencoder);
            if (!Double.isFinite(round.meanLoss())) {
              throw new TrainingDivergedException(
                  "pretraining layer "
                      + (k + 1)
                      + ": reconstruction loss is "
                      + round.meanLoss()
                      + " at step "
                      + iteration
                      + "; try a lower optimizer.learningRate or less pretrain.gaussianSigma");
            }
            step += round.steps();
            iteration += round.steps();
            lossSum += round.meanLoss() * round.examples();
            examples += round.examples();
          }
        } finally {
          if (stack.depth() > 0) {
            batches.unpersist(false);
          }
        }
        trainLoss = lossSum / examples;
        testLoss = evaluator.evaluate(autoencoder).meanLoss();
        console.printf(
            Locale.ROOT,
            "spindle: pretraining layer %d/%d (%d -> %d), epoch %d/%d: reconstruction loss %.5f"
                + " (train), %.5f (test; %.5f before), %.1f s%n",
            k + 1,
            hidden,
            inputs,
            units,
            epoch + 1,
            epochs,
            trainLoss,
            testLoss,
            initial,
            (System.nanoTime() - epochStart) / 1e9);
      }
    } finally {
      if (stack.depth() > 0) {
        test.unpersist(false);
      }
    }
    return new LayerResult(
        k,
        inputs,
        units,
        epochs,
        iteration,
        initial,
        trainLoss,
        testLoss,
        (System.nanoTime() - start) / 1e9);
  }

  /**
   * {@code batches} mapped through the frozen {@code stack} on the executors, partition by
   * partition (so worker w keeps its own step-ordered batches), cached and materialised.
   */
  private JavaRDD<MiniBatch> encoded(JavaRDD<MiniBatch> batches, EncoderStack stack, String what) {
    if (stack.depth() == 0) {
      return batches;
    }
    int t = threads;
    JavaRDD<MiniBatch> out =
        batches
            .mapPartitions(it -> FrozenEncoder.encode(stack, t, it), true)
            .setName("pretraining: " + what + " encoded by " + stack.depth() + " layer(s)")
            .persist(StorageLevel.MEMORY_AND_DISK());
    out.count();
    return out;
  }
}
