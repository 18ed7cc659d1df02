"""Interval utilities on 1e6 intervals: superstrax against strax 2.2.3, each step in a fresh
process (so the first call pays what a new session pays: numba compilation or cache load).

    python benchmarks/intervals.py [--n 1000000] [--strax-python /work/venv-strax/bin/python]

Things are 1e6 hit-like intervals (time, length, dt, channel) sorted by time; containers are
n/10 disjoint windows, each spanning about ten things. For every step the first call, the
best of three later calls and the peak RSS of the process are reported, with the ratio
superstrax / strax of the steady-state time. Without a strax interpreter only superstrax runs.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

STEPS = ("touching_windows", "split_by_containment", "fully_contained_in", "sort_by_time",
         "copy_to_buffer")


def make_inputs(lib, n):
    import numpy as np
    rng = np.random.default_rng(42)
    things = np.zeros(n, lib.interval_dtype)
    things["time"] = np.cumsum(rng.integers(5, 200, n))
    things["length"] = rng.integers(1, 20, n)
    things["dt"] = 10
    things["channel"] = rng.integers(0, 500, n)
    n_cont = max(n // 10, 1)
    containers = np.zeros(n_cont, lib.time_fields)
    # Each window starts at a thing and ends at the start of the thing ten rows later.
    first = np.arange(n_cont) * 10
    containers["time"] = things["time"][first]
    containers["endtime"] = things["time"][np.minimum(first + 10, n - 1)]
    return things, containers


def run_step(step, library, n):
    """Time one step in this process and print a JSON line."""
    import numpy as np
    if library == "strax":
        import strax as lib
    else:
        import superstrax as lib
    things, containers = make_inputs(lib, n)
    if step == "touching_windows":
        def call():
            return lib.touching_windows(things, containers)
    elif step == "split_by_containment":
        def call():
            return lib.split_by_containment(things, containers)
    elif step == "fully_contained_in":
        def call():
            return lib.fully_contained_in(things, containers)
    elif step == "sort_by_time":
        shuffled = things[np.random.default_rng(1).permutation(n)]

        def call():
            return lib.sort_by_time(shuffled)
    elif step == "copy_to_buffer":
        records = np.zeros(n // 5, lib.record_dtype())
        records["time"] = things["time"][:len(records)]
        buffer = np.zeros(len(records), records.dtype)

        def call():
            lib.copy_to_buffer(records, buffer, "_bench_copy")
            return buffer
    else:
        raise SystemExit(f"unknown step {step}")
    t0 = time.perf_counter()
    result = call()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"step": step, "library": library, "n": n, "first_s": first,
                      "best_s": best, "peak_rss_mb": resource.getrusage(
                          resource.RUSAGE_SELF).ru_maxrss / 1024, "len": len(result)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--strax-python", default="/work/venv-strax/bin/python")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        run_step(args.step, args.library, args.n)
        return
    here = os.path.abspath(__file__)
    repo = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ, PYTHONPATH=repo)
    pythons = {"superstrax": sys.executable}
    if os.path.exists(args.strax_python):
        pythons["strax"] = args.strax_python
    results = {}
    for step in STEPS:
        for library, python in pythons.items():
            out = subprocess.run([python, "-W", "ignore", here, "--step", step, "--library",
                                  library, "--n", str(args.n)], env=env, capture_output=True,
                                 text=True, check=True)
            results[(step, library)] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'step':22s} {'library':10s} {'first call':>11s} {'best of 3':>10s} "
          f"{'peak RSS':>9s} {'vs strax':>9s}")
    for step in STEPS:
        for library in pythons:
            r = results[(step, library)]
            ratio = ""
            if library == "superstrax" and (step, "strax") in results:
                ratio = f"{r['best_s'] / results[(step, 'strax')]['best_s']:.2f}x"
            print(f"{step:22s} {library:10s} {r['first_s']:10.3f}s {r['best_s']:9.3f}s "
                  f"{r['peak_rss_mb']:7.0f}MB {ratio:>9s}")


if __name__ == "__main__":
    main()
