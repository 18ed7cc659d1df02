"""`superstrax verify`: read every stored chunk of a data directory back and compare it with
its metadata; report incomplete writes, leftover copies of replaced data and unreadable run
documents.

What it cannot see: blosc chunk files carry no checksum, so bytes changed inside compressed
data may still decode, to wrong values of the right size. It checks what the format records:
sizes, row counts, time order and bounds.
"""
import os
from dataclasses import dataclass, field

from .errors import DataCorrupted, DataNotAvailable, RunMetadataNotAvailable, SuperstraxError
from .kernels import endtimes, first_unsorted_index
from .naming import is_superrun_id
from .cli.maintenance import (REPLACED_MARK, InputError, _folder_matches_run, _run_doc_names,
                          _run_part, open_directory, replaced_folders)
from .storage.common import parse_dtype
from .storage.files import (RUN_METADATA_PATTERN, FileSystemBackend, dirname_to_prefix,
                            metadata_path)
from .storage.io import COMPRESSORS, load_file

__all__ = ["FolderReport", "check_folder", "verify"]


@dataclass
class FolderReport:
    name: str
    kind: str = "data"         # 'data', 'incomplete write', 'leftover copy' or 'run document'
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    chunks: int = 0
    rows: int = 0

    @property
    def ok(self):
        return not self.problems


def _last_line(text):
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def check_folder(folder):
    """Read every chunk of one data folder and compare it with the folder's metadata."""
    name = os.path.basename(os.path.normpath(folder))
    report = FolderReport(name)
    problem = report.problems.append
    backend = FileSystemBackend()
    try:
        md = backend.get_metadata(folder)
    except (DataNotAvailable, DataCorrupted) as e:
        problem(str(e))
        return report
    if not isinstance(md, dict):
        problem(f"the metadata file {metadata_path(folder)} does not hold a JSON object")
        return report
    if "exception" in md:
        problem(f"the metadata records a failed write ({_last_line(md['exception'])}); "
                f"nothing loads this data, make it again")
    if "writing_ended" not in md:
        problem("the metadata has no writing_ended: the write never finished")
    try:
        dtype = parse_dtype(md, name)
    except DataCorrupted as e:
        problem(str(e))
        return report
    compressor = md.get("compressor")
    if compressor not in COMPRESSORS:
        problem(f"unknown compressor {compressor!r} in the metadata")
        return report
    chunks = md.get("chunks")
    if not isinstance(chunks, list):
        problem("the metadata has no list of chunks")
        return report
    report.chunks = len(chunks)
    prefix = dirname_to_prefix(folder)
    has_time = "time" in (dtype.names or ())
    superrun = is_superrun_id(md.get("run_id", _run_part(name)))
    listed = set()
    prev = None
    for i, info in enumerate(chunks):
        try:
            n, start, end = int(info["n"]), int(info["start"]), int(info["end"])
            chunk_i = int(info.get("chunk_i", i))
        except (KeyError, TypeError, ValueError, AttributeError):
            problem(f"chunk entry {i} lacks a valid n, start or end: {info!r}")
            prev = None
            continue
        label = f"chunk {chunk_i}"
        if chunk_i != i:
            problem(f"{label} is entry {i} of the metadata's chunk list; chunks must be numbered "
                    f"in order")
        if start > end:
            problem(f"{label} ends at {end}, before it starts at {start}")
        if prev is not None:
            prev_start, prev_end = prev
            if superrun:
                # Superrun chunks may jump over the time between subruns, never back.
                if start < prev_start:
                    problem(f"{label} starts at {start}, before the previous chunk "
                            f"({prev_start}); chunks are out of order")
                elif start < prev_end:
                    problem(f"{label} starts at {start}, inside the previous chunk "
                            f"[{prev_start}, {prev_end})")
            elif start != prev_end:
                what = "a gap after" if start > prev_end else "an overlap with"
                problem(f"{label} starts at {start} but the previous chunk ends at {prev_end}: "
                        f"{what} the previous chunk")
        prev = (start, end)
        if "nbytes" in info and int(info["nbytes"]) != n * dtype.itemsize:
            problem(f"{label}: nbytes is {info['nbytes']} but {n} rows of {dtype.itemsize} B "
                    f"are {n * dtype.itemsize} B")
        if n == 0:
            continue
        filename = info.get("filename") or f"{prefix}-{chunk_i:06d}"
        listed.add(filename)
        path = os.path.join(folder, filename)
        if "filesize" in info and os.path.isfile(path):
            actual = os.path.getsize(path)
            if actual != int(info["filesize"]):
                problem(f"{label}: data file {path} has {actual} bytes but the metadata says "
                        f"{info['filesize']}")
        try:
            data = load_file(path, dtype, compressor, n=n)
        except DataCorrupted as e:
            problem(f"{label}: {e}")
            continue
        except OSError as e:
            problem(f"{label}: cannot read data file {path}: {e}")
            continue
        report.rows += len(data)
        if has_time:
            _check_rows(data, info, start, end, label, problem)
    _check_bounds(md, chunks, problem)
    _note_stray_files(folder, listed, report)
    return report


