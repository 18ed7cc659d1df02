"""Looking after a DataDirectory on disk: what it holds, defining superruns in it and
rewriting stored data with another chunk size (reading everything back against its metadata
is superstrax.cli.verification).

The `superstrax` command line is a thin layer over these functions; they return plain
objects and raise errors instead of printing, so they can be used from Python as well.
"""
import json
import math
import os
from dataclasses import dataclass, field

from ..errors import DataCorrupted, DataNotAvailable, RunMetadataNotAvailable, SuperstraxError
from ..hashing import deterministic_hash
from ..naming import is_superrun_id
from ..storage.file_rechunker import FolderBeingWritten, rewrite_folder
from ..storage.files import RUN_METADATA_PATTERN, DataDirectory, FileSystemBackend
from ..storage.layout import REPLACED_MARK, is_temp_name, temp_key

__all__ = ["InputError", "open_directory", "inventory", "define_superrun", "load_ranges",
           "rechunk", "run_of_folder", "replaced_folders"]

_RUN_DOC_SUFFIX = RUN_METADATA_PATTERN % ""          # "-metadata.json"


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
    return (temp_key(folder_name) or folder_name).split("-", 1)[0]


def _strip_definition_hash(run_part):
    """'_name_<hash>' -> '_name'; a superrun folder without a hash (as strax writes) is kept."""
    base, sep, _ = run_part.rpartition("_")
    if sep and len(base) > 1 and is_superrun_id(base):
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


def replaced_folders(path):
    """'<key>.replaced-XXXX' folders: the old copy FileSaver moves aside while it swaps a new
    copy in; one is left only if the process stopped between the two renames."""
    return [e for e in sorted(os.listdir(path)) if REPLACED_MARK in e
            and len(e.split(REPLACED_MARK)[0].split("-")) == 3
            and os.path.isdir(os.path.join(path, e))]


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
        from ..runs.superruns import to_ns
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
    replaced: list = field(default_factory=list)    # names of '<key>.replaced-XXXX' folders


def _definition_state(folder, superrun, spec, resolve_specs):
    """Whether superrun data was made for the superrun's current definition.

    The folder's run part carries deterministic_hash((key_spec, combining)), as DataKey
    builds it: key_spec is the sub_run_spec, or for a superrun of superruns the regular runs
    it resolves to (resolve_specs() gives them). Folders without a hash (as strax names them)
    cannot tell, nor can a definition that no longer resolves ('unresolved').
    """
    from ..runs.superruns import key_spec
    part = _run_part(folder)
    if spec is None or part == superrun:
        return None
    try:
        spec = key_spec(spec, resolve_specs)
    except SuperstraxError:
        return "unresolved"
    suffix = part.rpartition("_")[2]
    if suffix == deterministic_hash((spec, False)):
        return "current"
    if suffix == deterministic_hash((spec, True)):
        return "combining"
    return "older"


def _resolver(storage, superrun):
    """resolve_specs for _definition_state: resolves the superrun once, when first asked."""
    from ..runs.superruns import resolve
    cache = []

    def resolve_specs():
        if not cache:
            try:
                cache.append(resolve(storage.run_metadata, superrun))
            except SuperstraxError as e:
                cache.append(e)
        if isinstance(cache[0], Exception):
            raise cache[0]
        return cache[0]
    return resolve_specs


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
    resolvers = {}
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
            if entry.name not in resolvers:
                resolvers[entry.name] = _resolver(storage, entry.name)
            item.definition = _definition_state(folder, entry.name, entry.sub_run_spec,
                                                resolvers[entry.name])
        entry.data.append(item)
    ordered = [runs[k] for k in sorted(runs, key=_run_sort_key)]
    return Inventory(path, ordered, storage.incomplete_writes(), replaced_folders(path))


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
    from ..context import Context
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
    oversized: int = 0       # new chunks over the target: no gap to cut at within it


def _same_directory(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _key_name(path, key):
    """The folder name KEY names: a bare name, or a path to that folder inside `path`."""
    parent, name = os.path.split(os.path.normpath(key))
    if parent and not _same_directory(parent, path):
        raise InputError(f"KEY {key} is not a folder of the data directory {path} (it points "
                         f"into {parent}); give a data folder of {path}, by its name as "
                         f"`superstrax runs {path}` lists it or by its path")
    return name


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
    name = _key_name(path, key)
    if name not in storage.list_keys():
        if is_temp_name(name) or any(temp_key(t) == name for t in storage.incomplete_writes()):
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
    old_size = _folder_size(folder)
    try:
        result = rewrite_folder(folder, folder, target_size_mb=target_mb)
    except FolderBeingWritten as e:
        raise InputError(f"{name} is being written by another process; rechunk it when "
                         f"that has finished") from e
    return RechunkResult(name, len(md.get("chunks") or ()), len(result.new_metadata["chunks"]),
                         result.rows, old_size, _folder_size(folder), result.oversized)
