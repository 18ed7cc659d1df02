"""One call of get_iter, get_array, get_df or make, given the Session of its context (the
Context settles per-call settings first): an absolute time range, then plan, stream and
shape the chunks.

The Context's methods of those names are thin wrappers around the functions here.
"""
import logging
import warnings

import numpy as np

from . import executor, output, validation
from .runs import superruns
from .errors import (CannotMergeKinds, DataCorrupted, DataNotAvailable, InvalidConfiguration,
                     RunMetadataNotAvailable, SuperrunError)
from .executor import Processor
from .naming import is_superrun_id
from .options import LOADING_ARGS, PER_ROW_OPTIONS
from .planning import LoadNode, MultiNode, Planner
from .progress import with_progress

SECOND = 1_000_000_000

# Options that only choose fields: the number of rows stays what the metadata says.
COLUMN_OPTIONS = ("keep_columns", "drop_columns")
log = logging.getLogger("superstrax")


def as_tuple(x):
    return (x,) if isinstance(x, str) else tuple(x)


def plan(session, run_id, targets, save=(), combining=False, allow_multiple=False,
         chunk_number=None, store=True):
    """The plan for loading targets of run_id (nodes; nothing is read or computed);
    store=False plans no writes."""
    return Planner(session, as_tuple(targets), save=as_tuple(save), combining=combining,
                   allow_multiple=allow_multiple, chunk_number=chunk_number,
                   store=store).plan(validation.run_id_text(run_id))


def stores_anything(run_id, targets, kwargs):
    """Whether a call with these loading arguments may store what it makes. As strax, a
    call that keeps or drops columns stores nothing (it is a look at part of the data);
    a log message says so."""
    columns = [k for k in COLUMN_OPTIONS if kwargs.get(k) is not None]
    if columns:
        log.info(f"Not storing {'+'.join(as_tuple(targets))} of run {run_id}: this call "
                 f"gives {' and '.join(columns)} (make the data first to store it)")
    return not columns


# --- the time range of one call ------------------------------------------------------------
def absolute_time_range(session, run_id, targets, time_range, seconds_range, time_within):
    if time_within is not None:
        from .kernels import endtimes
        row = np.asarray(time_within)
        time_range = (int(row["time"]), int(endtimes(row.reshape(1))[0]))
    if seconds_range is not None:
        start, _ = estimate_run_start_and_end(session, run_id, targets, stacklevel=5)
        time_range = validation.seconds_to_time_range(seconds_range, start, run_id, targets)
    time_range = validation.check_time_range(time_range, run_id, targets)
    return time_range


def run_span(session, run_id, targets=None):
    """(start, end) in ns from the run document, else from the stored metadata of the
    targets or of what they depend on; (None, None) if neither is there."""
    try:
        doc = session.runs.doc(run_id)
        return superruns.to_ns(doc["start"]), superruns.to_ns(doc["end"])
    except (RunMetadataNotAvailable, KeyError, SuperrunError):
        pass
    registry = session.plugins
    todo = [targets] if isinstance(targets, str) else list(targets or ())
    seen = set()
    while todo:
        t = todo.pop(0)
        if t in seen or t not in registry:
            continue
        seen.add(t)
        try:
            md = session.get_meta(run_id, t)
            return int(md["chunks"][0]["start"]), int(md["chunks"][-1]["end"])
        except Exception:       # not stored (or empty): try what it is made from
            todo.extend(registry[t].depends_on_tuple())
    return None, None


def estimate_run_start_and_end(session, run_id, targets=None, stacklevel=3):
    """(start, end) of a run in ns, floored to whole seconds as strax does; (0, inf) with a
    warning when neither a run document nor stored data tells."""
    start, end = run_span(session, validation.run_id_text(run_id), targets)
    if start is None:
        warnings.warn(f"Cannot tell when run {run_id} starts: it has no run document and "
                      f"none of {targets or 'its data'} is stored. Assuming it runs from 0 "
                      f"to infinity (seconds_range then counts from the epoch)",
                      UserWarning, stacklevel=stacklevel)
        return 0, float("inf")
    return start // SECOND * SECOND, end // SECOND * SECOND


