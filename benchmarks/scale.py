"""Superruns at scale: every step in a fresh process, against a floor, and against strax.

    python benchmarks/scale.py                       # small 10..1000, big 10/20
    python benchmarks/scale.py --small 10 100 1000 10000 --big 10 20 40 \
        --strax-python /work/venv-strax/bin/python   # the table in docs/performance.md
    python benchmarks/scale.py --quick               # a smoke test (seconds)

Two workloads, each a set of regular runs (subruns) and one superrun of N of them:
- small: N subruns of 1 chunk x 100 records (per-subrun overhead dominates);
- big:   N subruns of 5 chunks x 20,000 records (~26 MB) plus their events (~930 bytes a
  row, one per 4 records: ~23 MB), so ~50 MB a subrun.

Each step below runs in a new interpreter (imports and the context are made before the clock
starts; first-call costs such as JIT or cache loading count); a step that stores nothing, and
superstrax's make steps (their output removed in between), run in --repeat (5) fresh processes (once if it takes over 10 s)
and show the median; fly and stored alternate with their floors, run for run, and /floor is
the median of the ratios of those neighbouring runs. Each prints seconds, rows/s and peak RSS
(getrusage of that process, which includes the ~100 MB of imports):
  define_run   define the superrun from the N run documents
  select_runs  list the runs (N subruns + the superrun)
  key_for      the key of the superrun's sr_events
  fly          get_array(superrun, events, combining=True): the subruns' stored events chained
               (strax 2.2.3 chains a superrun's data only so)
  fly_floor    read + decompress the same chunk files into one array (numpy + blosc only)
  make_sr      make the stored superrun of sr_events, computed (allow_superrun=True) over the
               chained records of the subruns
  make_chain   make the stored superrun of records (allow_superrun=False: a plain chained
               target, stored rechunked); superstrax only, strax 2.2.3 refuses it
  stored       first get_array of the stored superrun's sr_events
  stored_floor read + decompress the stored superrun's files
make_* also report what they wrote (MB, and the data types of the folders).

The subrun data is written once by superstrax; a strax given with --strax-python reads the
same folders (the lineages hash alike) and writes its superruns in its own directory.
"""
import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_SPACING_NS = 10_000_000_000        # subrun i starts at i * 10 s (whole ms: run documents)
RECORD_SPACING_NS = 2_000
RECORDS_PER_EVENT = 4
RECORDS_PER_SR_EVENT = 20
N_EVENT_FLOATS = 114                   # + time, endtime: 116 * 8 = 928 bytes a row

SR_TARGET_MB = {"small": 5, "big": 50}
WORKLOADS = {"small": dict(chunks=1, per_chunk=100), "big": dict(chunks=5, per_chunk=20_000)}
STEPS = ("define_run", "select_runs", "key_for", "fly", "fly_floor", "make_sr", "make_chain",
         "stored", "stored_floor")
FLOOR_OF = {"fly": "fly_floor", "stored": "stored_floor"}


