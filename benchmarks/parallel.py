"""Many runs at once: worker processes and Dask against serial, and a Dask aggregate over a
superrun larger than a worker's memory limit.

    python benchmarks/parallel.py [--runs 20] [--work 300] [--big-mb 1200] [--memory-limit-mb 600]

Every step runs in a fresh Python process (so no step profits from another's imports, JIT or
page cache of its own outputs), and prints one JSON line that the driver collects:

  serial     make --runs runs of a CPU-bound source plugin one after another
  halves     the floor: two independent serial makes of half the runs each, started together
             in two processes (serial / halves = what two workers can gain on this machine)
  processes  the same with max_workers=2 (speedup = serial / processes; >= 1.7 expected on 2
             idle cores; worker start-up is included)
Each make also reports the CPU seconds it took in all its processes, which a busy machine
does not change as it changes wall times: serial's CPU / a parallel step's CPU near 100% means
the workers add little work of their own.
  dask       the same through a LocalCluster(n_workers=2, threads_per_worker=1) client
             (cluster start-up reported apart)
  histogram  a superrun of --big-mb MB of rows, stored, histogrammed through get_dask on a
             LocalCluster whose workers have --memory-limit-mb each; peak RSS per worker
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import superstrax as sx
from superstrax.testutils import CHUNK_NS, RUN_SPAN, Pulses, write_run_document

# The CPU-bound plugin is superstrax.testutils.Pulses (the parallel tests' plugin): each chunk's
# values go through `work` rounds of sin/arcsin.
ROWS_PER_CHUNK = 20_000


def context(path, **config):
    config = {"n_chunks": 10, "rows_per_chunk": ROWS_PER_CHUNK, **config}
    return sx.Context(storage=[sx.DataDirectory(path, provide_run_metadata=True)],
                      register=[Pulses], config=config, progress_bar=False)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s(who=resource.RUSAGE_SELF):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def cpu_with_children():
    """CPU seconds of this process and of its children that have ended (pool workers end,
    and are counted, when the pool closes)."""
    return cpu_s() + cpu_s(resource.RUSAGE_CHILDREN)


# --- steps (each in its own process) ------------------------------------------------------
def step_make(args, how):
    st = context(args.dir, work=args.work)
    runs = [str(i) for i in range(args.first_run, args.first_run + args.runs)]
    if args.wait_for_go:
        print("ready", flush=True)          # imports done; the driver starts both at once
        sys.stdin.readline()
    out = {"step": how, "runs": args.runs}
    if how == "dask":
        import distributed
        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
        client = distributed.Client(cluster, set_as_default=False)
        client.run(lambda: __import__("superstrax"))      # what a warm cluster has done
        out["cluster_start_s"] = time.perf_counter() - t0
    workers_before = client.run(cpu_s) if how == "dask" else {}
    c0, t0 = cpu_with_children(), time.perf_counter()
    if how == "serial":
        st.make(runs, "pulses")
    elif how == "processes":
        st.make(runs, "pulses", max_workers=2)
    else:
        st.make(runs, "pulses", executor=client)
    out["seconds"] = time.perf_counter() - t0
    # CPU seconds the make took in all processes: on a machine shared with other work the
    # wall times vary with its load, this does not (serial / this = how well the cores serve)
    out["cpu_s"] = cpu_with_children() - c0
    if how == "dask":
        out["cpu_s"] += sum(v - workers_before[k] for k, v in client.run(cpu_s).items())
    assert all(st.is_stored(r, "pulses") for r in runs)
    if how == "dask":
        client.close()
        cluster.close()
    return out


def step_histogram(args):
    import dask.array as da
    import distributed
    rows = 250_000                                   # 8 MB chunks (32 bytes a row)
    n_runs = 8
    n_chunks = max(1, int(args.big_mb * 1e6 / (rows * 32) / n_runs))
    st = context(args.dir, work=0, n_chunks=n_chunks, rows_per_chunk=rows)
    runs = [str(i) for i in range(1, n_runs + 1)]
    for r in runs:
        start = int(r) * RUN_SPAN
        write_run_document(st.storage[0], r, start, start + n_chunks * CHUNK_NS)
    st.define_run("_big", runs)
    t0 = time.perf_counter()
    st.make(runs, "pulses", max_workers=2)
    make_s = time.perf_counter() - t0
    size = sum(c["nbytes"] for r in runs for c in st.get_meta(r, "pulses")["chunks"])
    limit = args.memory_limit_mb * 1e6
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=limit, dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        t0 = time.perf_counter()
        frame = st.get_dask("_big", "pulses")
        counts, _ = da.histogram(frame["value"].to_dask_array(), bins=100, range=(-2, 2))
        counts = client.compute(counts).result()
        seconds = time.perf_counter() - t0
        peaks = client.run(peak_rss_mb)
    assert counts.sum() == n_runs * n_chunks * rows
    return {"step": "histogram", "superrun_mb": size / 1e6, "memory_limit_mb": limit / 1e6,
            "partitions": frame.npartitions, "make_s": make_s, "seconds": seconds,
            "worker_peak_rss_mb": sorted(peaks.values())}


def step_halves(args):
    """The floor of any parallel make on this machine: two independent serial makes of half
    the runs each, in two processes started together (each in its own directory, sharing
    nothing). serial / this is the most two workers can gain here; a machine whose two CPUs
    share a core, or slow down when both are busy, gains less than 2x."""
    half = args.runs // 2
    procs = []
    for i, (first, n) in enumerate(((1, half), (1 + half, args.runs - half))):
        d = os.path.join(args.dir, f"half{i}")
        os.makedirs(d)
        cmd = [sys.executable, __file__, "--step", "serial", "--dir", d, "--runs", str(n),
               "--first-run", str(first), "--work", str(args.work), "--wait-for-go"]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    # Each times its own make, as the other steps do (not its interpreter's exit); both
    # started at once, so the slower one is when the pair is done.
    seconds = max(r["seconds"] for r in results)
    return {"step": "halves", "runs": args.runs, "seconds": seconds,
            "each_s": [r["seconds"] for r in results],
            "cpu_s": sum(r["cpu_s"] for r in results)}


# --- driver ---------------------------------------------------------------------------------
def run_step(step, args):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--step", step, "--dir", tmp, "--runs", str(args.runs),
               "--work", str(args.work), "--big-mb", str(args.big_mb),
               "--memory-limit-mb", str(args.memory_limit_mb)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"step {step} failed:\n{r.stderr}")
        return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--work", type=int, default=300)
    parser.add_argument("--big-mb", type=float, default=1200)
    parser.add_argument("--memory-limit-mb", type=float, default=600)
    parser.add_argument("--step", choices=["serial", "processes", "dask", "histogram", "halves"])
    parser.add_argument("--first-run", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--wait-for-go", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir")
    parser.add_argument("--only", nargs="*", help="steps to run (default: all)")
    args = parser.parse_args()
    if args.step:
        if args.step == "histogram":
            result = step_histogram(args)
        elif args.step == "halves":
            result = step_halves(args)
        else:
            result = step_make(args, args.step)
        print(json.dumps(result))
        return
    print(f"superstrax {sx.__version__}, {os.cpu_count()} CPUs; each step in a fresh process")
    steps = args.only or ["serial", "halves", "processes", "dask", "histogram"]
    results = {s: run_step(s, args) for s in steps}
    serial = results.get("serial", {}).get("seconds")
    floor = results.get("halves", {}).get("seconds")
    for s in ("serial", "halves", "processes", "dask"):
        if s in results:
            r = results[s]
            line = f"{s:>10}: {r['runs']} runs in {r['seconds']:.2f} s"
            if serial and s != "serial":
                line += f"  speedup {serial / r['seconds']:.2f}x vs serial"
            line += f"; {r['cpu_s']:.1f} CPU s"
            if serial and s != "serial":
                line += f" ({results['serial']['cpu_s'] / r['cpu_s']:.0%} of serial's work)"
            if floor and s in ("processes", "dask"):
                line += f"; {floor / r['seconds']:.0%} of the floor's speed"
            if "cluster_start_s" in r:
                line += f"  (cluster start {r['cluster_start_s']:.1f} s, not included)"
            print(line)
    if "histogram" in results:
        r = results["histogram"]
        print(f" histogram: superrun of {r['superrun_mb']:.0f} MB in {r['partitions']} "
              f"partitions, workers limited to {r['memory_limit_mb']:.0f} MB each: "
              f"{r['seconds']:.2f} s; peak RSS per worker "
              f"{', '.join(f'{p:.0f} MB' for p in r['worker_peak_rss_mb'])} "
              f"(made in {r['make_s']:.1f} s)")


if __name__ == "__main__":
    main()
