"""Hot loops over time-ordered rows, compiled with numba.

Every kernel works on plain 1-d integer arrays (time, endtime) so one compiled version serves
all dtypes; the public wrappers take structured arrays or field views and normalise them.
Each numba kernel's public function `f` has a twin `f_numpy` written with whole-array numpy operations only.
The twins are slow and allocate freely; they exist so tests can check the kernels against an
independent formulation of the same rule.

Conventions shared by all functions here:
- `time` is sorted non-decreasing (chunks guarantee it); nothing here re-checks it except
  `first_unsorted_index`.
- a row occupies [time, endtime); a row of zero duration sits at the point `time`.
- "a cut before row i" means rows [0, i) go left and rows [i, n) go right.
"""
import numba
import numpy as np

from .dtypes import endtime
from .errors import CannotSplit

__all__ = ["endtimes", "first_unsorted_index", "max_endtime", "split_index", "gap_split_indices",
           "find_gaps", "choose_cuts", "time_range_mask", "ranges_mask", "SELECTIONS"]

SELECTIONS = ("fully_contained", "touching")
_FULLY_CONTAINED, _TOUCHING = 0, 1


def check_selection(selection):
    """Raise ValueError unless selection names a time selection these kernels know."""
    _selection_code(selection)


def _selection_code(selection):
    try:
        return SELECTIONS.index(selection)
    except ValueError:
        raise ValueError(f"unknown time selection {selection!r}; use one of {SELECTIONS}") from None


def _int64s(a):
    """`a` as an int64 array (no copy if it is one): numpy's own kernels need no other care."""
    return np.asarray(a).astype(np.int64, copy=False)


def _ints(a):
    """`a` as an integer array numba can read without a copy when possible.

    Non-native byte order and unsigned 64-bit values are converted: numba cannot read the
    former, and mixing uint64 with int64 silently promotes to float in numba.
    """
    a = np.asarray(a)
    if a.dtype.kind == "i" and a.dtype.isnative:
        return a
    if a.dtype.kind == "u" and a.dtype.itemsize < 8 and a.dtype.isnative:
        return a
    return a.astype(np.int64)


# --- endtimes ---------------------------------------------------------------------------

def endtimes(data):
    """dtypes.endtime of every row, always as an int64 array, and one addition the engine
    needs: rows with only a time field are point-like (endtime = time), where endtime, as
    strax's, raises. One rule, so the two never disagree where both answer.
    """
    names = data.dtype.names or ()
    if "endtime" not in names and not ("length" in names and "dt" in names):
        return data["time"].astype(np.int64)
    return np.asarray(endtime(data)).astype(np.int64, copy=False)


# --- first_unsorted_index, max_endtime: checks on every chunk, so plain numpy -------------
# Every chunk is checked on construction, including each chunk of a plain load. These checks
# are single passes that numpy does at memory speed; a numba kernel here would make the
# first load in a process pay for loading numba's compiler (~0.1-1 s), for no gain.

def first_unsorted_index(time):
    """Index of the first value smaller than its predecessor, or -1 if `time` never decreases."""
    time = np.asarray(time)
    if len(time) < 2:
        return -1
    decreasing = time[1:] < time[:-1]
    if not decreasing.any():
        return -1
    return int(np.argmax(decreasing)) + 1


def max_endtime(data):
    """Largest end time of a structured array, -1 when it has no rows.

    With an `endtime` field the field is reduced in place; otherwise time + length * dt is
    evaluated in int64 (numpy would multiply int32 by int16 in int32 and overflow).
    """
    if not len(data):
        return -1
    names = data.dtype.names or ()
    if "endtime" in names:
        return int(data["endtime"].max())
    if "length" in names and "dt" in names:
        return int(endtimes(data).max())
    return int(data["time"].max())


# --- split_index ------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _split_index(time, endtime, t, allow_early_split):
    """(index, t_used, ok, max_end_left) for a cut at or before t.

    Walks forward keeping the running max endtime; a cut before row i is possible at
    t_c = min(t, time[i]) when everything on the left ends by t_c. The last possible cut is
    the latest one. Only the cut at t itself counts when an early split is not allowed.
    """
    n = len(time)
    if n == 0:
        return 0, t, True, np.int64(-1)
    best_i = 0
    best_t = min(t, np.int64(time[0]))
    run_max = np.int64(0)
    for i in range(1, n + 1):
        prev_time = np.int64(time[i - 1])
        if prev_time >= t:
            # Row i-1 belongs right of t: the cut at t is the previous candidate.
            return best_i, best_t, best_t == t, run_max
        e = np.int64(endtime[i - 1])
        if i == 1 or e > run_max:
            run_max = e
        t_c = t if i == n else min(t, np.int64(time[i]))
        # prev_time < t_c keeps the index canonical: rows at exactly t_c always go right.
        if run_max <= t_c and prev_time < t_c and (allow_early_split or t_c == t):
            best_i = i
            best_t = t_c
    return best_i, best_t, best_t == t, run_max


