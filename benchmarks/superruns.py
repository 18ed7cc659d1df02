"""Superrun costs for N subruns, against the floor (read + decompress the same files).

For each N: loading the subruns as a list, the superrun on the fly, making the stored
superrun, loading it stored, and the floors. Overhead per subrun = (on the fly - floor) / N.

    python benchmarks/superruns.py [--sizes 10 100 1000]
"""
import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import best_of, floor_read  # noqa: E402

import superstrax as sx  # noqa: E402
from superstrax.testutils import Peaks, Records  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def build(tmp, n_subruns, n_chunks, per_chunk):
    storage = sx.DataDirectory(tmp, provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records, Peaks],
                    config={"bonus_area": 42, "n_chunks": n_chunks, "recs_per_chunk": per_chunk},
                    progress_bar=False)
    runs = [str(i) for i in range(n_subruns)]
    for i, r in enumerate(runs):
        start_ms = 10 * i
        st.set_config({"secret_time_offset": start_ms * 1_000_000})
        st.make(r, "records")
        storage.write_run_metadata(r, {
            "name": r, "start": EPOCH + datetime.timedelta(milliseconds=start_ms),
            "end": EPOCH + datetime.timedelta(milliseconds=start_ms + 1)})
    st.define_run("_bench", runs)
    return st, storage, runs


def fresh_context(tmp, st):
    return sx.Context(storage=[sx.DataDirectory(tmp, provide_run_metadata=True)],
                      register=[Records, Peaks], config=dict(st.config), progress_bar=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--chunks", type=int, default=2, help="chunks per subrun")
    parser.add_argument("--rows", type=int, default=50, help="records per chunk")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = (f"{'N':>5} {'list':>8} {'fly-cold':>8} {'on-fly':>8} {'floor':>8} {'ovh/sub':>9} "
              f"{'cold/sub':>9} {'make':>8} {'make/N':>9} {'stored':>8} {'floor-st':>8} "
              f"{'ratio-st':>8}")
    print("seconds. list: get_array(list of subruns); fly-cold: first superrun load in a new "
          "context;\non-fly: repeated superrun load (best of --repeat); floor: read+decompress "
          "the subrun files;\novh/sub, cold/sub: (on-fly or fly-cold - floor)/N in ms; make: "
          "storing the superrun rechunked,\nmake/N in ms; stored: loading it stored; floor-st: "
          "read+decompress its files; ratio-st = stored/floor-st")
    print(header)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            st, storage, runs = build(tmp, n, args.chunks, args.rows)
            folders = [os.path.join(tmp, str(st.key_for(r, "records"))) for r in runs]
            t_list, a = best_of(lambda: st.get_array(runs, "records"), args.repeat)
            # Cold: a new context and storage object, so no metadata or run document is cached.
            cold = fresh_context(tmp, st)
            t0 = time.perf_counter()
            cold.get_array("_bench", "records")
            t_cold = time.perf_counter() - t0
            t_fly, b = best_of(lambda: st.get_array("_bench", "records"), args.repeat)
            t_floor, c = best_of(lambda: floor_read(folders), args.repeat)
            assert len(a) == len(b) == len(c)
            st.set_context_config({"write_superruns": True})
            sfolder = os.path.join(tmp, str(st.key_for("_bench", "records")))

            def make():
                # From scratch each time: a stored superrun would make make() a no-op.
                shutil.rmtree(sfolder, ignore_errors=True)
                t0 = time.perf_counter()
                st.make("_bench", "records")
                return time.perf_counter() - t0
            t_make = min(make() for _ in range(args.repeat))
            t_stored, d = best_of(lambda: st.get_array("_bench", "records"), args.repeat)
            t_floor_st, e = best_of(lambda: floor_read([sfolder]), args.repeat)
            assert len(d) == len(e) == len(b)
            print(f"{n:5d} {t_list:8.3f} {t_cold:8.3f} {t_fly:8.3f} {t_floor:8.3f} "
                  f"{1e3 * (t_fly - t_floor) / n:9.3f} {1e3 * (t_cold - t_floor) / n:9.3f} "
                  f"{t_make:8.3f} {1e3 * t_make / n:9.3f} "
                  f"{t_stored:8.3f} {t_floor_st:8.3f} {t_stored / t_floor_st:8.2f}")


if __name__ == "__main__":
    main()
