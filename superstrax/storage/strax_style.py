"""strax 2.2.3's storage protocol for subclasses, next to superstrax's own.

Frontends, backends and savers written for strax (straxen's RunDB and Rucio frontends, ...)
override strax's hooks: `_find(key, write, allow_incomplete, fuzzy_for, fuzzy_for_options)`
returning a backend *name* and key, `_get_metadata` / `_read_chunk` / `_saver` on backends,
`_save_chunk(data, chunk_info, executor)` / `_save_chunk_metadata` / `_close` on savers.
The classes in common.py tell which style a subclass is written in with the helpers here,
and run either.
"""
import inspect
import logging
from enum import IntEnum


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
