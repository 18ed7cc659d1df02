"""Storage contracts: how data is found and read (StorageFrontend with a StorageBackend) and
written (Saver). Concrete storage lives in sibling modules; keys.py names data (DataKey),
reading.py reads chunks back, strax_style.py adapts classes written in strax's style."""
import json
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..chunk import Chunk
from ..errors import (DataCorrupted, DataNotAvailable, InvalidConfiguration, RunMetadataNotAvailable,
                      SuperstraxError)
from ..errors import EmptyDataWarning  # noqa: F401 (strax's strax.storage.common path)
from ..kernels import endtimes
from . import strax_style
from .keys import DataKey  # noqa: F401  (named here since the storage contracts began)
from .shared_metadata import SubrunMap
# Names that lived here before the strax-style adapters moved to strax_style.py.
from .strax_style import (MONGO_MESSAGE, MongoStorageNotProvided, StorageType,  # noqa: F401
                          _STRAX_BACKEND_METHODS, _defined_at, _strax_get_metadata,
                          _strax_read_chunk, _strax_saver, finds_strax_style, logger_for,
                          saves_strax_style)
from .strax_style import announcing_changes as _announcing_changes  # noqa: F401
# ... and before reading moved to reading.py
from .reading import (PREFETCH_MIN_BYTES, Arena, _dtype_from_string,  # noqa: F401
                      _overlaps, _prefetch_pool, iter_stored_chunks, parse_dtype)
from .strax_style import nothing as _nothing


def chunk_info(chunk, chunk_i, compact=False):
    """The metadata entry strax writes for one chunk (the file fields are added on save);
    compact: its subruns as a SubrunMap."""
    subruns = _plain_subruns(chunk.subruns)
    if compact and subruns:
        subruns = SubrunMap(subruns)
    info = {"chunk_i": int(chunk_i), "start": int(chunk.start), "end": int(chunk.end),
            "n": int(len(chunk)), "nbytes": int(chunk.nbytes), "run_id": str(chunk.run_id),
            "subruns": subruns}
    data = chunk.data
    if len(data) and "time" in (data.dtype.names or ()):
        first_last = data[[0, -1]]
        ends = endtimes(first_last)
        info.update(first_time=int(first_last["time"][0]), last_time=int(first_last["time"][1]),
                    first_endtime=int(ends[0]), last_endtime=int(ends[1]))
    return info


def _plain_subruns(subruns):
    if not subruns:
        return None
    return {str(k): {"start": int(v["start"]), "end": int(v["end"])} for k, v in subruns.items()}


