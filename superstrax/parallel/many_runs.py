"""make (and the making part of get_array) over many runs at once.

The runs that need making become one task each (tasks.py); the tasks go to local worker
processes (pool.py) or to an executor the caller gives, such as a Dask client (executors.py).
One progress bar counts finished runs. Failures are collected: every run is attempted, and the
call ends with one RunsFailed naming each failed run and why. Superruns in the request are then
finished here, from their subruns' stored data, exactly as a serial make would.
"""
from __future__ import annotations

from ..errors import InvalidConfiguration, RunsFailed
from ..progress import make_bar
from .spec import ContextSpec
from .tasks import as_run_list, plan_tasks


def wants_parallel(ctx, max_workers=None, executor=None) -> bool:
    if executor is None:
        executor = ctx.context_config.get("executor")
    return executor is not None or (max_workers is not None and max_workers > 1)


def make_many(ctx, run_ids, targets, save=(), max_workers=None, executor=None,
              progress_bar=None, combining=False, for_loading=False, **make_kwargs):
    """Make targets for every run (and every subrun of a superrun) in parallel.

    for_loading: called by get_array & co., which load afterwards: only data that will be
    stored is made, and superruns are left to the load.
    """
    from .. import loading
    from ..planning import kinds_of
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    # several kinds are refused once here, rather than once per run in the workers
    kinds_of(ctx, targets, ", ".join(as_run_list(run_ids)), make_kwargs.get("allow_multiple"))
    save = (save,) if isinstance(save, str) else tuple(save)
    if executor is None:
        executor = ctx.context_config.get("executor")
    if executor is None and (max_workers is None or max_workers < 1):
        raise InvalidConfiguration(f"max_workers must be a positive number, got {max_workers!r}")
    tasks, superruns = plan_tasks(ctx, run_ids, targets, save=save, combining=combining,
                                  only_storable=for_loading)
    if len(tasks) == 1 and executor is None:
        # One run: a worker process would only add its start-up time.
        t = tasks[0]
        loading.make(ctx, t.run_id, t.targets, save=save, progress_bar=progress_bar,
                     **make_kwargs)
    elif tasks:
        _run_tasks(ctx, tasks, targets, save, max_workers, executor, progress_bar,
                   make_kwargs)
    if for_loading:
        return
    for superrun_id in superruns:
        if _superrun_is_stored_by_make(ctx, superrun_id, targets, combining):
            loading.make(ctx, superrun_id, targets, save=save, progress_bar=progress_bar,
                         combining=combining, **make_kwargs)


def _run_tasks(ctx, tasks, targets, save, max_workers, executor, progress_bar, make_kwargs):
    from .executors import run_with_executor
    from .pool import run_in_processes
    blob = ContextSpec.from_session(ctx).to_bytes()
    failures, done = {}, []
    bars = []

    def start_bar():
        # Made once local workers exist: tqdm runs a monitor thread while a bar is open, and
        # workers are only forked from a process without other threads (pool.py).
        if not bars:
            bars.append(make_bar(total=len(tasks), unit="run",
                                 desc=f"Making {'+'.join(targets)} of {len(tasks)} runs",
                                 enabled=ctx.progress_enabled(progress_bar)))
        return bars[0]

    def on_outcome(outcome):
        start_bar().update(1)
        if outcome.ok:
            done.append(outcome.run_id)
        else:
            failures[outcome.run_id] = outcome.error

    try:
        if executor is not None:
            start_bar()
            run_with_executor(executor, blob, tasks, on_outcome, save, make_kwargs)
        else:
            run_in_processes(blob, tasks, max_workers, on_outcome, save, make_kwargs,
                             on_started=start_bar)
    finally:
        for bar in bars:
            bar.close()
    if failures:
        order = {t.run_id: i for i, t in enumerate(tasks)}
        failures = dict(sorted(failures.items(), key=lambda kv: order.get(kv[0], 0)))
        raise RunsFailed(failures, targets, done)


def _superrun_is_stored_by_make(ctx, superrun_id, targets, combining):
    """Whether a serial make of the superrun would store anything under its own name (else
    its subruns' data, now stored, is all a make leaves behind)."""
    for t in targets:
        key = ctx.key_for(superrun_id, t, combining=combining)
        if ctx.find_frontend(key) is None and ctx.writable_frontend(key) is not None:
            return True
    return False
