"""Structured-array helpers strax keeps in ``strax.utils`` and ``strax.dtypes``: copying
between dtypes, merging arrays of one length, default fill values, dtype unpacking,
selections and grouping data types by kind. All plain numpy: they run on the load path and
in plugin code, where a first-call compilation would cost more than they do.
"""
import typing as ty

import numpy as np

from ..output import selection_mask

__all__ = ["copy_to_buffer", "merge_arrs", "merged_dtype", "set_nan_defaults", "unpack_dtype",
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


# Rows from which copy_to_buffer compiles a row-by-row copy: numpy copies one field at a
# time through strided views (slow for wide, unaligned rows), a compiled loop copies each row
# in one pass, but compiling costs about a second, which only pays off on large arrays or on
# a copy that has been compiled already.
COMPILE_COPY_FROM_ROWS = 100_000
_compiled_copies: dict = {}


def copy_to_buffer(source: np.ndarray, buffer: np.ndarray, func_name: str,
                   field_names: ty.Optional[ty.Tuple[str, ...]] = None):
    """Copy the fields `field_names` (default: all fields both have) of `source` into
    `buffer`, row for row, converting types as assignment does.

    `func_name` must start with ``_``, as strax requires. strax compiles one copy function
    per name and buffer dtype; here one is compiled per (source dtype, buffer dtype, fields),
    whatever the name, once an array is large enough for that to pay (smaller ones are copied
    with numpy, with the same result). So the fields asked for are always the fields copied.
    """
    if np.shape(source) != np.shape(buffer):
        raise ValueError(f"copy_to_buffer: the source has shape {np.shape(source)} but the "
                         f"buffer {np.shape(buffer)}; they must be the same length")
    if not isinstance(func_name, str) or not func_name.startswith("_"):
        raise ValueError(f"copy_to_buffer: func_name {func_name!r} must start with '_'")
    if field_names is None:
        field_names = tuple(n for n in source.dtype.names if n in buffer.dtype.names)
    field_names = tuple(field_names)
    missing = [n for n in field_names if n not in buffer.dtype.names]
    if missing:
        raise ValueError(f"copy_to_buffer: fields {missing} are not in the buffer's dtype "
                         f"(its fields are {list(buffer.dtype.names)})")
    for name in field_names:
        if source.dtype[name].shape != buffer.dtype[name].shape:
            raise ValueError(f"copy_to_buffer: field {name!r} has shape "
                             f"{source.dtype[name].shape} in the source but "
                             f"{buffer.dtype[name].shape} in the buffer")
    key = (source.dtype, buffer.dtype, field_names)
    compiled = _compiled_copies.get(key)
    if compiled is None and len(source) >= COMPILE_COPY_FROM_ROWS and _compilable(key):
        compiled = _compiled_copies[key] = _compile_copy(buffer.dtype, field_names)
    if compiled is not None and np.ndim(source) == 1:
        compiled(source, buffer)
    else:
        copy_fields_numpy(source, buffer, field_names)


def copy_fields_numpy(source, buffer, field_names):
    """The numpy twin of the compiled copy: one assignment per field."""
    for name in field_names:
        buffer[name] = source[name]


def _compilable(key):
    source_dtype, buffer_dtype, _ = key
    return all(not dt.hasobject and all(dt[n].base.isnative for n in dt.names)
               for dt in (source_dtype, buffer_dtype))


def _compile_copy(buffer_dtype, field_names):
    """A numba function copying `field_names` row by row. Record fields are only addressable
    by literal names in numba, so the loop body is written out for these fields; the names
    are validated field names and go in as repr() literals."""
    import numba
    body = ["def copy(source, buffer):",
            "    for i in range(len(source)):",
            "        s = source[i]",
            "        b = buffer[i]"]
    for name in field_names:
        target = f"b[{name!r}][:]" if buffer_dtype[name].shape else f"b[{name!r}]"
        body.append(f"        {target} = s[{name!r}]")
    if not field_names:
        body.append("        pass")
    namespace: dict = {}
    exec(compile("\n".join(body), "<copy_to_buffer>", "exec"), namespace)
    return numba.njit(nogil=True)(namespace["copy"])


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


def apply_selection(x, selection=None, keep_columns=None, drop_columns=None, time_range=None,
                    time_selection="fully_contained"):
    """`x` after a time range, a selection and a column choice, in that order.

    time_selection: ``fully_contained`` (rows inside [start, end)), ``touching`` (rows
    overlapping it) or ``skip``. Rows ending exactly at the range's end are inside it.
    """
    from ..dtypes import endtime
    from ..utils import to_str_tuple
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
        drop = to_str_tuple(drop_columns)
        keep_columns = [n for n in x.dtype.names if n not in drop]
    elif keep_columns:
        keep_columns = to_str_tuple(keep_columns)
    if keep_columns:
        x = apply_keep_columns(x, keep_columns)
    return x


def group_by_kind(dtypes, plugins=None, context=None) -> ty.Dict[str, ty.List]:
    """``{data_kind: [data types of that kind]}`` for `dtypes` (data type names), in their
    order; the kinds come from `plugins` (name -> plugin) or from `context`'s plugins."""
    if plugins is None:
        if context is None:
            raise ValueError("group_by_kind needs plugins= or context=")
        plugins = context._get_plugins(targets=tuple(dtypes), run_id="0")
    result: ty.Dict[str, ty.List] = {}
    for name in dtypes:
        result.setdefault(plugins[name].data_kind_for(name), []).append(name)
    return result


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