class Saver(ABC):
    """Writes the chunks of one key, then its completed metadata.

    Subclasses say where bytes go (_save_chunk, _write_metadata) and how a finished write is
    made visible (_finish); this class keeps the metadata strax readers expect.
    _write_metadata is called twice: when the saver opens (chunks empty) and when it closes
    (complete); _save_chunk returns (filename, size), optionally with a dict of more fields
    for the chunk's metadata entry.

    strax-style savers (`_save_chunk(data, chunk_info, executor=None)` returning (extra chunk
    fields, future), `_save_chunk_metadata(chunk_info)`, `_close()`) work too: their hooks are
    called as strax calls them, and `_close` is where such a saver makes its data visible.
    """

    allow_rechunk = True
    allow_fork = True
    is_forked = False
    # True for a saver whose metadata only goes through metadata_pieces (FileSaver): its
    # chunk entries then keep their subruns as SubrunMaps, a tenth of the dicts' size.
    compact_subruns = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._strax_style = strax_style.adapt_saver_class(cls)

    def __init__(self, metadata, saver_timeout=300):
        self.md = metadata if type(self)._strax_style else dict(metadata)
        self.md["writing_started"] = time.time()
        self.md["chunks"] = []
        self.closed = False
        self.saver_timeout = saver_timeout
        if not type(self)._strax_style:
            self._write_metadata()

    @property
    def log(self):
        return logger_for(self)

    def save(self, chunk: Chunk, chunk_i: int | None = None) -> None:
        if self.closed:
            raise SuperstraxError(f"saver for {self.md.get('run_id')}/{self.md.get('data_type')} "
                                  f"is already closed")
        chunk_i = len(self.md["chunks"]) if chunk_i is None else chunk_i
        # (a strax-style saver's hooks get plain dicts, as strax gives them)
        info = chunk_info(chunk, chunk_i,
                          compact=self.compact_subruns and not type(self)._strax_style)
        if type(self)._strax_style:
            strax_style.strax_save_chunk(self, chunk, info)
            return
        if len(chunk):
            # (filename, size) or (filename, size, {more fields of the chunk's entry})
            filename, filesize, *extra = self._save_chunk(chunk.data, chunk_i)
            info["filename"], info["filesize"] = filename, int(filesize)
            if extra and extra[0]:
                info.update(extra[0])
        if not self.md["chunks"]:
            self.md["start"] = info["start"]
        self.md["chunks"].append(info)
        # The metadata is written when the saver opens and when it closes, not per chunk:
        # rewriting the growing chunk list after every chunk made a write of n chunks cost
        # n^2 (a superrun's chunk entries carry their subruns, so each entry can be large).
        # Until close the data lives where nothing loads from (a temp folder or key), so a
        # write killed midway leaves only a folder that the next writer removes.

    def close(self, exception: BaseException | None = None, discard: bool = False) -> None:
        """Finish the write; with an exception it is kept as a failed write, and with
        discard=True (the caller stopped reading on purpose) what was written is removed."""
        if self.closed:
            return
        self.closed = True
        if discard:
            self._discard()
            return
        chunks = self.md["chunks"]
        if chunks:
            self.md["start"], self.md["end"] = chunks[0]["start"], chunks[-1]["end"]
        self.md["writing_ended"] = time.time()
        if exception is not None:
            self.md["exception"] = "".join(traceback.format_exception(
                type(exception), exception, exception.__traceback__))
        if type(self)._strax_style:
            self._close()
            return
        self._write_metadata()
        self._finish(failed=exception is not None)

    #: Set by a caller that will call settle() after closing this saver and the others of
    #: its stream; a saver may then put off waiting for another writer from close to settle.
    settles_later = False

    def settle(self) -> bool:
        """Called after every saver of the same stream is closed: a saver that left its data
        to another writer may wait here for that writer to finish (FileSaver does). False:
        it cannot wait yet, ask again later (the caller's caller does)."""
        return True

    def _save_chunk_metadata(self, chunk_info):
        """strax's hook: one chunk's metadata entry was added (strax-style savers)."""

    def _close(self):
        """strax's hook: every chunk is written and md is complete (strax-style savers)."""

    @abstractmethod
    def _save_chunk(self, data, chunk_i):
        """See the class docstring."""

    @abstractmethod
    def _write_metadata(self):
        """See the class docstring."""

    @abstractmethod
    def _finish(self, failed):
        """See the class docstring."""

    @abstractmethod
    def _discard(self):
        """See the class docstring."""


class KeptDataSaver(Saver):
    """The saver of a key whose complete data is already stored and is kept: it writes
    nothing (a strax-style frontend's saver without replace=True)."""

    passive = True

    def _save_chunk(self, data, chunk_i):
        return "", 0

    _write_metadata = _finish = _discard = _nothing


