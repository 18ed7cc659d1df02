"""Dummy plugins for tests, demos and tutorials; their lineages hash exactly as strax's do."""
import datetime
import os
import signal

import numpy as np

from .config import Option, takes_config
from .dtypes import endtime, peak_dtype, record_dtype, time_fields, to_numpy_dtype
from .plugins.base import Plugin, SaveWhen


class SomeCrash(Exception):
    """Raised by Records when its `crash` option is set, to test failure handling."""


@takes_config(
    Option("crash", type=bool, default=False, help="Raise SomeCrash when computing"),
    Option("dummy_tracked_option", type=int, default=42, help="A tracked option that does nothing"),
    Option("secret_time_offset", type=int, default=0, track=False,
           help="Offset of the records' times (ns), not part of the lineage"),
    Option("n_chunks", type=int, default=10, track=False, help="Number of chunks to make"),
    Option("recs_per_chunk", type=int, default=10, track=False, help="Records in each chunk"),
)
class Records(Plugin):
    """A source of empty records: chunk i holds recs_per_chunk records at t = i + offset."""

    provides = "records"
    depends_on = ()
    dtype = record_dtype()
    parallel = "process"
    rechunk_on_save = False
    save_when = SaveWhen.ALWAYS

    def source_finished(self):
        return True

    def is_ready(self, chunk_i):
        return chunk_i < self.config["n_chunks"]

    def compute(self, chunk_i):
        if self.config["crash"]:
            raise SomeCrash("CRASH!!!!")
        r = np.zeros(self.config["recs_per_chunk"], self.dtype_for("records"))
        t0 = chunk_i + self.config["secret_time_offset"]
        r["time"] = t0
        r["length"] = r["dt"] = 1
        r["channel"] = np.arange(len(r))
        return self.chunk(start=t0, end=t0 + 1, data=r)


@takes_config(
    Option("base_area", type=int, default=0, help="Area added to every peak"),
    Option("give_wrong_dtype", type=bool, default=False,
           help="Return data that does not match the declared dtype"),
    Option("bonus_area", default_by_run=[(0, 0), (1, 1)], help="Extra area, by run number"),
)
class Peaks(Plugin):
    """One peak per record, with area base_area + bonus_area."""

    provides = "peaks"
    data_kind = "peaks"
    depends_on = ("records",)
    dtype = peak_dtype()
    parallel = True
    # False as in the seed tutorial's era: a superrun's peaks are its subruns' peaks chained.
    allow_superrun = False

    def compute(self, records):
        if self.config["give_wrong_dtype"]:
            return np.zeros(5, [("a", np.int64), ("b", np.float64)])
        p = np.zeros(len(records), self.dtype_for("peaks"))
        p["time"] = records["time"]
        p["length"] = p["dt"] = 1
        p["area"] = self.config["base_area"] + self.config["bonus_area"]
        return p


class PeakClassification(Plugin):
    """A two-output plugin: a type for each peak, and lone hits (one per peak)."""

    provides = ("peak_classification", "lone_hits")
    data_kind = {"peak_classification": "peaks", "lone_hits": "lone_hits"}
    depends_on = ("peaks",)
    save_when = {"peak_classification": SaveWhen.ALWAYS, "lone_hits": SaveWhen.ALWAYS}
    rechunk_on_save = True
    allow_superrun = True

    def infer_dtype(self):
        return {
            "peak_classification": list(time_fields) + [
                (("Classification of the peak.", "type"), np.int8)],
            "lone_hits": list(time_fields),
        }

    def compute(self, peaks):
        pc = np.zeros(len(peaks), self.dtype_for("peak_classification"))
        lh = np.zeros(len(peaks), self.dtype_for("lone_hits"))
        for out in (pc, lh):
            out["time"] = peaks["time"]
            out["endtime"] = endtime(peaks)
        return {"peak_classification": pc, "lone_hits": lh}


