"""DataDirectory: strax 2.x's on-disk layout in a local directory.

    <path>/<run_id>-metadata.json                 run document
    <path>/<run>-<data_type>-<hash>/              one folder per DataKey
        <data_type>-<hash>-metadata.json         data metadata
        <data_type>-<hash>-000000 ...            one compressed file per non-empty chunk

Writes go to '<folder>_temp' and are renamed into place when complete, so a failed or
killed write never shows up as data, and data stored before is only replaced by a complete copy.
"""
import datetime
import glob
import json
import os
import shutil
import uuid

from ..errors import (DataCorrupted, DataExistsError, DataNotAvailable, RunMetadataNotAvailable,
                      SuperstraxError)
from .common import Saver, StorageBackend, StorageFrontend, dump_metadata, parse_dtype
from .io import load_file, save_file
from ..naming import check_no_dash, is_superrun_id

RUN_METADATA_PATTERN = "%s-metadata.json"
TEMP_SUFFIX = "_temp"


def _json_util():
    """bson's JSON helpers, which write and read run-document dates as strax does ({"$date":
    ...}); imported on first use of a run document, so data alone needs no pymongo."""
    try:
        from bson import json_util
    except ImportError:
        raise ImportError("Run documents store dates in MongoDB's JSON format, which needs "
                          "the 'pymongo' package: pip install pymongo") from None
    return json_util


def _read_options():
    # Run documents keep their datetimes timezone-aware (UTC), as the seed tutorial shows them.
    return _json_util().JSONOptions(tz_aware=True, tzinfo=datetime.timezone.utc)
# Nested dicts in run documents are flattened with '.', except these (strax does the same).
_KEEP_NESTED = ("strax_defaults", "sub_run_spec", "tags")


def _write_atomically(path, text):
    temp = f"{path}.{uuid.uuid4().hex[:8]}.writing"
    try:
        with open(temp, "w") as f:
            f.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def metadata_path(folder):
    """The data metadata file of a folder (the old name 'metadata.json' is read as fallback)."""
    prefix = dirname_to_prefix(folder)
    path = os.path.join(folder, f"{prefix}-metadata.json")
    if not os.path.exists(path):
        old = os.path.join(folder, "metadata.json")
        if os.path.exists(old):
            return old
    return path


def dirname_to_prefix(folder):
    name = os.path.basename(os.path.normpath(folder))
    if name.endswith(TEMP_SUFFIX):
        name = name[:-len(TEMP_SUFFIX)]
    return name.split("-", 1)[1]


class FileSystemBackend(StorageBackend):
    """Backend keys are folder paths."""

    def __init__(self):
        self._md_cache = {}

    def get_metadata(self, folder):
        path = metadata_path(folder)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DataNotAvailable(f"No metadata file in {folder}; the data there is incomplete "
                                   f"or was never written") from None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._md_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(path) as f:
                md = json.load(f)
        except (ValueError, OSError) as e:
            raise DataCorrupted(f"Metadata file {path} cannot be read ({e}). Delete {folder} "
                                f"and make the data again") from e
        self._md_cache[path] = (stamp, md)
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
        return load_file(path, dtype, md["compressor"], n=info["n"], out=out)

    def saver(self, folder, metadata):
        return FileSaver(folder, metadata)


