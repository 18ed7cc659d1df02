"""strax 2.2.3's storage protocol for subclasses, next to superstrax's own.

Frontends, backends and savers written for strax (straxen's RunDB and Rucio frontends, ...)
override strax's hooks: `_find(key, write, allow_incomplete, fuzzy_for, fuzzy_for_options)`
returning a backend *name* and key, `_get_metadata` / `_read_chunk` / `_saver` on backends,
`_save_chunk(data, chunk_info, executor)` / `_save_chunk_metadata` / `_close` on savers.
The classes in common.py tell which style a subclass is written in with the helpers here,
and run either: the adapters below fill superstrax's contract in from strax's hooks (for
backends and savers, when a subclass is made) or follow strax's rules (a frontend's `find`
and `saver`). This module imports nothing of common.py; common.py calls into it.
"""
import functools
import inspect
import logging
from enum import IntEnum

import numpy as np

from ..errors import DataExistsError, DataNotAvailable


class StorageType(IntEnum):
    """How far away a frontend's data is (strax's values; lower is faster to load)."""
    MEMORY = 0
    LOCAL = 1
    ONLINE = 2
    COMPRESSED = 3
    REMOTE = 4
    TAPE = 10


def _positional_names(function):
    params = list(inspect.signature(function).parameters.values())
    return [p.name for p in params[1:]          # without self
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def finds_strax_style(cls) -> bool:
    """Whether cls._find takes strax's arguments (write, allow_incomplete, fuzzy...), so that
    it answers a backend name, not a backend object."""
    find = getattr(cls, "_find", None)
    if find is None or getattr(find, "__isabstractmethod__", False):
        return False
    names = _positional_names(find)
    return len(names) > 1 or any(
        p.kind == p.VAR_KEYWORD for p in inspect.signature(find).parameters.values())


def saves_strax_style(cls) -> bool:
    """Whether cls._save_chunk is strax's (data, chunk_info, executor) hook."""
    save = getattr(cls, "_save_chunk", None)
    if save is None or getattr(save, "__isabstractmethod__", False):
        return False
    names = _positional_names(save)
    return len(names) >= 2 and names[1] == "chunk_info"


def logger_for(obj) -> logging.Logger:
    """strax's `.log` of a storage object: a logger named after its class."""
    return logging.getLogger(type(obj).__name__)


def lineage_matches(stored: dict, wanted: dict, fuzzy_for=(), fuzzy_for_options=()) -> bool:
    """Whether a stored lineage may stand in for the wanted one when plugins (fuzzy_for: data
    types) or options (fuzzy_for_options) may differ, as strax's fuzzy search allows.

    A lineage maps data type -> (plugin name, version, {option: value}); data types in
    fuzzy_for are ignored whole, options in fuzzy_for_options wherever they occur. The same
    data types must be present in both.
    """
    stored, wanted = dict(stored), dict(wanted)
    if set(stored) != set(wanted):
        return False
    for data_type, want in wanted.items():
        if data_type in fuzzy_for:
            continue
        have = stored[data_type]
        if list(have[:2]) != list(want[:2]):
            return False
        have_opts = {k: v for k, v in dict(have[2]).items() if k not in fuzzy_for_options}
        want_opts = {k: v for k, v in dict(want[2]).items() if k not in fuzzy_for_options}
        if _plain(have_opts) != _plain(want_opts):
            return False
    return True


def _plain(value):
    # A lineage read back from JSON has lists where the context's has tuples.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class MongoStorageNotProvided(ImportError):
    """strax's MongoDB data storage (MongoFrontend) is not part of superstrax."""


MONGO_MESSAGE = (
    "superstrax does not provide strax's MongoDB data storage (MongoFrontend, MongoBackend, "
    "MongoSaver; strax.storage.mongo): it is not implemented. Keep such data in a "
    "DataDirectory, or subclass superstrax.StorageFrontend/StorageBackend for your server "
    "(docs/internals.md, 'How to add a frontend').")


# --- frontends ----------------------------------------------------------------------------
#: strax's names of two frontend capabilities -> superstrax's
OLD_CAPABILITY_NAMES = {"provide_run_metadata": "stores_run_documents",
                        "provide_superruns": "stores_superruns"}


def _capability(name):
    def set_(self, value):
        setattr(self, name, bool(value))
    return property(lambda self: getattr(self, name), set_, doc=f"strax's name of {name}")


class StraxFrontendNames:
    """strax's names of two frontend capabilities, as properties over superstrax's (a base of
    StorageFrontend)."""

    provide_run_metadata = _capability("stores_run_documents")
    provide_superruns = _capability("stores_superruns")


def adapt_frontend_class(cls) -> None:
    """Called for every StorageFrontend subclass: strax's class attributes read as the
    capabilities they are (so the two spellings can never disagree), whether its `_find` is
    strax's (`cls._strax_find`), and a `write_run_metadata` of its own announces changes."""
    for old, new in OLD_CAPABILITY_NAMES.items():
        if old in cls.__dict__ and not isinstance(cls.__dict__[old], property):
            setattr(cls, new, bool(cls.__dict__[old]))
            delattr(cls, old)
    cls._strax_find = finds_strax_style(cls)
    own_write = cls.__dict__.get("write_run_metadata")
    if own_write is not None and not getattr(own_write, "_announces_changes", False):
        # strax-style subclasses write documents themselves: tell the run registry.
        cls.write_run_metadata = announcing_changes(own_write)


def announcing_changes(write):
    """write_run_metadata wrapped to call run_document_changed after writing."""
    @functools.wraps(write)
    def write_run_metadata(self, run_id, metadata, *args, **kwargs):
        result = write(self, run_id, metadata, *args, **kwargs)
        self.run_document_changed(run_id)
        return result
    write_run_metadata._announces_changes = True
    return write_run_metadata


def backend_named(frontend, name):
    """The backend in frontend.backends whose class is called name (strax's lookup)."""
    for backend in frontend.backends:
        if type(backend).__name__ == name:
            return backend
    raise KeyError(f"{frontend!r} has no storage backend {name}; it has "
                   f"{[type(b).__name__ for b in frontend.backends]}")


def strax_find(frontend, key, write, check_broken, allow_incomplete, fuzzy_for,
               fuzzy_for_options):
    """A strax-style frontend's find, after the capability checks: (backend name, backend
    key), refusing complete data for a write and broken or incomplete data for a read."""
    fuzzy = dict(allow_incomplete=allow_incomplete, fuzzy_for=tuple(fuzzy_for),
                 fuzzy_for_options=tuple(fuzzy_for_options))
    if write:
        # strax: find(write=True) never points at complete data (see saver for replacing)
        try:
            at = frontend.find(key, **fuzzy)
        except DataNotAvailable:
            pass
        else:
            raise DataExistsError(at=at, message=f"{key} is already stored at {at} in "
                                                 f"{frontend!r}; remove it to write it again")
    try:
        name, backend_key = frontend._find(key, write, **fuzzy)
    except DataNotAvailable as e:
        raise DataNotAvailable(f"{key} is not in {frontend!r} ({e})") from e
    if not write and check_broken:
        md = backend_named(frontend, name).get_metadata(backend_key)
        if "exception" in md:
            raise DataNotAvailable(f"{key} in {frontend!r} ({backend_key}) is broken: its "
                                   f"write failed with {md['exception'].splitlines()[-1:]}")
        if "writing_ended" not in md and not allow_incomplete:
            raise DataNotAvailable(f"{key} in {frontend!r} ({backend_key}) is incomplete (no "
                                   f"writing_ended); it is being written or its writer died")
    return name, backend_key


def strax_saver(frontend, key, metadata, replace, **kwargs):
    """A strax-style frontend's saver for key, or None when complete data is stored and is
    kept (replace=False): the caller then hands out a saver that writes nothing."""
    if not replace:
        if frontend.is_stored(key):
            return None
        name, backend_key = frontend.find(key, write=True)
    else:
        # strax's find(write=True) refuses complete data; replacing asks _find directly
        if not frontend.can_write(key):
            raise DataNotAvailable(f"{frontend!r} cannot write {key}")
        name, backend_key = frontend._find(key, True, allow_incomplete=False, fuzzy_for=(),
                                           fuzzy_for_options=())
    saver = backend_named(frontend, name).saver(backend_key, metadata, **kwargs)
    saver.replace = replace     # a strax-style saver may read it when it closes
    return saver


# --- backends -----------------------------------------------------------------------------
#: superstrax's backend methods -> the strax hooks they can be built on
BACKEND_HOOKS = {"get_metadata": "_get_metadata", "read_chunk": "_read_chunk",
                 "saver": "_saver"}


def _defined_at(cls, name):
    """Index in cls's MRO of the class that defines name itself, or None."""
    for i, klass in enumerate(cls.__mro__):
        if name in klass.__dict__:
            return i
    return None


def _strax_get_metadata(self, backend_key):
    return self._get_metadata(backend_key)


def _strax_read_chunk(self, backend_key, md, chunk_info, dtype, out=None):
    if not chunk_info.get("n"):
        # strax reads no file for an empty chunk (it has none)
        return np.zeros(0, dtype) if out is None else out
    rows = self._read_chunk(backend_key, chunk_info=chunk_info, dtype=dtype,
                            compressor=md["compressor"])
    if out is None:
        return rows
    out[:] = rows
    return out


def _strax_saver(self, backend_key, metadata, replace=False, **kwargs):
    # strax's _saver has no `replace`: a strax-style frontend's find(write=True) decides
    # whether complete data may be replaced (its overwrite setting)
    return self._saver(backend_key, metadata, **kwargs)


_STRAX_BACKEND_METHODS = {"get_metadata": _strax_get_metadata, "read_chunk": _strax_read_chunk,
                          "saver": _strax_saver}


def adapt_backend_class(cls) -> None:
    """Called for every StorageBackend subclass: each contract method is built on strax's
    hook where that is overridden lower in the class tree than the method (e.g. a subclass
    of FileSytemBackend that only overrides _read_chunk), or where the method is abstract."""
    for ours, strax_hook in BACKEND_HOOKS.items():
        hook_at, ours_at = _defined_at(cls, strax_hook), _defined_at(cls, ours)
        if hook_at is None:
            continue
        if getattr(getattr(cls, ours), "__isabstractmethod__", False) or hook_at < ours_at:
            setattr(cls, ours, _STRAX_BACKEND_METHODS[ours])


# --- savers -------------------------------------------------------------------------------
def nothing(self, *args, **kwargs):
    """A hook that does nothing."""
    return None


def adapt_saver_class(cls) -> bool:
    """Called for every Saver subclass; True if it is strax-style, whose contract hooks
    strax's savers lack (_write_metadata, _finish, _discard) are then filled in."""
    strax_style = saves_strax_style(cls)
    if strax_style:
        for name in ("_write_metadata", "_finish", "_discard"):
            if getattr(getattr(cls, name), "__isabstractmethod__", False):
                setattr(cls, name, nothing)
    return strax_style


def strax_save_chunk(saver, chunk, info) -> None:
    """Save one chunk through a strax-style saver's hooks, as strax calls them."""
    if len(chunk):          # strax writes nothing for an empty chunk
        extra, future = saver._save_chunk(chunk.data, chunk_info=info, executor=None)
        info.update(extra or {})
        if future is not None and hasattr(future, "result"):
            future.result()
    saver.md["chunks"].append(info)
    saver._save_chunk_metadata(info)
