package io.spindle.config;

import static io.spindle.config.ConfigLoaderTest.assertContains;
import static io.spindle.config.ConfigLoaderTest.error;
import static io.spindle.config.ConfigLoaderTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The recipe keys of issue 15 read from YAML and validated: optimizer.weightDecay and
 * weightDecayExclude, the multistep schedule with milestones and warmupFrom, training.accumulate.
 */
class RecipeConfigTest {
  @Test
  void weightDecayAndItsExclusionsAreReadAndWrittenBack() {
    SpindleConfig c =
        parse(
            """
            optimizer:
              weightDecay: 1.0e-4
              weightDecayExclude: [batch_norm, bias]
            """);
    assertEquals(1e-4, c.optimizer().weightDecay());
    assertEquals(
        List.of(ParameterGroup.BATCH_NORM, ParameterGroup.BIAS),
        c.optimizer().weightDecayExclude());
    assertEquals(c, parse(ConfigLoader.toYaml(c)));
    SpindleConfig d = SpindleConfig.defaults();
    assertEquals(0.0, d.optimizer().weightDecay());
    assertEquals(List.of(), d.optimizer().weightDecayExclude());
  }

  @Test
  void anUnknownExclusionNamesTheKeyAndTheChoices() {
    String m =
        error(
            """
            optimizer:
              weightDecay: 1.0e-4
              weightDecayExclude: [batch_norm, weights]
            """);
    assertContains(
        m, "config.yaml", "optimizer.weightDecayExclude[1]", "[batch_norm, bias]", "weights");
  }

  @Test
  void negativeOrDuplicatedDecayIsRefused() {
    assertContains(error("optimizer: {weightDecay: -1}"), "optimizer", "weightDecay", "-1");
    assertContains(
        error("optimizer: {weightDecay: 0.1, weightDecayExclude: [bias, bias]}"),
        "optimizer: weightDecayExclude",
        "twice",
        "[bias, bias]");
  }

  @Test
  void aMultistepScheduleWithWarmupFromAStartRateIsRead() {
    SpindleConfig c =
        parse(
            """
            optimizer:
              learningRate: 0.1
              schedule: {type: multistep, milestones: [32000, 48000], gamma: 0.1, warmupSteps: 5, warmupFrom: 0.01}
            """);
    ScheduleConfig s = c.optimizer().schedule();
    assertEquals(ScheduleType.MULTISTEP, s.type());
    assertEquals(List.of(32000L, 48000L), s.milestones());
    assertEquals(0.01, s.warmupFrom());
    assertEquals(c, parse(ConfigLoader.toYaml(c)));
  }

  @Test
  void badMilestonesAreRefusedWithTheKey() {
    assertContains(
        error("optimizer: {schedule: {type: multistep}}"),
        "optimizer.schedule",
        "milestones",
        "multistep");
    assertContains(
        error("optimizer: {schedule: {type: multistep, milestones: [48000, 32000]}}"),
        "optimizer.schedule",
        "milestones",
        "ascending",
        "[48000, 32000]");
    assertContains(
        error("optimizer: {schedule: {type: step, milestones: [10]}}"),
        "optimizer.schedule",
        "milestones applies to type multistep only");
    assertContains(
        error("optimizer: {schedule: {type: multistep, milestones: [10], warmupFrom: 0.01}}"),
        "optimizer.schedule",
        "warmupFrom",
        "warmupSteps");
  }

  @Test
  void accumulateIsReadDefaultsToOneAndMustBePositive() {
    assertEquals(1, SpindleConfig.defaults().training().accumulate());
    SpindleConfig c = parse("training: {batchSize: 512, accumulate: 4}");
    assertEquals(4, c.training().accumulate());
    assertEquals(512, c.training().batchSize());
    assertEquals(c, parse(ConfigLoader.toYaml(c)));
    assertContains(error("training: {accumulate: 0}"), "training", "accumulate", "0");
  }
}