def _check_rows(data, info, start, end, label, problem):
    time = data["time"]
    bad = first_unsorted_index(time)
    if bad >= 0:
        problem(f"{label}: rows are not in time order (row {bad} at {time[bad]} follows "
                f"{time[bad - 1]})")
    ends = endtimes(data)
    if int(time.min()) < start:
        problem(f"{label}: a row starts at {int(time.min())}, before the chunk start {start}")
    if int(ends.max()) > end:
        problem(f"{label}: a row ends at {int(ends.max())}, after the chunk end {end}")
    # Per-chunk summaries strax readers use to skip chunks; they must describe the rows.
    actual = {"first_time": int(time[0]), "last_time": int(time[-1]),
              "first_endtime": int(ends[0]), "last_endtime": int(ends[-1])}
    for key, value in actual.items():
        if key in info and int(info[key]) != value:
            problem(f"{label}: the metadata's {key} is {info[key]} but the data's is {value}")


def _check_bounds(md, chunks, problem):
    if not chunks or "writing_ended" not in md:
        return
    try:
        first, last = int(chunks[0]["start"]), int(chunks[-1]["end"])
    except (KeyError, TypeError, ValueError):
        return
    if "start" in md and int(md["start"]) != first:
        problem(f"the metadata's start {md['start']} is not its first chunk's start {first}")
    if "end" in md and int(md["end"]) != last:
        problem(f"the metadata's end {md['end']} is not its last chunk's end {last}")


def _note_stray_files(folder, listed, report):
    own = {os.path.basename(metadata_path(folder)), "metadata.json"}
    stray = sorted(e for e in os.listdir(folder) if e not in listed and e not in own)
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        report.notes.append(f"files not listed in the metadata (ignored when loading): {shown}")


def _incomplete_report(path, name):
    report = FolderReport(name, kind="incomplete write")
    detail = ""
    try:
        md = FileSystemBackend().get_metadata(os.path.join(path, name))
        if "exception" in md:
            detail = f" (it failed with: {_last_line(md['exception'])})"
    except SuperstraxError:
        pass
    report.problems.append(
        f"incomplete write{detail}: a write that failed or was killed left this folder; "
        f"nothing loads from it, so delete it (the data is made again when needed)")
    return report


def _replaced_report(name):
    report = FolderReport(name, kind="leftover copy")
    report.problems.append(
        "leftover copy of data that was being replaced when the process stopped; if "
        f"{name.split(REPLACED_MARK)[0]} exists and verifies, delete this folder")
    return report


def _run_doc_report(storage, run_id):
    name = RUN_METADATA_PATTERN % run_id
    report = FolderReport(name, kind="run document")
    try:
        doc = storage.run_metadata(run_id)
    except RunMetadataNotAvailable as e:
        report.problems.append(str(e))
        return report
    if is_superrun_id(run_id) and doc.get("sub_run_spec"):
        from .runs.superruns import resolve
        try:
            resolve(storage.run_metadata, run_id)
        except SuperstraxError as e:
            report.problems.append(f"the superrun's definition no longer resolves: {e}")
    return report


def verify(path, run=None):
    """FolderReports of every data folder (of one run, if given), every incomplete write and
    every run document, produced one at a time so a caller can show progress."""
    storage = open_directory(path)
    keys = storage.list_keys()
    temps = storage.incomplete_writes()
    replaced = replaced_folders(path)
    docs = _run_doc_names(path)
    if run is not None:
        run = str(run)
        keys = [k for k in keys if _folder_matches_run(k, run)]
        temps = [t for t in temps if _folder_matches_run(t, run)]
        replaced = [r for r in replaced if _folder_matches_run(r.split(REPLACED_MARK)[0], run)]
        docs = [d for d in docs if d == run]
        if not (keys or temps or replaced or docs):
            raise InputError(f"run {run} is not in {path}: no run document and no data folders "
                             f"for it; `superstrax runs {path}` lists the runs there")
    return _verify_iter(storage, path, keys, temps, replaced, docs)


def _verify_iter(storage, path, keys, temps, replaced, docs):
    for run_id in docs:
        yield _run_doc_report(storage, run_id)
    for key in keys:
        yield check_folder(os.path.join(path, key))
    for name in temps:
        yield _incomplete_report(path, name)
    for name in replaced:
        yield _replaced_report(name)
