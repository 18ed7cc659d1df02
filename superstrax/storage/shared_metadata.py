"""Parsed metadata of many folders, held with the parts they have in common shared, and the
slim form of it a long chain keeps (reading_metadata).

A superrun of 10,000 subruns has 10,000 metadata files per data type, and a context keeps
each one parsed (FileSystemBackend's cache) so that later loads skip reading it again. Parsed
separately, every document has its own copy of each key, of the dtype text and of the
lineage, which for straxen's event-level types is tens of KB of nested plugin options: the
cache then grows by that much per subrun. Here the repeated parts are made one object:

- dict keys and short text values (dtype, compressor, kind and version fields) are interned;
- a lineage equal to one already seen for the same data type and lineage hash is replaced by
  that one (compared, not trusted from the hash, so a damaged file is never masked).

Documents compacted here must be treated as read-only: callers that hand metadata to users
give them a copy (Session.get_meta).
"""
import sys

from .checksums import CHECKSUM_FIELD

__all__ = ["compact_metadata", "reading_metadata"]

# Top-level fields whose values repeat across the documents of one data type.
_SHARED_TEXT = ("data_type", "data_kind", "dtype", "compressor", "strax_version",
                "superstrax_version", "run_id", "lineage_hash")
# One lineage object per (data type, lineage hash); bounded, since a context may look at
# data of very many lineages (each entry costs one lineage).
_LINEAGES = {}
_MAX_LINEAGES = 4096


def _interned_keys(d: dict) -> dict:
    return {sys.intern(k) if type(k) is str else k: v for k, v in d.items()}


def compact_metadata(md: dict) -> dict:
    """md (just parsed from JSON) with its repeated parts shared; a new dict."""
    md = _interned_keys(md)
    for field in _SHARED_TEXT:
        value = md.get(field)
        if type(value) is str:
            md[field] = sys.intern(value)
    chunks = md.get("chunks")
    if type(chunks) is list:
        md["chunks"] = [_compact_chunk(c) if type(c) is dict else c for c in chunks]
    lineage, lineage_hash = md.get("lineage"), md.get("lineage_hash")
    if type(lineage) is dict and type(lineage_hash) is str:
        slot = (md.get("data_type"), lineage_hash)
        known = _LINEAGES.get(slot)
        if known is None:
            if len(_LINEAGES) >= _MAX_LINEAGES:
                _LINEAGES.clear()
            _LINEAGES[slot] = lineage
        elif known == lineage:
            md["lineage"] = known
    return md


def _compact_chunk(info: dict) -> dict:
    info = _interned_keys(info)
    run_id = info.get("run_id")
    if type(run_id) is str:
        info["run_id"] = sys.intern(run_id)
    return info


# What reading a folder's chunks needs of its metadata (iter_stored_chunks,
# FileSystemBackend.read_chunk, and the partitions of get_dask): reading_metadata keeps these.
_READ_FIELDS = ("data_type", "data_kind", "run_id", "dtype", "compressor",
                "chunk_target_size_mb")


class _ChunkEntry:
    """The fields of one chunk's metadata entry that reading needs, read as a dict is
    (entry["n"], entry.get("subruns")); in slots, a third of the dict's size."""

    __slots__ = ("chunk_i", "start", "end", "n", "nbytes", "filename", "run_id", "subruns",
                 "first_time", "last_time", CHECKSUM_FIELD)

    def __init__(self, info):
        for k in self.__slots__:
            if k in info:
                setattr(self, k, info[k])

    def get(self, key, default=None):
        return getattr(self, key, default) if key in _CHUNK_ENTRY_FIELDS else default

    def __getitem__(self, key):
        value = self.get(key, _ChunkEntry)
        if value is _ChunkEntry:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key, _ChunkEntry) is not _ChunkEntry

    def __iter__(self):
        return (k for k in self.__slots__ if k in self)

    def __repr__(self):
        return repr({k: self[k] for k in self})


_CHUNK_ENTRY_FIELDS = frozenset(_ChunkEntry.__slots__)


def reading_metadata(md: dict) -> dict:
    """What reading a folder's chunks needs of its metadata md, a third of its size: the
    plan of a superrun of 10,000 subruns keeps one per subrun (FileSystemBackend.released),
    instead of the whole parsed document."""
    slim = {k: md[k] for k in _READ_FIELDS if k in md}
    slim["chunks"] = [_ChunkEntry(c) for c in md.get("chunks") or ()]
    return slim