class StorageBackend(ABC):
    """Reads and writes the data of backend keys (for files: folder paths).

    A subclass implements get_metadata, read_chunk and saver — or strax's hooks
    `_get_metadata(backend_key)`, `_read_chunk(backend_key, chunk_info, dtype, compressor)`
    and `_saver(backend_key, metadata, **kwargs)`, on which the three are then built.
    """

    _STRAX_HOOKS = strax_style.BACKEND_HOOKS
    # True when reading (read_chunk, iter_chunks with md=) needs of the metadata only what
    # shared_metadata.MetadataPack keeps: a plan over a superrun of thousands of subruns then
    # holds their metadata packed, ~100 bytes a subrun. A backend written for strax may read
    # any field in its hooks, so this is off unless a backend says so.
    reads_packed_metadata = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        strax_style.adapt_backend_class(cls)
        own = vars(cls)
        if "reads_packed_metadata" not in own and any(
                m in own for m in ("read_chunk", "_read_chunk", "iter_chunks")):
            cls.reads_packed_metadata = False     # its own reading may need any field

    @property
    def log(self):
        return logger_for(self)

    @abstractmethod
    def get_metadata(self, backend_key) -> dict:
        """The data metadata of backend_key (strax's fields, with 'chunks')."""

    @abstractmethod
    def read_chunk(self, backend_key, md: dict, chunk_info: dict, dtype: np.dtype,
                   out: np.ndarray | None = None) -> np.ndarray:
        """The rows of one chunk; decoded into `out` (n rows of dtype) when given."""

    @abstractmethod
    def saver(self, backend_key, metadata: dict, replace: bool = False) -> "Saver":
        """A Saver that writes to backend_key (replacing complete data there only if
        replace=True)."""

    def loader(self, backend_key, time_range=None, chunk_number=None, executor=None):
        """strax's name: the chunks of backend_key (chunk_number: one number or a list)."""
        if chunk_number is not None and not isinstance(chunk_number, (list, tuple, set)):
            chunk_number = [chunk_number]
        return self.iter_chunks(backend_key, time_range=time_range, chunk_numbers=chunk_number)

    def iter_chunks(self, backend_key, time_range=None, chunk_numbers=None, prefetch=2,
                    arena=None, md: dict | None = None):
        """Chunks of a stored key in order; big files are read and decoded ahead in two
        threads (file reads and the decompressors run without the GIL: io.py sets
        python-blosc to release it, which it does not by default).

        With an `arena` (see Arena) chunks are decoded into consecutive slices of one
        preallocated array, so a caller wanting one array needs no copy at the end.
        """
        if md is None:    # callers that located the key already pass what they read
            md = self.get_metadata(backend_key)
        yield from iter_stored_chunks(self.read_chunk, backend_key, md, time_range=time_range,
                                      chunk_numbers=chunk_numbers, prefetch=prefetch,
                                      arena=arena)


@dataclass(frozen=True)
class Location:
    """Complete stored data of one key: its backend, backend key and the metadata read (and,
    for files, checked against the files) when it was found."""
    backend: "StorageBackend"
    backend_key: object
    metadata: dict

    def chunks(self, time_range=None, chunk_numbers=None, arena=None):
        return self.backend.iter_chunks(self.backend_key, time_range=time_range,
                                        chunk_numbers=chunk_numbers, arena=arena,
                                        md=self.metadata)


