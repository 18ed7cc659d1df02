"""multi_run: one function called for many runs in a pool of threads, as strax.utils.multi_run.

strax's Context.get_array of a list of runs is built on it; here it is for code that calls it
directly (with st.get_array, st.get_df or any function of a run id). Threads, not processes,
as in strax: the function and what it returns need not be picklable, and numpy, compression
and file reading release the GIL. Making many runs in processes is st.make(max_workers=N).
"""
import itertools
import logging
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from .processing.arrays import merge_arrs
from .progress import make_bar

__all__ = ["multi_run"]

# strax warns above this many runs that a text run_id field costs memory (bytes would not).
MANY_RUNS = 70


def multi_run(exec_function, run_ids, *args, max_workers=None, throw_away_result=False,
              multi_run_progress_bar=True, ignore_errors=False, log=None, **kwargs):
    """exec_function(run_id, *args, **kwargs) for each run in max_workers threads (default 1);
    the results as a list in run id order, each with a run_id field in front.

    As strax: kwargs get progress_bar=False unless given; add_run_id_field (default: True
    unless a run is a superrun) and run_id_as_bytes (the field as bytes, to save memory) are
    taken out of kwargs. Only twice max_workers runs are in flight at once, so results of
    runs not yet collected do not pile up. A failure is raised (after the runs in flight
    finish), unless ignore_errors=True: failed runs are then left out with a warning on log.
    throw_away_result=True returns None.
    """
    max_workers = 1 if max_workers is None else max_workers
    if log is None:
        log = logging.getLogger("strax_multi_run")
    ids = np.array(sorted(str(r) for r in run_ids), dtype=str)
    add_run_id_field = kwargs.pop("add_run_id_field",
                                  not any(r.startswith("_") for r in ids))
    as_bytes = kwargs.pop("run_id_as_bytes", False) and add_run_id_field
    if add_run_id_field and not as_bytes and len(ids) > MANY_RUNS:
        warnings.warn(f"{len(ids)} runs at once with a run_id field of text; "
                      f"run_id_as_bytes=True makes it bytes, using less memory (compare it "
                      f"with b'run_id', or decode it with .decode('utf-8'))", UserWarning,
                      stacklevel=2)
    field_dtype = ids.astype("S").dtype if as_bytes else ids.dtype
    kwargs.setdefault("progress_bar", False)

    done, failures = [], []
    bar = make_bar(total=len(ids), desc=f"Loading {len(ids)} runs",
                   enabled=multi_run_progress_bar)
    try:
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            waiting = iter(ids)
            running = {}

            def submit(n):
                for r in itertools.islice(waiting, n):
                    running[pool.submit(exec_function, str(r), *args, **kwargs)] = str(r)

            submit(2 * max_workers)
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    run_id = running.pop(future)
                    bar.update(1)
                    error = future.exception()
                    if error is not None:
                        if not ignore_errors:
                            raise error
                        log.warning(f"Run {run_id} failed ({error!r}); left out "
                                    f"(ignore_errors=True)")
                        failures.append(run_id)
                        continue
                    if not throw_away_result:
                        done.append((run_id, _with_run_id(future.result(), run_id,
                                                          field_dtype, add_run_id_field)))
                submit(len(finished))
    finally:
        bar.close()
    if failures:
        log.warning(f"{len(failures)} of {len(ids)} runs failed and were left out: {failures}")
    if throw_away_result:
        return None
    return [result for _, result in sorted(done, key=lambda pair: pair[0])]


def _with_run_id(result, run_id, field_dtype, add_field):
    if not add_field:
        return result
    ids = np.zeros(len(result), dtype=[("run_id", field_dtype)])
    ids["run_id"] = run_id
    return merge_arrs([ids, result])
