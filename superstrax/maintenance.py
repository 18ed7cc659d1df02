"""Looking after a DataDirectory on disk: what it holds, whether it reads back as its metadata
says, defining superruns in it and rewriting stored data with another chunk size.

The `superstrax` command line is a thin layer over these functions; they return plain
objects and raise errors instead of printing, so they can be used from Python as well.
"""
import json
import math
import os
import shutil
from dataclasses import dataclass, field

from .chunk import Rechunker
from .errors import DataCorrupted, DataNotAvailable, RunMetadataNotAvailable, SuperstraxError
from .hashing import deterministic_hash
from .kernels import endtimes, first_unsorted_index
from .lineage import is_superrun_id
from .storage.common import parse_dtype
from .storage.files import (RUN_METADATA_PATTERN, TEMP_SUFFIX, DataDirectory, FileSaver,
                            FileSystemBackend, dirname_to_prefix, metadata_path)
from .storage.io import COMPRESSORS, load_file

__all__ = ["InputError", "open_directory", "inventory", "verify", "check_folder",
           "define_superrun", "load_ranges", "rechunk", "run_of_folder"]

_RUN_DOC_SUFFIX = RUN_METADATA_PATTERN % ""          # "-metadata.json"
_REPLACED_MARK = ".replaced-"                        # FileSaver's aside copy during a swap
# Metadata a rewrite must not inherit: the saver records these afresh for the new copy.
_PER_WRITE_FIELDS = ("chunks", "start", "end", "writing_started", "writing_ended", "exception")


class InputError(SuperstraxError):
    """The command names something that is not there (directory, run, key) or is malformed."""


# --- opening and naming --------------------------------------------------------------------------
def open_directory(path, writable=False):
    """A DataDirectory over an existing directory (never creates one: a typo should not
    silently produce an empty data directory)."""
    if not os.path.exists(path):
        raise InputError(f"data directory {path} does not exist; give the directory that holds "
                         f"the run documents and <run>-<type>-<hash> data folders")
    if not os.path.isdir(path):
        raise InputError(f"{path} is not a directory; give the data directory itself")
    return DataDirectory(path, provide_run_metadata=True, readonly=not writable)


def _run_part(folder_name):
    return folder_name.removesuffix(TEMP_SUFFIX).split("-", 1)[0]


def _strip_definition_hash(run_part):
    """'_name_<hash>' -> '_name'; a superrun folder without a hash (as strax writes) is kept."""
    base, sep, _ = run_part.rpartition("_")
    if sep and len(base) > 1 and base.startswith("_"):
        return base
    return run_part


def run_of_folder(folder_name, known_runs=()):
    """The run (or superrun) a data folder belongs to."""
    part = _run_part(folder_name)
    if part in known_runs or not is_superrun_id(part):
        return part
    return _strip_definition_hash(part)


def _folder_matches_run(folder_name, run):
    part = _run_part(folder_name)
    if part == run:
        return True
    return is_superrun_id(run) and _strip_definition_hash(part) == run


def _run_doc_names(path):
    names = []
    for entry in sorted(os.listdir(path)):
        if entry.endswith(_RUN_DOC_SUFFIX) and os.path.isfile(os.path.join(path, entry)):
            run_id = entry[:-len(_RUN_DOC_SUFFIX)]
            if run_id and "-" not in run_id:
                names.append(run_id)
    return names


def _folder_size(folder):
    total = 0
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
    return total


def _run_sort_key(name):
    # Superruns after regular runs; numeric run ids in numeric order.
    return (is_superrun_id(name), 0 if name.isdigit() else 1,
            int(name) if name.isdigit() else 0, name)


# --- inventory -----------------------------------------------------------------------------------
@dataclass
class StoredData:
    """One data folder of a run as `superstrax runs` shows it."""
    folder: str
    data_type: str
    lineage_hash: str
    size: int
    rows: int = None
    chunks: int = None
    error: str = None          # metadata unreadable, or the write failed
    definition: str = None     # superrun data: 'current', 'combining' or 'older'