# --- streams, arrays, making ---------------------------------------------------------------
def iter_chunks(session, run_id, targets, save=(), max_workers=None, time_range=None,
                seconds_range=None, time_within=None, time_selection="fully_contained",
                selection=None, selection_str=None, keep_columns=None, drop_columns=None,
                progress_bar=None, combining=False, add_run_id_field=False, allow_multiple=False,
                chunk_number=None, _plan=None, _arena=None):
    """The chunks get_iter yields: planned, processed, clipped and shaped. With
    allow_multiple, targets of several kinds are made in one pass and the chunks of one of
    them (the first that no other target is made from) are yielded."""
    if isinstance(run_id, (list, tuple, np.ndarray)):
        for r in validation.check_run_ids(run_id, targets):
            yield from iter_chunks(session, r, targets, save=save, time_range=time_range,
                                   seconds_range=seconds_range, time_within=time_within,
                                   time_selection=time_selection, selection=selection,
                                   selection_str=selection_str, keep_columns=keep_columns,
                                   drop_columns=drop_columns, progress_bar=progress_bar,
                                   combining=combining, add_run_id_field=add_run_id_field,
                                   allow_multiple=allow_multiple, chunk_number=chunk_number)
        return
    run_id = validation.check_run_id(run_id, targets)
    targets, save = validation.check_targets(targets, run_id), as_tuple(save)
    if combining and not is_superrun_id(run_id):
        raise SuperrunError(f"combining=True only applies to superruns, not run {run_id}")
    time_range = absolute_time_range(session, run_id, targets, time_range, seconds_range,
                                     time_within)
    the_plan = _plan or plan(session, run_id, targets, save=save, combining=combining,
                             allow_multiple=allow_multiple, chunk_number=chunk_number,
                             store=stores_anything(run_id, targets, dict(
                                 keep_columns=keep_columns, drop_columns=drop_columns)))
    processor = Processor(session, the_plan, time_range=time_range, selection=time_selection,
                          arena=_arena)
    selection = selection if selection is not None else selection_str
    start, end = time_range or _progress_span(session, run_id, the_plan)
    chunks = with_progress(iter(processor), start, end,
                           desc=f"Loading {run_id} {'+'.join(targets)}",
                           enabled=session.progress_enabled(progress_bar))
    if isinstance(the_plan, MultiNode):
        targets = (the_plan.main,)     # the rows yielded are of that target alone
    yield from output.shape_chunks(chunks, run_id, targets, selection, keep_columns,
                                   drop_columns, add_run_id_field,
                                   session.option("apply_data_function"))


def _progress_span(session, run_id, the_plan):
    if isinstance(the_plan, LoadNode):
        md = the_plan.metadata
        return md.get("start"), md.get("end")
    try:
        return run_span(session, run_id)
    except Exception:    # progress is a nicety: never fail a load for it
        return None, None


def loading_args(kwargs):
    """The arguments iter_chunks takes, of those given."""
    return {k: v for k, v in kwargs.items() if k in LOADING_ARGS}


