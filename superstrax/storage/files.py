"""DataDirectory: strax 2.x's on-disk layout in a local directory.

    <path>/<run_id>-metadata.json                 run document
    <path>/<run>-<data_type>-<hash>/              one folder per DataKey
        <data_type>-<hash>-metadata.json         data metadata
        <data_type>-<hash>-000000 ...            one compressed file per non-empty chunk

Writes take an exclusive claim on the key and go to a temp folder unique to the writer, which
is renamed into place when complete (file_saver.py; the names are in layout.py), so a failed,
killed or concurrent write never shows up as data, and data stored before is only replaced by
a complete copy. Metadata is checked against itself and the folder's files before any row is
returned (metadata_checks.py), and chunk files against their checksums as they are read.
"""
import datetime
import errno
import glob
import json
import numbers
import os
import shutil
import stat

from ..bounded_cache import BoundedCache
from ..errors import (DataCorrupted, DataExistsError, DataNotAvailable, InvalidArgument,
                      InvalidConfiguration, RunMetadataNotAvailable, StorageError,
                      SuperstraxError)
from ..errors import InvalidFolderNameFormat  # noqa: F401 (strax's strax.storage.files path)
from .checksums import CHECKSUM_FIELD
from .common import Location, StorageBackend, StorageFrontend, parse_dtype
from .file_saver import CLAIM_WAIT_SECONDS, FileSaver, os_error, write_atomically
from .io import load_file
from .layout import (REPLACED_MARK, TEMP_SUFFIX, dirname_to_prefix, is_key_name, is_temp_name,
                     metadata_path, stat_metadata, temp_key)
from .metadata_checks import MissingFile, metadata_problems, raise_if_problems
from .shared_metadata import compact_metadata
from .strax_style import lineage_matches
from ..naming import check_no_dash, is_superrun_id
from ..validation import check_key_name_length

RUN_METADATA_PATTERN = "%s-metadata.json"
# Folders whose parsed metadata a backend keeps (so a second load skips reading it again).
METADATA_CACHE_ENTRIES = 1024


def _json_util():
    """bson's JSON helpers, which write and read run-document dates as strax does ({"$date":
    ...}); imported on first use of a run document, so data alone needs no pymongo."""
    try:
        from bson import json_util
    except ImportError:
        raise ImportError("Run documents store dates in MongoDB's JSON format, which needs "
                          "the 'pymongo' package: pip install pymongo") from None
    return json_util


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _json_default(obj):
    """JSON for what json.dumps cannot write itself, as bson's json_util writes it. Dates, the
    one such thing run documents usually hold, are written here ({"$date": "<ISO 8601, ms>Z"},
    json_util's default for UTC dates since 1970), so that writing a run document does not
    import bson (~20 ms of a first define_run); anything else goes to json_util."""
    if isinstance(obj, datetime.datetime):
        utc = obj if obj.tzinfo is None else obj.astimezone(datetime.timezone.utc)
        if (obj.tzinfo is None or obj.utcoffset() == datetime.timedelta(0)) and \
                utc.replace(tzinfo=datetime.timezone.utc) >= _EPOCH:
            ms = utc.microsecond // 1000
            return {"$date": utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "")
                    + "Z"}
    return _json_util().default(obj)


def _read_options():
    # Run documents keep their datetimes timezone-aware (UTC), as the seed tutorial shows them.
    return _json_util().JSONOptions(tz_aware=True, tzinfo=datetime.timezone.utc)


BSON_WRAPPER_KEYS = frozenset((
    "$oid", "$ref", "$date", "$regex", "$minKey", "$maxKey", "$binary", "$code", "$uuid",
    "$undefined", "$numberLong", "$timestamp", "$numberDecimal", "$dbPointer",
    "$regularExpression", "$symbol", "$numberInt", "$numberDouble"))


