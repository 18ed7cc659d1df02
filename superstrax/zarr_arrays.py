"""Context.get_zarr: targets of many runs appended, chunk by chunk, to persistent zarr arrays.

For data larger than memory that is wanted as arrays rather than frames (zarr arrays are
what dask.array and xarray read lazily). Each target becomes one array in the group
<context hash>/<hash of the loading arguments> of the zarr store; the runs are appended one
after the other, and the array's attrs['RUNS'] says which rows came from which run:
{run_id: {'start_idx', 'end_idx', 'lineage_hash'}}. A run already in an array is skipped,
so calling again with more runs adds only the new ones (with overwrite=False).

Memory stays at one chunk: rows are written as get_iter yields them, the array grown first.

zarr 2 is needed (strax 2.2.3 pins zarr < 3 too): structured dtypes, one record per row,
are a feature of zarr's version-2 format. `pip install 'superstrax[zarr]'`.
"""
from __future__ import annotations

from .hashing import deterministic_hash
from .inspection import context_hash
from .loading import as_tuple, iter_chunks
from .processing.arrays import remove_titles_from_dtype
from .validation import check_run_ids

INSTALL_HINT = "pip install 'superstrax[zarr]'"
DEFAULT_STORE = "./strax_temp_data"


def require_zarr():
    """zarr 2, or an ImportError saying how to install it."""
    try:
        import zarr
    except ImportError as e:
        raise ImportError(f"get_zarr needs zarr ({e}); install it: {INSTALL_HINT}") from e
    major = int(zarr.__version__.split(".")[0])
    if major >= 3:
        raise ImportError(f"get_zarr needs zarr 2 (strax 2.2.3 pins zarr < 3 as well: a row "
                          f"of a structured dtype is a zarr-2 feature), not zarr "
                          f"{zarr.__version__}; install it: {INSTALL_HINT}")
    return zarr


def get_zarr(session, run_ids, targets, storage=DEFAULT_STORE, progress_bar=False,
             overwrite=True, group_args=None, **kwargs):
    """The zarr group of targets of run_ids (see the module docstring).

    storage: a zarr store or a path or fsspec URL ('memory://' keeps it in memory).
    overwrite=True starts this group's arrays afresh; False appends the runs not yet in
    them. Other keyword arguments are get_iter's (time_range, selection, keep_columns, ...).
    group_args (default: those) name the group, as strax hashes the call's keyword
    arguments, so loads with other arguments land in other groups.
    """
    zarr = require_zarr()
    runs = [str(r) for r in check_run_ids(as_tuple(run_ids), targets)]
    group_name = (f"{context_hash(session)}/"
                  f"{deterministic_hash(kwargs if group_args is None else group_args)}")
    # mode 'a': other groups in the store (other contexts, other arguments) stay.
    group = zarr.open_group(storage, mode="a").require_group(group_name)
    for target in as_tuple(targets):
        if overwrite and target in group:
            del group[target]
        _append_runs(session, group, target, runs, progress_bar, kwargs)
    return group


def _append_runs(session, group, target, runs, progress_bar, kwargs):
    array = group[target] if target in group else None
    done = dict(array.attrs.get("RUNS", {})) if array is not None else {}
    at = max((int(r["end_idx"]) for r in done.values()), default=0)
    if array is not None and array.shape[0] != at:
        # Rows beyond the last finished run are a run an earlier call did not finish.
        array.resize(at)
    for run_id in runs:
        if run_id in done:
            continue
        key = session.key_for(run_id, target, chunk_number=kwargs.get("chunk_number"),
                              combining=kwargs.get("combining", False))
        start = at
        for chunk in iter_chunks(session, run_id, target, progress_bar=progress_bar,
                                 **kwargs):
            data = chunk.data
            if array is None:
                # zarr keeps field names only: titles (strax's field descriptions) go.
                array = group.create_dataset(target, shape=(0,), chunks=_rows_per_chunk(data),
                                             dtype=remove_titles_from_dtype(data.dtype))
            if len(data):
                array.resize(at + len(data))
                array[at:at + len(data)] = data.astype(array.dtype, copy=False)
                at += len(data)
        done[run_id] = dict(start_idx=start, end_idx=at, lineage_hash=key.lineage_hash)
        if array is not None:
            # After each run, so that an interrupted call leaves a record of the runs it
            # finished; the next call drops the rows of one it did not.
            array.attrs["RUNS"] = done


def _rows_per_chunk(data, target_bytes=16_000_000):
    """Rows per zarr chunk: ~16 MB of them (zarr's own guess for a growing array is far
    smaller, thousands of files for one run of event-level data)."""
    return (max(1, target_bytes // max(1, data.dtype.itemsize)),)
