"""Rewriting one stored data folder with other chunk sizes or another compressor.

`rewrite_folder` is the machinery (used by `superstrax rechunk` too): it reads a complete
folder chunk by chunk, re-cuts the stream at gaps with `chunk.Rechunker` and writes it
through a `FileSaver`, so the new copy appears only when it is complete, under the key's
claim. Rewriting a folder in place swaps the new copy in with the saver's two renames; a
failure leaves the original untouched and removes the partial copy.

`rechunker(...)` is strax's function of the same name and signature, outside any Context:
`strax.rechunker(source_directory=..., dest_directory=..., replace=..., compressor=...,
target_size_mb=...)` returns strax's summary dict.
"""
import os
import shutil
import time
from dataclasses import dataclass

from ..chunk import DEFAULT_CHUNK_SPLIT_NS, Rechunker
from ..errors import DataCorrupted, DataNotAvailable, InvalidArgument
from ..progress import make_bar
from .file_saver import FileSaver
from .files import FileSystemBackend
from .io import COMPRESSORS

__all__ = ["rechunker", "rewrite_folder", "RewriteResult", "FolderBeingWritten",
           "PER_WRITE_FIELDS"]

# Metadata a rewrite must not inherit: the saver records these afresh for the new copy.
PER_WRITE_FIELDS = ("chunks", "start", "end", "writing_started", "writing_ended", "exception")


class FolderBeingWritten(DataNotAvailable):
    """The destination folder is claimed by another writer: nothing was rewritten."""


@dataclass
class RewriteResult:
    folder: str                 # where the new copy is
    old_metadata: dict
    new_metadata: dict
    rows: int
    oversized: int              # new chunks over the target: no gap to cut at within them
    load_seconds: float
    write_seconds: float


def _check_complete(folder, md):
    if "exception" in md or "writing_ended" not in md:
        raise DataNotAvailable(f"{folder} is incomplete (its write failed or never finished); "
                               f"make the data again instead of rewriting it")


def rewrite_folder(source, dest, target_size_mb=None, compressor=None, rechunk=True,
                   prefetch=2, wait_seconds=None, progress_bar=False) -> RewriteResult:
    """Write the complete data in folder `source` to folder `dest` (the same folder: in
    place), cut into chunks of about target_size_mb MB (None: the size the metadata
    records) and compressed with `compressor` (None: as it is). rechunk=False keeps the
    chunks as they are (only recompresses). Complete data already at `dest` is replaced."""
    backend = FileSystemBackend()
    md = backend.get_metadata(source)
    _check_complete(source, md)
    if compressor is not None and compressor not in COMPRESSORS:
        raise InvalidArgument(f"compressor {compressor!r} is not one of {sorted(COMPRESSORS)}")
    if target_size_mb is not None and not (isinstance(target_size_mb, (int, float))
                                           and target_size_mb > 0):
        raise InvalidArgument(f"target_size_mb must be a positive number of MB, got "
                              f"{target_size_mb!r}")
    new_md = {k: v for k, v in md.items() if k not in PER_WRITE_FIELDS}
    if compressor is not None:
        new_md["compressor"] = compressor
    if target_size_mb is not None:
        new_md["chunk_target_size_mb"] = target_size_mb
    expected_rows = sum(int(c.get("n", 0)) for c in md.get("chunks") or ())
    parent = os.path.dirname(os.path.normpath(dest))
    if parent:
        os.makedirs(parent, exist_ok=True)
    wait = {} if wait_seconds is None else {"wait_seconds": wait_seconds}
    saver = FileSaver(dest, new_md, replace=True, **wait)
    if saver.passive:
        raise FolderBeingWritten(f"{dest} is being written by another process "
                                 f"({saver.outcome}); rewrite it when that has finished")
    target = new_md.get("chunk_target_size_mb")
    cutter = Rechunker(target_size_mb=target, split_ns=DEFAULT_CHUNK_SPLIT_NS) if rechunk \
        else None
    rows = oversized = 0
    load_seconds = 0.0
    started = time.monotonic()

    def save(chunk):
        nonlocal rows, oversized
        saver.save(chunk)
        rows += len(chunk)
        if cutter is not None and len(chunk) > cutter.target_rows(chunk):
            oversized += 1

    bar = make_bar(total=len(md.get("chunks") or ()), enabled=progress_bar,
                   desc=os.path.basename(os.path.normpath(source)))
    try:
        # The stream reads the source lazily, so it is exhausted before close() swaps a new
        # copy of the same folder into its place.
        chunks = iter(backend.iter_chunks(source, prefetch=prefetch, md=md))
        while True:
            t0 = time.monotonic()
            chunk = next(chunks, None)
            load_seconds += time.monotonic() - t0
            if chunk is None:
                break
            bar.update(1)
            for out in (cutter.receive(chunk) if cutter is not None else [chunk]):
                save(out)
        for out in (cutter.flush() if cutter is not None else []):
            save(out)
        if rows != expected_rows:
            raise DataCorrupted(f"{source}: rewriting gave {rows} rows but the metadata lists "
                                f"{expected_rows}; the original is kept")
    except BaseException as e:
        saver.close(exception=e)
        # The partial copy is of no use (the source is intact and the error is raised).
        shutil.rmtree(saver.temp, ignore_errors=True)
        raise
    finally:
        bar.close()
    saver.close()
    return RewriteResult(os.path.normpath(dest), md, saver.md, rows, oversized, load_seconds,
                         time.monotonic() - started - load_seconds)


