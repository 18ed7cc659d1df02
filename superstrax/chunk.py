"""Chunk: a time-ordered slice [start, end) of one data type of one run (or superrun)."""
import numpy as np

from .errors import ChunkError

DEFAULT_CHUNK_SIZE_MB = 200
DEFAULT_CHUNK_SPLIT_NS = 1000


def _as_int(value, what, where):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ChunkError(f"{where}: chunk {what} must be an integer number of ns, got {value!r}")
    return int(value)


class Chunk:
    """Data of one type between start (inclusive) and end (exclusive), in ns.

    `subruns` is None for a regular run; for a superrun it maps each subrun id to the
    part {'start', 'end'} of that subrun this chunk covers, ordered by start.
    """

    def __init__(self, *, data_type, data_kind, dtype, run_id, start, end, data,
                 subruns=None, target_size_mb=DEFAULT_CHUNK_SIZE_MB):
        self.data_type = data_type
        self.data_kind = data_kind
        self.dtype = np.dtype(dtype)
        self.run_id = run_id
        where = f"{run_id}/{data_type}"
        self.start = _as_int(start, "start", where)
        self.end = _as_int(end, "end", where)
        self.target_size_mb = target_size_mb
        if data is None:
            data = np.zeros(0, dtype=self.dtype)
        if not isinstance(data, np.ndarray):
            raise ChunkError(f"{where}: chunk data must be a numpy array, got {type(data).__name__}")
        if data.dtype != self.dtype:
            raise ChunkError(
                f"{where}: data has dtype {data.dtype}, but the chunk was declared with {self.dtype}")
        self.data = data
        self.subruns = None if not subruns else _sorted_subruns(subruns, where)
        self._validate(where)

    def _validate(self, where):
        if not 0 <= self.start <= self.end:
            raise ChunkError(f"{where}: chunk bounds [{self.start}, {self.end}) are not 0 <= start <= end")
        if not len(self.data) or "time" not in (self.dtype.names or ()):
            return
        from . import kernels
        time = self.data["time"]
        if time[0] < self.start:
            raise ChunkError(
                f"{where}: first row starts at {time[0]}, before the chunk start {self.start}")
        bad = kernels.first_unsorted_index(time)
        if bad >= 0:
            raise ChunkError(
                f"{where}: rows are not sorted by time (row {bad} at {time[bad]} "
                f"comes after {time[bad - 1]}); a plugin must return time-ordered data")
        last_end = int(kernels.max_endtime(self.data))
        if last_end > self.end:
            raise ChunkError(
                f"{where}: a row ends at {last_end}, after the chunk end {self.end}")

    # --- simple properties -------------------------------------------------------------
    def __len__(self):
        return len(self.data)

    @property
    def nbytes(self):
        return self.data.nbytes

    @property
    def duration(self):
        return self.end - self.start

    @property
    def is_superrun(self):
        return bool(self.subruns) and str(self.run_id).startswith("_")

    @property
    def first_subrun(self):
        if not self.is_superrun:
            return None
        run_id, bounds = next(iter(self.subruns.items()))
        return {"run_id": run_id, **bounds}

    @property
    def last_subrun(self):
        if not self.is_superrun:
            return None
        run_id, bounds = list(self.subruns.items())[-1]
        return {"run_id": run_id, **bounds}

    def _replace(self, **changes):
        """A new chunk like this one with some attributes changed (validated again)."""
        kwargs = dict(data_type=self.data_type, data_kind=self.data_kind, dtype=self.dtype,
                      run_id=self.run_id, start=self.start, end=self.end, data=self.data,
                      subruns=self.subruns, target_size_mb=self.target_size_mb)
        kwargs.update(changes)
        return Chunk(**kwargs)


def _sorted_subruns(subruns, where):
    items = sorted(((str(k), {"start": int(v["start"]), "end": int(v["end"])})
                    for k, v in subruns.items()), key=lambda kv: (kv[1]["start"], kv[1]["end"]))
    for (a, ba), (b, bb) in zip(items, items[1:]):
        if bb["start"] < ba["end"]:
            raise ChunkError(f"{where}: subruns {a} and {b} overlap in time")
    return dict(items)