# --- the plugins (written against the API both libraries share) ----------------------------
def plugins(strax, sr_target_mb=50):
    record_dtype = [("time", np.int64), ("length", np.int32), ("dt", np.int16),
                    ("channel", np.int16), ("pulse_length", np.int32), ("record_i", np.int16),
                    ("area", np.int32), ("reduction_level", np.uint8), ("baseline", np.float32),
                    ("baseline_rms", np.float32), ("amplitude_bit_shift", np.int16),
                    ("data", np.int16, 110)]
    event_dtype = [("time", np.int64), ("endtime", np.int64)] + [
        (f"x{i:03d}", np.float64) for i in range(N_EVENT_FLOATS)]

    @strax.takes_config(
        strax.Option("n_chunks", type=int, default=5, track=False),
        strax.Option("per_chunk", type=int, default=20_000, track=False))
    class BenchRecords(strax.Plugin):
        """Records of run r: chunk i holds per_chunk records from r * 10 s + i * chunk span."""
        provides = "records"
        depends_on = ()
        dtype = record_dtype
        rechunk_on_save = False

        def source_finished(self):
            return True

        def is_ready(self, chunk_i):
            return chunk_i < self.config["n_chunks"]

        def compute(self, chunk_i):
            n = self.config["per_chunk"]
            span = n * RECORD_SPACING_NS
            start = int(self.run_id) * RUN_SPACING_NS + chunk_i * span
            rng = np.random.default_rng([int(self.run_id), chunk_i])
            r = np.zeros(n, self.dtype)
            r["time"] = start + np.arange(n) * RECORD_SPACING_NS
            r["length"], r["dt"] = 110, 10
            r["channel"] = rng.integers(0, 494, n)
            r["data"] = rng.poisson(3, (n, 110))
            r["area"] = r["data"].sum(axis=1)
            r["baseline"] = 16000
            return self.chunk(start=start, end=start + span, data=r)

    def summarise(records, per, dtype):
        n = len(records) // per
        out = np.zeros(n, dtype)
        if not n:
            return out
        rec = records[:n * per]
        out["time"] = rec["time"][::per]
        out["endtime"] = rec["time"][per - 1::per] + rec["length"][per - 1::per] * \
            rec["dt"][per - 1::per]
        values = out.view(np.float64).reshape(n, -1)[:, 2:]
        area = rec["area"].reshape(n, per).sum(axis=1).astype(np.float64)
        # Realistic spread (noisy, float32 precision) so that compression does not flatter.
        values[:] = (area[:, None] * np.linspace(0.5, 1.5, values.shape[1])
                     + np.arange(n)[:, None] % 7).astype(np.float32)
        return out

    class BenchEvents(strax.Plugin):
        """One ~930-byte event per 4 records. allow_superrun, since strax 2.2.3 loads a
        superrun's events (combining=True: its subruns' events chained) only then."""
        provides = "events"
        depends_on = ("records",)
        data_kind = "events"
        dtype = event_dtype
        allow_superrun = True

        def compute(self, records):
            return summarise(records, RECORDS_PER_EVENT, self.dtype)

    class BenchSuperrunEvents(strax.Plugin):
        """Computed over the superrun's chained records (allow_superrun=True)."""
        provides = "sr_events"
        depends_on = ("records",)
        data_kind = "sr_events"
        dtype = event_dtype
        allow_superrun = True
        # Saving rechunks to this size, so a make holds up to this much output before it
        # writes the first chunk. Less than the default 200 MB, so that this bound is reached
        # within the sizes measured and peak memory then shows whether anything else grows:
        # 50 MB over big subruns (reached from 10), 5 MB over small ones (from 1,000; all
        # of 10,000 small subruns' sr_events are 46 MB).
        chunk_target_size_mb = sr_target_mb

        def compute(self, records):
            return summarise(records, RECORDS_PER_SR_EVENT, self.dtype)

    return [BenchRecords, BenchEvents, BenchSuperrunEvents]


# --- the child: one step in a fresh interpreter ---------------------------------------------
def run_ids(n):
    """Zero-padded, as detectors name runs: strax 2.2.3 chains a superrun's subruns in the
    order of their ids as strings, which is time order only for ids of one width."""
    return [f"{i:06d}" for i in range(n)]


def folders_of(directory, pattern):
    """Complete data folders in directory whose names match the glob pattern."""
    return sorted(p for p in glob.glob(os.path.join(directory, pattern))
                  if os.path.isdir(p) and not p.endswith("_temp"))


def dir_state(directory):
    """{folder: total bytes} of the data folders in directory."""
    out = {}
    for f in os.listdir(directory):
        path = os.path.join(directory, f)
        if os.path.isdir(path):
            out[f] = sum(os.path.getsize(os.path.join(path, x)) for x in os.listdir(path))
    return out