def split_index(time, endtime, t, allow_early_split=False):
    """Where to cut sorted rows at time t: (index, t_used).

    Rows [0, index) end by t_used and rows [index, n) start at or after t_used; rows starting
    exactly at t_used go right. If a row straddles t, an early split moves t_used back to the
    latest time <= t where no row straddles; otherwise CannotSplit is raised.
    """
    t = int(t)
    time, endtime = _ints(time), _ints(endtime)
    index, t_used, ok, max_end = _split_index(time, endtime, np.int64(t), bool(allow_early_split))
    if not allow_early_split and not ok:
        raise CannotSplit(
            f"cannot split at {t}: a row that starts before {t} ends at {int(max_end)}; "
            f"split at another time or allow an early split")
    return int(index), int(t_used)


def split_index_numpy(time, endtime, t, allow_early_split=False):
    time = np.asarray(time, dtype=np.int64)
    endtime = np.asarray(endtime, dtype=np.int64)
    n = len(time)
    idx0 = int(np.searchsorted(time, t, side="left"))
    if n == 0:
        return 0, int(t)
    run_max = np.maximum.accumulate(endtime)
    if not allow_early_split:
        if idx0 and run_max[idx0 - 1] > t:
            raise CannotSplit(f"cannot split at {t}")
        return idx0, int(t)
    cand = np.arange(idx0 + 1)
    t_c = np.minimum(t, np.append(time, t)[cand])
    ok = np.ones(len(cand), dtype=bool)
    ok[1:] = (run_max[cand[1:] - 1] <= t_c[1:]) & (time[cand[1:] - 1] < t_c[1:])
    best = int(np.flatnonzero(ok)[-1])
    return best, int(t_c[best])


# --- gap_split_indices, find_gaps, choose_cuts: every save runs these, so plain numpy -----
# A saver scans each chunk for gaps and picks where to cut. Both are a pass or two that numpy
# does at memory speed (the greedy choice takes one binary search per piece written), and
# as numba kernels they made the first make in a process load numba's compiler (~0.15 s, half
# of a small make).

def _gaps(time, endtime, min_gap, prev_max):
    """Rows preceded by more than min_gap of empty time; with a valid time to cut in each.

    Returns (row indices, cut times, max endtime over all rows seen, or None if no row was
    seen). The cut time is the middle of the gap, rounded up so it is strictly after every
    earlier row's end. prev_max (None at the start of a stream) is the running max from rows
    before this array, so gaps can be found one chunk at a time; row 0 is a gap only after it.
    """
    n = len(time)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), prev_max
    run_max = np.maximum.accumulate(endtime)
    if prev_max is not None:
        np.maximum(run_max, prev_max, out=run_max)
    ended_before = np.empty(n, dtype=np.int64)       # max endtime of the rows before row i
    ended_before[1:] = run_max[:-1]
    ended_before[0] = prev_max if prev_max is not None else time[0]
    pause = time - ended_before
    if prev_max is None:
        pause[0] = 0
    rows = np.flatnonzero(pause > min_gap)
    cuts = ended_before[rows] + (pause[rows] + 1) // 2
    return rows, cuts, int(run_max[-1])


def _choose_cuts(gap_rows, n, target_rows):
    """Positions in gap_rows (ascending) to cut at, greedily from the front.

    Each piece takes the furthest gap that keeps it within target_rows; if there is none, the
    first gap beyond. Stops once the rest fits within the target (or no gap is left).
    """
    chosen = []
    last = 0
    while n - last > target_rows:
        first_after = int(np.searchsorted(gap_rows, last, side="right"))
        if first_after == len(gap_rows):
            break
        furthest_within = int(np.searchsorted(gap_rows, last + target_rows, side="right")) - 1
        best = max(first_after, furthest_within)
        chosen.append(best)
        last = int(gap_rows[best])
    return np.array(chosen, dtype=np.int64)


def gap_split_indices(time, endtime, target_rows, min_gap=1000):
    """Row indices to cut sorted rows at, giving pieces of about target_rows.

    A cut before row i is allowed only where time[i] - max(endtime[:i]) > min_gap, so no row
    and no short pause between rows is ever cut. Pieces are as large as possible without
    exceeding target_rows; where no gap lies within the target, the piece runs to the first
    gap beyond it. Indices returned are strictly inside (0, n), ascending.
    """
    target_rows = _check_target_rows(target_rows)
    rows, _, _ = _gaps(_int64s(time), _int64s(endtime), int(min_gap), None)
    return rows[_choose_cuts(rows, len(time), target_rows)]


