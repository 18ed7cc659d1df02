"""``strax.utils``: the small helpers plugin and analysis code imports from strax.

Most of strax's names here are re-exported from the module that owns the behaviour
(hashing, array helpers, plugin naming); this module adds the few that have no better home.
"""
import collections.abc
import contextlib
import functools
import os
import re
import sys
import traceback
import typing as ty

import numpy as np
import pandas as pd

from .dtypes import to_numpy_dtype
from .hashing import NumpyJSONEncoder, deterministic_hash, hashablize
from .processing.arrays import (apply_keep_columns, apply_selection, dict_to_rec, group_by_kind,
                                iter_chunk_meta, merge_arrs, merged_dtype, parse_selection,
                                remove_titles_from_dtype, set_nan_defaults, unpack_dtype)
from .progress import bar_class
from .sort_enforcement import stable_argsort, stable_sort
from .threaded_runs import multi_run


def exporter(export_self=False):
    """``export, __all__ = exporter()``: `export` is a decorator that appends the decorated
    object's name to the list `__all__` and returns the object unchanged."""
    names = ["exporter"] if export_self else []

    def export(obj):
        names.append(obj.__name__)
        return obj

    return export, names


export, __all__ = exporter(export_self=True)
__all__ += ["tqdm", "stable_sort", "stable_argsort", "deterministic_hash", "hashablize",
            "NumpyJSONEncoder", "to_numpy_dtype", "apply_keep_columns",
            "apply_selection", "dict_to_rec", "group_by_kind", "iter_chunk_meta", "merge_arrs",
            "merged_dtype", "parse_selection", "remove_titles_from_dtype", "set_nan_defaults",
            "unpack_dtype", "multi_run"]

# strax exposes its progress-bar class here; like strax's, it is the notebook bar in a
# Jupyter kernel (when widgets are available) and tqdm's text bar elsewhere.
tqdm = bar_class()


@export
def to_str_tuple(x) -> ty.Tuple[ty.Any, ...]:
    """A tuple from a string (one element), list, tuple, numpy array or pandas Series."""
    if isinstance(x, (str, bytes)):
        return (x,)
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    if isinstance(x, pd.Series):
        return tuple(x.values.tolist())
    if isinstance(x, np.ndarray):
        return tuple(x.tolist())
    raise TypeError(f"Expected a string or a sequence of strings, got {type(x).__name__}")


# A word starts at a capital followed by a lowercase letter (not at the very start), or at a
# capital following a lowercase letter or digit: 'LEDCalibration' -> 'led_calibration'.
_WORD_START = re.compile(r"(?<=.)(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])")


@export
def camel_to_snake(x):
    """'CamelCase' as 'camel_case', with strax's rule for acronyms and digits."""
    return _WORD_START.sub("_", x).lower()


@export
def inherit_docstring_from(cls):
    """Decorator giving a method the docstring of the method of the same name on `cls`."""
    def decorate(fn):
        fn.__doc__ = getattr(cls, fn.__name__).__doc__
        return fn
    return decorate


@export
def growing_result(dtype=np.int64, chunk_size=10000):
    """Decorator for generator functions that fill a buffer and ``yield`` how many rows of it
    are done; the decorated function returns all yielded rows as one array.

    The generator gets the buffer (`chunk_size` rows of `dtype`, or of the caller's
    ``result_dtype=``) as its ``_result_buffer`` argument and reuses it after each yield.
    """
    def decorate(f):
        @functools.wraps(f)
        def collect(*args, **kwargs):
            if "_result_buffer" in kwargs:
                raise ValueError("_result_buffer is set by growing_result, not by callers")
            result_dtype = kwargs.pop("result_dtype", None)
            result_dtype = dtype if result_dtype is None else result_dtype
            buffer = np.zeros(chunk_size, result_dtype)
            pieces = [buffer[:n].copy() for n in f(*args, _result_buffer=buffer, **kwargs)]
            if not pieces:
                return np.zeros(0, result_dtype)
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return collect
    return decorate


