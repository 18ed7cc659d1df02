"""The numba kernels agree with their numpy twins, and both follow the documented rules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superstrax import kernels as K
from superstrax.errors import CannotSplit

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def sorted_rows(draw, max_size=40, max_step=60, max_duration=90):
    """(time, endtime) int64 arrays, time non-decreasing; duplicates, overlaps and
    zero-duration rows all occur."""
    n = draw(st.integers(0, max_size))
    steps = draw(st.lists(st.integers(0, max_step), min_size=n, max_size=n))
    durations = draw(st.lists(st.integers(0, max_duration), min_size=n, max_size=n))
    time = np.cumsum(np.array(steps, dtype=np.int64)) + draw(st.integers(0, 100))
    return time, time + np.array(durations, dtype=np.int64)


@st.composite
def sorted_ranges(draw, max_size=6):
    """starts, ends with start_j <= end_j <= start_j+1 (empty and touching ranges allowed)."""
    edges = sorted(draw(st.lists(st.integers(0, 2500), min_size=0, max_size=2 * max_size)))
    edges = edges[:len(edges) // 2 * 2]
    return (np.array(edges[0::2], dtype=np.int64), np.array(edges[1::2], dtype=np.int64))


def _valid_split(time, endtime, index, t):
    return bool(np.all(endtime[:index] <= t) and np.all(time[index:] >= t))


# --- first_unsorted_index / endtimes / max_endtime ------------------------------------------

@SETTINGS
@given(st.lists(st.integers(-2**40, 2**40), max_size=30))
def test_first_unsorted_index_finds_the_first_decrease(values):
    a = np.array(values, dtype=np.int64)
    expected = next((i for i in range(1, len(values)) if values[i] < values[i - 1]), -1)
    assert K.first_unsorted_index(a) == expected
    a.sort()
    assert K.first_unsorted_index(a) == -1


def test_first_unsorted_index_small_ints_and_views():
    rec = np.zeros(4, dtype=[("time", "<i8"), ("x", "<f4")])
    rec["time"] = [1, 2, 2, 1]
    assert K.first_unsorted_index(rec["time"]) == 3
    assert K.first_unsorted_index(np.array([3, 2], dtype=np.uint32)) == 1
    assert K.first_unsorted_index(np.array([3, 4], dtype=">i8")) == -1
    assert K.first_unsorted_index(np.array([2**63, 5], dtype=np.uint64)) == 1


def test_endtimes_do_not_overflow_int32():
    d = np.zeros(2, dtype=[("time", "<i8"), ("length", "<i4"), ("dt", "<i2")])
    d["time"] = [5, 7]
    d["length"] = 2**30
    d["dt"] = 4
    np.testing.assert_array_equal(K.endtimes(d), [5 + 2**32, 7 + 2**32])
    assert K.endtimes(d).dtype == np.int64
    assert K.max_endtime(d) == 7 + 2**32


@SETTINGS
@given(sorted_rows(), st.booleans())
def test_max_endtime_is_the_largest_row_end(rows, with_endtime_field):
    time, endtime = rows
    if with_endtime_field:
        d = np.zeros(len(time), dtype=[("time", "<i8"), ("endtime", "<i8")])
        d["endtime"] = endtime
    else:
        d = np.zeros(len(time), dtype=[("time", "<i8"), ("length", "<i4"), ("dt", "<i2")])
        d["length"] = endtime - time
        d["dt"] = 1
    d["time"] = time
    if len(d):
        assert K.max_endtime(d) == endtime.max()
    else:
        assert K.max_endtime(d) == -1


def test_time_only_data_is_point_like():
    d = np.array([(3,), (9,)], dtype=[("time", "<i8")])
    np.testing.assert_array_equal(K.endtimes(d), [3, 9])
    assert K.max_endtime(d) == 9


# --- split_index ------------------------------------------------------------------------

@SETTINGS
@given(sorted_rows(), st.data())
def test_split_index_matches_numpy_and_contract(rows, data):
    time, endtime = rows
    hi = int(endtime.max()) + 5 if len(time) else 50
    t = data.draw(st.integers(0, hi))
    for early in (False, True):
        try:
            got = K.split_index(time, endtime, t, early)
        except CannotSplit:
            assert not early
            with pytest.raises(CannotSplit):
                K.split_index_numpy(time, endtime, t, early)
            # Really no valid cut at exactly t.
            assert not _valid_split(time, endtime, int(np.searchsorted(time, t)), t)
            continue
        assert got == K.split_index_numpy(time, endtime, t, early)
        index, t_used = got
        assert t_used <= t and _valid_split(time, endtime, index, t_used)
        # Rows at exactly t_used go right, so the index is the canonical one.
        assert index == np.searchsorted(time, t_used, side="left")
        if not early:
            assert t_used == t
        else:
            # No later time up to t would have worked: the early split is as late as possible.
            for t2 in range(t_used + 1, t + 1):
                assert not _valid_split(time, endtime, int(np.searchsorted(time, t2)), t2)


def test_split_index_moves_back_past_chained_overlaps():
    # Row 2 straddles 50; moving to its start (40) is blocked by row 1 (ends 45), and
    # moving to row 1's start (30) is blocked by row 0 (ends 35): the answer is 20.
    time = np.array([20, 30, 40, 60], dtype=np.int64)
    endtime = np.array([35, 45, 55, 70], dtype=np.int64)
    assert K.split_index(time, endtime, 50, True) == (0, 20)
    with pytest.raises(CannotSplit, match="ends at 55"):
        K.split_index(time, endtime, 50, False)
    assert K.split_index(time, endtime, 58, False) == (3, 58)
    assert K.split_index(np.zeros(0, np.int64), np.zeros(0, np.int64), 7, False) == (0, 7)


def test_split_index_zero_duration_row_at_t_goes_right():
    time = np.array([10, 10, 20], dtype=np.int64)
    endtime = np.array([10, 15, 20], dtype=np.int64)
    assert K.split_index(time, endtime, 10, False) == (0, 10)
    assert K.split_index(time, endtime, 20, False) == (2, 20)


# --- gap_split_indices --------------------------------------------------------------------

@SETTINGS
@given(sorted_rows(max_size=60, max_step=40, max_duration=30), st.integers(1, 15),
       st.integers(0, 30))
def test_gap_split_indices_matches_numpy(rows, target, min_gap):
    time, endtime = rows
    got = K.gap_split_indices(time, endtime, target, min_gap)
    np.testing.assert_array_equal(got, K.gap_split_indices_numpy(time, endtime, target, min_gap))
    assert got.dtype == np.int64
    n = len(time)
    run_max = np.maximum.accumulate(endtime) if n else endtime
    bounds = [0, *got.tolist(), n]
    for a, b in zip(bounds, bounds[1:]):
        assert a < b or n == 0
    for i in got:
        assert 0 < i < n and time[i] - run_max[i - 1] > min_gap
    gaps = [i for i in range(1, n) if time[i] - run_max[i - 1] > min_gap]
    for a, b in zip(bounds, bounds[1:-1] + [None]):
        if b is None:
            # The last piece is only oversized when there is no gap left to cut at.
            assert n - a <= target or not [g for g in gaps if g > a]
        elif b - a > target:
            # Oversized only when no gap was available within the target.
            assert not [g for g in gaps if a < g <= a + target]


def test_gap_split_indices_strax_example():
    # 100 rows, 500 ns long, every 2 µs: gaps of 1.5 µs everywhere; 10 rows per piece.
    time = np.arange(100, dtype=np.int64) * 2000
    endtime = time + 500
    np.testing.assert_array_equal(K.gap_split_indices(time, endtime, 10),
                                  np.arange(10, 100, 10))
    # A longer minimum gap than any pause: never cut.
    assert len(K.gap_split_indices(time, endtime, 10, min_gap=1500)) == 0


def test_gap_split_indices_first_and_single_gap_usable():
    # Unlike strax: the first gap may be used, and one gap is enough (no crash).
    time = np.array([0, 1, 5000, 5001], dtype=np.int64)
    endtime = time + 1
    np.testing.assert_array_equal(K.gap_split_indices(time, endtime, 1), [2])
    np.testing.assert_array_equal(K.gap_split_indices(time, endtime, 3), [2])
    np.testing.assert_array_equal(K.gap_split_indices(time, endtime, 4), [])
    # No gap within the target: cut at the first one beyond it.
    time = np.array([0, 1, 2, 3, 5000, 9000], dtype=np.int64)
    np.testing.assert_array_equal(K.gap_split_indices(time, time + 1, 2), [4])
    np.testing.assert_array_equal(K.gap_split_indices(time, time + 1, 1), [4, 5])
    with pytest.raises(ValueError):
        K.gap_split_indices(time, time + 1, 0)


@SETTINGS
@given(sorted_rows(max_size=60, max_step=40, max_duration=30), st.integers(0, 30), st.data())
def test_find_gaps_chunk_by_chunk_equals_whole(rows, min_gap, data):
    time, endtime = rows
    whole, whole_cuts, whole_max = K.find_gaps(time, endtime, min_gap)
    cuts_at = sorted(data.draw(st.lists(st.integers(0, len(time)), max_size=4)))
    pieces, cut_times, prev = [], [], None
    for a, b in zip([0, *cuts_at], [*cuts_at, len(time)]):
        rows_ab, t_ab, prev = K.find_gaps(time[a:b], endtime[a:b], min_gap, prev)
        pieces.append(rows_ab + a)
        cut_times.append(t_ab)
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    np.testing.assert_array_equal(np.concatenate(cut_times), whole_cuts)
    assert prev == whole_max
    for i, t in zip(whole, whole_cuts):
        assert _valid_split(time, endtime, i, t) and time[i - 1] < t if i else True


# --- time_range_mask / ranges_mask --------------------------------------------------------

@SETTINGS
@given(sorted_rows(), st.integers(0, 2500), st.integers(0, 2500),
       st.sampled_from(["fully_contained", "touching"]))
def test_time_range_mask_matches_numpy(rows, a, b, selection):
    time, endtime = rows
    start, end = min(a, b), max(a, b)
    got = K.time_range_mask(time, endtime, start, end, selection)
    np.testing.assert_array_equal(got, K.time_range_mask_numpy(time, endtime, start, end, selection))
    if selection == "touching":
        overlap = (endtime > start) & (time < end)
        assert np.all(got[overlap])


def test_touching_keeps_zero_duration_row_at_start():
    time = np.array([5, 10, 10, 20], dtype=np.int64)
    endtime = np.array([10, 10, 12, 20], dtype=np.int64)
    np.testing.assert_array_equal(K.time_range_mask(time, endtime, 10, 20, "touching"),
                                  [False, True, True, False])
    np.testing.assert_array_equal(K.time_range_mask(time, endtime, 10, 20, "fully_contained"),
                                  [False, True, True, True])
    with pytest.raises(ValueError, match="selection"):
        K.time_range_mask(time, endtime, 0, 1, "skip")


@SETTINGS
@given(sorted_rows(), sorted_ranges(), st.sampled_from(["fully_contained", "touching"]))
def test_ranges_mask_matches_numpy(rows, ranges, selection):
    time, endtime = rows
    starts, ends = ranges
    got = K.ranges_mask(time, endtime, starts, ends, selection)
    np.testing.assert_array_equal(got, K.ranges_mask_numpy(time, endtime, starts, ends, selection))


def test_ranges_mask_rejects_unsorted_ranges():
    t = np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match="sorted"):
        K.ranges_mask(t, t + 1, [10, 0], [20, 5])
    with pytest.raises(ValueError, match="sorted"):
        K.ranges_mask(t, t + 1, [0, 4], [5, 8])
