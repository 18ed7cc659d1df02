"""Interval utilities (strax.processing.general): kernels against their numpy twins, public
functions against plain definitions of what they compute, and use inside numba code."""
import warnings

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from numba.typed import List

import superstrax as strax
from superstrax.errors import IntervalError
from superstrax.processing import general, reference

SETTINGS = settings(deadline=None, max_examples=100,
                    suppress_health_check=[HealthCheck.too_slow])

TIME_DTYPE = np.dtype(strax.time_fields)
INTERVAL_DTYPE = np.dtype(strax.interval_dtype)


@st.composite
def sorted_intervals(draw, max_n=25, span=60, max_length=12, with_dt=None):
    """Intervals sorted by time: may be empty, touch, nest, overlap or have zero length."""
    n = draw(st.integers(0, max_n))
    starts = sorted(draw(st.lists(st.integers(0, span), min_size=n, max_size=n)))
    lengths = draw(st.lists(st.integers(0, max_length), min_size=n, max_size=n))
    if with_dt is None:
        with_dt = draw(st.booleans())
    if with_dt:
        x = np.zeros(n, INTERVAL_DTYPE)
        dt = draw(st.sampled_from([1, 2, 3]))
        x["time"], x["length"], x["dt"] = starts, lengths, dt
        x["channel"] = draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n))
    else:
        x = np.zeros(n, TIME_DTYPE)
        x["time"] = starts
        x["endtime"] = np.asarray(starts, dtype=np.int64) + lengths
    return x


@st.composite
def disjoint_intervals(draw, max_n=12, max_gap=8, max_length=15):
    """Sorted, non-overlapping intervals (they may touch or have zero length)."""
    n = draw(st.integers(0, max_n))
    gaps = draw(st.lists(st.integers(0, max_gap), min_size=n, max_size=n))
    lengths = draw(st.lists(st.integers(0, max_length), min_size=n, max_size=n))
    x = np.zeros(n, TIME_DTYPE)
    t = 0
    for i in range(n):
        t += gaps[i]
        x[i] = (t, t + lengths[i])
        t += lengths[i]
    return x


def _se(x):
    return x["time"].astype(np.int64), np.asarray(strax.endtime(x), dtype=np.int64)


# --- containment --------------------------------------------------------------------------

@SETTINGS
@given(sorted_intervals(), sorted_intervals(max_n=10, max_length=30))
def test_containers_kernel_matches_numpy_twin(things, containers):
    # Containers here may overlap: the kernel's rule (first container not yet ended) is
    # still defined and must agree with the twin.
    args = (*_se(things), *_se(containers))
    np.testing.assert_array_equal(general._containers_of(*args),
                                  reference.containers_of_numpy(*args))


@SETTINGS
@given(sorted_intervals(), disjoint_intervals())
@example(things=np.array([(0, 1), (1, 5), (2, 3)], TIME_DTYPE),
         containers=np.array([(0, 4)], TIME_DTYPE))
@example(things=np.array([(4, 4), (5, 5)], TIME_DTYPE),        # zero length at the edges
         containers=np.array([(0, 4), (5, 5), (5, 9)], TIME_DTYPE))
def test_fully_contained_in_is_containment(things, containers):
    result = strax.fully_contained_in(things, containers)
    assert result.dtype == np.int32 and len(result) == len(things)
    ts, te = _se(things)
    cs, ce = _se(containers)
    for i in range(len(things)):
        # Inside: starts and ends within the container, and starts before it ends (a
        # zero-length thing at the container's end is outside it).
        inside = np.flatnonzero((cs <= ts[i]) & (te[i] <= ce) & (ts[i] < ce))
        assert len(inside) <= 1
        assert result[i] == (inside[0] if len(inside) else -1)


@SETTINGS
@given(sorted_intervals(), disjoint_intervals())
def test_split_by_containment_groups_contained_things(things, containers):
    result = strax.split_by_containment(things, containers)
    assert isinstance(result, List)
    assert len(result) == len(containers)
    which = strax.fully_contained_in(things, containers)
    expected = reference.split_by_container_numpy(things, which, len(containers))
    for got, want in zip(result, expected):
        assert got.dtype == things.dtype
        np.testing.assert_array_equal(got, want)


def test_split_by_containment_without_containers_is_typed_and_empty():
    things = np.zeros(3, INTERVAL_DTYPE)
    result = strax.split_by_containment(things, np.zeros(0, TIME_DTYPE))
    assert isinstance(result, List) and len(result) == 0

    @numba.njit
    def total_length(split):
        n = 0
        for part in split:
            n += len(part)
        return n

    # An empty typed List still carries its item type, so numba code accepts it.
    assert total_length(result) == 0
    assert total_length(strax.split_by_containment(things, np.array([(0, 5)], TIME_DTYPE))) == 3


