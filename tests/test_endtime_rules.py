"""dtypes.endtime (strax's) and kernels.endtimes (the engine's) follow one rule."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from superstrax.dtypes import endtime
from superstrax.kernels import endtimes


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**31 - 1),
                          st.integers(1, 2**15 - 1)), max_size=20))
def test_length_dt_rows_end_alike_without_overflow(rows):
    a = np.zeros(len(rows), [("time", np.int64), ("length", np.int32), ("dt", np.int16)])
    for i, (t, n, dt) in enumerate(rows):
        a[i] = (t, n, dt)
    expected = [t + n * dt for t, n, dt in rows]
    assert endtimes(a).tolist() == expected
    assert np.asarray(endtime(a)).tolist() == expected
    assert endtimes(a).dtype == np.int64


def test_endtime_field_is_used_by_both_and_time_only_rows_differ_as_documented():
    a = np.zeros(3, [("time", np.int64), ("endtime", np.int32)])
    a["time"], a["endtime"] = [1, 2, 3], [5, 6, 7]
    assert endtimes(a).tolist() == np.asarray(endtime(a)).tolist() == [5, 6, 7]
    assert endtimes(a).dtype == np.int64
    points = np.zeros(2, [("time", np.int64)])
    points["time"] = [4, 9]
    assert endtimes(points).tolist() == [4, 9]
    with pytest.raises(ValueError, match="Cannot compute endtime"):
        endtime(points)
