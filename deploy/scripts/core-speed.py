#!/usr/bin/env python3
"""How fast each CPU of this host computes, window by window, and what that costs a synchronous
data-parallel step.

One process per CPU, each pinned to its CPU (os.sched_setaffinity), times fp32 matrix products
(torch.mm, one OpenBLAS thread; without PyTorch, a pure-Python loop) in windows of --window seconds,
all CPUs at once for --seconds, then each CPU alone for --alone seconds. Per window and CPU it
reports the rate; over the windows run at once, the median rate of each CPU and

  sync efficiency = mean over windows of (N x slowest CPU's rate) / (sum of the CPUs' rates),

the share of the CPUs' combined work a synchronous step (every worker waits for the slowest) can
use when the work is split evenly. 1.00 on a host whose CPUs run at one speed.

    python3 deploy/scripts/core-speed.py [--seconds 20] [--window 0.5] [--alone 5] [--size 512]

Prints one line per window (time, CPU, GFLOP/s) and a summary; --json FILE writes the figures.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time


def kernel(size):
    """A function doing one unit of work, and its FLOP count."""
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    # OpenBLAS falls back to its generic kernels on CPUs it does not know (as ./spindle bench
    # finds); AVX-512 CPUs get its SkylakeX kernels unless the caller chose
    if "OPENBLAS_CORETYPE" not in os.environ and "avx512f" in open("/proc/cpuinfo").read():
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    try:
        import torch

        torch.set_num_threads(1)
        a = torch.rand(size, size)
        b = torch.rand(size, size)
        c = torch.empty(size, size)

        def work():
            torch.mm(a, b, out=c)

        return work, 2.0 * size**3, "torch.mm %dx%d fp32, 1 thread" % (size, size)
    except ImportError:

        def work():
            x = 0
            for i in range(20000):
                x += i * i

        return work, 40000.0, "pure-Python loop (no PyTorch): units of 40,000 operations"


def probe(cpu, start_at, seconds, window, size, out):
    os.sched_setaffinity(0, {cpu})
    work, flops, what = kernel(size)
    for _ in range(5):
        work()
    while time.time() < start_at:
        time.sleep(0.001)
    rows = []
    end = start_at + seconds
    t = start_at
    while t < end:
        n = 0
        w_end = t + window
        while time.time() < w_end:
            work()
            n += 1
        now = time.time()
        rows.append((round(t - start_at, 3), n * flops / (now - t) / 1e9))
        t = now
    out.put((cpu, what, rows))


def run(cpus, seconds, window, size):
    out = mp.Queue()
    start_at = time.time() + 2.0
    ps = [
        mp.Process(target=probe, args=(c, start_at, seconds, window, size, out)) for c in cpus
    ]
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    return {c: rows for c, _, rows in results}, results[0][1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--window", type=float, default=0.5)
    ap.add_argument("--alone", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.seconds <= 0 or a.window <= 0 or a.window > a.seconds or a.alone < 0 or a.size < 16:
        sys.exit("core-speed: expected --seconds > 0, 0 < --window <= --seconds, --alone >= 0,"
                 " --size >= 16")
    cpus = sorted(os.sched_getaffinity(0))
    together, what = run(cpus, a.seconds, a.window, a.size)
    print("core-speed: %s; CPUs %s; %s s at once in %s s windows" % (what, cpus, a.seconds, a.window))
    windows = min(len(r) for r in together.values())
    effs = []
    for i in range(windows):
        rates = [together[c][i][1] for c in cpus]
        effs.append(len(rates) * min(rates) / sum(rates))
        print("  %6.2f s  " % together[cpus[0]][i][0]
              + "  ".join("cpu%d %6.1f" % (c, r) for c, r in zip(cpus, rates))
              + "  sync eff %.2f" % effs[-1])
    summary = {
        "kernel": what,
        "cpus": cpus,
        "window_seconds": a.window,
        "together_median_gflops": {
            str(c): statistics.median(r for _, r in together[c][:windows]) for c in cpus},
        "together_min_max_gflops": {
            str(c): [min(r for _, r in together[c]), max(r for _, r in together[c])] for c in cpus},
        "sync_efficiency_mean": statistics.mean(effs),
        "sync_efficiency_min": min(effs),
    }
    if a.alone > 0:
        alone = {}
        for c in cpus:
            rows, _ = run([c], a.alone, a.window, a.size)
            alone[str(c)] = statistics.median(r for _, r in rows[c])
        summary["alone_median_gflops"] = alone
    print("core-speed: median GFLOP/s at once " + ", ".join(
        "cpu%s %.1f" % kv for kv in summary["together_median_gflops"].items())
        + (("; alone " + ", ".join("cpu%s %.1f" % kv for kv in summary["alone_median_gflops"].items()))
           if a.alone > 0 else ""))
    print("core-speed: sync efficiency mean %.3f, worst window %.3f"
          % (summary["sync_efficiency_mean"], summary["sync_efficiency_min"]))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"summary": summary, "together": together}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