def find_gaps(time, endtime, min_gap=1000, prev_max_endtime=None):
    """Gaps in one piece of a longer stream: (row indices, cut times, max endtime so far).

    prev_max_endtime is the max endtime of all rows before this piece (None at the start of
    the stream), so a stream can be scanned chunk by chunk. Row 0 is a gap only if the pause
    since prev_max_endtime is long enough. A cut time lies strictly inside its gap, after
    every earlier row's end and no later than the gap's row.
    """
    prev = None if prev_max_endtime is None else int(prev_max_endtime)
    return _gaps(_int64s(time), _int64s(endtime), int(min_gap), prev)


def choose_cuts(gap_rows, n, target_rows):
    """Positions in the sorted array gap_rows that gap_split_indices would cut at for n rows."""
    return _choose_cuts(np.asarray(gap_rows, dtype=np.int64), int(n), _check_target_rows(target_rows))


def _check_target_rows(target_rows):
    target_rows = int(target_rows)
    if target_rows < 1:
        raise ValueError(f"target_rows must be at least 1, got {target_rows}")
    return target_rows


def gap_split_indices_numpy(time, endtime, target_rows, min_gap=1000):
    target_rows = _check_target_rows(target_rows)
    time = np.asarray(time, dtype=np.int64)
    endtime = np.asarray(endtime, dtype=np.int64)
    n = len(time)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    run_max = np.maximum.accumulate(endtime)
    gaps = np.flatnonzero(time[1:] - run_max[:-1] > min_gap) + 1
    cuts = []
    last = 0
    while n - last > target_rows:
        later = gaps[gaps > last]
        if not len(later):
            break
        within = later[later <= last + target_rows]
        last = int(within[-1] if len(within) else later[0])
        cuts.append(last)
    return np.array(cuts, dtype=np.int64)


# --- time_range_mask --------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _time_range_mask(time, endtime, start, end, code):
    n = len(time)
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        ti = np.int64(time[i])
        ei = np.int64(endtime[i])
        if code == 0:
            out[i] = ti >= start and ei <= end
        else:
            out[i] = ti < end and (ei > start or ti >= start)
    return out


def time_range_mask(time, endtime, start, end, selection="fully_contained"):
    """Boolean mask of rows selected by the range [start, end).

    fully_contained: start <= time and endtime <= end.
    touching: the row overlaps the range (endtime > start and time < end); a row of zero
    duration counts when its point lies in [start, end), so one at exactly `start` is kept.
    """
    code = _selection_code(selection)
    return _time_range_mask(_ints(time), _ints(endtime), np.int64(start), np.int64(end), code)


def time_range_mask_numpy(time, endtime, start, end, selection="fully_contained"):
    code = _selection_code(selection)
    time = np.asarray(time, dtype=np.int64)
    endtime = np.asarray(endtime, dtype=np.int64)
    if code == _FULLY_CONTAINED:
        return (time >= start) & (endtime <= end)
    return ((endtime > start) & (time < end)) | ((time >= start) & (time < end))


# --- ranges_mask ------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _ranges_mask(time, endtime, starts, ends, code):
    """One pass over rows and ranges together.

    Because ranges are sorted and disjoint, one candidate range per row decides: for
    fully_contained the last range starting at or before the row, for touching the first
    range ending after the row's start. Both candidates only move forward as time grows.
    """
    n = len(time)
    m = len(starts)
    out = np.zeros(n, dtype=np.bool_)
    j = 0
    for i in range(n):
        ti = np.int64(time[i])
        ei = np.int64(endtime[i])
        if code == 0:
            while j + 1 < m and starts[j + 1] <= ti:
                j += 1
            if j < m and starts[j] <= ti:
                out[i] = ei <= ends[j]
        else:
            while j < m and ends[j] <= ti:
                j += 1
            if j < m:
                out[i] = ei > starts[j] or ti >= starts[j]
    return out


def ranges_mask(time, endtime, starts, ends, selection="fully_contained"):
    """Mask of rows selected (as in time_range_mask) by any of several ranges.

    starts/ends must describe sorted, disjoint ranges: start_j <= end_j <= start_{j+1}.
    """
    code = _selection_code(selection)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise ValueError("starts and ends must be 1-d arrays of equal length")
    if np.any(ends < starts) or np.any(starts[1:] < ends[:-1]):
        raise ValueError("ranges must be sorted and disjoint (start_j <= end_j <= start_j+1)")
    return _ranges_mask(_ints(time), _ints(endtime), starts, ends, code)


def ranges_mask_numpy(time, endtime, starts, ends, selection="fully_contained"):
    time = np.asarray(time, dtype=np.int64)
    endtime = np.asarray(endtime, dtype=np.int64)
    out = np.zeros(len(time), dtype=bool)
    for s, e in zip(starts, ends):
        out |= time_range_mask_numpy(time, endtime, int(s), int(e), selection)
    return out