def write_run_document(storage, run_id, start_ns, end_ns, **fields):
    """Write a run document whose start/end cover data in [start_ns, end_ns) (ns since 1970).

    Run documents hold dates to the millisecond, so the bounds are rounded outwards.
    """
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    doc = {"name": run_id,
           "start": epoch + datetime.timedelta(milliseconds=start_ns // 1_000_000),
           "end": epoch + datetime.timedelta(milliseconds=-(-end_ns // 1_000_000)), **fields}
    storage.write_run_metadata(run_id, doc)


# Each run's data spans [run * RUN_SPAN, run * RUN_SPAN + n_chunks * CHUNK_NS), ns.
RUN_SPAN = 10_000_000_000
CHUNK_NS = 10_000_000
ROW_NS = 10


@takes_config(
    Option("n_chunks", type=int, default=4, help="Chunks per run"),
    Option("rows_per_chunk", type=int, default=200, help="Rows in each chunk"),
    Option("work", type=int, default=0, track=False,
           help="Extra rounds of arithmetic per chunk, to make the plugin CPU-bound"),
    Option("fail_runs", type=list, default=[], track=False,
           help="Runs for which compute raises (after the first chunk was written)"),
    Option("kill_marker", type=str, default="", track=False,
           help="While this file exists, the process making run kill_run kills itself"),
    Option("kill_run", type=str, default="", track=False, help="See kill_marker"),
)
class Pulses(Plugin):
    """A source of rows with times and a value that depends on the run and the row, for tests
    and benchmarks of many runs at once: `work` makes it CPU-bound, `fail_runs` and
    `kill_run` make runs fail or kill the process making them."""

    provides = "pulses"
    depends_on = ()
    data_kind = "pulses"
    dtype = time_fields + [(("A value per row", "value"), np.float64),
                           (("Row number in the run", "row"), np.int64)]
    rechunk_on_save = False
    __version__ = "0.1.0"

    def source_finished(self):
        return True

    def is_ready(self, chunk_i):
        return chunk_i < self.config["n_chunks"]

    def compute(self, chunk_i):
        run = int(self.run_id)
        if chunk_i == 1 and self.run_id in self.config["fail_runs"]:
            raise ValueError(f"a bad chunk in run {self.run_id}")
        if chunk_i == 1 and self.run_id == self.config["kill_run"] \
                and os.path.exists(self.config["kill_marker"]):
            os.kill(os.getpid(), signal.SIGKILL)
        n = self.config["rows_per_chunk"]
        start = run * RUN_SPAN + chunk_i * CHUNK_NS
        rows = np.zeros(n, self.dtype_for("pulses"))
        rows["row"] = chunk_i * n + np.arange(n)
        rows["time"] = start + np.arange(n) * ROW_NS
        rows["endtime"] = rows["time"] + ROW_NS
        value = np.sin(rows["row"] * 0.001 + run)
        for _ in range(self.config["work"]):     # CPU work that changes nothing
            value = np.arcsin(np.sin(value))
        rows["value"] = np.round(value, 6)
        return self.chunk(start=start, end=start + CHUNK_NS, data=rows)


class Doubled(Plugin):
    """Made from pulses: each value doubled."""

    provides = "doubled"
    depends_on = "pulses"
    data_kind = "pulses"
    dtype = time_fields + [(("Twice the value", "twice"), np.float64)]
    __version__ = "0.1.0"

    def compute(self, pulses):
        out = np.zeros(len(pulses), self.dtype_for("doubled"))
        out["time"], out["endtime"] = pulses["time"], pulses["endtime"]
        out["twice"] = 2 * pulses["value"]
        return out


def expected_pulses(run, n_chunks=4, rows_per_chunk=200):
    """What Pulses makes for a run (the tests compare loaded data with this)."""
    rows = []
    for i in range(n_chunks):
        n = rows_per_chunk
        r = np.zeros(n, to_numpy_dtype(Pulses.dtype))
        r["row"] = i * n + np.arange(n)
        r["time"] = int(run) * RUN_SPAN + i * CHUNK_NS + np.arange(n) * ROW_NS
        r["endtime"] = r["time"] + ROW_NS
        r["value"] = np.round(np.sin(r["row"] * 0.001 + int(run)), 6)
        rows.append(r)
    return np.concatenate(rows)