def get_array(session, run_id, targets, save=(), **kwargs):
    """One array of targets; several runs get a run_id field. Whole stored data is decoded
    straight into one preallocated array. ignore_errors=True leaves out (with a warning) the
    runs of several whose data is not available.

    Several runs come as strax gives them: ordered by run id (as text, so '10' before '2'),
    with the run_id field first (bytes with run_id_as_bytes=True, to save memory)."""
    ignore_errors = kwargs.pop("ignore_errors", False)
    if kwargs.get("allow_multiple"):
        raise CannotMergeKinds(
            f"get_array/get_df return one array of one data kind, so they cannot take "
            f"allow_multiple=True (targets {list(as_tuple(targets))}); make the targets with "
            f"st.make(..., allow_multiple=True), then load each kind separately")
    as_bytes = kwargs.pop("run_id_as_bytes", False)
    if isinstance(run_id, (list, tuple, np.ndarray)) and len(run_id) != 1:
        run_ids = sorted(validation.check_run_ids(run_id, targets))
        width = max(len(r) for r in run_ids) if run_ids else 1
        # several runs get a run_id field unless the caller said add_run_id_field=False
        add_field = kwargs.pop("add_run_id_field", None) is not False
        arrays = []
        for r in run_ids:
            try:
                a = get_array(session, r, targets, save=save, **kwargs)
            except DataNotAvailable as e:
                if not ignore_errors:
                    raise
                warnings.warn(f"Run {r} left out (ignore_errors=True): {e}", UserWarning,
                              stacklevel=3)
                continue
            if add_field and "run_id" not in (a.dtype.names or ()):
                a = output.add_run_id_field(a, r, width, first=True, as_bytes=as_bytes)
            arrays.append(a)
        return np.concatenate(arrays) if arrays else np.zeros(0)
    if isinstance(run_id, (list, tuple, np.ndarray)):
        run_id = run_id[0]
    the_plan, arena, rows = None, None, None
    columns = any(kwargs.get(k) is not None for k in COLUMN_OPTIONS)
    if not any(kwargs.get(k) is not None for k in PER_ROW_OPTIONS if k not in COLUMN_OPTIONS) \
            and not kwargs.get("add_run_id_field") and \
            not session.option("apply_data_function"):
        try:
            the_plan = plan(session, run_id, targets, save=save,
                            combining=kwargs.get("combining", False),
                            chunk_number=kwargs.get("chunk_number"),
                            store=stores_anything(run_id, targets, kwargs))
        except Exception:      # iter_chunks raises the same error, with all of its context
            the_plan = None
        if the_plan is not None and columns:
            # Columns change the dtype, not the rows: the result is allocated once and each
            # chunk, projected, is copied in and dropped (no list of chunks, no final join).
            size = executor.stored_size(the_plan)
            rows = size[0] if size is not None else None
        elif the_plan is not None:
            arena = executor.arena_for(the_plan)
    stream = iter_chunks(session, run_id, targets, save=save, _plan=the_plan, _arena=arena,
                         **loading_args(kwargs))
    if rows is not None:
        filled = _fill(stream, rows, run_id, targets)
        if filled is not None:
            return filled
        chunks = []
    else:
        chunks = [c.data for c in stream]
    if arena is not None and arena.full:
        return arena.array
    if not chunks:
        dtype = _output_dtype(session, run_id, targets)
        if columns:
            dtype = output.column_dtype(dtype, kwargs.get("keep_columns"),
                                        kwargs.get("drop_columns")) or dtype
        return np.zeros(0, dtype=dtype)
    if len(chunks) == 1:
        return chunks[0]
    out = np.empty(sum(len(c) for c in chunks), dtype=chunks[0].dtype)
    i = 0
    for c in chunks:
        out[i:i + len(c)] = c
        i += len(c)
    return out


def _fill(stream, rows, run_id, targets):
    """One array of `rows` rows from a stream of chunks, copied in as they come."""
    out, used = None, 0
    for chunk in stream:
        data = chunk.data
        if out is None:
            out = np.empty(rows, dtype=data.dtype)
        if used + len(data) > rows:
            raise DataCorrupted(f"run {run_id}, {'+'.join(as_tuple(targets))}: stored chunks "
                                f"hold more rows than their metadata promised ({rows}); verify "
                                f"the data (superstrax verify) and make it again")
        out[used:used + len(data)] = data
        used += len(data)
    if out is None:
        return None
    return out[:used]


def _output_dtype(session, run_id, targets):
    """The dtype of what get_array returns: several targets of one kind are joined in the
    order of their sorted names, as the MergeNode joins them (and strax)."""
    from .dtypes import merged_dtype
    targets = as_tuple(targets)
    if len({session.kind_of(t) for t in targets}) == 1:
        targets = sorted(targets)
    return merged_dtype([session.single_plugin(run_id, t).dtype_for(t) for t in targets])


def make(session, run_id, targets, save=(), progress_bar=None, **kwargs):
    """Make and store targets (for each run of a list), keeping nothing in memory."""
    if isinstance(run_id, (list, tuple, np.ndarray)):
        for r in validation.check_run_ids(run_id, targets):
            make(session, r, targets, save=save, progress_bar=progress_bar, **kwargs)
        return
    combining = kwargs.get("combining", False)
    chunk_number = kwargs.get("chunk_number")
    if all(_stored_quietly(session, run_id, t, combining, chunk_number)
           for t in as_tuple(targets)):
        return
    for _ in iter_chunks(session, run_id, targets, save=save, progress_bar=progress_bar,
                         **loading_args(kwargs)):
        pass


def _stored_quietly(session, run_id, target, combining=False, chunk_number=None):
    try:
        return session.is_stored(run_id, target, combining=combining,
                                 chunk_number=chunk_number)
    except Exception:    # the error will surface, clearly, when making it
        return False
