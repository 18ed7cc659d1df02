"""Chunk: a time-ordered slice [start, end) of one data type of one run (or superrun).

Also the operations on chunk streams: splitting, slicing, merging kinds, concatenating,
continuity checks and rechunking for storage.
"""
from collections import deque

import numpy as np

from . import kernels
from .errors import CannotSplit, ChunkError
from .naming import is_superrun_id

DEFAULT_CHUNK_SIZE_MB = 200
DEFAULT_CHUNK_SPLIT_NS = 1000
# The Rechunker's row buffer is sized to the target, up to this (a larger target grows it
# as rows arrive).
_MAX_BUFFER_BYTES = 1 << 30


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
        return bool(self.subruns) and is_superrun_id(self.run_id)

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

    def __repr__(self):
        parts = [f"[{self.start}, {self.end}) ns", f"{len(self)} rows", human_bytes(self.nbytes)]
        if self.subruns:
            names = list(self.subruns)
            shown = ", ".join(names[:3]) + (f", ... {names[-1]}" if len(names) > 3 else "")
            parts.append(f"{len(names)} subrun" + ("s" if len(names) != 1 else "") +
                         f" ({shown})")
        return f"Chunk({self.run_id}/{self.data_type}, {', '.join(parts)})"

    @property
    def _where(self):
        return f"{self.run_id}/{self.data_type}"

    # --- cutting ----------------------------------------------------------------------
    def split(self, t, allow_early_split=False):
        """(left, right) covering [start, t_used) and [t_used, end).

        t_used is t unless a row straddles t: then an early split moves it back to the latest
        time where none does, and without one CannotSplit is raised.
        """
        t = _as_int(t, "split time", self._where)
        if not self.start <= t <= self.end:
            raise ChunkError(f"{self._where}: cannot split chunk [{self.start}, {self.end}) at {t}, "
                             f"which is outside it")
        if len(self.data):
            if "time" not in (self.dtype.names or ()):
                raise ChunkError(f"{self._where}: data without a time field cannot be split")
            try:
                index, t_used = kernels.split_index(self.data["time"], kernels.endtimes(self.data),
                                                    t, allow_early_split)
            except CannotSplit as e:
                raise CannotSplit(f"{self._where}, chunk [{self.start}, {self.end}): {e}") from None
        else:
            index, t_used = 0, t
        left = self._replace(end=t_used, data=self.data[:index],
                             subruns=_clip_subruns(self.subruns, self.start, t_used))
        right = self._replace(start=t_used, data=self.data[index:],
                              subruns=_clip_subruns(self.subruns, t_used, self.end))
        return left, right

    def slice(self, start, end, selection="fully_contained"):
        """The rows of [start, end) as a chunk bounded by that range clipped to this chunk.

        A range outside the chunk gives an empty chunk at the nearest chunk edge. With
        'touching', rows sticking out of the range widen the bounds (never beyond this
        chunk's own) so the result stays a valid chunk.
        """
        start = _as_int(start, "slice start", self._where)
        end = _as_int(end, "slice end", self._where)
        lo, hi = max(start, self.start), min(end, self.end)
        if lo > hi:
            lo = hi = min(lo, self.end)
        kernels.check_selection(selection)
        data = self.data
        if len(data):
            ends = kernels.endtimes(data)
            mask = kernels.time_range_mask(data["time"], ends, start, end, selection)
            data = data[mask]
            if len(data):
                lo = min(lo, int(data["time"][0]))
                hi = max(hi, int(ends[mask].max()))
        return self._replace(start=lo, end=hi, data=data,
                             subruns=_clip_subruns(self.subruns, lo, hi))

    # --- joining ----------------------------------------------------------------------
    @classmethod
    def merge(cls, chunks, data_type=None):
        """One chunk with the fields of several types of one kind, covering the same rows.

        Fields are taken in order of first occurrence; a field present in several chunks is
        taken from the first.
        """
        chunks = list(chunks)
        if not chunks:
            raise ChunkError("Chunk.merge needs at least one chunk")
        first = chunks[0]
        names = [c.data_type for c in chunks]
        for c in chunks[1:]:
            for attr in ("data_kind", "run_id", "start", "end"):
                if getattr(c, attr) != getattr(first, attr):
                    raise ChunkError(
                        f"cannot merge {names} of {first.run_id}: {first.data_type} has {attr} "
                        f"{getattr(first, attr)!r} but {c.data_type} has {getattr(c, attr)!r}")
            if len(c) != len(first):
                raise ChunkError(f"cannot merge {names} of {first.run_id} in [{first.start}, "
                                 f"{first.end}): {first.data_type} has {len(first)} rows but "
                                 f"{c.data_type} has {len(c)}")
            if ("time" in (c.dtype.names or ()) and "time" in (first.dtype.names or ())
                    and not np.array_equal(c.data["time"], first.data["time"])):
                raise ChunkError(f"cannot merge {names} of {first.run_id} in [{first.start}, "
                                 f"{first.end}): {first.data_type} and {c.data_type} have "
                                 f"different times, so their rows are not the same objects")
        fields, source = [], {}
        for i, c in enumerate(chunks):
            for name in c.dtype.names or ():
                if name in source:
                    continue
                source[name] = i
                fdtype, _, *title = c.dtype.fields[name]
                fields.append(((title[0], name) if title and title[0] is not None else name, fdtype))
        dtype = np.dtype(fields)
        data = np.empty(len(first), dtype=dtype)
        for name, i in source.items():
            data[name] = chunks[i].data[name]
        return first._replace(data_type=data_type or first.data_type, dtype=dtype, data=data)

    @classmethod
    def concatenate(cls, chunks):
        """Consecutive chunks of one type as one chunk spanning [first.start, last.end).

        Regular runs must be contiguous. Superrun chunks need only be in time order (a gap may
        separate subruns); the result's subruns are united per subrun.
        """
        return cls._join(list(chunks))

    @classmethod
    def _join(cls, chunks, rows=None):
        """concatenate; rows: the chunks' rows already side by side in one array (the
        Rechunker's buffer), used instead of a concatenated copy."""
        if not chunks:
            raise ChunkError("Chunk.concatenate needs at least one chunk")
        if len(chunks) == 1:
            return chunks[0]
        for prev, c in zip(chunks, chunks[1:]):
            _check_joinable(prev, c)
        subruns = {}
        for c in chunks:
            for run_id, b in (c.subruns or {}).items():
                if run_id in subruns:
                    have = subruns[run_id]
                    subruns[run_id] = {"start": min(have["start"], b["start"]),
                                       "end": max(have["end"], b["end"])}
                else:
                    subruns[run_id] = dict(b)
        first, last = chunks[0], chunks[-1]
        return first._replace(start=first.start, end=last.end,
                              data=np.concatenate([c.data for c in chunks]) if rows is None
                              else rows, subruns=subruns or None)

    def _holding(self, rows):
        """This chunk with its rows given by rows, an equal copy of them: nothing to check
        again (a Chunk's checks cost more than a small copy)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.data = rows
        return twin

    def _replace(self, **changes):
        """A new chunk like this one with some attributes changed (validated again)."""
        kwargs = dict(data_type=self.data_type, data_kind=self.data_kind, dtype=self.dtype,
                      run_id=self.run_id, start=self.start, end=self.end, data=self.data,
                      subruns=self.subruns, target_size_mb=self.target_size_mb)
        kwargs.update(changes)
        return Chunk(**kwargs)


def _sorted_subruns(subruns, where):
    """subruns as {run_id: {"start": int, "end": int}} in time order; ChunkError if two
    overlap."""
    ordered = _in_order(subruns)
    if ordered is not None:
        return ordered
    items = sorted(((str(k), {"start": int(v["start"]), "end": int(v["end"])})
                    for k, v in subruns.items()), key=lambda kv: (kv[1]["start"], kv[1]["end"]))
    for (a, ba), (b, bb) in zip(items, items[1:]):
        if bb["start"] < ba["end"]:
            raise ChunkError(f"{where}: subruns {a} and {b} overlap in time")
    return dict(items)


def _in_order(subruns):
    """A copy of subruns if it already has the form _sorted_subruns gives (what metadata and
    chaining hold), checked in one pass; None if it must be sorted or rebuilt. A stored
    superrun of 10,000 subruns has one entry per subrun in each chunk: sorting and rebuilding
    them was a third of its first load."""
    out = {}
    prev_start = prev_end = None
    for k, v in subruns.items():
        if type(k) is not str or type(v) is not dict or len(v) != 2:
            return None
        start, end = v.get("start"), v.get("end")
        if type(start) is not int or type(end) is not int:
            return None
        if prev_end is not None and (start < prev_end or (start, end) < (prev_start, prev_end)):
            return None
        prev_start, prev_end = start, end
        # new inner dicts, start first: metadata written with sorted keys holds end first,
        # and a chunk's subruns print as strax's do
        out[k] = {"start": start, "end": end}
    return out


def human_bytes(n):
    """A byte count as people read it: 950 B, 1.2 kB, 3.4 MB."""
    if n < 1000:
        return f"{n} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}"


def _clip_subruns(subruns, start, end):
    """The parts of subruns inside [start, end); None if nothing is left.

    A zero-length subrun survives where its point is inside the range (or is the range).
    """
    if not subruns:
        return None
    out = {}
    for run_id, b in subruns.items():
        s, e = max(b["start"], start), min(b["end"], end)
        point = b["start"] == b["end"] and (start <= b["start"] < end or start == b["start"] == end)
        if s < e or point:
            out[run_id] = {"start": s, "end": max(s, e)}
    return out or None


def _check_joinable(prev, chunk):
    """Raise ChunkError unless chunk may follow prev in one stream of one data type."""
    where = f"{chunk.run_id}/{chunk.data_type}"
    if chunk.data_type != prev.data_type or chunk.run_id != prev.run_id:
        raise ChunkError(f"cannot join {prev.run_id}/{prev.data_type} with {where}: "
                         f"chunks must be of one data type and one run")
    if chunk.dtype != prev.dtype:
        raise ChunkError(f"{where}: cannot join chunks of dtype {prev.dtype} and {chunk.dtype}")
    if is_superrun_id(chunk.run_id):
        if chunk.start < prev.end:
            raise ChunkError(f"{where}: chunk [{chunk.start}, {chunk.end}) starts before the "
                             f"previous chunk ends at {prev.end}; superrun chunks must be in time order")
    elif chunk.start != prev.end:
        what = "a gap" if chunk.start > prev.end else "an overlap"
        raise ChunkError(f"{where}: chunk starting at {chunk.start} follows one ending at "
                         f"{prev.end} ({what}); chunks of a run must be contiguous")


def continuity_check(chunks):
    """Pass chunks through, raising ChunkError at a gap or overlap within a run.

    Regular runs: each chunk starts where the previous one ended. Superruns may jump between
    subruns, so only a subrun continued from the previous chunk is checked: the chunk must
    start where that subrun ended.
    """
    prev = None
    last_subrun = None  # (subrun id, end) of the latest chunk with subruns in this superrun
    for chunk in chunks:
        if prev is not None and chunk.run_id != prev.run_id:
            prev, last_subrun = None, None
        where = f"run {chunk.run_id}, data type {chunk.data_type}"
        if prev is not None:
            if not is_superrun_id(chunk.run_id):
                if chunk.start != prev.end:
                    what = "gap" if chunk.start > prev.end else "overlap"
                    raise ChunkError(
                        f"{where}: {what} between a chunk ending at {prev.end} and the next one "
                        f"starting at {chunk.start}; the data is incomplete or duplicated, "
                        f"so remake or reload it")
            elif chunk.subruns and last_subrun is not None:
                sub_id = next(iter(chunk.subruns))
                if sub_id == last_subrun[0] and chunk.start != last_subrun[1]:
                    raise ChunkError(
                        f"{where}: subrun {sub_id} ended at {last_subrun[1]} in the previous "
                        f"chunk but continues at {chunk.start}; the subrun's data is "
                        f"incomplete or duplicated, so remake or reload it")
        if chunk.subruns:
            sub_id, b = list(chunk.subruns.items())[-1]
            last_subrun = (sub_id, b["end"])
        prev = chunk
        yield chunk


def as_superrun_chunk(chunk, superrun_id):
    """The chunk relabelled as part of a superrun, recording which run it came from.

    Only the labels change: the rows and bounds were validated when `chunk` was made, so
    they are not checked again (that would be a second pass over every chained row).
    """
    subruns = chunk.subruns or {str(chunk.run_id): {"start": chunk.start, "end": chunk.end}}
    out = object.__new__(Chunk)
    out.__dict__.update(chunk.__dict__)
    out.run_id = superrun_id
    out.subruns = _sorted_subruns(subruns, f"{superrun_id}/{chunk.data_type}")
    return out


class Rechunker:
    """Re-cuts a stream of chunks into chunks of about target_size_mb, only at gaps.

    Chunks are buffered until more rows than the target are pending; then every cut that
    gap_split_indices would make on the whole stream is final (later data can only add gaps
    beyond the target), so those pieces are emitted and the rest kept. Gaps are found per
    incoming chunk, carrying the running max endtime, and each emitted piece concatenates
    only its own chunks, so each row is copied once and the buffer stays near the target
    plus one input chunk (unless the data has no gaps to cut at).

    target_size_mb=None uses each chunk's own target_size_mb.
    """

    def __init__(self, target_size_mb=DEFAULT_CHUNK_SIZE_MB, split_ns=DEFAULT_CHUNK_SPLIT_NS):
        if target_size_mb is not None and not target_size_mb > 0:
            raise ValueError(f"target_size_mb must be positive, got {target_size_mb!r}")
        self.target_size_mb = target_size_mb
        self.split_ns = int(split_ns)
        if self.split_ns < 0:
            raise ValueError(f"split_ns must be >= 0, got {split_ns!r}")
        self._reset()

    def _reset(self):
        self._pending = deque()
        # The pending rows, copied side by side as they arrive (see _hold); rows already
        # emitted stay in it as their pieces' data until a new buffer replaces it.
        self._buffer = None
        self._buffer_used = 0
        self._gap_rows = []       # arrays of row indices into the pending rows
        self._gap_times = []      # matching cut times
        self._rows = 0
        self._max_end = None      # running max endtime of every row received
        self._last = None

    def target_rows(self, chunk):
        """How many rows of chunk's dtype make up the target size (at least one)."""
        mb = self.target_size_mb if self.target_size_mb is not None else chunk.target_size_mb
        itemsize = chunk.dtype.itemsize
        return max(1, int(mb * 1e6) // itemsize) if itemsize else np.iinfo(np.int64).max

    def receive(self, chunk):
        """Take one chunk; return the chunks that are now complete (often none)."""
        if self._last is not None:
            _check_joinable(self._last, chunk)
        if len(chunk):
            rows, times, self._max_end = kernels.find_gaps(
                chunk.data["time"], kernels.endtimes(chunk.data), self.split_ns, self._max_end)
            rows = rows + self._rows
            keep = rows > 0
            if keep.any():
                self._gap_rows.append(rows[keep])
                self._gap_times.append(times[keep])
        held = self._hold(chunk)        # may move the pending chunks to a new buffer
        self._pending.append(held)
        self._last = held
        self._rows += len(chunk)
        target = self.target_rows(chunk)
        if self._rows <= target or not self._gap_rows:
            return []
        return self._emit(target)

    def flush(self):
        """The remaining buffered data as one chunk (none if nothing was received)."""
        out = [self._joined(list(self._pending))] if self._pending else []
        self._reset()
        return out

    # Rows of small chunks would otherwise be held twice when a piece is emitted: the
    # many small arrays, then their concatenated copy (for a superrun of 10,000 small
    # subruns, the whole 46 MB output both ways). Copied into one buffer on arrival, the
    # small arrays are freed at once and a piece is a slice of the buffer.
    def _hold(self, chunk):
        """chunk with its rows copied into the buffer."""
        n = len(chunk)
        if not n or not chunk.dtype.itemsize:
            return chunk
        if (self._buffer is None or self._buffer.dtype != chunk.dtype
                or self._buffer_used + n > len(self._buffer)):
            self._new_buffer(chunk)
        rows = self._buffer[self._buffer_used:self._buffer_used + n]
        rows[...] = chunk.data
        self._buffer_used += n
        return chunk._holding(rows)

    def _new_buffer(self, chunk):
        """A new buffer, with the pending rows moved into it. Room for the target and a
        couple of chunks, or for twice the pending rows when data without gaps piles up
        beyond the target, so that moving them stays linear overall. Pages of the buffer
        not yet written take no memory."""
        n = len(chunk)
        cap_rows = max(1, _MAX_BUFFER_BYTES // chunk.dtype.itemsize)
        capacity = max(min(self.target_rows(chunk), cap_rows), 2 * self._rows) + 2 * n
        old = self._pending
        self._buffer, self._buffer_used = np.empty(capacity, chunk.dtype), 0
        self._pending = deque()
        for c in old:
            self._pending.append(self._hold(c) if len(c) else c)

    def _joined(self, chunks):
        """Chunk.concatenate(chunks), taking a slice of the buffer when it holds their
        rows side by side."""
        datas = [c.data for c in chunks if len(c)]
        rows = None
        buffer = self._buffer
        if len(datas) > 1 and buffer is not None and all(d.base is buffer for d in datas):
            # (.ctypes.data: __array_interface__ spells out the dtype's fields each time,
            # 50 us an array for the 116 fields of an event-level dtype)
            at = [d.ctypes.data for d in datas]
            if all(a + d.nbytes == b for a, d, b in zip(at, datas, at[1:])):
                first = (at[0] - buffer.ctypes.data) // buffer.itemsize
                rows = buffer[first:first + sum(len(d) for d in datas)]
        return Chunk._join(chunks, rows)

    def _emit(self, target):
        gap_rows = np.concatenate(self._gap_rows)
        gap_times = np.concatenate(self._gap_times)
        out = []
        done = 0
        for pos in kernels.choose_cuts(gap_rows, self._rows, target):
            piece = self._take_until(int(gap_times[pos]))
            if len(piece) != gap_rows[pos] - done:
                raise AssertionError(f"{piece!r}: rechunker lost track of rows "
                                     f"({len(piece)} != {gap_rows[pos] - done})")
            done = int(gap_rows[pos])
            out.append(piece)
        if done:
            keep = gap_rows > done
            self._gap_rows = [gap_rows[keep] - done] if keep.any() else []
            self._gap_times = [gap_times[keep]] if keep.any() else []
            self._rows -= done
        return out

    def _take_until(self, t):
        """Remove everything before t from the buffer and return it as one chunk."""
        left = []
        while self._pending:
            c = self._pending[0]
            # (a chunk ending at t may still hold zero-length rows at t: they go right)
            if c.end < t or c.end == t and not (len(c) and c.data["time"][-1] >= t):
                left.append(self._pending.popleft())
            elif c.start >= t:
                break
            else:
                before, self._pending[0] = c.split(t)
                left.append(before)
                break
        return self._joined(left)
