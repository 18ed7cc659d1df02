"""What users get back: rows selected, columns kept, arrays built, DataFrames made."""
import logging
import warnings

import numpy as np
import pandas as pd

from .errors import InvalidConfiguration


def selection_mask(data, selection):
    """Boolean mask of rows matching a selection string (or list of them, all must hold)."""
    if selection is None:
        return None
    if isinstance(selection, (list, tuple)):
        selection = " & ".join(f"({s})" for s in selection)
    scalar = {n: data[n] for n in data.dtype.names if data.dtype[n].shape == ()}
    try:
        mask = pd.eval(selection, local_dict=scalar, engine="python", parser="pandas")
    except Exception as e:
        raise InvalidConfiguration(
            f"cannot evaluate selection {selection!r} on fields {sorted(scalar)}: {e}") from None
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (len(data),):
        raise InvalidConfiguration(f"selection {selection!r} must give one True/False per row")
    return mask


def column_dtype(dtype, keep_columns=None, drop_columns=None, what=""):
    """The dtype after keep/drop; None if nothing changes."""
    if keep_columns is None and drop_columns is None:
        return None
    names = list(dtype.names)
    if keep_columns is not None:
        keep = [keep_columns] if isinstance(keep_columns, str) else list(keep_columns)
        unknown = [k for k in keep if k not in names]
        if unknown:
            raise InvalidConfiguration(f"keep_columns {unknown} are not fields of {what}; "
                                       f"fields are {names}")
        names = [n for n in names if n in keep]
    if drop_columns is not None:
        drop = [drop_columns] if isinstance(drop_columns, str) else list(drop_columns)
        unknown = [k for k in drop if k not in dtype.names]
        if unknown:
            warnings.warn(f"drop_columns {unknown} are not fields of {what}; ignored")
        names = [n for n in names if n not in drop]
    return np.dtype([dtype.descr[dtype.names.index(n)] for n in names])


def project(data, new_dtype):
    out = np.empty(len(data), dtype=new_dtype)
    for n in new_dtype.names:
        out[n] = data[n]
    return out


def add_run_id_field(data, run_id, width, first=False, as_bytes=False):
    """data with a run_id field of `width` characters (bytes with as_bytes); first=True puts
    it before the other fields, where strax's multi-run arrays have it."""
    field = [("run_id", f"{'S' if as_bytes else '<U'}{max(width, 1)}")]
    dtype = np.dtype(field + data.dtype.descr if first else data.dtype.descr + field)
    out = np.empty(len(data), dtype=dtype)
    for n in data.dtype.names:
        out[n] = data[n]
    out["run_id"] = run_id
    return out


def to_dataframe(data, log=None):
    """A DataFrame of every field; a field holding an array per row becomes a column of
    arrays (as strax 2.x does), with a warning on `log` (a logging.Logger; the `strax` logger
    when None, False for none) since pandas handles such columns poorly. strax logs the
    warning too, with the wording kept here, so log filters written for strax still match."""
    columns, arrays = {}, []
    for n in data.dtype.names:
        if data.dtype[n].shape == ():
            columns[n] = data[n]
        else:
            columns[n] = list(data[n])
            arrays.append(n)
    if arrays and log is not False:
        (log or logging.getLogger("strax")).warning(
            f"Columns {arrays} contain non-scalar entries. Some pandas functions (e.g., "
            f"groupby, apply) might not perform as expected on these columns. Pass "
            f"drop_columns={arrays} to leave them out, or use get_array")
    return pd.DataFrame(columns)


def shape_chunks(chunks, run_id, targets, selection=None, keep_columns=None, drop_columns=None,
                 add_run_id=False, functions=None):
    """Apply the user's per-chunk options to a stream of chunks, in strax's order:
    data functions, row selection, columns, then the run_id field."""
    from .chunk import Chunk
    if callable(functions):
        functions = (functions,)
    new_dtype = None
    for chunk in chunks:
        data = chunk.data
        for function in functions or ():
            # strax's signature: the data, the run id and the targets being loaded
            data = function(data, run_id, targets if len(targets) > 1 else targets[0])
        if selection is not None and len(data):
            data = data[selection_mask(data, selection)]
        if keep_columns is not None or drop_columns is not None:
            if new_dtype is None:
                new_dtype = column_dtype(chunk.dtype, keep_columns, drop_columns,
                                         what="+".join(targets))
            data = project(data, new_dtype)
        if add_run_id:
            data = with_run_ids(chunk, data)
        if data is not chunk.data:
            chunk = Chunk(data_type=chunk.data_type, data_kind=chunk.data_kind,
                          dtype=data.dtype, run_id=chunk.run_id, start=chunk.start,
                          end=chunk.end, data=data, subruns=chunk.subruns,
                          target_size_mb=chunk.target_size_mb)
        yield chunk


def with_run_ids(chunk, data):
    """data with a run_id field: each row's subrun for superrun chunks, else the run."""
    if chunk.subruns and len(data):
        ids = np.full(len(data), "", dtype=object)
        for sub, b in chunk.subruns.items():
            inside = (data["time"] >= b["start"]) & (data["time"] < max(b["end"], b["start"] + 1))
            ids[inside] = sub
        width = max(len(s) for s in chunk.subruns)
        out = add_run_id_field(data, "", width)
        out["run_id"] = ids.astype(f"<U{width}")
        return out
    return add_run_id_field(data, str(chunk.run_id), len(str(chunk.run_id)))
