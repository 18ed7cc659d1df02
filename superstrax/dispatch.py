"""Where a make runs: in this process, or in worker processes / on a Dask cluster.

Context.make and the loads that make what they miss (get_array, get_df with max_workers=N)
ask here. A plain call (no max_workers, no executor) is told so without importing the
parallel package, which would be most of a fresh process's first load of small stored data.
"""
from . import loading


def may_be_parallel(session, max_workers, executor) -> bool:
    """False when parallel.wants_parallel surely says no."""
    return (executor is not None or session.context_config.get("executor") is not None
            or (max_workers is not None and max_workers != 1))


def make(session, run_id, targets, save=(), max_workers=None, executor=None,
         progress_bar=None, **kwargs) -> None:
    """Make and store targets: the runs (a superrun's subruns) in workers when max_workers or
    an executor asks for it, else here. Per-chunk processing (chunk_number=) is one run's
    few chunks: it always runs here."""
    if kwargs.get("chunk_number") is None and may_be_parallel(session, max_workers, executor):
        from .parallel import make_many, wants_parallel
        if wants_parallel(session, max_workers, executor):
            make_many(session, run_id, targets, save=save, max_workers=max_workers,
                      executor=executor, progress_bar=progress_bar, **kwargs)
            return
    loading.make(session, run_id, targets, save=save, progress_bar=progress_bar, **kwargs)


def make_for_loading(session, run_id, targets, save, max_workers, kwargs) -> None:
    """Before a load with max_workers=N: make in workers what the load would make and store
    (the load then reads it); nothing when it would run here anyway."""
    if not may_be_parallel(session, max_workers, None):
        return
    from .parallel import make_many, wants_parallel
    if kwargs.get("chunk_number") is None and not kwargs.get("allow_multiple") and \
            wants_parallel(session, max_workers, None) and \
            loading.stores_anything(run_id, targets, kwargs):
        make_many(session, run_id, targets, save=save, max_workers=max_workers,
                  progress_bar=kwargs.get("progress_bar"),
                  combining=kwargs.get("combining", False), for_loading=True)
