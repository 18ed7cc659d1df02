"""What runs inside a worker process (a local pool's or a Dask worker's): make one run.

The outcome is returned as plain data, never raised: a plugin's exception may not survive
pickling back to the caller, and one failed run must not look like a failed worker.
"""
from __future__ import annotations

import os
import shutil
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
        make(ctx, run_id, list(targets), save=save, progress_bar=False, **(make_kwargs or {}))
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