def test_containment_checks_its_input():
    ok = np.array([(0, 5), (10, 15)], TIME_DTYPE)
    with pytest.raises(IntervalError, match="things must be sorted|'time' of things"):
        strax.fully_contained_in(ok[::-1], ok)
    with pytest.raises(ValueError, match="containers"):
        strax.split_by_containment(ok, ok[::-1])
    negative = np.array([(0, 5), (10, 8)], TIME_DTYPE)
    with pytest.raises(IntervalError, match="non-negative length.*row 1"):
        strax.fully_contained_in(negative, ok)
    with pytest.warns(UserWarning, match="Containers overlap"):
        strax.fully_contained_in(ok, np.array([(0, 12), (10, 15)], TIME_DTYPE))


# --- touching windows ---------------------------------------------------------------------

@SETTINGS
@given(sorted_intervals(), sorted_intervals(max_n=10, max_length=30), st.integers(-4, 4))
def test_touching_kernel_matches_numpy_twin(things, containers, window):
    args = (*_se(things), *_se(containers))
    np.testing.assert_array_equal(general._touching_windows(*args, window),
                                  reference.touching_windows_numpy(*args, window))


@SETTINGS
@given(sorted_intervals(), sorted_intervals(max_n=10, max_length=30), st.integers(-4, 4))
def test_touching_windows_hold_exactly_the_touching_things(things, containers, window):
    ts, te = _se(things)
    sorted_ends = bool(np.all(np.diff(te) >= 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error" if sorted_ends else "ignore")
        windows = strax.touching_windows(things, containers, window=window)
        parts = strax.split_touching_windows(things, containers, window=window)
    assert windows.dtype == np.int32 and windows.shape == (len(containers), 2)
    cs, ce = _se(containers)
    for c, (first, last) in enumerate(windows):
        touching = np.flatnonzero((te > cs[c] - window) & (ts < ce[c] + window))
        if sorted_ends:
            np.testing.assert_array_equal(np.arange(len(things))[first:last], touching)
        else:
            # Unsorted ends: the window runs from the first touching thing to the last one
            # starting early enough, so it holds every touching thing and maybe others.
            if len(touching):
                assert first == touching[0] and last > touching[-1]
            assert last == np.count_nonzero(ts < ce[c] + window)
        np.testing.assert_array_equal(parts[c], things[first:last])


def test_touching_windows_warns_on_unsorted_ends_and_handles_empty():
    things = np.array([(0, 10), (1, 2)], TIME_DTYPE)
    with pytest.warns(UserWarning, match="endtimes of things are not sorted"):
        strax.touching_windows(things, np.array([(5, 6)], TIME_DTYPE))
    empty = np.zeros(0, TIME_DTYPE)
    assert strax.touching_windows(empty, things).tolist() == [[0, 0], [0, 0]]
    assert strax.touching_windows(things[:1], empty).shape == (0, 2)
    with pytest.raises(IntervalError):
        strax.touching_windows(things, things[::-1])


# --- gaps, breaks, overlaps, neighbours ------------------------------------------------------

@SETTINGS
@given(sorted_intervals(), st.integers(0, 6), st.integers(-5, 30))
def test_diff_and_find_break_match_numpy_twins(x, safe_break, not_before):
    np.testing.assert_array_equal(strax.diff(x), reference.diff_numpy(x))
    expected = reference.find_break_i_numpy(x, safe_break, not_before)
    if expected is None:
        with pytest.raises(strax.NoBreakFound):
            strax._find_break_i(x, safe_break, not_before)
    else:
        assert strax._find_break_i(x, safe_break, not_before) == expected
        left, t = strax.from_break(x, safe_break, not_before, True)
        right, t2 = strax.from_break(x, safe_break, not_before, False)
        assert t == t2 == x[expected]["time"]
        np.testing.assert_array_equal(left, x[:expected])
        np.testing.assert_array_equal(right, x[expected:])


def test_from_break_refuses_what_it_cannot_do():
    x = np.array([(0, 1), (10, 11)], TIME_DTYPE)
    with pytest.raises(NotImplementedError):
        strax.from_break(x[:0], 1)
    with pytest.raises(strax.NoBreakFound):
        strax.from_break(x[:1], 1)
    with pytest.raises(strax.NoBreakFound):
        strax.from_break(x, 100)


@SETTINGS
@given(st.integers(-20, 20), st.integers(-2, 15), st.integers(-20, 20), st.integers(-2, 15))
def test_overlap_indices_matches_numpy_twin(a1, n_a, b1, n_b):
    if n_a < 0 or n_b < 0:
        with pytest.raises(ValueError):
            strax.overlap_indices(a1, n_a, b1, n_b)
        return
    got = strax.overlap_indices(a1, n_a, b1, n_b)
    assert tuple(map(tuple, got)) == reference.overlap_indices_numpy(a1, n_a, b1, n_b)


@SETTINGS
@given(disjoint_intervals(max_n=8), disjoint_intervals(max_n=10, max_length=4))
def test_abs_time_to_prev_next_interval_by_definition(things, intervals):
    to_prev, to_next = strax.abs_time_to_prev_next_interval(things, intervals)
    assert to_prev.dtype == to_next.dtype == np.int64
    ts, te = _se(things)
    vs, ve = _se(intervals)
    for i in range(len(things)):
        ended = (ve <= ts[i]) & (vs < ts[i])   # started before the thing, and over by then
        assert to_prev[i] == (ts[i] - ve[ended].max() if ended.any() else -1)
        later = vs >= te[i]
        assert to_next[i] == (vs[later].min() - te[i] if later.any() else -1)


@SETTINGS
@given(sorted_intervals(with_dt=True))
def test_sort_by_time_orders_by_time_then_channel_stably(x):
    rng = np.random.default_rng(len(x))
    shuffled = x[rng.permutation(len(x))]
    shuffled["length"] = np.arange(len(x))       # tags the input position
    result = strax.sort_by_time(shuffled)
    order = sorted(range(len(x)), key=lambda i: (shuffled["time"][i], shuffled["channel"][i]))
    np.testing.assert_array_equal(result, shuffled[order])


def test_sort_by_time_without_channel_and_with_huge_time_range():
    x = np.zeros(4, TIME_DTYPE)
    x["time"] = [np.iinfo(np.int64).max // 2, np.iinfo(np.int64).min // 2, 5, 5]
    x["endtime"] = [0, 1, 3, 2]
    np.testing.assert_array_equal(strax.sort_by_time(x)["endtime"], [1, 3, 2, 0])
    assert strax.sort_by_time(x[:0]) is not None and len(strax.sort_by_time(x[:0])) == 0


def test_stable_sort_refuses_unstable_kinds():
    a = np.array([3, 1, 2])
    np.testing.assert_array_equal(strax.stable_sort(a), [1, 2, 3])
    np.testing.assert_array_equal(strax.stable_argsort(a), [1, 2, 0])
    for kind in ("quicksort", "heapsort"):
        with pytest.raises(strax.SortingError, match="mergesort"):
            strax.stable_sort(a, kind=kind)
        with pytest.raises(strax.SortingError):
            strax.stable_argsort(a, kind=kind)


# --- inside numba code ----------------------------------------------------------------------

@numba.njit
def _jitted_uses(x, containers):
    ends = strax.endtime(x)
    first_end = strax.endtime(x[0])
    gaps = strax.diff(x)
    (a0, a1), (b0, b1) = strax.overlap_indices(x[0]["time"], 10, 5, 10)
    windows = general._touching_windows(x["time"], strax.endtime(x), containers["time"],
                                        strax.endtime(containers), 0)
    order = strax.stable_argsort(x["time"])
    left, break_time = strax.from_break(x, 5, 0, True, False)
    return ends, first_end, gaps, (a0, a1, b0, b1), windows, order, len(left), break_time


@pytest.mark.parametrize("spec", ["time_dt", "endtime"])
def test_interval_functions_inside_njit(spec):
    if spec == "time_dt":
        x = np.zeros(3, INTERVAL_DTYPE)
        # 2**30 samples of 4 ns: the end is beyond int32, so int64 arithmetic is needed.
        x["time"], x["length"], x["dt"] = [0, 20, 2**33], [10, 2**30, 1], [1, 4, 1]
    else:
        x = np.zeros(3, TIME_DTYPE)
        x["time"], x["endtime"] = [0, 20, 2**33], [10, 20 + 2**32, 2**33 + 1]
    containers = np.array([(0, 15), (2**33, 2**33 + 5)], TIME_DTYPE)
    ends, first_end, gaps, overlap, windows, order, n_left, break_time = _jitted_uses(
        x, containers)
    np.testing.assert_array_equal(ends, [10, 20 + 2**32, 2**33 + 1])
    np.testing.assert_array_equal(ends, strax.endtime(x))
    assert first_end == 10
    np.testing.assert_array_equal(gaps, strax.diff(x))
    np.testing.assert_array_equal(gaps, reference.diff_numpy(x))
    assert overlap == (5, 10, 0, 5)
    np.testing.assert_array_equal(windows, strax.touching_windows(x, containers))
    np.testing.assert_array_equal(order, [0, 1, 2])
    assert (n_left, break_time) == (1, 20)


@SETTINGS
@given(sorted_intervals(), st.integers(-2, 70), st.booleans())
def test_split_array_cuts_only_where_no_row_straddles(x, t, early):
    ts, te = _se(x)
    straddles = bool(np.any((ts < t) & (te > t)))
    if straddles and not early:
        with pytest.raises(strax.CannotSplit):
            strax.split_array(x, t)
        return
    left, right, t_used = strax.split_array(x, t, allow_early_split=early)
    assert t_used <= t and (t_used == t or straddles)
    assert len(left) + len(right) == len(x)
    assert np.all(strax.endtime(left) <= t_used) and np.all(right["time"] >= t_used)
    if early and straddles:
        # The latest possible: a split 1 ns later would cut a row.
        assert np.any((ts < t_used + 1) & (te > t_used + 1))


def test_to_numpy_dtype_takes_bare_names_as_floats():
    assert strax.to_numpy_dtype(["a", ("b",), ("c", np.int8)]) == np.dtype(
        [("a", np.float64), ("b", np.float64), ("c", np.int8)])
