"""Arguments at the library's boundaries: only library errors, naming run and data type."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import superstrax as sx
from superstrax import validation as v
from superstrax.testutils import Peaks, Records


@pytest.mark.parametrize("bad", [None, "", "  ", True, 1.5, b"", b"\xff0", ["0"][0:0], object(),
                                 "a\0b"])
def test_bad_run_ids(bad):
    with pytest.raises(sx.InvalidArgument, match="run id"):
        v.check_run_id(bad, "records")


def test_good_run_ids():
    assert v.check_run_id("012") == "012"
    assert v.check_run_id(7) == "7" and v.check_run_id(np.int64(7)) == "7"
    # bytes, as strax's run_id_as_bytes arrays hold run ids, are decoded (strax does too)
    assert v.check_run_id(b"012") == "012" and v.check_run_id(np.bytes_(b"7")) == "7"


def test_run_ids_given_as_bytes_load_store_and_name_the_same_data(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records],
                    progress_bar=False)
    st.make(b"3", "records")
    assert st.is_stored("3", "records") and str(st.key_for(b"3", "records")) == \
        str(st.key_for("3", "records"))
    assert sorted(os.listdir(tmp_path)) == [str(st.key_for("3", "records"))]
    both = st.get_array(np.array([b"3", b"4"]), "records")
    assert sorted(set(both["run_id"])) == ["3", "4"]
    assert np.array_equal(st.get_array(b"4", "records"), st.get_array("4", "records"))
    assert st.get_single_plugin(b"4", "records").run_id == "4"


@pytest.mark.parametrize("bad", [[], (None, 5), (5, None), "0,5", (0, 5, 6), (float("nan"), 5),
                                 (0, float("inf")), (0.5, 2), ("0", "5"), (True, 5), (5, 0),
                                 (0, 2 ** 63), {"a": 1}, 5])
def test_bad_time_ranges(bad):
    with pytest.raises(sx.InvalidArgument, match="run 0 records"):
        v.check_time_range(bad, "0", "records")


def test_good_time_ranges():
    assert v.check_time_range((0, 5)) == (0, 5)
    assert v.check_time_range([np.int64(3), 4.0]) == (3, 4)
    assert v.check_time_range(np.array([1, 2])) == (1, 2)
    assert v.check_time_range(None) is None


@pytest.mark.parametrize("bad", [(0, 1e300), (float("nan"), 1), (0, "1"), (0,), (-1e12, 0)])
def test_bad_seconds_ranges(bad):
    with pytest.raises(sx.InvalidArgument, match="seconds_range"):
        v.seconds_to_time_range(bad, 10 ** 18, "0", "records")


def test_seconds_range_counts_from_run_start():
    assert v.seconds_to_time_range((1, 2.5), 10, "0", "r") == (1_000_000_010, 2_500_000_010)


def test_dependency_cycles_are_found_iteratively():
    chain = {str(i): (str(i + 1),) for i in range(5000)}
    chain["5000"] = ()
    v.check_acyclic("0", lambda d: chain[d])       # deep, but no cycle: no RecursionError
    chain["5000"] = ("2500",)
    with pytest.raises(sx.PluginError, match="2500 -> 2501"):
        v.check_acyclic("0", lambda d: chain[d])


# --- get_array with any argument shapes: only library errors -----------------------------
@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz"))
    st = sx.Context(storage=[sx.DataDirectory(path)], register=[Records, Peaks],
                    config={"bonus_area": 42, "n_chunks": 2}, progress_bar=False)
    st.make("0", "peaks")
    return path


_scalars = hst.one_of(hst.none(), hst.booleans(), hst.integers(-2 ** 70, 2 ** 70),
                      hst.floats(allow_nan=True, allow_infinity=True), hst.text(max_size=5))
_ranges = hst.one_of(_scalars, hst.lists(_scalars, max_size=4), hst.tuples(_scalars, _scalars),
                     hst.tuples(hst.integers(0, 30), hst.integers(0, 30)))
_runs = hst.one_of(hst.sampled_from(["0", "1", "", None, 0, 1.5, "_nosuch", "a-b", "x/y"]),
                   hst.text(max_size=3))
_targets = hst.one_of(hst.sampled_from(["records", "peaks", ("records",), (), None, "nosuch",
                                        ["peaks", "records"], 3]), hst.text(max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=_runs, target=_targets, time_range=_ranges, seconds_range=_ranges,
       which=hst.sampled_from(["time_range", "seconds_range", "both", "none"]))
def test_get_array_argument_shapes_give_only_library_errors(stored, run, target, time_range,
                                                          seconds_range, which):
    st = sx.Context(storage=[sx.DataDirectory(stored, readonly=True)],
                    register=[Records, Peaks], config={"bonus_area": 42, "n_chunks": 2},
                    progress_bar=False)
    kwargs = {}
    if which in ("time_range", "both"):
        kwargs["time_range"] = time_range
    if which in ("seconds_range", "both"):
        kwargs["seconds_range"] = seconds_range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # e.g. 'cannot tell when run 1 starts'
        try:
            st.get_array(run, target, **kwargs)
        except sx.SuperstraxError as e:
            assert str(e)


def test_get_array_refuses_none_and_empty_run_ids_without_writing(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records],
                    progress_bar=False, config={"n_chunks": 1})
    for bad in (None, ""):
        with pytest.raises(sx.InvalidArgument, match="run id"):
            st.get_array(bad, "records")
    assert os.listdir(str(tmp_path)) == []


def test_float_time_bounds_that_are_not_whole_ns_are_refused(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records],
                    progress_bar=False, config={"n_chunks": 3})
    st.make("0", "records")
    with pytest.raises(sx.InvalidArgument, match="whole number of ns"):
        st.get_array("0", "records", time_range=(0.5, 2))
    assert len(st.get_array("0", "records", time_range=(0.0, 2.0))) == 20
    assert len(st.get_array("0", "records", time_range=(1, 3))) == 20


@pytest.mark.parametrize("call", ["get_array", "get_df", "get_iter", "make", "parallel"])
def test_a_list_of_runs_holding_none_is_refused_before_anything_is_made(tmp_path, call):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records],
                    progress_bar=False, config={"n_chunks": 1})
    runs = ["1", None, "2"]
    with pytest.raises(sx.InvalidArgument) as e:
        if call == "get_iter":
            list(st.get_iter(runs, "records"))
        elif call == "parallel":
            st.make(runs, "records", max_workers=2)
        else:
            getattr(st, call)(runs, "records")
    assert "entry 1 (None) is not a run id" in str(e.value)
    assert "pass a list of run names as strings" in str(e.value)
    assert os.listdir(str(tmp_path)) == []      # neither run '1' nor a run 'None' was made


def test_check_run_ids_gives_strings_of_good_ids_and_names_the_bad_one():
    assert v.check_run_ids(["1", 2, np.str_("3")]) == ["1", "2", "3"]
    with pytest.raises(sx.InvalidArgument, match=r"entry 2 \(''\)"):
        v.check_run_ids(np.array(["1", "2", ""]))
