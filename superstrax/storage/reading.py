"""Reading stored chunks back: a metadata's dtype, which chunks a time range touches, and
the chunk stream of one key (read ahead in threads when the files are big, optionally into
one preallocated array). StorageBackend.iter_chunks is this stream over its read_chunk."""
import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..chunk import Chunk
from ..dtypes import dtype_from_text
from ..errors import ChunkError, DataCorrupted


def parse_dtype(md, where=""):
    try:
        return _dtype_from_string(md["dtype"])
    except (KeyError, ValueError, SyntaxError, TypeError) as e:
        raise DataCorrupted(f"{where}: the metadata's dtype cannot be read ({e}); make the data "
                            f"again") from e


@functools.lru_cache(maxsize=256)
def _dtype_from_string(text):
    # A superrun of 1000 subruns has one dtype string: it is parsed once.
    return dtype_from_text(text)


# Read-ahead only pays off for big chunks: a thread hand-off costs tens of microseconds.
PREFETCH_MIN_BYTES = 4_000_000
_PREFETCH_POOL = None


def _prefetch_pool():
    global _PREFETCH_POOL
    if _PREFETCH_POOL is None:
        # Two readers, so that a chunk's file is read while the one before it is decoded;
        # both run without the GIL (io.py sets python-blosc to release it), beside the
        # caller's Python code.
        _PREFETCH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="superstrax-read")
    return _PREFETCH_POOL


class Arena:
    """One preallocated array handed out in consecutive slices, for loads of known size."""

    def __init__(self, n_rows, dtype):
        self.array = np.empty(n_rows, dtype=dtype)
        self.used = 0

    def take(self, n, dtype):
        if np.dtype(dtype) != self.array.dtype or self.used + n > len(self.array):
            raise DataCorrupted(f"stored chunks hold more rows (or another dtype) than their "
                                f"metadata promised ({self.used + n} > {len(self.array)})")
        view = self.array[self.used:self.used + n]
        self.used += n
        return view

    @property
    def full(self):
        return self.used == len(self.array)


def _overlaps(info, time_range):
    t0, t1 = time_range
    if info["end"] == info["start"]:
        return t0 <= info["start"] <= t1
    return info["end"] > t0 and info["start"] < t1


def iter_stored_chunks(read_chunk, backend_key, md, time_range=None, chunk_numbers=None,
                       prefetch=2, arena=None):
    """The Chunks of one stored key, described by its metadata md, in order;
    read_chunk(backend_key, md, chunk_info, dtype, out) gives one chunk's rows. See
    StorageBackend.iter_chunks."""
    where = str(backend_key)
    dtype = parse_dtype(md, where)
    infos = []
    for info in md.get("chunks") or ():
        if chunk_numbers is not None and info["chunk_i"] not in chunk_numbers:
            continue
        if time_range is not None and not _overlaps(info, time_range):
            continue
        infos.append(info)
    target_mb = md.get("chunk_target_size_mb", 200)

    def make(info, data):
        try:
            return Chunk(data_type=md["data_type"], data_kind=md["data_kind"], dtype=dtype,
                         run_id=info.get("run_id", md["run_id"]), start=info["start"],
                         end=info["end"], data=data, subruns=info.get("subruns"),
                         target_size_mb=target_mb)
        except ChunkError as e:
            # Stored rows that break chunk invariants (times outside the chunk, unsorted)
            # mean the file or its metadata was damaged after writing.
            name = info.get("filename") or f"chunk {info.get('chunk_i')}"
            raise DataCorrupted(f"{where}: {name} does not hold valid chunk data ({e}). "
                                f"Delete {where} and make the data again") from e

    def reader(info):
        out = arena.take(info["n"], dtype) if arena is not None else None
        return functools.partial(read_chunk, backend_key, md, info, dtype, out)

    big = sum(info.get("nbytes", 0) for info in infos) > PREFETCH_MIN_BYTES * len(infos)
    if len(infos) <= 1 or prefetch <= 0 or not big:
        for info in infos:
            yield make(info, reader(info)())
        return
    pool = _prefetch_pool()
    # Slices of the arena are taken in chunk order at submission, so threads that
    # finish out of order still fill the right rows.
    pending = [pool.submit(reader(info)) for info in infos[:prefetch]]
    try:
        for i, info in enumerate(infos):
            data = pending[i].result()
            if i + prefetch < len(infos):
                pending.append(pool.submit(reader(infos[i + prefetch])))
            pending[i] = None
            yield make(info, data)
    finally:
        for f in pending:
            if f is not None:
                f.cancel()
