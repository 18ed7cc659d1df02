"""Parsed metadata of many folders, held with the parts they have in common shared.

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

__all__ = ["compact_metadata"]

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
