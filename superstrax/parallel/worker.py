"""What runs inside a worker process (a local pool's or a Dask worker's): make one run.

The outcome is returned as plain data, never raised: a plugin's exception may not survive
pickling back to the caller, and one failed run must not look like a failed worker.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import threading
import traceback
from dataclasses import dataclass

from .spec import context_from_bytes


@dataclass
class RunOutcome:
    run_id: str
    ok: bool
    error: str = ""         # "<ExceptionType>: <message>" when not ok
    traceback: str = ""
    pid: int = 0


def make_run(context_blob: bytes, run_id: str, targets: tuple, keys: tuple,
             save: tuple = (), make_kwargs: dict | None = None) -> RunOutcome:
    """Make targets for one regular run with the context described by context_blob."""
    _announce_start(run_id)
    try:
        ctx = context_from_bytes(context_blob)
        check_same_keys(ctx, run_id, targets, keys)
        from ..loading import make
        with heap_kept_for_reuse():
            make(ctx, run_id, list(targets), save=save, progress_bar=False,
                 **(make_kwargs or {}))
    except Exception as e:
        remove_failed_writes(ctx if "ctx" in locals() else None, run_id)
        return RunOutcome(run_id, False, f"{type(e).__name__}: {e}",
                          traceback.format_exc(), os.getpid())
    return RunOutcome(run_id, True, pid=os.getpid())


def check_same_keys(ctx, run_id, targets, keys):
    """A worker whose plugins differ from the caller's (a class changed after it was
    imported, a module edited on disk) would store data under other names: refuse."""
    from ..errors import InvalidConfiguration
    mine = tuple(str(ctx.key_for(run_id, t)) for t in targets)
    if mine != tuple(keys):
        raise InvalidConfiguration(
            f"run {run_id}: the worker's context names the data {list(mine)}, the caller's "
            f"{list(keys)}. The plugin classes differ between the two processes (changed "
            f"after import, or a module edited since); restart the workers or define the "
            f"plugins in a module both import")


def remove_failed_writes(ctx, run_id):
    """Remove what failed writes of run_id left in the context's directories.

    Only folders whose metadata records the failure are removed: a write still going on
    (another process making the same run) has none, and is left alone.
    """
    if ctx is None:
        return
    from ..storage.files import DataDirectory
    for fe in ctx.storage:
        if not isinstance(fe, DataDirectory) or fe.readonly:
            continue
        for name in fe.incomplete_writes():
            if not name.startswith(f"{run_id}-"):
                continue
            folder = os.path.join(fe.path, name)
            try:
                md = fe.backends[0].get_metadata(folder)
            except Exception:       # no metadata yet: a write in progress, not ours to touch
                continue
            if "exception" in md:
                shutil.rmtree(folder, ignore_errors=True)


# --- which runs a worker has started (local pools only) ---------------------------------------
_started_queue = None


def init_pool_worker(queue):
    """Pool initializer: remember where to announce the runs this worker starts."""
    global _started_queue
    _started_queue = queue


def _announce_start(run_id):
    if _started_queue is not None:
        _started_queue.put((run_id, os.getpid()))


# --- the C heap during a make ---------------------------------------------------------------
# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_ set (65536), so that freed memory
# goes back to the system at once. Setting it also turns off glibc's adaptive thresholds: every
# array above 128 kB is then mmapped on allocation and unmapped on release, and a plugin that
# makes many temporary arrays spends its time in page faults (a CPU-bound make ran 1.3-2x
# slower, with 60x the page faults, than in a plain process). For the time of a make the heap
# keeps what it freed, as glibc does by default, and gives it back to the system afterwards.
_MMAP_THRESHOLD = 32 * 2**20        # glibc's own upper bound for its adaptive threshold
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_heap_lock = threading.Lock()
_heap_users = 0


def _libc():
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def heap_tuning_in_force() -> bool:
    """Whether the environment fixed glibc's malloc thresholds (as Dask's nannies do)."""
    return any(f"MALLOC_{n}_" in os.environ for n in ("TRIM_THRESHOLD", "MMAP_THRESHOLD"))


@contextlib.contextmanager
def heap_kept_for_reuse():
    """While inside, freed heap memory is reused instead of returned to the system; on the
    way out the environment's thresholds are restored and free memory is trimmed. Does nothing
    unless the environment set the thresholds (see above) and the C library is glibc."""
    global _heap_users
    libc = _libc() if heap_tuning_in_force() else None
    if libc is None:
        yield
        return
    with _heap_lock:
        _heap_users += 1
        if _heap_users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD)
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                libc.mallopt(_M_MMAP_THRESHOLD,
                             int(os.environ.get("MALLOC_MMAP_THRESHOLD_", 128 * 1024)))
                libc.mallopt(_M_TRIM_THRESHOLD,
                             int(os.environ.get("MALLOC_TRIM_THRESHOLD_", 128 * 1024)))
                libc.malloc_trim(0)
