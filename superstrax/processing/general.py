"""Interval utilities of ``strax.processing.general``: ordering, containment, touching.

An interval row occupies [time, endtime): ``endtime`` is the field of that name, or
``time + length * dt``. The public functions take structured arrays and check what the
algorithms rely on (time order, non-negative length) with plain numpy, so those checks cost
no compilation; the loops are numba kernels on int64 start/end arrays, so one compiled
version serves every dtype. Each kernel has a plain-numpy twin in ``.reference`` that the
tests compare it with.

``endtime``, ``diff``, ``from_break``, ``overlap_indices`` and ``_touching_windows`` also work
inside ``@numba.njit`` code, as strax's do.
"""
import warnings

import numba
import numpy as np
from numba.core import types
from numba.extending import overload
from numba.typed import List

from ..dtypes import endtime
from ..errors import IntervalError
from ..kernels import split_index

__all__ = ["sort_by_time", "endtime", "diff", "from_break", "NoBreakFound", "_find_break_i",
           "fully_contained_in", "split_by_containment", "overlap_indices",
           "split_touching_windows", "touching_windows", "abs_time_to_prev_next_interval",
           "split_array"]


# --- endtime inside numba ----------------------------------------------------------------

@overload(endtime)
def _endtime_in_numba(x):
    # The dtype is only known at compile time, so the choice of formula happens here, once
    # per dtype; the product is widened to int64 as in the Python version.
    if isinstance(x, types.Array) and isinstance(x.dtype, types.Record):
        names = x.dtype.fields
        if "endtime" in names:
            return lambda x: x["endtime"]
        return lambda x: x["time"] + x["length"].astype(np.int64) * x["dt"]
    if isinstance(x, types.Record):
        if "endtime" in x.fields:
            return lambda x: x["endtime"]
        return lambda x: x["time"] + np.int64(x["length"]) * np.int64(x["dt"])
    return None


# --- input checks (numpy: cheap, and no compilation on first use) ------------------------

def _as_int64(a):
    a = np.asarray(a)
    return a if a.dtype == np.int64 else a.astype(np.int64)


def _starts_ends(x):
    return _as_int64(x["time"]), _as_int64(endtime(x))


def _is_sorted(values):
    return len(values) < 2 or not np.any(values[1:] < values[:-1])


def _require_time_order(start, what):
    if not _is_sorted(start):
        first = int(np.argmax(start[1:] < start[:-1])) + 1
        raise IntervalError(f"The 'time' of {what} must be sorted (row {first} starts before "
                            f"row {first - 1}). Sort them first with sort_by_time.")


def _require_non_negative_length(start, end, what):
    bad = end < start
    if np.any(bad):
        row = int(np.argmax(bad))
        raise IntervalError(f"{what} must have non-negative length, but row {row} ends "
                            f"({int(end[row])}) before it starts ({int(start[row])}).")


def _checked(x, what):
    start, end = _starts_ends(x)
    _require_time_order(start, what)
    _require_non_negative_length(start, end, what)
    return start, end


# --- sorting -----------------------------------------------------------------------------

def sort_by_time(x):
    """`x` ordered by time, then by channel when it has a ``channel`` field. Stable: rows
    equal in both keep their order. An empty `x` is returned as it is."""
    if len(x) == 0:
        return x
    if "channel" in x.dtype.names:
        order = np.lexsort((x["channel"], x["time"]))
    else:
        order = np.argsort(x["time"], kind="stable")
    return x[order]


def split_array(data, t, allow_early_split=False):
    """(rows left of t, rows right of t, t): rows ending by t go left, rows starting at or
    after t go right. A row straddling t raises CannotSplit, or with `allow_early_split`
    moves the split back to the latest time before t that no row straddles (returned as t).
    `data` must be sorted by time (strax keeps this in strax.chunk)."""
    if len(data) == 0:
        return data[:0], data[:0], t
    index, t_used = split_index(*_starts_ends(data), t, allow_early_split)
    if not allow_early_split:
        t_used = t
    return data[:index], data[index:], t_used


# --- gaps and breaks ---------------------------------------------------------------------

@numba.njit(nogil=True, cache=True)
def diff(data):
    """For rows 1..n-1: time since the latest end of all rows before it (negative if the row
    starts inside an earlier one). Length n - 1; empty for empty input."""
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ends = endtime(data)
    result = np.zeros(n - 1, dtype=np.int64)
    latest_end = np.int64(ends[0])
    for i in range(1, n):
        result[i - 1] = data[i]["time"] - latest_end
        latest_end = max(latest_end, np.int64(ends[i]))
    return result


