"""Plugins for the tests of many runs at once. They live in a module (not in a test) so worker
processes import them by name, as users' plugins are; one test defines its own class to check
plugins that cannot be imported travel by value."""
import os
import signal

import numpy as np

import superstrax as sx
from superstrax.testutils import write_run_document

# Each run's data spans [run * RUN_SPAN, run * RUN_SPAN + n_chunks * CHUNK_NS), ns.
RUN_SPAN = 10_000_000_000
CHUNK_NS = 10_000_000
ROW_NS = 10


@sx.takes_config(
    sx.Option("n_chunks", type=int, default=4, help="Chunks per run"),
    sx.Option("rows_per_chunk", type=int, default=200, help="Rows in each chunk"),
    sx.Option("work", type=int, default=0, track=False,
              help="Extra rounds of arithmetic per chunk, to make the plugin CPU-bound"),
    sx.Option("fail_runs", type=list, default=[], track=False,
              help="Runs for which compute raises (after the first chunk was written)"),
    sx.Option("kill_marker", type=str, default="", track=False,
              help="While this file exists, the process making run kill_run kills itself"),
    sx.Option("kill_run", type=str, default="", track=False, help="See kill_marker"),
)
class Pulses(sx.Plugin):
    """A source of rows with times and a value that depends on the run and the row."""

    provides = "pulses"
    depends_on = ()
    data_kind = "pulses"
    dtype = sx.time_fields + [(("A value per row", "value"), np.float64),
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


class Doubled(sx.Plugin):
    """Made from pulses: each value doubled."""

    provides = "doubled"
    depends_on = "pulses"
    data_kind = "pulses"
    dtype = sx.time_fields + [(("Twice the value", "twice"), np.float64)]
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
        r = np.zeros(n, sx.to_numpy_dtype(Pulses.dtype))
        r["row"] = i * n + np.arange(n)
        r["time"] = int(run) * RUN_SPAN + i * CHUNK_NS + np.arange(n) * ROW_NS
        r["endtime"] = r["time"] + ROW_NS
        r["value"] = np.round(np.sin(r["row"] * 0.001 + int(run)), 6)
        rows.append(r)
    return np.concatenate(rows)


def context(path, **config):
    storage = sx.DataDirectory(str(path), provide_run_metadata=True)
    return sx.Context(storage=[storage], register=[Pulses, Doubled], config=config,
                      progress_bar=False)


def write_run_documents(st, runs, n_chunks=4):
    for run in runs:
        start = int(run) * RUN_SPAN
        write_run_document(st.storage[0], str(run), start, start + n_chunks * CHUNK_NS)
