package io.spindle.driver.pretrain;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.PretrainConfig;
import io.spindle.config.ReconstructionLoss;
import io.spindle.config.SpindleConfig;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.EpochSource;
import io.spindle.driver.Evaluator;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingPhase;
import io.spindle.driver.TrainingState;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.model.Corruption;
import io.spindle.model.EncoderStack;
import io.spindle.model.Reconstruction;
import io.spindle.sync.Evaluation;
import io.spindle.worker.FrozenEncoder;
import io.spindle.worker.ModelSpec;
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
 *       any model, as a phase of the run ({@link TrainingPhase} {@code pretrain-layer-K}, K = k +
 *       1): a {@link GlobalModel} with its own optimiser state, {@code pretrain.epochsPerLayer}
 *       epochs through the run's training loop, sync strategy, listeners and checkpoints. Its
 *       optimiser is {@code optimizer} (at {@code pretrain.learningRate} if set), resolved for the
 *       phase's own length: a schedule with {@code steps: 0} runs over the layer's epochs, and
 *       {@code referenceBatch} scales by the global batch, as in training.
 *   <li>Its input is the output of the already pre-trained layers 0..k-1, frozen: each epoch the
 *       workers map their own mini-batches through the {@link EncoderStack} (shipped in the task
 *       closure) and cache the result for the epoch, so no encoded data set is collected or
 *       written. For k = 0 the input is the data itself.
 *   <li>On the worker, each step's input is corrupted ({@link Corruption}, every example with the
 *       seed of its (seed + k, global step, index in the global batch)) and the loss is taken
 *       against the clean input ({@link Reconstruction}); class labels are unused.
 *   <li>The trained encoder's weights and biases are copied into hidden layer k of the classifier
 *       and appended to the frozen stack; the decoder is discarded.
 * </ol>
 *
 * Fine-tuning then trains the whole classifier (output layer included, nothing frozen) from these
 * weights. A run resumed from a checkpoint of fine-tuning skips pre-training (the checkpoint holds
 * the pre-trained weights); one stopped during pre-training resumes the interrupted layer from its
 * checkpoint, after taking the layers before it from their final checkpoints.
 */
public final class LayerwisePretraining {
  private final JavaSparkContext sc;
  private final SpindleConfig config;
  private final DistributedDataset data;
  private final int threads;

  public LayerwisePretraining(
      JavaSparkContext sc, SpindleConfig config, DistributedDataset data, int threads) {
    this.sc = sc;
    this.config = config;
    this.data = data;
    this.threads = threads;
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
      // unknown when the layer was trained before a resume (its checkpoint holds no losses)
      m.put("train_loss", Double.isFinite(trainLoss) ? trainLoss : null);
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
    if (config.model().isGraph()) {
      throw new ConfigException(
          "pretrain.enabled: layer-wise pre-training applies to a stack of dense layers, but"
              + " model.layers is a graph (named inputs or merges); set pretrain.enabled false");
    }
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
   * The optimiser of every autoencoder: {@code optimizer} at {@code pretrain.learningRate} if set,
   * resolved for a phase of {@code pretrain.epochsPerLayer} epochs of {@code layout}'s steps.
   */
  public static OptimizerConfig optimizer(SpindleConfig config, BatchLayout layout) {
    long steps = (long) config.pretrain().epochsPerLayer() * layout.stepsPerEpoch();
    return config.pretrain().optimizer(config.optimizer()).resolve(layout.batchSize(), steps);
  }

  /**
   * Pre-trains every hidden layer of {@code classifier} in turn, each autoencoder a phase that
   * {@code runner} trains, and writes the encoders' weights into it; its output layer is left as it
   * is.
   */
  public Result run(GlobalModel classifier, TrainingPhase.Runner runner) {
    validate(config);
    PretrainConfig pre = config.pretrain();
    ModelConfig model = config.model();
    int hidden = model.layers().size() - 1;
    EpochSource source = EpochSource.of(data);
    OptimizerConfig optimizer = optimizer(config, source.layout());
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
              optimizer,
              inputs,
              inputs,
              config.training().seed() + k,
              threads,
              reconstruction);
      GlobalModel autoencoder = new GlobalModel(spec);
      String label =
          String.format(
              Locale.ROOT,
              "pretraining layer %d/%d (%d -> %d)",
              k + 1,
              hidden,
              inputs,
              layer.units());
      results.add(trainLayer(k, label, autoencoder, source, stack, inputs, layer.units(), runner));
      INDArray w = autoencoder.stack().getLayer(0).getParam("W");
      INDArray b = autoencoder.stack().getLayer(0).getParam("b");
      classifier.stack().getLayer(k).getParam("W").assign(w);
      classifier.stack().getLayer(k).getParam("b").assign(b);
      stack = stack.plus(w, b, layer.activation());
      inputs = layer.units();
    }
    return new Result(List.copyOf(results), stack);
  }

  private LayerResult trainLayer(
      int k,
      String label,
      GlobalModel autoencoder,
      EpochSource source,
      EncoderStack stack,
      int inputs,
      int units,
      TrainingPhase.Runner runner) {
    long start = System.nanoTime();
    JavaRDD<MiniBatch> test = encoded(data.test(), stack, "test");
    try {
      Evaluator evaluator = new Evaluator(sc, test);
      double initial = evaluator.evaluate(autoencoder).meanLoss();
      LayerFacts facts = new LayerFacts();
      int epochs = config.pretrain().epochsPerLayer();
      TrainingState end =
          runner.run(
              new TrainingPhase(
                  "pretrain-layer-" + (k + 1),
                  label,
                  autoencoder,
                  new EncodedEpochs(source, stack),
                  evaluator,
                  epochs,
                  0,
                  List.of(facts)));
      double testLoss =
          Double.isNaN(facts.testLoss)
              ? evaluator.evaluate(autoencoder).meanLoss()
              : facts.testLoss;
      return new LayerResult(
          k,
          inputs,
          units,
          epochs,
          end.globalStep(),
          initial,
          facts.trainLoss,
          testLoss,
          (System.nanoTime() - start) / 1e9);
    } finally {
      if (stack.depth() > 0) {
        test.unpersist(false);
      }
    }
  }

  /** The training loss of the last epoch and the test loss after it, as the loop reports them. */
  private static final class LayerFacts implements TrainingListener {
    double lossSum;
    long examples;
    double trainLoss = Double.NaN;
    double testLoss = Double.NaN;

    @Override
    public void onRound(TrainingState state, RoundResult round) {
      lossSum += round.meanLoss() * round.examples();
      examples += round.examples();
    }

    @Override
    public void onEpochEnd(TrainingState state, Evaluation test) {
      trainLoss = examples == 0 ? Double.NaN : lossSum / examples;
      testLoss = test.meanLoss();
      lossSum = 0;
      examples = 0;
    }
  }

  /** Each epoch of the data set mapped through the frozen stack, cached while the loop uses it. */
  private final class EncodedEpochs implements EpochSource {
    private final EpochSource source;
    private final EncoderStack stack;

    EncodedEpochs(EpochSource source, EncoderStack stack) {
      this.source = source;
      this.stack = stack;
    }

    @Override
    public BatchLayout layout() {
      return source.layout();
    }

    @Override
    public JavaRDD<MiniBatch> epoch(int epoch) {
      return encoded(source.epoch(epoch), stack, "epoch " + epoch);
    }

    @Override
    public void release(JavaRDD<MiniBatch> batches) {
      if (stack.depth() > 0) {
        batches.unpersist(false);
      }
    }
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
