"""Plain-numpy twins of the numba kernels in ``general``, for the tests.

Each twin states the kernel's rule with whole-array operations (prefix maxima and binary
search instead of the kernels' moving pointers), so the two formulations check each other.
They are slow where they broadcast and allocate freely; nothing in the library calls them.
"""
import numpy as np

from ..dtypes import endtime


def containers_of_numpy(thing_start, thing_end, cont_start, cont_end):
    """Twin of ``general._containers_of``."""
    result = np.full(len(thing_start), -1, dtype=np.int32)
    if len(cont_start) == 0:
        return result
    # The first container not ended at t is the first whose running maximum end exceeds t.
    first_open = np.searchsorted(np.maximum.accumulate(cont_end), thing_start, side="right")
    has = first_open < len(cont_start)
    c = first_open[has]
    inside = (cont_start[c] <= thing_start[has]) & (thing_end[has] <= cont_end[c])
    result[np.flatnonzero(has)[inside]] = c[inside]
    return result


def split_by_container_numpy(things, which, n_containers):
    """Twin of ``general._split_by_container``."""
    return [things[which == c] for c in range(n_containers)]


def touching_windows_numpy(thing_start, thing_end, container_start, container_end, window=0):
    """Twin of ``general._touching_windows``."""
    result = np.zeros((len(container_start), 2), dtype=np.int32)
    if len(thing_start) == 0:
        return result
    result[:, 0] = np.searchsorted(np.maximum.accumulate(thing_end),
                                   container_start - window, side="right")
    result[:, 1] = np.searchsorted(thing_start, container_end + window, side="left")
    return result


def diff_numpy(data):
    """Twin of ``general.diff``."""
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64)
    latest_end = np.maximum.accumulate(np.asarray(endtime(data), dtype=np.int64))
    return data["time"][1:].astype(np.int64) - latest_end[:-1]


def find_break_i_numpy(data, safe_break, not_before):
    """Twin of ``general._find_break_i``; None where the kernel raises NoBreakFound."""
    if len(data) < 2:
        return None
    latest_end = np.maximum.accumulate(np.asarray(endtime(data), dtype=np.int64))
    latest_end = np.maximum(latest_end, not_before)
    hits = np.flatnonzero(data["time"][1:] >= latest_end[:-1] + safe_break)
    return int(hits[0]) + 1 if len(hits) else None


def overlap_indices_numpy(a1, n_a, b1, n_b):
    """Twin of ``general.overlap_indices``, by listing both ranges' integers."""
    if n_a < 0 or n_b < 0:
        raise ValueError("negative length")
    common = np.intersect1d(np.arange(a1, a1 + n_a), np.arange(b1, b1 + n_b))
    if len(common) == 0:
        return (0, 0), (0, 0)
    lo, hi = int(common[0]), int(common[-1]) + 1
    return (lo - a1, hi - a1), (lo - b1, hi - b1)
