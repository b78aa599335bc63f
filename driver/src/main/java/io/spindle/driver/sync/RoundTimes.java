package io.spindle.driver.sync;

import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.RoundTimeline;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the committed collective rounds' time went outside their steady steps, for the summary
 * ({@code round_start_seconds}, {@code round_end_seconds}, {@code round_warmup_seconds} and a
 * per-round {@code round_timeline}). A round, from the driver's side:
 *
 * <ol>
 *   <li><b>prepare</b>: the round formed (pool, shards), its rendezvous and progress services
 *       opened, its start state digested and offered on the rendezvous (without it: broadcast);
 *       then the job is submitted;
 *   <li><b>launch</b>: from the submission to each task's function starting (Spark's scheduling,
 *       the task's deserialisation), set against the task's wall clock;
 *   <li><b>setup</b>, <b>network</b>, <b>state</b>: the task's ring set-up, its replica and data
 *       cursor, its committed state ({@link RoundTimeline});
 *   <li>the steps, of which the first {@value RoundTimeline#WARM_STEPS} are set against the later
 *       ones' rate: the excess is <b>warm-up</b>;
 *   <li><b>end</b>: the task keeps its state, uploads it to the rendezvous (when the state goes
 *       that way) and makes its result; <b>return</b>: from the last task's result to the driver
 *       holding the job's results (the map output, the result stage, the fetch: the state itself
 *       without the rendezvous, counters and digests with it), then waiting for a late progress
 *       record; <b>commit</b>: the driver takes the uploads its results name and puts the state
 *       back.
 * </ol>
 *
 * Task phases are means over the round's ranks. Start is prepare + launch + setup + network +
 * state; end is end + return + commit.
 */
final class RoundTimes {
  static final int ROUNDS_KEPT = 64;

  private final List<Map<String, Object>> rounds = new ArrayList<>();
  private double startSeconds;
  private double endSeconds;
  private double warmupSeconds;
  private int count;

  /**
   * Notes a committed round: {@code prepareNanos} before the submission at {@code
   * submittedAtMillis}, the job's results at {@code doneAtMillis}, then {@code lateNanos} waiting
   * for progress and {@code commitNanos} committing; {@code seconds} the round in all.
   */
  void add(
      long iteration,
      List<CollectiveResult> results,
      long prepareNanos,
      long submittedAtMillis,
      long doneAtMillis,
      long lateNanos,
      long commitNanos,
      double seconds) {
    double launch = 0;
    double setup = 0;
    double network = 0;
    double state = 0;
    double warmup = 0;
    double end = 0;
    long lastEnd = Long.MIN_VALUE;
    int m = 0;
    for (CollectiveResult r : results) {
      RoundTimeline t = r.timeline();
      if (t == null) {
        continue;
      }
      m++;
      launch += Math.max(0, t.startedAtMillis() - submittedAtMillis) / 1e3;
      setup += t.setupNanos() / 1e9;
      network += t.networkNanos() / 1e9;
      state += t.stateNanos() / 1e9;
      warmup += t.warmupNanos() / 1e9;
      end += t.endNanos() / 1e9;
      lastEnd = Math.max(lastEnd, t.endedAtMillis());
    }
    if (m == 0) {
      return;
    }
    double prepare = prepareNanos / 1e9;
    double returned = Math.max(0, doneAtMillis - lastEnd) / 1e3 + lateNanos / 1e9;
    double commit = commitNanos / 1e9;
    double start = prepare + (launch + setup + network + state) / m;
    double finish = end / m + returned + commit;
    startSeconds += start;
    endSeconds += finish;
    warmupSeconds += warmup / m;
    count++;
    if (rounds.size() < ROUNDS_KEPT) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("global_step", iteration);
      e.put("seconds", seconds);
      e.put("prepare_seconds", prepare);
      e.put("launch_seconds", launch / m);
      e.put("setup_seconds", setup / m);
      e.put("network_seconds", network / m);
      e.put("state_seconds", state / m);
      e.put("warmup_seconds", warmup / m);
      e.put("end_seconds", end / m);
      e.put("return_seconds", returned);
      e.put("commit_seconds", commit);
      e.put("start_seconds", start);
      e.put("finish_seconds", finish);
      rounds.add(e);
    }
  }

  /** The summary's entries (none before a round committed). */
  void facts(Map<String, Object> out) {
    if (count == 0) {
      return;
    }
    out.put("round_start_seconds", startSeconds);
    out.put("round_end_seconds", endSeconds);
    out.put("round_warmup_seconds", warmupSeconds);
    out.put("round_timeline", rounds); // the first ROUNDS_KEPT rounds
  }
}