def rechunker(source_directory, dest_directory=None, replace=False, compressor=None,
              target_size_mb=None, rechunk=True, progress_bar=True, parallel=False,
              max_workers=4, _timeout=24 * 3600) -> dict:
    """Rewrite the data folder `source_directory` (strax's function, outside a Context).

    The new copy goes to `dest_directory`/<folder name> (or to `dest_directory` itself when
    it already ends in that name); with replace=True it replaces the source instead, swapped
    in only once it is complete (dest_directory is then not written to). `compressor` and
    `target_size_mb` default to what the source's metadata records; rechunk=False keeps the
    chunk boundaries. parallel (True, 'thread' or 'process') reads and decompresses up to
    max_workers chunks ahead in threads (file reads and decompression run without the
    GIL; there are no processes);
    _timeout is how long to wait for another writer holding the destination's claim.

    Returns strax's summary: backend_key, load_time, write_time (s), uncompressed_mb,
    source_compressor, dest_compressor, dest_directory (the folder now holding the data).
    """
    if not os.path.exists(source_directory):
        raise FileNotFoundError(f"No data folder at {source_directory}")
    if not replace and dest_directory is None:
        raise InvalidArgument("give dest_directory (where the new copy goes), or replace=True "
                              "to replace source_directory by its rewritten copy")
    if parallel not in (False, True, "thread", "process"):
        raise InvalidArgument(f"parallel must be False, True, 'thread' or 'process', got "
                              f"{parallel!r}")
    source = os.path.normpath(source_directory)
    backend_key = os.path.basename(source)
    if replace:
        dest = source
    elif os.path.basename(os.path.normpath(dest_directory)) == backend_key:
        dest = os.path.normpath(dest_directory)
    else:
        dest = os.path.join(dest_directory, backend_key)
    prefetch = max(1, int(max_workers)) if parallel else 0
    result = rewrite_folder(source, dest, target_size_mb=target_size_mb, compressor=compressor,
                            rechunk=rechunk, prefetch=prefetch, wait_seconds=_timeout,
                            progress_bar=progress_bar)
    return dict(backend_key=backend_key,
                load_time=result.load_seconds,
                write_time=result.write_seconds,
                uncompressed_mb=sum(c.get("nbytes", 0)
                                    for c in result.old_metadata.get("chunks") or ()) / 1e6,
                source_compressor=result.old_metadata.get("compressor"),
                dest_compressor=result.new_metadata.get("compressor"),
                dest_directory=result.folder)
