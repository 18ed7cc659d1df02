"""Which runs a parallel make (or load) sends to workers: one task per regular run, holding
every target that run still needs.

A superrun is never made in a worker: its subruns' data is (one task per subrun), and the
superrun itself is then chained or computed in the calling process from what is stored, as a
serial make would.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validation
from ..lineage import is_superrun_id
from ..planning import Planner


@dataclass
class RunTask:
    run_id: str
    targets: tuple
    keys: tuple          # str(DataKey) of each target, as the calling process names them


def as_run_list(run_ids) -> list:
    if isinstance(run_ids, (list, tuple, np.ndarray)):
        return validation.check_run_ids(run_ids)
    return [validation.check_run_id(run_ids)]


def _stored(ctx, run_id, target, combining=False):
    try:
        return ctx.is_stored(run_id, target, combining=combining)
    except Exception:     # a key that cannot be built now fails, clearly, when made
        return False


def would_store(ctx, run_id, target, save=()) -> bool:
    """Whether making target for a regular run stores it (so the caller can load it after)."""
    cls = ctx.plugin_class(target, run_id)
    if not Planner(ctx, (target,), save=save).wants_saved(cls, target):
        return False
    return ctx.writable_frontend(ctx.key_for(run_id, target)) is not None


def _subrun_needs(ctx, superrun_id, target, combining, out):
    """Add to out {run_id: [data types]} what the subruns of superrun_id must have stored
    for target to be chained (or computed over the superrun) without making anything."""
    if not combining and _stored(ctx, superrun_id, target):
        return
    cls = ctx.plugin_class(target, superrun_id)
    if cls.allow_superrun and not combining:
        # Computed over the superrun's chained inputs: the subruns need those inputs.
        for dep in cls.depends_on_tuple():
            _subrun_needs(ctx, superrun_id, dep, False, out)
        return
    for spec in ctx.runs.subrun_specs(superrun_id):
        if not _stored(ctx, spec.run_id, target):
            needed = out.setdefault(spec.run_id, [])
            if target not in needed:
                needed.append(target)


def plan_tasks(ctx, run_ids, targets, save=(), combining=False, only_storable=False):
    """(tasks for workers, superruns the caller finishes itself).

    only_storable: leave out targets a worker would make but not store (a load then has to
    make them itself anyway), as get_array does.
    """
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    needs, superruns = {}, []
    for run_id in as_run_list(run_ids):
        if is_superrun_id(run_id):
            superruns.append(run_id)
            for t in targets:
                _subrun_needs(ctx, run_id, t, combining, needs)
            continue
        missing = [t for t in targets if not _stored(ctx, run_id, t)]
        if missing:
            needed = needs.setdefault(run_id, [])
            needed.extend(t for t in missing if t not in needed)
    tasks = []
    for run_id, wanted in needs.items():
        if only_storable:
            wanted = [t for t in wanted if would_store(ctx, run_id, t, save)]
        if wanted:
            keys = tuple(str(ctx.key_for(run_id, t)) for t in wanted)
            tasks.append(RunTask(run_id, tuple(wanted), keys))
    return tasks, superruns
