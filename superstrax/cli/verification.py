"""`superstrax verify`: read every stored chunk of a data directory back and compare it with
its metadata; report incomplete writes, leftover copies of replaced data and unreadable run
documents.

Chunk files superstrax writes carry a content checksum in their metadata entry, so any
changed byte is reported. Files written by strax have none: there a changed byte inside
compressed data may still decode, to wrong values of the right size, and only what the
format records (sizes, row counts, time order and bounds) is checked; the report says so.

verify never stops at a damaged entry: whatever it cannot check becomes a problem of that
entry's report, and the next entry is checked.
"""
import os
from dataclasses import dataclass, field

from ..errors import (DataCorrupted, DataNotAvailable, RunMetadataNotAvailable, StorageError,
                     SuperstraxError)
from ..kernels import endtimes, first_unsorted_index
from ..naming import is_superrun_id
from .maintenance import (InputError, _folder_matches_run, _run_doc_names, _run_part,
                              open_directory, replaced_folders)
from ..storage.checksums import CHECKSUM_FIELD
from ..storage.claims import CLAIM_SUFFIX, describe_holder, is_stale, read_claim
from ..storage.common import parse_dtype
from ..storage.files import (RUN_METADATA_PATTERN, FileSystemBackend, chunk_filename,
                            file_problems, metadata_path)