def child(args):
    lib = args.lib
    if lib == "floor":
        sys.path.insert(0, HERE)
        from _common import floor_read
        import blosc  # noqa: F401  (imported before the clock, as the libraries import it)
        # The floor's process has the libraries loaded too (none of their code runs in the
        # floor): on this VM a fresh 32 MB process got new memory faster than a 170 MB one,
        # so that the same read and decompress of 10 big subruns' sr_events took 0.043-0.054
        # s there and 0.045-0.083 s in a process with superstrax imported.
        import superstrax  # noqa: F401
    else:
        if lib == "strax":
            import strax
        else:
            import superstrax as strax
        subruns = strax.DataDirectory(args.subruns, provide_run_metadata=True,
                                      readonly=args.step != "build")
        storage = [subruns]
        if args.out:
            storage.insert(0, strax.DataDirectory(args.out, provide_run_metadata=True))
        wl = WORKLOADS[args.workload]
        st = strax.Context(storage=storage, register=plugins(strax, SR_TARGET_MB[args.workload]),
                           config={"n_chunks": wl["chunks"], "per_chunk": wl["per_chunk"]})
        if args.step.startswith("make"):
            # Only the make steps store superruns: with it, loading one would store it too.
            st.set_context_config({"write_superruns": True})
    runs = run_ids(args.n)
    superrun = f"_sr{args.n}"

    step = args.step
    folders = None
    if step in ("fly_floor", "stored_floor"):   # finding the files is not part of the floor
        folders = files_read(step[:-len("_floor")], args.n, args.subruns, args.out)
    before = dir_state(args.out) if args.out else {}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    rows = 0
    if step == "build":
        import datetime
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        for r in runs:
            st.make(r, "events", progress_bar=False)
            start = epoch + datetime.timedelta(seconds=int(r) * RUN_SPACING_NS // 10 ** 9)
            subruns.write_run_metadata(r, {"name": r, "start": start,
                                           "end": start + datetime.timedelta(seconds=1)})
    elif step == "define_run":
        st.define_run(superrun, runs)
        rows = len(runs)
    elif step == "select_runs":
        rows = len(st.select_runs())
    elif step == "key_for":
        str(st.key_for(superrun, "sr_events"))
        rows = 1
    elif step == "fly":
        rows = len(st.get_array(superrun, "events", combining=True, progress_bar=False))
    elif step == "make_sr":
        st.make(superrun, "sr_events", progress_bar=False)
    elif step == "make_chain":
        if lib == "strax":
            print("RESULT null")      # strax 2.2.3 cannot store a chained superrun
            return
        st.make(superrun, "records", progress_bar=False)
        # Rows stored: read from the metadata, outside the clock.
    elif step in ("fly_floor", "stored_floor"):
        rows = len(floor_read(folders))
    elif step == "stored":
        rows = len(st.get_array(superrun, "sr_events", progress_bar=False))
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"seconds": seconds, "rows": rows, "rss0_mb": rss0, "peak_mb": peak}
    if args.out and step.startswith("make"):
        after = dir_state(args.out)
        new = {f: s for f, s in after.items() if before.get(f) != s}
        result["written_mb"] = sum(new.values()) / 1e6
        result["written_folders"] = sorted(new)
        result["written"] = sorted({f.split("-")[1] for f in new if "-" in f})
        for f in new:
            md = glob.glob(os.path.join(args.out, f, "*metadata.json"))
            if md and f.split("-")[1] in ("records", "sr_events"):
                with open(md[0]) as fh:
                    result["rows"] = sum(c["n"] for c in json.load(fh)["chunks"])
    print("RESULT " + json.dumps(result))


# Steps that change nothing stored, so they can run again: their time is the median of
# --repeat fresh processes (single runs of a few ms vary by 2x with what else the machine does,
# loads of 100 MB by 2x with how fast the VM serves page faults).
# superstrax's make steps run --repeat times too, what each wrote removed before the next;
# strax's run once (at 10,000 small subruns its make_sr takes minutes).
REPEATABLE = ("define_run", "select_runs", "key_for", "fly", "fly_floor", "stored",
              "stored_floor")


LONG_ENOUGH_S = 10


def run_step(python, lib, step, workload, n, subruns, out, repeat):
    makes_again = step.startswith("make") and lib == "superstrax"
    times = repeat if step in REPEATABLE or makes_again else 1
    runs = []
    for i in range(times):
        runs.append(run_child(python, lib, step, workload, n, subruns, out))
        if runs[-1] is not None and runs[-1]["seconds"] > LONG_ENOUGH_S:
            break                  # a step of many seconds varies by a few percent only
        if makes_again and i + 1 < times and runs[-1] is not None:
            # Remove what the make wrote, so the next one makes it all again.
            for folder in runs[-1].get("written_folders", ()):
                shutil.rmtree(os.path.join(out, folder))
    return median_of(runs)


