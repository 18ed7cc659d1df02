"""Checks of data metadata against itself, before any row is returned.

Metadata is a plain document anyone can edit; an edit that still parses must not turn into
wrong rows (a dropped chunk entry silently loading 600 of 800 rows, `chunks: []` loading
none). `metadata_problems` lists every inconsistency it finds; loading raises DataCorrupted
with them, `superstrax verify` reports them. Checks of the files themselves (existence,
sizes, checksums) are the storage's (files.py).

Fields strax may not write are checked only where present; the ones every strax 2.x
metadata has (dtype, compressor, data_kind, chunks with n/start/end) are required.
"""
import numpy as np

from ..errors import DataCorrupted, DataFileMissing
from .common import parse_dtype

REQUIRED_FIELDS = ("dtype", "compressor", "data_kind", "chunks")
REQUIRED_CHUNK_FIELDS = ("n", "start", "end")

__all__ = ["metadata_problems", "dtype_problems", "chunk_entries", "raise_if_problems"]


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def dtype_problems(dtype) -> list:
    names = dtype.names or ()
    if "time" not in names:
        return [f"its dtype has no 'time' field (fields: {', '.join(names) or 'none'})"]
    if "endtime" not in names and not ("length" in names and "dt" in names):
        return ["its dtype has 'time' but neither 'endtime' nor 'length' and 'dt', so rows "
                "have no end"]
    return []


def chunk_entries(md):
    """The chunk list of metadata that passed metadata_problems."""
    return md.get("chunks") or []


def metadata_problems(md, where="", superrun=None) -> list:
    """Everything wrong with one data metadata document, as sentences (empty: consistent).

    `superrun`: whether chunks may leave gaps between them (superrun data); by default taken
    from the run_id ('_' prefix).
    """
    if not isinstance(md, dict):
        return [f"the metadata is a {type(md).__name__}, not a JSON object"]
    problems = []
    missing = [f for f in REQUIRED_FIELDS if f not in md]
    if missing:
        problems.append(f"the metadata lacks {', '.join(missing)}")
    dtype = None
    if "dtype" in md:
        try:
            dtype = parse_dtype(md, where)
        except DataCorrupted as e:
            problems.append(str(e))
        else:
            problems.extend(dtype_problems(dtype))
    chunks = md.get("chunks")
    if "chunks" in md and not isinstance(chunks, list):
        problems.append(f"'chunks' is a {type(chunks).__name__}, not a list")
        return problems
    if superrun is None:
        superrun = str(md.get("run_id", "")).startswith("_")
    problems.extend(_chunk_list_problems(md, chunks or [], dtype, superrun))
    return problems


def _chunk_list_problems(md, chunks, dtype, superrun):
    problems = []
    prev = None
    for i, info in enumerate(chunks):
        if not isinstance(info, dict):
            problems.append(f"chunk entry {i} is not a JSON object: {info!r}")
            prev = None
            continue
        n, start, end = info.get("n"), info.get("start"), info.get("end")
        if type(n) is int and type(start) is int and type(end) is int:
            missing = bad = ()          # what json gives: checked without building lists
        else:
            missing = [f for f in REQUIRED_CHUNK_FIELDS if f not in info]
            bad = [f for f in REQUIRED_CHUNK_FIELDS if f in info and not _is_int(info[f])]
        if missing or bad:
            what = []
            if missing:
                what.append(f"lacks {', '.join(missing)}")
            if bad:
                what.append(f"has non-integer {', '.join(bad)}")
            problems.append(f"chunk entry {i} {' and '.join(what)}")
            prev = None
            continue
        n, start, end = int(info["n"]), int(info["start"]), int(info["end"])
        label = f"chunk {i}" + (f" ({info['filename']})" if info.get("filename") else "")
        if "chunk_i" in info and info["chunk_i"] != i:
            problems.append(f"{label} is numbered {info['chunk_i']!r}; chunk entries must be "
                            f"numbered 0, 1, 2, ... in order (an entry was removed or moved)")
        if n < 0:
            problems.append(f"{label} has n = {n} rows")
        if start > end:
            problems.append(f"{label} ends at {end}, before it starts at {start}")
        if prev is not None:
            problems.extend(_order_problems(label, start, prev, superrun))
        prev = (start, end)
        if dtype is not None and "nbytes" in info and info["nbytes"] != n * dtype.itemsize:
            problems.append(f"{label}: nbytes is {info['nbytes']} but {n} rows of "
                            f"{dtype.itemsize} B are {n * dtype.itemsize} B")
        problems.extend(_summary_problems(label, info, n, start, end))
    problems.extend(_bounds_problems(md, chunks))
    return problems


def _order_problems(label, start, prev, superrun):
    prev_start, prev_end = prev
    if superrun:
        # Superrun chunks may jump over the time between subruns, never back.
        if start < prev_start:
            return [f"{label} starts at {start}, before the previous chunk ({prev_start}); "
                    f"chunks are out of order"]
        if start < prev_end:
            return [f"{label} starts at {start}, inside the previous chunk "
                    f"[{prev_start}, {prev_end})"]
        return []
    if start != prev_end:
        what = "a gap after" if start > prev_end else "an overlap with"
        return [f"{label} starts at {start} but the previous chunk ends at {prev_end}: {what} "
                f"the previous chunk"]
    return []


_SUMMARY_FIELDS = ("first_time", "last_time", "first_endtime", "last_endtime")


def _summary_problems(label, info, n, start, end):
    """The per-chunk first/last times strax writes must fit the chunk and its row count."""
    present = {f: info[f] for f in _SUMMARY_FIELDS if f in info}
    if not present:
        return []
    if n == 0:
        return [f"{label} has n = 0 rows but records {', '.join(present)} of rows"]
    problems = []
    for f, v in present.items():
        if not _is_int(v):
            problems.append(f"{label}: {f} is {v!r}, not an integer")
        elif f.endswith("_time") and not start <= v <= end:
            problems.append(f"{label}: {f} {v} is outside the chunk [{start}, {end})")
        elif f.endswith("_endtime") and v > end:
            problems.append(f"{label}: {f} {v} is after the chunk end {end}")
    return problems


def _bounds_problems(md, chunks):
    if any(not isinstance(c, dict) or not all(_is_int(c.get(f)) for f in ("start", "end"))
           for c in chunks):
        return []
    problems = []
    if not chunks:
        for f in ("start", "end"):
            if f in md and "writing_ended" in md:
                problems.append(f"the metadata has no chunks but records a {f} "
                                f"({md[f]}): its chunk list was emptied")
                break
        return problems
    first, last = chunks[0]["start"], chunks[-1]["end"]
    if "start" in md and md["start"] != first:
        problems.append(f"the metadata's start {md['start']} is not its first chunk's start "
                        f"{first}")
    if "end" in md and md["end"] != last:
        problems.append(f"the metadata's end {md['end']} is not its last chunk's end {last} "
                        f"(a chunk entry is missing or was changed)")
    return problems


class MissingFile(str):
    """A problem sentence saying that a listed data file is missing (raised as
    DataFileMissing, which is also a FileNotFoundError)."""


def raise_if_problems(problems, where, advice):
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more problems"
                                          if len(problems) > 5 else "")
        kind = DataFileMissing if any(isinstance(p, MissingFile) for p in problems) \
            else DataCorrupted
        raise kind(f"{where}: {shown}. {advice}")
