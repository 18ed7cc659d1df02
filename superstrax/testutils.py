"""Dummy plugins for tests, demos and tutorials; their lineages hash exactly as strax's do."""
import datetime

import numpy as np

from .config import Option, takes_config
from .dtypes import endtime, peak_dtype, record_dtype, time_fields
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
