"""MemoryFrontend: data and run documents held in this process's memory.

For tests and for trying things out: nothing survives the process. It is also the smallest
complete frontend, so it shows what a new one needs (see StorageFrontend's docstring).
It counts reads of run documents (`run_document_reads`), so tests can check caching.
"""
import copy
import uuid

import numpy as np

from ..errors import DataNotAvailable, RunMetadataNotAvailable
from .common import DataKey, Saver, StorageBackend, StorageFrontend


class MemoryBackend(StorageBackend):
    """Backend keys are strings; each holds (metadata, {chunk_i: array})."""

    def __init__(self):
        self.stored = {}       # backend key -> (metadata, {chunk_i: array})

    def get_metadata(self, backend_key: str) -> dict:
        try:
            return self.stored[backend_key][0]
        except KeyError:
            raise DataNotAvailable(f"nothing stored in memory under {backend_key}") from None

    def read_chunk(self, backend_key, md, chunk_info, dtype, out=None):
        rows = self.stored[backend_key][1].get(chunk_info["chunk_i"])
        if rows is None:
            rows = np.zeros(0, dtype)
        if out is None:
            return rows.copy()
        out[:] = rows
        return out

    def saver(self, backend_key: str, metadata: dict, replace: bool = False) -> "MemorySaver":
        return MemorySaver(self, backend_key, metadata, replace=replace)


class MemorySaver(Saver):
    """Writes under a name unique to this saver; the key points at it once complete."""

    def __init__(self, backend: MemoryBackend, backend_key: str, metadata: dict,
                 replace: bool = False):
        self.backend = backend
        self.backend_key = backend_key
        self.replace = replace
        self.temp_key = f"{backend_key}_temp_{uuid.uuid4().hex[:8]}"
        self.rows = {}
        super().__init__(metadata)

    def _save_chunk(self, data, chunk_i):
        self.rows[chunk_i] = np.array(data, copy=True)
        return f"chunk_{chunk_i:06d}", data.nbytes

    def _write_metadata(self):
        self.backend.stored[self.temp_key] = (copy.deepcopy(self.md), self.rows)

    def _discard(self):
        self.backend.stored.pop(self.temp_key, None)

    def _finish(self, failed):
        if failed:
            return            # kept under the temp key for inspection; never found
        done = self.backend.stored.get(self.backend_key)
        if not self.replace and done is not None and "writing_ended" in done[0] \
                and "exception" not in done[0]:
            self._discard()   # another saver completed this key first: keep its copy
            return
        self.backend.stored[self.backend_key] = self.backend.stored.pop(self.temp_key)


class MemoryFrontend(StorageFrontend):
    """Data (including superrun data) and run documents in memory."""

    stores_superruns = True

    def __init__(self, provide_run_metadata: bool = True, readonly: bool = False, **kwargs):
        super().__init__(readonly=readonly, provide_run_metadata=provide_run_metadata, **kwargs)
        self.backends = [MemoryBackend()]
        self.run_documents = {}
        self.run_document_reads = 0

    def __repr__(self):
        return f"MemoryFrontend(id={id(self):#x})"

    def _find(self, key: DataKey):
        backend = self.backends[0]
        entry = backend.stored.get(str(key))
        if entry is None:
            raise DataNotAvailable(f"{key} is not stored in {self!r}")
        if "exception" in entry[0] or "writing_ended" not in entry[0]:
            raise DataNotAvailable(f"{key} in {self!r} is incomplete (its write failed)")
        return backend, str(key)

    def _writable(self, key: DataKey):
        return self.backends[0], str(key)

    def _read_run_document(self, run_id: str) -> dict:
        self.run_document_reads += 1
        try:
            return copy.deepcopy(self.run_documents[run_id])
        except KeyError:
            raise RunMetadataNotAvailable(f"No run document for run {run_id} in "
                                          f"{self!r}") from None

    def _write_run_document(self, run_id: str, doc: dict) -> None:
        doc.setdefault("name", run_id)
        self.run_documents[run_id] = copy.deepcopy(doc)

    def run_document_version(self, run_id: str):
        if str(run_id) not in self.run_documents:
            return "absent"
        return super().run_document_version(run_id)

    def scan_runs(self, store_fields=()):
        if not self.stores_run_documents:
            return
        for run_id in sorted(self.run_documents):
            doc = self.run_documents[run_id]
            yield {k: copy.deepcopy(v) for k, v in doc.items()
                   if k in store_fields or k == "name"}