def _run_doc_hook(d, json_util=None, options=None):
    """Extended JSON of run documents. Dates, the one kind in every document, are parsed
    directly (bson's parser goes through strptime: half of reading a run document, and
    importing bson is a first-call cost); anything else marked with '$' goes to bson."""
    if len(d) == 1 and isinstance(d.get("$date"), str):
        try:
            when = datetime.datetime.fromisoformat(d["$date"])
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when.astimezone(datetime.timezone.utc)
    # The keys bson's object_hook acts on; a dict with none of them it returns unchanged.
    # isdisjoint looks up the ~20 names instead of scanning every key: a superrun's
    # sub_run_spec is one dict of ten thousand runs.
    if not d.keys().isdisjoint(BSON_WRAPPER_KEYS):
        json_util = json_util or _json_util()
        return json_util.object_hook(d, json_options=options or _read_options())
    return d


# Nested dicts in run documents are flattened with '.', except these (strax does the same).
_KEEP_NESTED = ("strax_defaults", "sub_run_spec", "tags")


_REMAKE = "Delete the folder and make the data again (or load it from an intact copy)"


class FileSystemBackend(StorageBackend):
    """Backend keys are folder paths. claim_wait: see DataDirectory."""

    claim_wait = CLAIM_WAIT_SECONDS      # for subclasses that do not call __init__
    reads_packed_metadata = True         # read_chunk reads a chunk's file name, n, checksum

    def __init__(self, claim_wait: float = CLAIM_WAIT_SECONDS):
        self.claim_wait = claim_wait
        # Bounded (see bounded_cache.py): a context that has looked at 10,000 subruns' data
        # keeps the metadata of the last METADATA_CACHE_ENTRIES folders parsed, not all.
        self._md_cache = BoundedCache(METADATA_CACHE_ENTRIES)
        self._checked = BoundedCache(METADATA_CACHE_ENTRIES)

    def get_metadata(self, folder):
        """The folder's metadata as written (parsed once per version of the file)."""
        try:
            path, st = stat_metadata(folder)
        except FileNotFoundError:
            raise DataNotAvailable(f"No metadata file in {folder}; the data there is incomplete "
                                   f"or was never written") from None
        except NotADirectoryError:
            raise StorageError(f"{_file_in_the_way(folder)} is a file where a data folder "
                               f"belongs; move or delete it") from None
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:    # such a name cannot have been stored
                raise DataNotAvailable(f"{folder}: the name is too long to be stored "
                                       f"here") from None
            raise os_error(e, "reading the metadata", metadata_path(folder)) from e
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._md_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as e:
            raise os_error(e, "reading the metadata", path) from e
        try:
            md = json.loads(text)
        except ValueError as e:
            raise DataCorrupted(f"Metadata file {path} is not valid JSON ({e}). "
                                f"{_REMAKE}") from e
        if not isinstance(md, dict):
            raise DataCorrupted(f"Metadata file {path} holds a {type(md).__name__}, not a JSON "
                                f"object. {_REMAKE}")
        md = compact_metadata(md)
        self._md_cache[path] = (stamp, md)
        return md

    def checked_metadata(self, folder, md=None):
        """get_metadata (or md, just read by the caller), after checking it against itself
        and the folder's files (once per version of the metadata file); raises DataCorrupted
        naming what is wrong."""
        if md is None:
            md = self.get_metadata(folder)
        if self._checked.get(folder) is not md:
            problems = metadata_problems(md, f"the metadata of {folder}")
            if not problems:
                problems = file_problems(folder, md)
            raise_if_problems(problems, f"Data in {folder}", _REMAKE)
            self._checked[folder] = md
        return md

    def read_chunk(self, folder, md, info, dtype, out=None):
        filename = info.get("filename") or f"{dirname_to_prefix(folder)}-{info['chunk_i']:06d}"
        path = os.path.join(folder, filename)
        if not info.get("n") and not (info.get("filename") and os.path.exists(path)):
            # An empty chunk has no file (early strax versions wrote one anyway). A file that
            # is there is always read, so rows the metadata says do not exist are reported,
            # never skipped.
            import numpy as np
            return np.zeros(0, dtype) if out is None else out
        try:
            return load_file(path, dtype, md["compressor"], n=info["n"], out=out,
                             checksum=info.get(CHECKSUM_FIELD))
        except OSError as e:
            raise os_error(e, "reading a chunk file", path) from e

    def saver(self, folder, metadata, replace=False):
        return FileSaver(folder, metadata, replace=replace, wait_seconds=self.claim_wait)

    # strax's hooks, for subclasses written for strax that call them on super()
    def _get_metadata(self, folder, **kwargs):
        return FileSystemBackend.get_metadata(self, folder)

    def _read_chunk(self, folder, chunk_info, dtype, compressor):
        md = {"compressor": compressor}
        return FileSystemBackend.read_chunk(self, folder, md, chunk_info, dtype)

    def _saver(self, folder, metadata, **kwargs):
        return FileSystemBackend.saver(self, folder, metadata,
                                       replace=kwargs.get("replace", False))


