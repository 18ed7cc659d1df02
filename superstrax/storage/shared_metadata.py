"""Parsed metadata of many folders, held with the parts they have in common shared, and
what reading needs of it, packed in columns for a long chain (MetadataPack).

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
from array import array
from collections.abc import Mapping

from .checksums import ALGORITHM, CHECKSUM_FIELD

__all__ = ["compact_metadata", "MetadataPack", "reading_metadata", "SubrunMap"]

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
# FileSystemBackend.read_chunk, and the partitions of get_dask): MetadataPack keeps these.
_READ_FIELDS = ("data_type", "data_kind", "run_id", "dtype", "compressor",
                "chunk_target_size_mb")
# ... and of each chunk's entry: whole numbers, in columns ...
_INT_FIELDS = ("chunk_i", "start", "end", "n", "nbytes", "first_time", "last_time")
# ... and these, packed when they have their usual form (else kept as they are).
_OTHER_FIELDS = ("filename", CHECKSUM_FIELD, "run_id", "subruns")
_CHUNK_FIELDS = _INT_FIELDS + _OTHER_FIELDS
_INT64 = (-2 ** 63, 2 ** 63)
_CHECKSUM_PREFIX = ALGORITHM + ":"
# bits of a chunk's flags, one per packed field present
_HAS = {f: 1 << i for i, f in enumerate(_CHUNK_FIELDS)}


class MetadataPack:
    """What reading needs of many folders' metadata, packed in columns.

    A superrun of 10,000 subruns is read from 10,000 folders; a plan that kept each one's
    parsed metadata (or even a slim dict of it) held 1-2.5 KB a folder, and the peak memory
    of a make grew with the number of subruns. Here a folder of one chunk costs ~100 bytes:
    the top-level fields are shared by the folders that have the same ones, each chunk's
    whole numbers are machine integers in arrays, a file name of the usual form
    '<prefix>-<chunk_i:06d>' keeps only a shared prefix and a checksum 'xxh3_64:<hex>'
    only its integer. Anything of another form is kept as it is, so what comes out is
    always what went in (as far as reading uses it).
    """

    def __init__(self):
        self._tops, self._top_index = [], {}       # distinct top-level fields (no run id)
        self._top_of = array("l")                 # per folder
        self._run_ids = []                        # per folder (interned)
        self._first_chunk = array("q", [0])      # per folder, and one past the last
        self._ints = {f: array("q") for f in _INT_FIELDS}    # per chunk
        self._checksums = array("Q")
        self._prefixes, self._prefix_index = [], {}
        self._prefix_of = array("l")
        self._flags = array("H")
        self._others = {}                         # chunk row -> {field: value as stored}

    def __len__(self):
        return len(self._top_of)

    def add(self, md: dict) -> int:
        """Pack the reading part of md; its handle for metadata(handle)."""
        top = tuple((k, md[k]) for k in _READ_FIELDS if k in md and k != "run_id")
        try:
            index = self._top_index.get(top)
        except TypeError:                 # an unhashable value: never shared
            index = None
        if index is None:
            index = len(self._tops)
            self._tops.append(dict(top))
            try:
                self._top_index[top] = index
            except TypeError:
                pass
        run_id = md.get("run_id")
        self._top_of.append(index)
        self._run_ids.append(sys.intern(run_id) if type(run_id) is str else run_id)
        for info in md.get("chunks") or ():
            self._add_chunk(info, run_id)
        self._first_chunk.append(len(self._flags))
        return len(self._top_of) - 1

    def _add_chunk(self, info, run_id):
        row, flags, others = len(self._flags), 0, {}
        for f in _INT_FIELDS:
            value = info.get(f, _MISSING)
            if type(value) is int and _INT64[0] <= value < _INT64[1]:
                self._ints[f].append(value)
                flags |= _HAS[f]
            else:
                self._ints[f].append(0)
                if value is not _MISSING:
                    others[f] = value
        checksum, prefix = info.get(CHECKSUM_FIELD, _MISSING), -1
        packed_checksum = 0
        if type(checksum) is str and checksum.startswith(_CHECKSUM_PREFIX):
            try:
                packed_checksum = int(checksum[len(_CHECKSUM_PREFIX):], 16)
            except ValueError:
                packed_checksum = -1
            if 0 <= packed_checksum < 2 ** 64 and \
                    _checksum_text(packed_checksum) == checksum:     # it comes back the same
                flags |= _HAS[CHECKSUM_FIELD]
            else:
                packed_checksum = 0
        if checksum is not _MISSING and not flags & _HAS[CHECKSUM_FIELD]:
            others[CHECKSUM_FIELD] = checksum
        filename = info.get("filename", _MISSING)
        if type(filename) is str and flags & _HAS["chunk_i"]:
            head, _, tail = filename.rpartition("-")
            if head and tail == f"{info['chunk_i']:06d}":
                prefix = self._prefix_index.get(head)
                if prefix is None:
                    prefix = self._prefix_index[head] = len(self._prefixes)
                    self._prefixes.append(sys.intern(head))
                flags |= _HAS["filename"]
        if not flags & _HAS["filename"] and filename is not _MISSING:
            others["filename"] = filename
        chunk_run = info.get("run_id", _MISSING)
        if chunk_run is not _MISSING:
            if chunk_run == run_id and type(chunk_run) is str:
                flags |= _HAS["run_id"]
            else:
                others["run_id"] = chunk_run
        subruns = info.get("subruns", _MISSING)
        if subruns is None:
            flags |= _HAS["subruns"]
        elif subruns is not _MISSING:
            others["subruns"] = subruns
        self._checksums.append(packed_checksum)
        self._prefix_of.append(prefix)
        self._flags.append(flags)
        if others:
            self._others[row] = others

    def rows(self, handle: int) -> int:
        """The rows stored in the folder of handle (the sum of its chunks' n)."""
        lo, hi = self._first_chunk[handle], self._first_chunk[handle + 1]
        if all(self._flags[row] & _HAS["n"] for row in range(lo, hi)):
            return sum(self._ints["n"][lo:hi])
        return sum(c["n"] for c in self.metadata(handle)["chunks"])     # as it was stored

    def top(self, handle: int) -> dict:
        """The top-level fields packed as handle but its run id (shared: read-only)."""
        return self._tops[self._top_of[handle]]

    def metadata(self, handle: int) -> dict:
        """The reading part of the metadata packed as handle: a new dict each time."""
        md = dict(self._tops[self._top_of[handle]])
        run_id = self._run_ids[handle]
        if run_id is not None:
            md["run_id"] = run_id
        md["chunks"] = [self._chunk(row, run_id) for row in
                        range(self._first_chunk[handle], self._first_chunk[handle + 1])]
        return md

    def _chunk(self, row, run_id):
        flags, info = self._flags[row], {}
        for f in _INT_FIELDS:
            if flags & _HAS[f]:
                info[f] = self._ints[f][row]
        if flags & _HAS[CHECKSUM_FIELD]:
            info[CHECKSUM_FIELD] = _checksum_text(self._checksums[row])
        if flags & _HAS["filename"]:
            info["filename"] = f"{self._prefixes[self._prefix_of[row]]}-{info['chunk_i']:06d}"
        if flags & _HAS["run_id"]:
            info["run_id"] = run_id
        if flags & _HAS["subruns"]:
            info["subruns"] = None
        info.update(self._others.get(row, ()))
        return info


_MISSING = object()


def _checksum_text(value):
    return f"{_CHECKSUM_PREFIX}{value:016x}"


def reading_metadata(md: dict) -> dict:
    """What reading a folder's chunks needs of its metadata md (what MetadataPack keeps)."""
    slim = {k: md[k] for k in _READ_FIELDS if k in md}
    slim["chunks"] = [{k: c[k] for k in _CHUNK_FIELDS if k in c}
                      for c in md.get("chunks") or ()]
    return slim


class SubrunMap(Mapping):
    """A chunk's subruns, {run_id: {"start": ns, "end": ns}}, as a file saver keeps them
    until it writes the metadata: the ids and two integer arrays, ~24 bytes a subrun
    against ~250 as dicts. A make over 10,000 subruns keeps one entry per subrun in its
    output's chunk entries, and as dicts they were the largest part of it that grew with
    the number of subruns. Read as the dict it stands for (the metadata writer turns it
    into one, common._plain_json)."""

    __slots__ = ("_ids", "_starts", "_ends")

    def __init__(self, subruns):
        self._ids = [sys.intern(k) if type(k) is str else k for k in subruns]
        self._starts = array("q", (int(v["start"]) for v in subruns.values()))
        self._ends = array("q", (int(v["end"]) for v in subruns.values()))

    def __len__(self):
        return len(self._ids)

    def __iter__(self):
        return iter(self._ids)

    def __getitem__(self, run_id):
        try:
            i = self._ids.index(run_id)
        except ValueError:
            raise KeyError(run_id) from None
        return {"start": self._starts[i], "end": self._ends[i]}

    def items(self):
        return [(k, {"start": s, "end": e})
                for k, s, e in zip(self._ids, self._starts, self._ends)]

    def __reduce__(self):
        return SubrunMap, (dict(self.items()),)

    def __repr__(self):
        return repr(dict(self.items()))
