"""Structured-array helpers strax keeps in ``strax.utils``: merging arrays of one length,
default fill values, dtype unpacking, selections and grouping data types by kind
(``copy_to_buffer``, in ``strax.dtypes`` in strax too, lives in ``dtypes``; re-exported). All plain numpy: they run on the load path and
in plugin code, where a first-call compilation would cost more than they do.
"""
import typing as ty

import numpy as np

from ..dtypes import copy_to_buffer, copy_fields_numpy, endtime
from ..output import selection_mask

__all__ = ["copy_to_buffer", "copy_fields_numpy", "merge_arrs", "merged_dtype", "set_nan_defaults", "unpack_dtype",
           "remove_titles_from_dtype", "apply_selection", "apply_keep_columns",
           "parse_selection", "group_by_kind", "dict_to_rec", "iter_chunk_meta"]


def unpack_dtype(dtype) -> list:
    """The field list that rebuilds `dtype`: ``np.dtype(unpack_dtype(d)) == d``; fields with
    a title come as ``((title, name), type)``, others as ``(name, type)``."""
    dtype = np.dtype(dtype)
    result = []
    for name in dtype.names:
        info = dtype.fields[name]
        # .fields gives (type, offset[, title]); the constructor wants the title with the name.
        result.append(((info[2], name), info[0]) if len(info) == 3 else (name, info[0]))
    return result


def remove_titles_from_dtype(dtype) -> np.dtype:
    """`dtype` with the same fields and types but no titles."""
    return np.dtype([(name, np.dtype(dtype)[name]) for name in np.dtype(dtype).names])


def merged_dtype(dtypes) -> list:
    """The fields of all `dtypes`, each name once (from the first dtype that has it), as the
    list unpack_dtype gives; ``np.dtype`` and ``np.zeros`` accept it, and ``+`` extends it."""
    fields = {}
    for dtype in dtypes:
        for entry in unpack_dtype(dtype):
            name = entry[0][1] if isinstance(entry[0], tuple) else entry[0]
            fields.setdefault(name, entry)
    return list(fields.values())


def merge_arrs(arrs, dtype=None, replacing=False):
    """One array with the fields of all `arrs` (all of one length). Where several have a
    field, the value comes from the last of them and the type from the first. One array is
    returned as it is (no copy) unless `replacing`, which copies into `dtype`."""
    if not len(arrs):
        raise ValueError("merge_arrs needs at least one array")
    if len(arrs) == 1 and not replacing:
        return arrs[0]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError("Arrays to merge must have the same length, got lengths "
                         + ", ".join(str(len(a)) for a in arrs))
    if dtype is None:
        dtype = merged_dtype([a.dtype for a in arrs])
    result = np.zeros(n, dtype=dtype)
    for arr in arrs:
        for name in arr.dtype.names:
            if name in result.dtype.names:
                result[name] = arr[name]
    return result


def set_nan_defaults(buffer):
    """Fill every field of `buffer` with a value that cannot be mistaken for a result:
    -1 for integer fields (all bits set for unsigned ones, as -1 wrapped to under numpy 1),
    NaN for the others (0 often means something)."""
    for name in buffer.dtype.names:
        base = buffer.dtype[name].base
        if np.issubdtype(base, np.unsignedinteger):
            buffer[name][...] = np.iinfo(base).max
        elif np.issubdtype(base, np.integer):
            buffer[name][...] = -1
        else:
            buffer[name][...] = np.nan


def parse_selection(x, selection):
    """Boolean mask of the rows of `x` that `selection` keeps: a function of the array, a
    query string over its fields (``"area > 10"``), or a sequence of strings all of which
    must hold."""
    if callable(selection):
        return selection(x)
    return selection_mask(x, selection)


def apply_keep_columns(x, keep_columns):
    """A copy of `x` with only the fields in `keep_columns`, in the order of `x`."""
    fields = [entry for entry in unpack_dtype(x.dtype)
              if (entry[0][1] if isinstance(entry[0], tuple) else entry[0]) in keep_columns]
    result = np.zeros(len(x), dtype=fields)
    for name in result.dtype.names:
        result[name] = x[name]
    return result


def _names(x):
    return (x,) if isinstance(x, str) else tuple(x)


def apply_selection(x, selection=None, keep_columns=None, drop_columns=None, time_range=None,
                    time_selection="fully_contained"):
    """`x` after a time range, a selection and a column choice, in that order.

    time_selection: ``fully_contained`` (rows inside [start, end)), ``touching`` (rows
    overlapping it) or ``skip``. Rows ending exactly at the range's end are inside it.
    """
    if keep_columns and drop_columns:
        raise ValueError("Pass keep_columns or drop_columns, not both: one names what stays, "
                         "the other what goes.")
    if time_range is not None and time_selection != "skip":
        start, end = time_range
        if time_selection == "fully_contained":
            x = x[(start <= x["time"]) & (endtime(x) <= end)]
        elif time_selection == "touching":
            x = x[(endtime(x) > start) & (x["time"] < end)]
        else:
            raise ValueError(f"Unknown time_selection {time_selection!r}; use "
                             f"'fully_contained', 'touching' or 'skip'")
    if selection:
        x = x[parse_selection(x, selection)]
    if drop_columns:
        drop = _names(drop_columns)
        keep_columns = [n for n in x.dtype.names if n not in drop]
    elif keep_columns:
        keep_columns = _names(keep_columns)
    if keep_columns:
        x = apply_keep_columns(x, keep_columns)
    return x


def group_by_kind(dtypes, plugins=None, context=None) -> ty.Dict[str, ty.List]:
    """``{data_kind: [data types of that kind]}`` for `dtypes` (data type names), in their
    order; the kinds come from `plugins` (name -> plugin) or from `context`'s plugins."""
    if plugins is None:
        if context is None:
            raise ValueError("group_by_kind needs plugins= or context=")
        plugins = {name: context.get_single_plugin("0", name) for name in dtypes}
    result: ty.Dict[str, ty.List] = {}
    for name in dtypes:
        result.setdefault(_kind_of(plugins[name], name), []).append(name)
    return result


def _kind_of(plugin, data_type):
    if hasattr(plugin, "data_kind_for"):
        return plugin.data_kind_for(data_type)
    # Plugins without strax's data_kind_for:
    # data_kind (per output when a mapping); unset, a data type is its own kind.
    kind = plugin.data_kind
    kind = kind.get(data_type) if isinstance(kind, ty.Mapping) else kind
    return kind or data_type


def dict_to_rec(x, dtype=None):
    """A structured array from ``{field: values}`` (an array is returned as it is)."""
    if isinstance(x, np.ndarray):
        return x
    if dtype is None:
        if not len(x):
            raise ValueError("Cannot infer a dtype from an empty dict; pass dtype=")
        dtype = [(k, np.asarray(v).dtype) for k, v in x.items()]
    if not len(x):
        return np.empty(0, dtype=dtype)
    n = len(next(iter(x.values())))
    result = np.zeros(n, dtype=dtype)
    for k, v in x.items():
        result[k] = v
    return result


def iter_chunk_meta(md):
    """The chunk entries of data metadata `md`, each given ``n_from``/``n_to``: its rows'
    [start, end) among all rows of the data."""
    n_to = 0
    for chunk in md["chunks"]:
        chunk["n_from"] = n_to
        n_to += chunk["n"]
        chunk["n_to"] = n_to
        yield chunk