class FileSaver(Saver):
    """Writes into '<folder>_temp'; renames it to '<folder>' once everything is written."""

    def __init__(self, folder, metadata):
        self.folder = os.path.normpath(folder)
        self.temp = self.folder + TEMP_SUFFIX
        self.prefix = dirname_to_prefix(self.folder)
        if os.path.exists(self.temp):
            shutil.rmtree(self.temp)     # a leftover of a killed write
        os.makedirs(self.temp)
        self.md_path = os.path.join(self.temp, f"{self.prefix}-metadata.json")
        try:
            super().__init__(metadata)
        except BaseException:
            # Metadata that cannot be written: leave no folder behind for it.
            shutil.rmtree(self.temp, ignore_errors=True)
            raise

    def _save_chunk(self, data, chunk_i):
        filename = f"{self.prefix}-{chunk_i:06d}"
        size = save_file(os.path.join(self.temp, filename), data, self.md["compressor"])
        return filename, size

    def _write_metadata(self):
        try:
            text = dump_metadata(self.md)
        except TypeError as e:
            raise SuperstraxError(
                f"Metadata of {self.md.get('run_id')}/{self.md.get('data_type')} is not plain "
                f"JSON ({e}); option values must be numbers, strings, lists, dicts or None") from e
        _write_atomically(self.md_path, text)

    def _discard(self):
        shutil.rmtree(self.temp, ignore_errors=True)

    def _finish(self, failed):
        if failed:
            # Keep what was written for inspection, under the temp name nothing loads from;
            # data stored before under this key is left untouched.
            return
        aside = None
        if os.path.exists(self.folder):
            aside = f"{self.folder}.replaced-{uuid.uuid4().hex[:8]}"
            os.rename(self.folder, aside)
        os.rename(self.temp, self.folder)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


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
    """Data and run documents in one local directory, laid out as strax 2.x lays them out."""

    stores_superruns = True

    def __init__(self, path=".", provide_run_metadata=False, readonly=False, deep_scan=False,
                 **kwargs):
        if kwargs:
            import warnings
            warnings.warn(f"DataDirectory got unknown arguments {sorted(kwargs)}; they do "
                          f"nothing", UserWarning, stacklevel=2)
        super().__init__(readonly=readonly, provide_run_metadata=provide_run_metadata)
        self.path = str(path)
        self.deep_scan = deep_scan
        self.backends = [FileSystemBackend()]
        if not readonly:
            os.makedirs(self.path, exist_ok=True)

    def __repr__(self):
        return f"DataDirectory({self.path!r})"

    # --- data ------------------------------------------------------------------------------
    def _folder(self, key):
        check_no_dash(key.run_id, "run id")
        _check_no_path_separator(key.run_id, DataNotAvailable)
        return os.path.join(self.path, str(key))

    def _find(self, key):
        folder = self._folder(key)
        backend = self.backends[0]
        try:
            md = backend.get_metadata(folder)
        except DataNotAvailable:
            raise DataNotAvailable(f"{key} is not stored in {self.path}") from None
        if "exception" in md or "writing_ended" not in md:
            raise DataNotAvailable(f"{key} in {self.path} is incomplete (its write failed); it "
                                   f"will be made again")
        return backend, folder

    def _writable(self, key):
        return self.backends[0], self._folder(key)

    def list_keys(self):
        """Names of the complete data folders in this directory."""
        names = []
        if not os.path.isdir(self.path):
            return names
        for name in sorted(os.listdir(self.path)):
            full = os.path.join(self.path, name)
            if (len(name.split("-")) == 3 and not name.endswith(TEMP_SUFFIX)
                    and ".replaced-" not in name and os.path.isdir(full)):
                names.append(name)
        return names

    def incomplete_writes(self):
        """Folders left by writes that failed or were killed."""
        if not os.path.isdir(self.path):
            return []
        return [n for n in sorted(os.listdir(self.path))
                if n.endswith(TEMP_SUFFIX) and os.path.isdir(os.path.join(self.path, n))]

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
        path = self._run_meta_path(str(run_id))
        if not os.path.exists(path):
            raise RunMetadataNotAvailable(f"No run document for run {run_id} in {self.path} "
                                          f"(expected {path})")
        doc = self._read_run_doc(path)
        if projection is not None:
            doc = {k: v for k, v in doc.items() if k in projection}
        return doc

    @staticmethod
    def _read_run_doc(path):
        try:
            json_util, options = _json_util(), _read_options()
            with open(path) as f:
                doc = json.loads(f.read(), object_hook=lambda d: json_util.object_hook(
                    d, json_options=options))
        except ValueError as e:
            raise RunMetadataNotAvailable(f"Run document {path} is not valid JSON ({e}); fix or "
                                          f"rewrite it") from e
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
        text = json.dumps(doc, indent=4, default=_json_util().default)
        os.makedirs(self.path, exist_ok=True)
        _write_atomically(self._run_meta_path(run_id), text)

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
                except RunMetadataNotAvailable:
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


__all__ = ["DataDirectory", "FileSystemBackend", "FileSaver", "dirname_to_prefix",
           "metadata_path", "parse_dtype"]