@export
def set_keep_order(x):
    """The distinct items of `x` in order of first appearance."""
    return list(dict.fromkeys(x))


@export
def flatten_dict(d, separator=":", _parent_key="", keep=tuple()):
    """Nested mappings as one dict with keys joined by `separator`; values under the keys in
    `keep` stay nested."""
    keep = to_str_tuple(keep)
    flat = {}
    for k, v in d.items():
        key = f"{_parent_key}{separator}{k}" if _parent_key else k
        if isinstance(v, collections.abc.MutableMapping) and k not in keep:
            flat.update(flatten_dict(v, separator=separator, _parent_key=key))
        else:
            flat[key] = v
    return flat


@export
def formatted_exception():
    """The traceback of the exception being handled, as text; '' if there is none (or it is
    StopIteration)."""
    exc_type = sys.exc_info()[0]
    if exc_type is None or exc_type is StopIteration:
        return ""
    return traceback.format_exc()


@export
def print_record(x, skip_array=True):
    """Print the fields of a record (or of each record of an array), one per line; array
    fields are left out unless skip_array=False."""
    if len(x.shape):
        for row in x:
            print_record(row, skip_array=skip_array)
        return
    width = max(len(name) for name in x.dtype.names)
    for name in x.dtype.names:
        if skip_array and np.ndim(x[name]):
            continue
        print(f"{name:<{width}}: ", x[name])


@export
def count_tags(ds):
    """How often each tag occurs in the ``tags`` column (comma-separated) of a runs table."""
    return collections.Counter(tag for tags in ds["tags"].values for tag in tags.split(","))


@export
def convert_tuple_to_list(init_func_input):
    """A copy of a nested structure of dicts, lists and tuples with every tuple a list."""
    if isinstance(init_func_input, (tuple, list)):
        return [convert_tuple_to_list(v) for v in init_func_input]
    if isinstance(init_func_input, dict):
        return {k: convert_tuple_to_list(v) for k, v in init_func_input.items()}
    return init_func_input


def dict_differences(old, new, path="") -> list:
    """Lines naming each key whose value differs between two nested dicts ('a.b: 1 != 2',
    'a.c: only in first'), keys in sorted order."""
    out = []
    for k in sorted(set(old) | set(new), key=str):
        where = f"{path}.{k}" if path else str(k)
        if k not in old or k not in new:
            out.append(f"{where}: only in {'first' if k in old else 'second'}")
        elif isinstance(old[k], dict) and isinstance(new[k], dict):
            out.extend(dict_differences(old[k], new[k], where))
        elif not _equal(old[k], new[k]):
            out.append(f"{where}: {old[k]!r} != {new[k]!r}")
    return out


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except ValueError:          # arrays: == is elementwise
        return bool(np.array_equal(a, b))


@export
def compare_dict(old: dict, new: dict):
    """Print how two nested dicts (metadata, lineages) differ, one line per differing key;
    nothing when they are equal. strax's prints deepdiff's report in colour instead."""
    for line in dict_differences(old, new):
        print(line)


@export
def convert_structured_array_to_df(structured_array, log=None):
    """A DataFrame of every field; a field holding an array per row becomes a column of arrays
    (with a warning on `log`, by default the `strax` logger, since pandas handles such columns
    poorly). What get_df returns."""
    from .output import to_dataframe
    return to_dataframe(structured_array, log=log)


@export
@contextlib.contextmanager
def profile_threaded(filename):
    """Profile all threads with yappi (not a dependency: install it) while the block runs,
    and write pstats to `filename`."""
    import yappi
    yappi.set_clock_type("cpu")
    yappi.start()
    try:
        yield
    finally:
        yappi.stop()
        yappi.convert2pstats(yappi.get_func_stats()).dump_stats(filename)
        yappi.clear_stats()


@export
def dir_size_mb(start_path="."):
    """MB (1e6 bytes) the files under start_path take, symbolic links not followed or
    counted; 0 when the path does not exist."""
    if not os.path.exists(start_path):
        return 0
    total = 0
    for folder, _, files in os.walk(start_path):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total / 1e6