from ..storage.io import COMPRESSORS, load_file
from ..storage.layout import REPLACED_MARK, temp_key
from ..storage.metadata_checks import metadata_problems

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
    """Read every chunk of one data folder and compare it with the folder's metadata; every
    problem is reported, none stops the check of the others."""
    name = os.path.basename(os.path.normpath(folder))
    report = FolderReport(name)
    problem = report.problems.append
    backend = FileSystemBackend()
    try:
        md = backend.get_metadata(folder)
    except (DataNotAvailable, DataCorrupted, StorageError) as e:
        problem(str(e))
        return report
    if "exception" in md:
        problem(f"the metadata records a failed write ({_last_line(md['exception'])}); "
                f"nothing loads this data, make it again")
    if "writing_ended" not in md:
        problem("the metadata has no writing_ended: the write never finished")
    superrun = is_superrun_id(str(md.get("run_id", _run_part(name))))
    own = metadata_problems(md, name, superrun=superrun)
    report.problems.extend(own)
    chunks = md.get("chunks")
    if not isinstance(chunks, list):
        return report
    report.chunks = len(chunks)
    report.problems.extend(file_problems(folder, md))
    try:
        dtype = parse_dtype(md, name)
    except DataCorrupted:
        return report          # reported by metadata_problems
    compressor = md.get("compressor")
    if compressor not in COMPRESSORS:
        problem(f"unknown compressor {compressor!r} in the metadata")
        return report
    has_time = "time" in (dtype.names or ())
    listed, unchecked = set(), 0
    for i, info in enumerate(chunks):
        try:
            n, start, end = int(info["n"]), int(info["start"]), int(info["end"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue           # reported by metadata_problems
        label = f"chunk {i}"
        if n == 0 and not info.get("filename"):
            continue
        filename = chunk_filename(folder, info, i)
        listed.add(filename)
        path = os.path.join(folder, filename)
        if CHECKSUM_FIELD not in info:
            unchecked += 1
        try:
            data = load_file(path, dtype, compressor, n=n, checksum=info.get(CHECKSUM_FIELD))
        except DataCorrupted as e:
            problem(f"{label}: {e}")
            continue
        except OSError as e:
            problem(f"{label}: cannot read data file {path}: {e}")
            continue
        report.rows += len(data)
        if has_time and len(data):
            _check_rows(data, info, start, end, label, problem)
    if unchecked:
        report.notes.append(f"{unchecked} chunk file(s) carry no checksum (written by strax or "
                            f"an older superstrax): bytes changed inside them may go unnoticed")
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


def _note_stray_files(folder, listed, report):
    own = {os.path.basename(metadata_path(folder)), "metadata.json"}
    stray = sorted(e for e in os.listdir(folder) if e not in listed and e not in own)
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        report.notes.append(f"files not listed in the metadata (ignored when loading): {shown}")


def _incomplete_report(path, name):
    key = temp_key(name)
    writer = name.rpartition("_temp-")[2] if "_temp-" in name else None
    found = read_claim(os.path.join(path, key + CLAIM_SUFFIX)) if key else None
    if writer and found and found[0] and found[0].get("writer") == writer \
            and not is_stale(*found):
        report = FolderReport(name, kind="write in progress")
        report.notes.append(f"being written now by {describe_holder(found[0])}")
        return report
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


def _replaced_report(path, name):
    report = FolderReport(name, kind="leftover copy")
    key = name.split(REPLACED_MARK)[0]
    if os.path.isdir(os.path.join(path, key)):
        report.problems.append(
            f"leftover copy of data that was being replaced when the process stopped; {key} "
            f"exists: if it verifies, delete this folder")
    else:
        report.problems.append(
            f"the only copy of {key}: a replace was stopped between its two renames. The next "
            f"make or load of that data renames it back; to restore it now, rename {name} to "
            f"{key}")
    return report


def _claim_report(path, name):
    report = FolderReport(name, kind="writer claim")
    found = read_claim(os.path.join(path, name))
    if found is None:
        return None
    if is_stale(*found):
        report.problems.append(f"claim left by {describe_holder(found[0])}, which is no longer "
                               f"running; the next writer of this data takes it over, or "
                               f"delete it")
    else:
        report.notes.append(f"{describe_holder(found[0])} is writing this data now")
    return report


def _writing_reports(path):
    """'.writing' files: metadata or run documents whose atomic write was killed."""
    reports = []
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if entry.endswith(".writing") and os.path.isfile(full):
            reports.append(_writing_report(entry, entry))
        elif os.path.isdir(full) and "-" in entry:
            try:
                inner = sorted(e for e in os.listdir(full) if e.endswith(".writing"))
            except OSError:
                continue
            reports.extend(_writing_report(f"{entry}/{e}", e) for e in inner)
    return reports


def _writing_report(name, entry):
    report = FolderReport(name, kind="interrupted write")
    target = entry.rsplit(".", 2)[0]
    report.problems.append(
        f"a write of {target} was stopped before it finished (the file it was replacing, if "
        f"any, is intact); delete this file")
    return report


def _run_doc_report(storage, run_id):
    name = RUN_METADATA_PATTERN % run_id
    report = FolderReport(name, kind="run document")
    try:
        doc = storage.run_metadata(run_id)
    except (RunMetadataNotAvailable, DataCorrupted, StorageError) as e:
        report.problems.append(str(e))
        return report
    from ..runs.superruns import to_ns
    for field_ in ("start", "end"):
        if field_ in doc:
            try:
                to_ns(doc[field_])
            except Exception as e:      # any value a user may have written
                report.problems.append(f"its {field_} {doc[field_]!r} is not a date ({e})")
    spec = doc.get("sub_run_spec")
    if "sub_run_spec" in doc and not isinstance(spec, dict):
        report.problems.append(f"its sub_run_spec is a {type(spec).__name__}, not a mapping "
                               f"of subrun ids to 'all' or time ranges")
    elif is_superrun_id(run_id) and spec:
        from ..runs.superruns import resolve
        try:
            resolve(storage.run_metadata, run_id)
        except SuperstraxError as e:
            report.problems.append(f"the superrun's definition no longer resolves: {e}")
        except Exception as e:          # a damaged document must not stop verify
            report.problems.append(f"the superrun's definition cannot be read: "
                                   f"{type(e).__name__}: {e}")
    return report


def _guarded(check, name, kind, *args):
    """A report from check(*args), or one naming the error it raised: verify goes on."""
    try:
        return check(*args)
    except Exception as e:
        report = FolderReport(name, kind=kind)
        report.problems.append(f"could not be checked: {type(e).__name__}: {e}")
        return report


def verify(path, run=None):
    """FolderReports of every data folder (of one run, if given), every incomplete write,
    leftover copy, claim and interrupted write, and every run document, produced one at a
    time so a caller can show progress."""
    storage = open_directory(path)
    keys = storage.list_keys()
    temps = storage.incomplete_writes()
    replaced = replaced_folders(path)
    docs = _run_doc_names(path)
    claims = sorted(e for e in os.listdir(path) if e.endswith(CLAIM_SUFFIX))
    if run is not None:
        run = str(run)
        keys = [k for k in keys if _folder_matches_run(k, run)]
        temps = [t for t in temps if _folder_matches_run(t, run)]
        replaced = [r for r in replaced if _folder_matches_run(r.split(REPLACED_MARK)[0], run)]
        claims = [c for c in claims if _folder_matches_run(c[:-len(CLAIM_SUFFIX)], run)]
        docs = [d for d in docs if d == run]
        if not (keys or temps or replaced or docs):
            raise InputError(f"run {run} is not in {path}: no run document and no data folders "
                             f"for it; `superstrax runs {path}` lists the runs there")
    return _verify_iter(storage, path, keys, temps, replaced, docs, claims, run)


def _verify_iter(storage, path, keys, temps, replaced, docs, claims, run):
    for run_id in docs:
        yield _guarded(_run_doc_report, RUN_METADATA_PATTERN % run_id, "run document",
                       storage, run_id)
    for key in keys:
        yield _guarded(check_folder, key, "data", os.path.join(path, key))
    for name in temps:
        yield _guarded(_incomplete_report, name, "incomplete write", path, name)
    for name in replaced:
        yield _guarded(_replaced_report, name, "leftover copy", path, name)
    for name in claims:
        report = _guarded(_claim_report, name, "writer claim", path, name)
        if report is not None:
            yield report
    if run is None:
        yield from _writing_reports(path)