def _file_in_the_way(folder):
    """The folder, or the nearest directory above it, that is a file instead."""
    path = os.path.abspath(folder)
    while os.path.dirname(path) != path:
        if os.path.isfile(path):
            return path
        path = os.path.dirname(path)
    return folder


def chunk_filename(folder, info, i):
    chunk_i = info.get("chunk_i", i)
    return info.get("filename") or f"{dirname_to_prefix(folder)}-{int(chunk_i):06d}"


def file_problems(folder, md):
    """What does not match between consistent metadata and the files of its folder: listed
    files that are missing or of another size, and chunk files no entry lists (one listing
    of the folder, no file is read)."""
    try:
        present = {e.name: e for e in os.scandir(folder)}
    except OSError as e:
        return [f"the folder cannot be listed ({e})"]
    problems = []
    listed = set()
    prefix = dirname_to_prefix(folder)
    chunks = md.get("chunks")
    for i, info in enumerate(chunks if isinstance(chunks, list) else []):
        if not isinstance(info, dict):
            continue
        try:
            name = chunk_filename(folder, info, i)
        except (TypeError, ValueError):
            continue
        if not info.get("n") and not info.get("filename"):
            continue
        listed.add(name)
        entry = present.get(name)
        if entry is None:
            problems.append(MissingFile(f"chunk {i}: data file {name} is missing"))
            continue
        if "filesize" in info:
            try:
                size = entry.stat().st_size
            except OSError:
                continue
            if size != info["filesize"]:
                problems.append(f"chunk {i}: data file {name} has {size} bytes but the metadata "
                                f"says {info['filesize']}")
    unlisted = sorted(n for n in present if n.startswith(prefix + "-")
                      and n[len(prefix) + 1:].isdigit() and n not in listed)
    if unlisted:
        problems.append(f"chunk files {', '.join(unlisted[:5])} are in the folder but no chunk "
                        f"entry lists them (an entry was removed or emptied)")
    return problems


def _check_no_path_separator(run_id, error):
    """A run id is one name in the directory: with '/' it would write into (or, with '..',
    outside of) other directories."""
    if any(sep and sep in run_id for sep in ("/", os.sep, os.altsep)):
        raise error(f"Run id {run_id!r} contains a path separator, which a DataDirectory "
                    f"cannot store; use another run id")


