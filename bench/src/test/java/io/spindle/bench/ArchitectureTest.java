package io.spindle.bench;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The architecture's rules, checked on the production classes of every module (the bench module's
 * test classpath is the only one that holds them all):
 *
 * <ul>
 *   <li>layering: {@code common} (no Spark) &lt;- {@code worker} (an executor's task) &lt;- {@code
 *       driver} (the loop, strategies, CLI); {@code bench} and {@code deploy} on top, and nothing
 *       depends on them;
 *   <li>no cycles between packages;
 *   <li>no Spark in {@code common};
 *   <li>no DL4J Spark (its training masters, parameter server) outside {@code bench};
 *   <li>no reseeding of ND4J's process-wide random generator: randomness is keyed explicitly.
 * </ul>
 */
class ArchitectureTest {
  /** The packages of the worker, driver, bench and deploy modules; every other one is common's. */
  static final String[] ABOVE_COMMON = {
    "io.spindle.worker..", "io.spindle.driver..", "io.spindle.bench..", "io.spindle.deploy.."
  };

  static final DescribedPredicate<JavaClass> COMMON =
      resideInAPackage("io.spindle..")
          .and(not(resideInAnyPackage(ABOVE_COMMON)))
          .as("common (io.spindle.* outside worker, driver, bench, deploy)");

  static JavaClasses classes;

  static final Pattern TEST_JAR = Pattern.compile(".*-tests\\.jar.*");

  /** Production classes only: neither test classes nor test-jars (shared fixtures). */
  static final ImportOption PRODUCTION =
      location -> !location.contains("/test-classes/") && !location.matches(TEST_JAR);

  @BeforeAll
  static void importClasses() {
    classes = new ClassFileImporter().withImportOption(PRODUCTION).importPackages("io.spindle");
    // the rules below must see every module's classes, or they would pass on nothing
    for (String name :
        new String[] {
          "io.spindle.config.SpindleConfig",
          "io.spindle.optim.GlobalStep",
          "io.spindle.worker.PartitionTrainer",
          "io.spindle.driver.TrainingCoordinator",
          "io.spindle.bench.BenchCli"
        }) {
      assertTrue(classes.contain(name), "not imported: " + name);
    }
  }

  static void check(ArchRule rule) {
    rule.check(classes);
  }

  @Test
  void modulesAreLayeredCommonWorkerDriverThenBenchAndDeploy() {
    check(
        layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .withOptionalLayers(true)
            .layer("common")
            .definedBy(COMMON)
            .layer("worker")
            .definedBy("io.spindle.worker..")
            .layer("driver")
            .definedBy("io.spindle.driver..")
            .layer("bench")
            .definedBy("io.spindle.bench..")
            .layer("deploy")
            .definedBy("io.spindle.deploy..")
            .whereLayer("deploy")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("bench")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("driver")
            .mayOnlyBeAccessedByLayers("bench", "deploy")
            .whereLayer("worker")
            .mayOnlyBeAccessedByLayers("driver", "bench", "deploy"));
  }

  @Test
  void packagesHaveNoCycles() {
    check(slices().matching("io.spindle.(**)").should().beFreeOfCycles());
  }

  @Test
  void commonHasNoSpark() {
    check(
        noClasses()
            .that(COMMON)
            .should()
            .dependOnClassesThat()
            .resideInAPackage("org.apache.spark.."));
  }

  @Test
  void dl4jSparkOnlyInBench() {
    check(
        noClasses()
            .that()
            .resideOutsideOfPackage("io.spindle.bench..")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage("org.deeplearning4j.spark..", "org.nd4j.parameterserver.."));
  }

  @Test
  void nothingReseedsNd4jsProcessWideGenerator() {
    DescribedPredicate<JavaMethodCall> reseed =
        DescribedPredicate.describe(
            "Random.setSeed of ND4J's generator",
            call ->
                call.getName().equals("setSeed")
                    && call.getTargetOwner().isAssignableTo(org.nd4j.linalg.api.rng.Random.class));
    check(noClasses().should().callMethodWhere(reseed));
  }
}
