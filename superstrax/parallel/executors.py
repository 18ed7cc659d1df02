"""Runs made through an executor the caller already has: a Dask distributed.Client (a
LocalCluster, a scheduler address, dask-jobqueue on SLURM/HTCondor) or any
concurrent.futures.Executor. One task per run; the context travels with each task by value.
"""
from __future__ import annotations

import concurrent.futures
from typing import Callable

from .dask_support import is_dask_client, require
from .worker import RunOutcome, make_run


def run_with_executor(executor, context_blob: bytes, tasks: list,
                      on_outcome: Callable[[RunOutcome], None], save=(), make_kwargs=None):
    if is_dask_client(executor):
        return _run_on_dask(executor, context_blob, tasks, on_outcome, save, make_kwargs)
    if isinstance(executor, concurrent.futures.Executor):
        futures = {executor.submit(make_run, context_blob, t.run_id, t.targets, t.keys, save,
                                   make_kwargs): t for t in tasks}
        for future in concurrent.futures.as_completed(futures):
            on_outcome(_outcome(future, futures[future]))
        return
    from ..errors import InvalidConfiguration
    raise InvalidConfiguration(
        f"executor={executor!r} is neither a dask distributed.Client nor a "
        f"concurrent.futures.Executor; pass one of those, or max_workers=N for local processes")


def _run_on_dask(client, context_blob, tasks, on_outcome, save, make_kwargs):
    distributed = require("distributed")
    # The context is sent to the cluster once per call and shared by that call's tasks. Its
    # key is random (hash=False), not the content hash: a second call with the same context
    # (make pulses, then doubled) would scatter under the key the first call has just
    # released, and when the scheduler forgets that key after the new tasks were submitted
    # they are cancelled for "lost dependencies" (dask/distributed#8576; seen in 5 of 40
    # back-to-back calls on a loaded machine).
    [blob_future] = client.scatter([context_blob], broadcast=False, hash=False)
    futures = {}
    for t in tasks:
        f = client.submit(make_run, blob_future, t.run_id, t.targets, t.keys, save, make_kwargs,
                          pure=False, key=f"superstrax-make-{t.run_id}-{id(futures):x}"
                                          f"-{len(futures)}")
        futures[f] = t
    try:
        for future in distributed.as_completed(list(futures), loop=client.loop):
            on_outcome(_outcome(future, futures[future]))
    finally:
        for f in futures:
            f.release()


def _outcome(future, task) -> RunOutcome:
    try:
        return future.result()
    except Exception as e:     # the worker died (KilledWorker) or the task never ran
        return RunOutcome(task.run_id, False, f"{type(e).__name__}: {e}")