@dataclass
class RunEntry:
    name: str
    doc: dict = None
    doc_error: str = None
    data: list = field(default_factory=list)

    @property
    def is_superrun(self):
        return is_superrun_id(self.name)

    def _ns(self, key):
        from .superruns import to_ns
        if not self.doc or key not in self.doc:
            return None
        try:
            return to_ns(self.doc[key])
        except (TypeError, ValueError):
            return None

    @property
    def start(self):
        return self._ns("start")

    @property
    def end(self):
        return self._ns("end")

    @property
    def livetime(self):
        """ns, as the run document stores it (superruns only)."""
        value = (self.doc or {}).get("livetime")
        return None if value is None else float(value)

    @property
    def sub_run_spec(self):
        spec = (self.doc or {}).get("sub_run_spec")
        return spec if isinstance(spec, dict) else None


@dataclass
class Inventory:
    path: str
    runs: list
    incomplete: list           # names of '<key>_temp' folders


def _definition_state(folder, superrun, spec):
    """Whether superrun data was made for the superrun's current definition.

    The folder's run part carries a hash of (sub_run_spec, combining), as DataKey builds it;
    folders without one (as strax names them) cannot tell.
    """
    part = _run_part(folder)
    if spec is None or part == superrun:
        return None
    suffix = part.rpartition("_")[2]
    if suffix == deterministic_hash((spec, False)):
        return "current"
    if suffix == deterministic_hash((spec, True)):
        return "combining"
    return "older"


def inventory(path):
    """The runs and superruns in a data directory with their stored data."""
    storage = open_directory(path)
    runs = {}
    for run_id in _run_doc_names(path):
        entry = RunEntry(run_id)
        try:
            entry.doc = storage.run_metadata(run_id)
        except RunMetadataNotAvailable as e:
            entry.doc_error = str(e)
        runs[run_id] = entry
    backend = storage.backends[0]
    for folder in storage.list_keys():
        run_id = run_of_folder(folder, runs)
        entry = runs.setdefault(run_id, RunEntry(run_id))
        _, data_type, lineage_hash = folder.split("-")
        full = os.path.join(path, folder)
        item = StoredData(folder, data_type, lineage_hash, size=_folder_size(full))
        try:
            md = backend.get_metadata(full)
        except (DataNotAvailable, DataCorrupted) as e:
            item.error = str(e)
        else:
            if not isinstance(md, dict) or not isinstance(md.get("chunks", []), list):
                item.error = "metadata is not in the expected form; run `superstrax verify`"
                entry.data.append(item)
                continue
            chunks = md.get("chunks") or []
            item.chunks = len(chunks)
            item.rows = sum(int(c.get("n", 0)) for c in chunks)
            if "exception" in md or "writing_ended" not in md:
                item.error = "incomplete: its write failed or never finished"
        if entry.is_superrun:
            item.definition = _definition_state(folder, entry.name, entry.sub_run_spec)
        entry.data.append(item)
    ordered = [runs[k] for k in sorted(runs, key=_run_sort_key)]
    return Inventory(path, ordered, storage.incomplete_writes())


# --- verify --------------------------------------------------------------------------------------
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
        f"{name.split(_REPLACED_MARK)[0]} exists and verifies, delete this folder")
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
        from .superruns import resolve
        try:
            resolve(storage.run_metadata, run_id)
        except SuperstraxError as e:
            report.problems.append(f"the superrun's definition no longer resolves: {e}")
    return report


def verify(path, run=None):
    """FolderReports of every data folder (of one run, if given), every incomplete write and
    every run document, produced one at a time so a caller can show progress."""
    storage = open_directory(path)
    entries = sorted(os.listdir(path))
    keys = storage.list_keys()
    temps = storage.incomplete_writes()
    replaced = [e for e in entries if _REPLACED_MARK in e
                and os.path.isdir(os.path.join(path, e)) and len(e.split("-")) >= 3]
    docs = _run_doc_names(path)
    if run is not None:
        run = str(run)
        keys = [k for k in keys if _folder_matches_run(k, run)]
        temps = [t for t in temps if _folder_matches_run(t, run)]
        replaced = [r for r in replaced if _folder_matches_run(r.split(_REPLACED_MARK)[0], run)]
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