def _flatten(doc, prefix=""):
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict) and k not in _KEEP_NESTED and not prefix + k in _KEEP_NESTED:
            out.update(_flatten(v, prefix=f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class DataDirectory(StorageFrontend):
    """Data and run documents in one local directory, laid out as strax 2.x lays them out.

    path, provide_run_metadata, readonly, deep_scan, overwrite ('never', 'if_broken',
    'always'), take_only, exclude: as strax's DataDirectory.

    claim_wait: seconds (default 600) a writer waits, when another live process holds the
    claim on the same data (it is making it too), for that process to store it. The waiting
    writer stores nothing itself; if the other still holds the claim when the wait ends, the
    call raises a StorageError naming the run, the data type and the claim file. 0 checks
    once and does not wait.
    """

    stores_superruns = True

    def __init__(self, path=".", provide_run_metadata=False, readonly=False, deep_scan=False,
                 overwrite="if_broken", take_only=(), exclude=(),
                 claim_wait: float = CLAIM_WAIT_SECONDS, **kwargs):
        if kwargs:
            import warnings
            warnings.warn(f"DataDirectory got unknown arguments {sorted(kwargs)}; they do "
                          f"nothing", UserWarning, stacklevel=2)
        if overwrite not in ("never", "if_broken", "always"):
            raise InvalidConfiguration(f"DataDirectory({path!r}): overwrite={overwrite!r} is "
                                       f"not one of 'never', 'if_broken', 'always'")
        super().__init__(readonly=readonly, provide_run_metadata=provide_run_metadata,
                         overwrite=overwrite, take_only=take_only, exclude=exclude)
        if path is None or not isinstance(path, (str, os.PathLike)) or str(path) == "":
            raise StorageError(f"DataDirectory needs the path of a directory, got {path!r}")
        self.path = os.fspath(path)
        self.deep_scan = deep_scan
        if (isinstance(claim_wait, bool) or not isinstance(claim_wait, numbers.Real)
                or not 0 <= claim_wait < float("inf")):
            raise InvalidArgument(f"DataDirectory({self.path!r}): claim_wait={claim_wait!r} is "
                                  f"not a number of seconds; pass e.g. claim_wait=600")
        self.claim_wait = float(claim_wait)
        self.backends = [FileSystemBackend(claim_wait=self.claim_wait)]
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise StorageError(f"DataDirectory({self.path!r}): that path is a file, not a "
                               f"directory; give a directory (it is created if missing)")
        if not readonly:
            try:
                os.makedirs(self.path, exist_ok=True)
            except OSError as e:
                raise os_error(e, "creating the data directory", self.path) from e

    def __repr__(self):
        return f"DataDirectory({self.path!r})"

    # --- data ------------------------------------------------------------------------------
    def _folder(self, key):
        check_no_dash(key.run_id, "run id")
        _check_no_path_separator(key.run_id, DataNotAvailable)
        return os.path.join(self.path, str(key))

    def _find(self, key):
        location = self._located_here(key)
        return location.backend, location.backend_key

    def _location(self, key):
        if type(self)._find is not DataDirectory._find:    # a subclass's own finding rules
            return super()._location(key)
        return self._located_here(key)

    def _located_here(self, key):
        """The folder of complete data of key and its metadata, checked against itself and
        its files first (DataCorrupted if they do not match)."""
        folder = self._folder(key)
        backend = self.backends[0]
        try:
            md = backend.get_metadata(folder)
        except DataNotAvailable:
            raise DataNotAvailable(f"{key} is not stored in {self.path}") from None
        if "exception" in md or "writing_ended" not in md:
            raise DataNotAvailable(f"{key} in {self.path} is incomplete (its write failed); it "
                                   f"will be made again")
        backend.checked_metadata(folder, md)
        return Location(backend, folder, md)

    def _writable(self, key):
        folder = self._folder(key)
        # 'never' as strax: a folder there (complete or not) is not written to. Otherwise
        # superstrax's rule: a saver keeps complete data unless asked to replace it (see
        # docs/migrating-from-strax.md).
        if self.overwrite == "never" and os.path.exists(folder):
            raise DataExistsError(at=folder, message=f"{key} is already in {self.path} and "
                                  f"this DataDirectory has overwrite='never'; remove {folder} "
                                  f"to write it again")
        return self.backends[0], folder

    def find(self, key, write=False, check_broken=True, allow_incomplete=False, fuzzy_for=(),
             fuzzy_for_options=()):
        """As StorageFrontend.find; with fuzzy_for (data types) or fuzzy_for_options
        (option names), data of the same run and type made with another lineage is found
        when its lineage differs only there (strax's fuzzy search)."""
        try:
            return super().find(key, write=write)
        except DataNotAvailable:
            if write or not (fuzzy_for or fuzzy_for_options) or not self.can_hold(key):
                raise
        for name in self.list_keys():
            run_id, data_type, _ = name.split("-")
            if run_id != key._run_id or data_type != key.data_type:
                continue
            folder = os.path.join(self.path, name)
            try:
                md = self.backends[0].get_metadata(folder)
            except (DataNotAvailable, DataCorrupted):
                continue
            if ("exception" in md or "writing_ended" not in md
                    or not lineage_matches(md.get("lineage", {}), key.lineage,
                                           tuple(fuzzy_for), tuple(fuzzy_for_options))):
                continue
            self.log.warning(f"Fuzzy match for {key}: using {name}, made with another lineage")
            return self.backends[0], folder
        raise DataNotAvailable(f"{key} is not stored in {self.path}, not even with another "
                               f"lineage differing only in {tuple(fuzzy_for)} / "
                               f"{tuple(fuzzy_for_options)}")

    def saver(self, key, metadata, replace=False):
        """A FileSaver for key. Complete data already stored is kept (the saver then writes
        nothing) unless replace=True; see file_saver.py for concurrent writers."""
        backend, folder = self.find(key, write=True)
        check_key_name_length(os.path.basename(folder), key.run_id, key.data_type)
        return backend.saver(folder, metadata, replace=replace)

    def list_keys(self):
        """Names of the complete data folders in this directory."""
        names = []
        if not os.path.isdir(self.path):
            return names
        for name in sorted(os.listdir(self.path)):
            full = os.path.join(self.path, name)
            if is_key_name(name) and os.path.isdir(full):
                names.append(name)
        return names

    def incomplete_writes(self):
        """Temp folders: writes in progress, or left by writes that failed or were killed."""
        if not os.path.isdir(self.path):
            return []
        return [n for n in sorted(os.listdir(self.path))
                if is_temp_name(n) and os.path.isdir(os.path.join(self.path, n))]

    def failed_write_metadata(self, key):
        """The metadata of the latest failed write of key: a temp folder of ours, or a
        folder strax renamed into place after its write failed (both record `exception`)."""
        if type(self)._find is not DataDirectory._find:     # a subclass's own finding rules
            return super().failed_write_metadata(key)
        if not self.can_hold(key):
            return None
        folder = self._folder(key)
        name = os.path.basename(folder)
        candidates = [folder] + [os.path.join(self.path, n) for n in self.incomplete_writes()
                                 if temp_key(n) == name]
        failed = []
        for candidate in candidates:
            try:
                md = self.backends[0].get_metadata(candidate)
            except (DataNotAvailable, DataCorrupted, StorageError):
                continue
            if isinstance(md, dict) and "exception" in md:
                failed.append((md.get("writing_ended") or 0, md))
        return max(failed, key=lambda f: f[0])[1] if failed else None

    def remove(self, key):
        if self.readonly:
            raise DataExistsError(f"{self} is readonly; cannot remove {key}")
        folder = self._folder(key)
        if os.path.isdir(folder):
            shutil.rmtree(folder)

    # --- run documents ---------------------------------------------------------------------
    def _run_meta_path(self, run_id):
        _check_no_path_separator(str(run_id), RunMetadataNotAvailable)
        return os.path.join(self.path, RUN_METADATA_PATTERN % run_id)

    def run_document_version(self, run_id):
        """The document file's modification time and size: other programs write these files."""
        try:
            st = os.stat(self._run_meta_path(str(run_id)))
        except (OSError, RunMetadataNotAvailable):
            return "absent"
        return (st.st_mtime_ns, st.st_size)

    def run_metadata(self, run_id, projection=None):
        doc, _ = self.versioned_run_metadata(run_id)
        if doc is None:
            raise RunMetadataNotAvailable(f"No run document for run {run_id} in {self.path} "
                                          f"(expected {self._run_meta_path(str(run_id))})")
        if projection is not None:
            doc = {k: v for k, v in doc.items() if k in projection}
        return doc

    def versioned_run_metadata(self, run_id):
        """The document and the version of the very file read (fstat of the open file), with
        one system call fewer than a check for the file before opening it."""
        try:
            path = self._run_meta_path(str(run_id))
        except RunMetadataNotAvailable:
            return None, "absent"          # a run id no file here can have
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            return None, "absent"
        except IsADirectoryError:
            raise StorageError(f"The run document of run {run_id} should be the file {path}, "
                               f"but that is not a file; move it away") from None
        except OSError as e:
            raise os_error(e, "reading a run document", path) from e
        try:
            with f:
                st = os.fstat(f.fileno())
                text = f.read()
        except OSError as e:
            raise os_error(e, "reading a run document", path) from e
        if not stat.S_ISREG(st.st_mode):
            raise StorageError(f"The run document of run {run_id} should be the file {path}, "
                               f"but that is not a file; move it away")
        return self._parse_run_doc(text, path), (st.st_mtime_ns, st.st_size)

    @classmethod
    def _read_run_doc(cls, path):
        """The flattened run document in the file at path (see _parse_run_doc)."""
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as e:
            raise os_error(e, "reading a run document", path) from e
        return cls._parse_run_doc(text, path)

    @staticmethod
    def _parse_run_doc(text, path):
        """The flattened run document; DataCorrupted (not 'no run document') if the file is
        there but is not a JSON object."""
        try:
            doc = json.loads(text, object_hook=_run_doc_hook)
        except (ValueError, TypeError, OverflowError) as e:
            raise DataCorrupted(f"Run document {path} exists but is not valid JSON ({e}); fix "
                                f"or rewrite it") from e
        if not isinstance(doc, dict):
            raise DataCorrupted(f"Run document {path} holds a {type(doc).__name__}, not a JSON "
                                f"object; fix or rewrite it")
        return _flatten(doc)

    def write_run_metadata(self, run_id, metadata):
        if self.readonly:
            raise DataExistsError(f"{self} is readonly; cannot write the run document of {run_id}")
        run_id = str(run_id)
        check_no_dash(run_id, "run id")
        doc = dict(metadata)
        doc.setdefault("name", run_id)
        # Top-level keys sorted as strax writes them; nested order kept, so sub_run_spec stays
        # in subrun start order on disk.
        doc = {k: doc[k] for k in sorted(doc)}
        text = json.dumps(doc, indent=4, default=_json_default)
        path = self._run_meta_path(run_id)
        try:
            os.makedirs(self.path, exist_ok=True)
            write_atomically(path, text)
        except OSError as e:
            raise os_error(e, f"writing the run document of run {run_id}", path) from e

    def scan_runs(self, store_fields=()):
        """Run documents in this directory (and with deep_scan, runs that only have data)."""
        if not self.provide_run_metadata and not self.deep_scan or not os.path.isdir(self.path):
            return
        seen = set()
        if self.provide_run_metadata:
            for path in sorted(glob.glob(os.path.join(glob.escape(self.path),
                                                      RUN_METADATA_PATTERN % "*"))):
                run_id = os.path.basename(path)[:-len("-metadata.json")]
                if "-" in run_id:
                    continue
                try:
                    doc = self._read_run_doc(path)
                except (RunMetadataNotAvailable, DataCorrupted, StorageError):
                    continue      # a broken document must not hide every other run
                doc.setdefault("name", run_id)
                seen.add(doc["name"])
                yield {k: v for k, v in doc.items() if k in store_fields or k == "name"}
        if self.deep_scan:
            for name in self.list_keys():
                run_id = name.split("-")[0]
                # Superrun folders carry a definition hash; their runs come from run documents.
                if is_superrun_id(run_id) or run_id in seen:
                    continue
                seen.add(run_id)
                yield {"name": run_id}

    def describe(self, key_name):
        """Metadata and on-disk size of a data folder, for tools like `superstrax runs`."""
        folder = os.path.join(self.path, key_name)
        md = self.backends[0].get_metadata(folder)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        return md, size


# strax's spelling of the name, which strax-style code imports
FileSytemBackend = FileSystemBackend

__all__ = ["DataDirectory", "FileSystemBackend", "FileSytemBackend", "FileSaver",
           "dirname_to_prefix", "metadata_path", "parse_dtype", "file_problems",
           "chunk_filename", "TEMP_SUFFIX", "REPLACED_MARK", "InvalidFolderNameFormat"]