def median_of(runs):
    """The run of median seconds, with the highest peak RSS of them all."""
    if None in runs:
        return None
    runs = sorted(runs, key=lambda r: r["seconds"])
    median = dict(runs[len(runs) // 2])
    median["repeats"] = len(runs)
    median["peak_mb"] = max(r["peak_mb"] for r in runs)
    return median


def run_with_floor(python, step, workload, n, subruns, out, repeat):
    """step and its floor, alternately, repeat times each -> (ours, floor, ratio). On a VM
    whose page faults speed up and slow down over seconds, runs far apart in time differ by
    up to 2x; side by side they suffer alike, so ratio is the median of the ratios of
    neighbouring runs (ours over the floor run right after it)."""
    ours, floors = [], []
    for i in range(repeat):
        # The files read, read again just before, in turn first by one and then by the
        # other: this VM evicts files from its page cache within minutes (DAMON reclaims
        # cold pages), and a run that reads from disk must not be the same side each time.
        warm_files(files_read(step, n, subruns, out))
        pair = [("superstrax", step), ("floor", FLOOR_OF[step])]
        for lib, name in (pair if i % 2 == 0 else pair[::-1]):
            res = run_child(python, lib, name, workload, n, subruns, out)
            (ours if lib == "superstrax" else floors).append(res)
        if ours[-1]["seconds"] > LONG_ENOUGH_S:
            break
    ratios = sorted(o["seconds"] / f["seconds"] for o, f in zip(ours, floors))
    return median_of(ours), median_of(floors), ratios[len(ratios) // 2]


def run_child(python, lib, step, workload, n, subruns, out, timeout=3600):
    cmd = [python, os.path.abspath(__file__), "--child", step, "--lib", lib,
           "--workload", workload, "--n", str(n), "--subruns", subruns]
    if out:
        cmd += ["--out", out]
    env = dict(os.environ)
    if lib != "superstrax":
        # strax must not pick up this checkout's packages; superstrax needs them.
        env.pop("PYTHONPATH", None)
    if lib in ("superstrax", "floor"):
        env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{lib} {step} ({workload}, N={n}) failed:\n{proc.stderr[-3000:]}")


# --- the parent: build once, run every step of every size ------------------------------------
def fmt_row(workload, n, step, res, ratio=None, strax=None):
    s = res["seconds"]
    rate = res["rows"] / s if s > 0 and res["rows"] else 0
    cells = [f"{workload:5s}", f"{n:6d}", f"{step:12s}", f"{s:9.4f}", f"{rate:11.3g}",
             f"{res['peak_mb']:8.0f}"]
    cells.append(f"{1e3 * s / n:9.4f}")
    cells.append(f"{ratio:7.2f}" if ratio else f"{'':7s}")
    if strax:
        cells += [f"{strax['seconds']:9.4f}", f"{strax['peak_mb']:8.0f}",
                  f"{strax['seconds'] / s:7.1f}"]
    else:
        cells += [f"{'':9s}", f"{'':8s}", f"{'':7s}"]
    written = ""
    if "written_mb" in res:
        written = f"{res['written_mb']:.1f} MB {'+'.join(res['written'])}"
        if strax and "written_mb" in strax:
            written += f" | strax {strax['written_mb']:.1f} MB {'+'.join(strax['written'])}"
    return " ".join(cells) + "  " + written


HEADER = (f"{'set':5s} {'N':>6s} {'step':12s} {'seconds':>9s} {'rows/s':>11s} {'peakMB':>8s} "
          f"{'ms/subrun':>9s} {'/floor':>7s} {'strax s':>9s} {'straxMB':>8s} {'strax/us':>7s}"
          "  written")


def files_read(step, n, subruns, out):
    """The data folders step (fly or stored) reads."""
    if step == "stored":
        # A superrun's folders are named <name>_<hash of its definition>-<type>-<lineage>.
        return folders_of(out, f"_sr{n}_*-sr_events-*")
    # One listing, not a glob per run: globbing 10,000 times a directory of 20,000 folders
    # took longer than the rest of the benchmark.
    wanted = set(run_ids(n))
    return sorted(os.path.join(subruns, name) for name in os.listdir(subruns)
                  if name.split("-")[0] in wanted and name.split("-")[1:2] == ["events"]
                  and not name.endswith("_temp") and os.path.isdir(os.path.join(subruns, name)))


def warm_files(folders):
    for folder in folders:
        warm_page_cache(folder)


def warm_page_cache(directory):
    """Read every file under directory once, so that the first library timed on it does not
    pay for the disk where the next one is served from memory."""
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def build(python, workload, n, directory):
    t0 = time.perf_counter()
    run_child(python, "superstrax", "build", workload, n, directory, None)
    return time.perf_counter() - t0


def strax_reads_our_subruns(strax_python, workload, directory):
    code = ("import strax, sys; sys.path.insert(0, %r); import scale; "
            "st = strax.Context(storage=[strax.DataDirectory(%r, readonly=True, "
            "provide_run_metadata=True)], register=scale.plugins(strax), config=%r); "
            "print(st.is_stored('000000', 'events') and st.is_stored('000000', 'records'))"
            % (HERE, directory, {"n_chunks": WORKLOADS[workload]["chunks"],
                                 "per_chunk": WORKLOADS[workload]["per_chunk"]}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([strax_python, "-c", code], capture_output=True, text=True, env=env)
    return proc.stdout.strip().endswith("True")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--big", type=int, nargs="*", default=[10, 20])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--strax-python", help="python of a venv with strax 2.2.3")
    parser.add_argument("--quick", action="store_true",
                        help="small 10 and big 2 only, no strax: a smoke test")
    parser.add_argument("--dir", help="work directory, kept afterwards (default: a temporary "
                        "one, removed); subruns already built there are reused")
    parser.add_argument("--json", help="also write all results to this file")
    parser.add_argument("--repeat", type=int, default=5,
                        help="fresh processes per step that stores nothing (median shown)")
    # The child's arguments.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--lib", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subruns", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.step = args.child
        return child(args)
    if args.quick:
        args.small, args.big, args.strax_python = [10], [2], None
    python = sys.executable
    base = args.dir or tempfile.mkdtemp(prefix="superstrax-scale-")
    results = []
    print(f"python {python}; strax: {args.strax_python or 'not compared'}; work dir {base}")
    print("seconds of the call in a fresh process; peakMB = max RSS of that process; "
          "/floor = median of (seconds / floor seconds) of side-by-side runs;\nstrax/us = strax seconds / superstrax seconds "
          "(> 1: superstrax faster)")
    print(HEADER)
    try:
        for workload, sizes in (("small", args.small), ("big", args.big)):
            if not sizes:
                continue
            subruns = os.path.join(base, f"subruns-{workload}")
            os.makedirs(subruns, exist_ok=True)
            build_s = build(python, workload, max(sizes), subruns)
            print(f"# {workload}: built {max(sizes)} subruns in {build_s:.1f} s", flush=True)
            strax_py = args.strax_python
            if strax_py and not strax_reads_our_subruns(strax_py, workload, subruns):
                print("# strax does not find superstrax's subrun folders: not compared")
                strax_py = None
            for n in sorted(sizes):
                outs = {lib: os.path.join(base, f"out-{workload}-{n}-{lib}")
                        for lib in ("superstrax", "strax")}
                for d in outs.values():
                    shutil.rmtree(d, ignore_errors=True)     # a kept --dir: make again
                    os.makedirs(d)
                    # strax reads run documents only from the first storage that provides
                    # them, so each output directory gets a copy of the subruns' documents.
                    for r in run_ids(n):
                        shutil.copy(os.path.join(subruns, f"{r}-metadata.json"), d)
                warm_page_cache(subruns)
                for step in args.steps:
                    floor_step = step.endswith("_floor")
                    if floor_step and step[:-len("_floor")] in args.steps:
                        continue                    # measured alongside its step
                    ratio = floor = None
                    if step in FLOOR_OF and FLOOR_OF[step] in args.steps:
                        res, floor, ratio = run_with_floor(
                            python, step, workload, n, subruns, outs["superstrax"],
                            args.repeat)
                    else:
                        res = run_step(python, "floor" if floor_step else "superstrax", step,
                                       workload, n, subruns, outs["superstrax"], args.repeat)
                    theirs = None
                    if strax_py and not floor_step:
                        theirs = run_step(strax_py, "strax", step, workload, n, subruns,
                                          outs["strax"], args.repeat)
                    print(fmt_row(workload, n, step, res, ratio, theirs), flush=True)
                    results.append(dict(workload=workload, n=n, step=step, ours=res,
                                        floor=floor, floor_ratio=ratio, strax=theirs))
                    if floor is not None:
                        print(fmt_row(workload, n, FLOOR_OF[step], floor), flush=True)
                        results.append(dict(workload=workload, n=n, step=FLOOR_OF[step],
                                            ours=floor, strax=None))
                if not args.dir:
                    for d in outs.values():
                        shutil.rmtree(d, ignore_errors=True)
            if not args.dir:
                shutil.rmtree(subruns, ignore_errors=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
