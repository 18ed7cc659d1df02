"""Runs made in a pool of local worker processes, one run per task.

How workers start: on Linux, from a caller that runs no other thread, they are forked, so a
worker starts at once with superstrax, numpy and numba already imported and compiled (a
forkserver would first import superstrax in a fresh interpreter: a second or more per call, a
large part of what two workers gain on a short make). A fork is not safe where other threads
run (a Dask client, a Jupyter kernel, a thread pool still alive): a thread holding a lock at
the moment of the fork leaves it held forever in the child. There, and on other platforms,
workers come from a 'forkserver' that imports superstrax once (else from 'spawn').

When a worker dies (killed, out of memory, a crash in compiled code) the pool breaks and every
run in it stops. The runs that had started are then made again, each alone in a fresh one-worker
pool, so the run that kills its worker is found and reported while the others complete; runs
that had not started go to a fresh pool of the full size.
"""
from __future__ import annotations

import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from .worker import RunOutcome, init_pool_worker, make_run

DIED = ("its worker process died while making it (killed by a signal, out of memory, or a "
        "crash in compiled code); what it wrote is not loadable and the next make does it again")


def process_context():
    """The multiprocessing context worker pools use (see the module docstring)."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["superstrax"])
        return ctx
    return multiprocessing.get_context("spawn")


def run_in_processes(context_blob: bytes, tasks: list, max_workers: int,
                     on_outcome: Callable[[RunOutcome], None], save=(), make_kwargs=None,
                     on_started: Callable[[], object] = None):
    """Make every task's run in worker processes; on_outcome gets each run's outcome once.
    on_started is called once the first pool's workers have started."""
    pending, alone = list(tasks), []
    while pending or alone:
        if alone:
            batch, workers, isolated = [alone.pop(0)], 1, True
        else:
            batch, pending = pending, []
            workers, isolated = min(max_workers, len(batch)), False
        finished, broken = set(), False
        mp = process_context()          # per pool: threads may have started since the last
        started_queue = mp.SimpleQueue()
        with ProcessPoolExecutor(workers, mp_context=mp, initializer=init_pool_worker,
                                 initargs=(started_queue,)) as pool:
            futures = {pool.submit(make_run, context_blob, t.run_id, t.targets, t.keys, save,
                                   make_kwargs): t for t in batch}
            if on_started is not None:
                on_started()
                on_started = None
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                finished.add(outcome.run_id)
                on_outcome(outcome)
        started = _drain(started_queue)
        if not broken:
            continue
        unfinished = [t for t in batch if t.run_id not in finished]
        if isolated:
            for t in unfinished:
                on_outcome(RunOutcome(t.run_id, False, DIED))
        elif not any(t.run_id in started for t in unfinished) and not finished:
            # Nothing ever ran: the workers cannot start at all. Retrying would loop.
            for t in unfinished:
                on_outcome(RunOutcome(t.run_id, False, "worker processes could not start "
                                      "(see the errors printed above)"))
        else:
            for t in unfinished:
                (alone if t.run_id in started else pending).append(t)


def _drain(queue) -> set:
    runs = set()
    while not queue.empty():
        run_id, _pid = queue.get()
        runs.add(run_id)
    return runs