# --- define --------------------------------------------------------------------------------------
def load_ranges(filename):
    """A superrun definition from a JSON file {"run_id": "all" | [[start_ns, end_ns], ...]}."""
    try:
        with open(filename) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InputError(f"ranges file {filename} does not exist") from None
    except (OSError, ValueError) as e:
        raise InputError(f"ranges file {filename} cannot be read as JSON ({e})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"ranges file {filename} must hold a non-empty JSON object "
                         f'{{"run_id": "all" or [[start_ns, end_ns], ...]}}')
    for run_id, value in data.items():
        if value != "all" and not isinstance(value, list):
            raise InputError(f"ranges file {filename}: run {run_id} has {value!r}; use \"all\" "
                             f"or a list of [start_ns, end_ns] pairs")
    return data


def define_superrun(path, name, data):
    """Define superrun `name` in the data directory; returns (run document, replaced?)."""
    from .context import Context
    storage = open_directory(path, writable=True)
    replaced = os.path.isfile(os.path.join(path, RUN_METADATA_PATTERN % name))
    st = Context(storage=[storage], progress_bar=False)
    st.define_run(name, data)
    return st.run_metadata(name), replaced


# --- rechunk -------------------------------------------------------------------------------------
@dataclass
class RechunkResult:
    folder: str
    old_chunks: int
    new_chunks: int
    rows: int
    old_size: int
    new_size: int


def _check_target(target_mb):
    try:
        value = float(target_mb)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"--target-mb must be a positive number of MB, got {target_mb!r}")
    return int(value) if value.is_integer() else value


def rechunk(path, key, target_mb):
    """Rewrite data folder `key` with chunks of about target_mb MB.

    The new copy is written next to the old one and swapped in only when complete, so any
    failure leaves the original as it was.
    """
    target_mb = _check_target(target_mb)
    storage = open_directory(path, writable=True)
    name = os.path.basename(os.path.normpath(key))
    if name not in storage.list_keys():
        if name.endswith(TEMP_SUFFIX) or name + TEMP_SUFFIX in storage.incomplete_writes():
            raise InputError(f"{name} in {path} is an incomplete write, not stored data; "
                             f"delete it and make the data again")
        raise InputError(f"no data folder {name} in {path}; give a folder name "
                         f"<run>-<type>-<hash> as `superstrax runs {path}` lists them")
    folder = os.path.join(path, name)
    backend = FileSystemBackend()
    md = backend.get_metadata(folder)
    if "exception" in md or "writing_ended" not in md:
        raise SuperstraxError(f"{name} is incomplete (its write failed or never finished); "
                              f"make the data again instead of rechunking it")
    expected_rows = sum(int(c.get("n", 0)) for c in md.get("chunks") or ())
    old_size = _folder_size(folder)
    new_md = {k: v for k, v in md.items() if k not in _PER_WRITE_FIELDS}
    new_md["chunk_target_size_mb"] = target_mb
    saver = FileSaver(folder, new_md)
    rechunker = Rechunker(target_size_mb=target_mb)
    rows = 0
    try:
        # The stream reads the old folder lazily, so it must be exhausted before close()
        # swaps the new copy into its place.
        for chunk in backend.iter_chunks(folder):
            for out in rechunker.receive(chunk):
                saver.save(out)
                rows += len(out)
        for out in rechunker.flush():
            saver.save(out)
            rows += len(out)
        if rows != expected_rows:
            raise DataCorrupted(f"{name}: rechunking gave {rows} rows but the metadata lists "
                                f"{expected_rows}; the original is kept")
    except BaseException as e:
        saver.close(exception=e)
        # The partial copy is of no use (the original is intact and the error is reported),
        # and left in place `verify` would flag it as an incomplete write.
        shutil.rmtree(saver.temp, ignore_errors=True)
        raise
    saver.close()
    return RechunkResult(name, len(md.get("chunks") or ()), len(saver.md["chunks"]), rows,
                         old_size, _folder_size(folder))