class NoBreakFound(Exception):
    """No gap of the requested size exists in the data."""


@numba.njit(nogil=True, cache=True)
def _find_break_i(data, safe_break, not_before):
    """Index of the first row (after row 0) that starts at least `safe_break` after everything
    before it has ended (and after `not_before`). Raises NoBreakFound if there is none."""
    if len(data) < 2:
        raise NoBreakFound()
    latest_end = max(np.int64(not_before), np.int64(endtime(data[0])))
    for i in range(1, len(data)):
        if data[i]["time"] >= latest_end + safe_break:
            return i
        latest_end = max(latest_end, np.int64(endtime(data[i])))
    raise NoBreakFound()


@numba.njit(nogil=True, cache=True)
def from_break(x, safe_break, not_before=0, left=True, tolerant=False):
    """The rows left (or right) of the first gap of at least `safe_break`, and the time the
    first row after the gap starts. Raises NoBreakFound when there is no such gap."""
    if tolerant:
        raise NotImplementedError("from_break(tolerant=True) is not implemented")
    if len(x) == 0:
        raise NotImplementedError("Cannot find breaks in empty data")
    if len(x) == 1:
        raise NoBreakFound()
    i = _find_break_i(x, safe_break, not_before)
    break_time = x[i]["time"]
    if left:
        return x[:i], break_time
    return x[i:], break_time


# --- containment -------------------------------------------------------------------------

@numba.njit(nogil=True, cache=True)
def _containers_of(thing_start, thing_end, cont_start, cont_end):
    """Per thing: the first container that has not ended when the thing starts, if that
    container holds the whole thing; else -1. Both inputs sorted by start."""
    result = np.full(len(thing_start), -1, dtype=np.int32)
    n_cont = len(cont_start)
    c = 0
    for i in range(len(thing_start)):
        t = thing_start[i]
        # An end is exclusive: a container ending at t has already ended.
        while c < n_cont and cont_end[c] <= t:
            c += 1
        if c == n_cont:
            break
        if cont_start[c] <= t and thing_end[i] <= cont_end[c]:
            result[i] = c
    return result


def _containment_inputs(things, containers):
    ts, te = _checked(things, "things")
    cs, ce = _checked(containers, "containers")
    if len(cs) > 1 and np.any(cs[1:] < ce[:-1]):
        warnings.warn("Containers overlap: each thing is assigned at most to the first "
                      "container that has not ended when the thing starts.", UserWarning,
                      stacklevel=3)
    return ts, te, cs, ce


def fully_contained_in(things, containers):
    """For each thing the index of the container holding it entirely, or -1 (int32).

    Both must be sorted by time; containers should not overlap (a warning says so if they do,
    and a thing is then only tested against the first container not ended at its start). A
    zero-length thing at a container's end is not inside it; a zero-length container holds
    nothing.
    """
    ts, te, cs, ce = _containment_inputs(things, containers)
    return _containers_of(ts, te, cs, ce)


@numba.njit(nogil=True, cache=True)
def _split_by_container(things, which, n_containers):
    # `which` is non-decreasing over the things that have a container (see _containers_of:
    # the container tested only moves forward), so each container's things are one block.
    inside = which >= 0
    kept = things[inside]
    kept_which = which[inside]
    result = List()
    k = 0
    for c in range(n_containers):
        first = k
        while k < len(kept_which) and kept_which[k] == c:
            k += 1
        result.append(kept[first:k])
    return result


def _empty_typed_list(dtype):
    # A typed List only learns its item type from an append; an empty one must still carry
    # the dtype so numba code receiving it (a LoopPlugin's compute) compiles.
    result = List()
    result.append(np.zeros(0, dtype=dtype))
    result.pop()
    return result


def split_by_containment(things, containers):
    """A ``numba.typed.List`` with, for each container, the things fully inside it (copies).
    Same rules and requirements as fully_contained_in."""
    ts, te, cs, ce = _containment_inputs(things, containers)
    if len(containers) == 0:
        return _empty_typed_list(things.dtype)
    which = _containers_of(ts, te, cs, ce)
    return _split_by_container(things, which, len(containers))


def _split(things, split_indices):
    """``things`` cut before each of the sorted `split_indices` (``np.split``'s pieces; kept
    under strax's private name because strax's own tests call it)."""
    return np.split(things, split_indices)


def _get_empty_container_ids(n_containers, full_container_ids):
    """The ids in range(n_containers) not in `full_container_ids`, sorted (strax's private
    name, as for _split)."""
    return np.setdiff1d(np.arange(n_containers), full_container_ids)


# --- overlap of two integer ranges -------------------------------------------------------