class StorageFrontend(strax_style.StraxFrontendNames, ABC):
    """Finds keys in one storage and hands out loaders and savers for them.

    How to write a frontend (docs/internals.md has the long version):

    - Declare what it can hold with the capability attributes below (class attributes or
      constructor arguments): `stores_data`, `stores_run_documents`, `stores_superruns`, and
      `readonly` (it writes nothing). strax's names `provide_run_metadata` and
      `provide_superruns` are the same flags under their old names, also as class attributes
      of a subclass.
    - Data: implement `_find(key)` -> (backend, backend_key) of *complete* data, raising
      `DataNotAvailable` otherwise, and `_writable(key)` -> (backend, backend_key) to write
      to. The backend (a `StorageBackend`) reads metadata and chunks and hands out a `Saver`,
      which must make a write visible to `_find` only once it is complete, and must keep
      complete data already stored under the key (writing nothing) unless it was made with
      replace=True: another writer made it meanwhile, and readers may be reading it. Of
      several savers of one key at once, exactly one complete copy remains.
    - Run documents (when `stores_run_documents`): implement `_read_run_document(run_id)`
      (raise `RunMetadataNotAvailable` when absent), `_write_run_document(run_id, doc)` and
      `scan_runs(store_fields)`. The run registry of a context caches documents by
      `run_document_version(run_id)`; writes through `write_run_metadata` bump it for you.
      A frontend whose documents can change behind its back (files other programs write)
      overrides `run_document_version` with a token of its own (DataDirectory: the file's
      modification time and size), or calls `run_document_changed(run_id)` when it learns of
      a change.
    - Check it: subclass `superstrax.testing.FrontendConformance` in a test and give it a
      `make_frontend(tmp_path)`.

    strax-style subclasses work as well: `_find(key, write, allow_incomplete, fuzzy_for,
    fuzzy_for_options)` answering (backend class name, backend key) of `self.backends`,
    `_scan_runs(store_fields)`, and run documents through overriding `run_metadata` /
    `write_run_metadata`; `find` then answers as strax's does (backend name, key), checks
    take_only/exclude, broken data and existing data before writes, as strax.
    """

    #: strax: how far away the data is (used to order frontends)
    storage_type = StorageType.LOCAL

    #: It holds data (False for a frontend that only serves run documents).
    stores_data: bool = True
    #: It holds run documents (strax: provide_run_metadata).
    stores_run_documents: bool = False
    #: It holds data of superruns (strax: provide_superruns).
    stores_superruns: bool = False
    #: It writes nothing: no data, no run documents.
    readonly: bool = False
    #: Attributes holding local paths. A relative one is made absolute (in a copy) when the
    #: frontend is sent to worker processes, which may run in another working directory.
    local_path_attributes: tuple = ("path",)

    _OLD_NAMES = strax_style.OLD_CAPABILITY_NAMES

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        strax_style.adapt_frontend_class(cls)

    def __init__(self, readonly: bool = False, provide_run_metadata: bool | None = None,
                 overwrite: str = "if_broken", take_only=(), exclude=(),
                 provide_superruns: bool | None = None):
        self.readonly = bool(readonly)
        if provide_run_metadata is not None:
            self.stores_run_documents = bool(provide_run_metadata)
        if provide_superruns is not None:
            self.stores_superruns = bool(provide_superruns)
        # strax's arguments, kept for frontends that implement its finding rules
        self.overwrite = overwrite
        self.take_only = (take_only,) if isinstance(take_only, str) else tuple(take_only)
        self.exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
        self.backends = []
        self._run_document_versions = {}

    @property
    def can_define_runs(self) -> bool:
        """It can store a new run document (superrun definitions are written to it)."""
        return self.stores_run_documents and not self.readonly

    def can_hold(self, key: "DataKey") -> bool:
        """Whether data of key can be stored here at all (by capability, not by content)."""
        return (self.stores_data and (not key.is_superrun or self.stores_superruns)
                and self._we_take(key.data_type))

    def _we_take(self, data_type: str) -> bool:
        """strax's take_only / exclude: whether data_type is held here."""
        return not (data_type in self.exclude
                    or (self.take_only and data_type not in self.take_only))

    @property
    def log(self):
        return logger_for(self)

    def _get_backend(self, name):
        """The backend in self.backends whose class is called name (strax's lookup)."""
        return strax_style.backend_named(self, name)

    def can_write(self, key: "DataKey") -> bool:
        return self.can_hold(key) and not self.readonly

    # --- finding ----------------------------------------------------------------------------
    @abstractmethod
    def _find(self, key: "DataKey"):
        """(backend, backend_key) of complete data for key, or raise DataNotAvailable."""

    def _writable(self, key: "DataKey"):
        """(backend, backend_key) to write key's data to."""
        raise DataNotAvailable(f"{self!r} cannot write data ({key}): it implements no _writable")

    def find(self, key: "DataKey", write: bool = False, check_broken: bool = True,
             allow_incomplete: bool = False, fuzzy_for=(), fuzzy_for_options=()):
        """Where key's data is (write=False) or goes (write=True); DataNotAvailable if not.

        A superstrax-style frontend answers (backend, backend key); a strax-style one
        (backend class name, backend key), as strax does."""
        if not self.can_hold(key):
            what = "superrun data" if key.is_superrun else f"data of type {key.data_type}"
            raise DataNotAvailable(f"{self!r} does not store {what} ({key})")
        if write and self.readonly:
            raise DataNotAvailable(f"{self!r} is readonly; cannot write {key}")
        if not type(self)._strax_find:
            return self._writable(key) if write else self._find(key)
        return strax_style.strax_find(self, key, write, check_broken, allow_incomplete,
                                      fuzzy_for, fuzzy_for_options)

    def _locate(self, key: "DataKey", write: bool = False, **find_options):
        """(backend object, backend key), whichever style the frontend is written in."""
        where, backend_key = self.find(key, write=write, **find_options)
        if isinstance(where, str):
            where = self._get_backend(where)
        return where, backend_key

    def locate(self, key: "DataKey", fuzzy_for=(), fuzzy_for_options=()) -> "Location | None":
        """Where complete data of key is, with its metadata: one lookup and one metadata read
        (and check) that a caller reuses for the rest of one call (a plan keeps it).

        With fuzzy_for (data types) or fuzzy_for_options (option names), data of another
        lineage that differs only there stands in when the exact key is not stored, for
        frontends whose find does fuzzy search (DataDirectory does)."""
        if type(self)._strax_find:    # answers strax's (backend name, key): no Location
            self.find(key)
            return None
        if not self.can_hold(key):
            what = "superrun data" if key.is_superrun else f"data of type {key.data_type}"
            raise DataNotAvailable(f"{self!r} does not store {what} ({key})")
        try:
            return self._location(key)
        except DataNotAvailable:
            if not (fuzzy_for or fuzzy_for_options):
                raise
        backend, backend_key = self._locate(key, fuzzy_for=tuple(fuzzy_for),
                                            fuzzy_for_options=tuple(fuzzy_for_options))
        metadata = backend.get_metadata(backend_key)
        checked = getattr(backend, "checked_metadata", None)
        if checked is not None:
            checked(backend_key, metadata)
        return Location(backend, backend_key, metadata)

    def _location(self, key: "DataKey") -> "Location":
        """Override when _find already reads the metadata, to hand it on instead of reading
        it twice (DataDirectory does; _locate is another thing: strax-style finding)."""
        backend, backend_key = self._find(key)
        return Location(backend, backend_key, backend.get_metadata(backend_key))

    def is_stored(self, key: "DataKey", **find_options) -> bool:
        try:
            self.find(key, **find_options)
            return True
        except DataNotAvailable:
            return False

    def find_several(self, keys, **find_options) -> list:
        """For each key: where it is (as find answers), or False (strax's answer)."""
        found = []
        for key in keys:
            try:
                found.append(self.find(key, **find_options))
            except DataNotAvailable:
                found.append(False)
        return found

    def get_metadata(self, key: "DataKey", **find_options) -> dict:
        backend, backend_key = self._locate(key, **find_options)
        return backend.get_metadata(backend_key)

    def failed_write_metadata(self, key: "DataKey") -> "dict | None":
        """The metadata of the latest failed write of key kept here (it holds the
        `exception`), or None. Never data to load: what strax's get_metadata shows for
        broken data. A strax-style frontend answers with its find(check_broken=False)."""
        if not type(self)._strax_find or not self.can_hold(key):
            return None
        try:
            md = self.get_metadata(key, check_broken=False)
        except (DataNotAvailable, DataCorrupted):
            return None
        return md if isinstance(md, dict) and "exception" in md else None

    def loader(self, key: "DataKey", time_range=None, chunk_numbers=None, arena=None,
               **find_options):
        """A generator of the stored chunks of key (only those touching time_range if given)."""
        backend, backend_key = self._locate(key, **find_options)
        return backend.iter_chunks(backend_key, time_range=time_range,
                                   chunk_numbers=chunk_numbers, arena=arena)

    def saver(self, key: "DataKey", metadata: dict, replace: bool = False, **kwargs) -> "Saver":
        """A Saver for key; complete data stored under key is kept unless replace=True
        (extra keyword arguments go to a strax-style backend's _saver)."""
        if not type(self)._strax_find:
            backend, backend_key = self._locate(key, write=True)
            if replace:
                kwargs["replace"] = True
            return backend.saver(backend_key, metadata, **kwargs)
        saver = strax_style.strax_saver(self, key, metadata, replace, **kwargs)
        return KeptDataSaver(metadata) if saver is None else saver

    def remove(self, key: "DataKey") -> None:
        """Forget key's data (strax: frontends that can, implement it)."""
        raise NotImplementedError(f"{self!r} cannot remove data ({key})")

    # --- run documents ---------------------------------------------------------------------
    def run_metadata(self, run_id: str, projection=None) -> dict:
        """The run document of run_id (only the fields in projection, if given)."""
        if not self.stores_run_documents:
            raise RunMetadataNotAvailable(f"{self!r} does not store run documents "
                                          f"(provide_run_metadata=False); run {run_id} is not here")
        doc = self._read_run_document(str(run_id))
        if projection is not None:
            projection = (projection,) if isinstance(projection, str) else projection
            doc = {k: v for k, v in doc.items() if k in projection}
        return doc

    def write_run_metadata(self, run_id: str, metadata: dict) -> None:
        """Store the run document of run_id (replacing any there) and say it changed."""
        if not self.stores_run_documents:
            raise InvalidConfiguration(
                f"{self!r} does not store run documents (provide_run_metadata=False), so the run "
                f"document of {run_id} cannot be written to it; use a storage created with "
                f"provide_run_metadata=True")
        if self.readonly:
            raise InvalidConfiguration(f"{self!r} is readonly; cannot write the run document of "
                                       f"{run_id}")
        self._write_run_document(str(run_id), dict(metadata))
        self.run_document_changed(run_id)

    def _read_run_document(self, run_id: str) -> dict:
        raise RunMetadataNotAvailable(f"{self!r} implements no way to read run documents")

    def _write_run_document(self, run_id: str, doc: dict) -> None:
        raise InvalidConfiguration(f"{self!r} implements no way to write run documents")

    def run_document_version(self, run_id: str):
        """A token that changes whenever run_id's document here changes, or None when none
        can be given (the document is then read on every use).

        The run registry keeps a document only while this token stays the same. The default
        is a counter bumped by run_document_changed, so it only knows of changes this
        frontend was told about; it is None for a run it was never told of.
        """
        return vars(self).get("_run_document_versions", {}).get(str(run_id))

    def versioned_run_metadata(self, run_id: str):
        """(run_id's document, or None if this frontend has none; the version of what was
        read). The run registry reads through this. The version is taken before the read, so
        a change during the read shows as a new version on the next use. A frontend that can
        read both at once (DataDirectory: fstat of the open file) overrides it."""
        version = self.run_document_version(run_id)
        try:
            return self.run_metadata(run_id), version
        except RunMetadataNotAvailable:
            return None, version

    def run_document_changed(self, run_id: str) -> None:
        """The hook through which a frontend says run_id's document was written or removed,
        so that cached copies are dropped."""
        versions = vars(self).setdefault("_run_document_versions", {})
        versions[str(run_id)] = versions.get(str(run_id), 0) + 1

    def define_run(self, name: str, sub_run_spec, **metadata) -> None:
        """strax's: write a run document defining run `name` from sub_run_spec."""
        self.write_run_metadata(name, dict(sub_run_spec=sub_run_spec, **metadata))

    def scan_runs(self, store_fields=()):
        """An iterator of run documents (only the name and store_fields of each); a
        strax-style subclass answers it with `_scan_runs(store_fields)`."""
        if self.stores_run_documents:
            yield from self._scan_runs(tuple(store_fields))

    def _scan_runs(self, store_fields):
        return iter(())

    def __repr__(self):
        return f"{type(self).__name__}()"


class MongoFrontend(StorageFrontend):
    """A name only: strax's MongoDB data storage is not provided. Code that subclasses it
    (straxen's OnlineMonitor) imports; making one raises MongoStorageNotProvided."""

    def __init__(self, *args, **kwargs):
        raise MongoStorageNotProvided(MONGO_MESSAGE)

    def _find(self, key, write, allow_incomplete, fuzzy_for, fuzzy_for_options):
        raise DataNotAvailable(MONGO_MESSAGE)


def _plain_json(value):
    """numpy scalars and arrays (e.g. an option set to np.int64(43)) as plain JSON values.

    They hash like Python numbers, so the lineage is the same; strax's metadata write fails on
    them, here they are written as the numbers they are."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, SubrunMap):
        return dict(value.items())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_METADATA_ENCODER = json.JSONEncoder(sort_keys=True, indent=4, default=_plain_json)


def metadata_pieces(md):
    """Data metadata exactly as strax writes it (sorted keys, indent 4, no trailing
    newline), in pieces to be written as they come: a superrun of 10,000 subruns has
    metadata of several MB, and json.dumps holds every piece in a list (several times the
    text) before it joins them."""
    return _METADATA_ENCODER.iterencode(md)