@numba.njit(nogil=True, cache=True)
def overlap_indices(a1, n_a, b1, n_b):
    """For ranges [a1, a1 + n_a) and [b1, b1 + n_b): the overlap as ((a_start, a_end),
    (b_start, b_end)), indices relative to each range's start; ((0, 0), (0, 0)) if none."""
    if n_a < 0 or n_b < 0:
        raise ValueError("overlap_indices got a negative range length")
    lo = max(a1, b1)
    hi = min(a1 + n_a, b1 + n_b)
    if n_a == 0 or n_b == 0 or hi <= lo:
        return (0, 0), (0, 0)
    return (lo - a1, hi - a1), (lo - b1, hi - b1)


# --- touching windows --------------------------------------------------------------------

@numba.njit(nogil=True, cache=True)
def _touching_windows(thing_start, thing_end, container_start, container_end, window=0):
    """[first, last) thing indices touching each container: the things ending after
    container_start - window and starting before container_end + window.

    thing_start and container_start must be sorted. The first index is the first thing whose
    end is beyond the limit, even when thing ends are not sorted; the last is where the
    things starting before the limit stop.
    """
    n = len(thing_start)
    result = np.zeros((len(container_start), 2), dtype=np.int32)
    k = 0
    for c in range(len(container_start)):
        limit = container_start[c] - window
        while k < n and thing_end[k] <= limit:
            k += 1
        result[c, 0] = k
    k = 0
    previous_limit = 0
    for c in range(len(container_end)):
        limit = container_end[c] + window
        if c > 0 and limit < previous_limit:
            # Overlapping containers can end out of order: search back instead of resetting.
            k = np.searchsorted(thing_start[:k], limit)
        while k < n and thing_start[k] < limit:
            k += 1
        result[c, 1] = k
        previous_limit = limit
    return result


def touching_windows(things, containers, window=0):
    """An (n_containers, 2) int32 array of [start, end) indices into `things` of the things
    within `window` of each container (window=0: sharing at least one ns; negative windows
    demand more overlap). Both sorted by time; containers may overlap. If thing end times
    are not sorted, a warning is given: a window then runs from the first touching thing to
    the last thing starting before the container's end (+ window), and may hold things that
    do not touch."""
    ts, te = _checked(things, "things")
    cs, ce = _checked(containers, "containers")
    if not _is_sorted(te):
        warnings.warn("The endtimes of things are not sorted: a window then starts at the "
                      "first thing touching the container but may include things that do "
                      "not touch it.", UserWarning, stacklevel=2)
    if len(ts) == 0 or len(cs) == 0:
        return np.zeros((len(cs), 2), dtype=np.int32)
    return _touching_windows(ts, te, cs, ce, window)


def split_touching_windows(things, containers, window=0):
    """A list with, per container, the slice (a view) of `things` touching_windows gives."""
    windows = touching_windows(things, containers, window)
    return [things[first:last] for first, last in windows]


# --- distance to neighbouring intervals ---------------------------------------------------

def abs_time_to_prev_next_interval(things, intervals):
    """Per thing: ns from the end of the latest interval that ended by the thing's start, and
    from the thing's end to the start of the first interval starting at or after it; -1 where
    there is no such interval. Both int64. Things and intervals sorted by time."""
    ts, te = _starts_ends(things)
    _require_time_order(ts, "things")
    if not _is_sorted(te):
        warnings.warn("The endtimes of things are not sorted; things are expected not to "
                      "overlap.", UserWarning, stacklevel=2)
    starts, ends = _starts_ends(intervals)
    _require_time_order(starts, "intervals")
    to_prev = np.full(len(ts), -1, dtype=np.int64)
    to_next = np.full(len(ts), -1, dtype=np.int64)
    if len(ts) == 0 or len(starts) == 0:
        return to_prev, to_next
    # An interval counts as previous if it started before the thing and ended by its start;
    # a zero-length interval exactly at the thing's start has not started before it.
    zero = ends == starts
    prev_end = np.full(len(ts), np.iinfo(np.int64).min)
    for ends_of, side in ((np.sort(ends[~zero]), "right"), (np.sort(ends[zero]), "left")):
        i = np.searchsorted(ends_of, ts, side=side) - 1
        found = i >= 0
        prev_end[found] = np.maximum(prev_end[found], ends_of[i[found]])
    has_prev = prev_end != np.iinfo(np.int64).min
    to_prev[has_prev] = ts[has_prev] - prev_end[has_prev]
    j = np.searchsorted(starts, te, side="left")
    has_next = j < len(starts)
    to_next[has_next] = starts[j[has_next]] - te[has_next]
    return to_prev, to_next
