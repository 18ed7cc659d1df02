"""strax.utils names and the structured-array helpers strax has at top level."""
import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import superstrax as strax
from superstrax import utils


def test_module_paths_user_code_imports():
    for path in ("superstrax.utils", "superstrax.io", "superstrax.dtypes",
                 "superstrax.processing", "superstrax.processing.general",
                 "superstrax.processing.peak_splitting", "superstrax.sort_enforcement"):
        importlib.import_module(path)
    from superstrax.context import select_docs
    # It is spliced into other functions' docstrings, so it must read as a :param: list.
    assert ":param selection:" in select_docs and ":param time_range:" in select_docs
    # straxen builds a docstring template from it and calls .format() on it at import
    assert (select_docs + "{name}").format(name="x").endswith("x")
    assert strax.utils is utils and strax.io.load_file is strax.load_file


def test_exporter_collects_names_in_order():
    export, names = strax.exporter()
    assert names == []

    @export
    def f():
        return 1

    @export
    class C:
        pass

    assert names == ["f", "C"] and f() == 1 and C.__name__ == "C"
    assert strax.exporter(export_self=True)[1] == ["exporter"]


@pytest.mark.parametrize("value, expected", [
    ("abc", ("abc",)), (b"x", (b"x",)), (["a", "b"], ("a", "b")), (("a",), ("a",)),
    (np.array(["a", "b"]), ("a", "b")), (pd.Series(["p", "q"]), ("p", "q")),
])
def test_to_str_tuple(value, expected):
    assert strax.to_str_tuple(value) == expected


def test_to_str_tuple_refuses_other_types():
    with pytest.raises(TypeError):
        strax.to_str_tuple(3)


def test_utils_reexports_are_the_library_functions():
    assert utils.deterministic_hash is strax.deterministic_hash
    assert utils.deterministic_hash({"a": [1, 2]}) == strax.deterministic_hash({"a": [1, 2]})
    assert utils.hashablize is strax.hashablize
    bar = utils.tqdm(range(3), disable=True)
    assert list(bar) == [0, 1, 2]
    assert hasattr(utils.tqdm, "write")     # a tqdm class, as strax exposes it


# Recorded from strax 2.2.3's camel_to_snake.
STRAX_SNAKE = {"LEDCalibration": "led_calibration", "PeakBasics": "peak_basics",
               "Records": "records", "HTTPServer2Go": "http_server2_go", "abCDe": "ab_c_de",
               "Peak_Basics": "peak__basics", "nVETORecorder": "n_veto_recorder",
               "EventPositionsNV": "event_positions_nv", "S2ReconPosDiff": "s2_recon_pos_diff",
               "DAQReader": "daq_reader"}


@pytest.mark.parametrize("name", sorted(STRAX_SNAKE))
def test_utils_camel_to_snake_as_strax(name):
    assert utils.camel_to_snake(name) == STRAX_SNAKE[name]


def test_growing_result_collects_yielded_rows():
    @strax.growing_result(dtype=np.int32, chunk_size=3)
    def count_to(n, _result_buffer=None):
        k = 0
        for i in range(n):
            _result_buffer[k] = i
            k += 1
            if k == len(_result_buffer):
                yield k
                k = 0
        yield k

    np.testing.assert_array_equal(count_to(7), np.arange(7))
    assert count_to(0).dtype == np.int32 and len(count_to(0)) == 0
    assert count_to(4, result_dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError):
        count_to(2, _result_buffer=np.zeros(3))


def test_small_helpers():
    assert strax.set_keep_order([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert strax.flatten_dict({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {
        "a:b": 1, "a:c:d": 2, "e": 3}
    assert strax.flatten_dict({"a": {"b": 1}}, keep="a") == {"a": {"b": 1}}
    assert strax.convert_tuple_to_list({"a": (1, (2, 3)), "b": [(4,)]}) == {
        "a": [1, [2, 3]], "b": [[4]]}
    assert strax.formatted_exception() == ""
    try:
        raise KeyError("boom")
    except KeyError:
        assert "KeyError: 'boom'" in strax.formatted_exception()
    runs = pd.DataFrame({"tags": ["a,b", "b", "c,b"]})
    assert strax.count_tags(runs) == {"a": 1, "b": 3, "c": 1}


# --- dtypes and arrays ----------------------------------------------------------------------

DTYPES = [np.dtype(strax.record_dtype(5)), np.dtype(strax.peak_dtype(n_channels=3)),
          np.dtype([("plain", np.int8), (("T", "titled"), np.float32, (2,))])]


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack_dtype_rebuilds_the_dtype(dtype):
    assert np.dtype(strax.unpack_dtype(dtype)) == dtype
    untitled = strax.remove_titles_from_dtype(dtype)
    assert untitled.names == dtype.names and all(len(untitled.fields[n]) == 2
                                                 for n in untitled.names)


def test_merged_dtype_is_a_field_list_first_occurrence_wins():
    a = np.dtype(strax.time_fields + [(("Area", "area"), np.float32)])
    b = np.dtype(strax.time_fields + [(("Other", "area"), np.float64), ("n", np.int16)])
    merged = strax.merged_dtype([a, b])
    assert isinstance(merged, list)
    assert [e[0][1] if isinstance(e[0], tuple) else e[0] for e in merged] == [
        "time", "endtime", "area", "n"]
    assert np.dtype(merged)["area"] == np.float32
    assert np.dtype(merged + [("extra", np.int8)]).names[-1] == "extra"


def test_merge_arrs_takes_values_from_the_last_array():
    a = np.zeros(3, [("time", np.int64), ("x", np.float32)])
    b = np.zeros(3, [("x", np.float64), ("y", np.int8)])
    a["time"], a["x"], b["x"], b["y"] = [1, 2, 3], 1.5, 2.5, 7
    merged = strax.merge_arrs([a, b])
    assert merged.dtype.names == ("time", "x", "y") and merged.dtype["x"] == np.float32
    np.testing.assert_array_equal(merged["x"], [2.5] * 3)
    np.testing.assert_array_equal(merged["time"], [1, 2, 3])
    assert strax.merge_arrs([a]) is a
    replaced = strax.merge_arrs([a], dtype=[("time", np.int32)], replacing=True)
    assert replaced.dtype.names == ("time",) and replaced["time"].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="same length"):
        strax.merge_arrs([a, b[:2]])


def test_set_nan_defaults():
    x = np.zeros(2, [("i", np.int16), ("u", np.uint8), ("f", np.float32, (3,))])
    strax.set_nan_defaults(x)
    assert x["i"].tolist() == [-1, -1] and x["u"].tolist() == [255, 255]
    assert np.isnan(x["f"]).all()


def test_copy_to_buffer_copies_fields_and_follows_dtype_changes():
    # The same function name with another dtype must copy the new dtype's fields.
    for store_top in (True, False):
        peaks = np.ones(2, dtype=strax.peak_dtype(n_channels=3, store_data_top=store_top))
        peaks["data"][1] = np.arange(200)
        buffer = np.zeros(2, dtype=peaks.dtype)
        strax.copy_to_buffer(peaks, buffer, "_copy_peaks")
        np.testing.assert_array_equal(buffer, peaks)
    source = np.zeros(2, [("time", np.int64), ("area", np.float64), ("x", np.int8)])
    source["time"], source["area"] = [5, 6], [1.7, -2.2]
    target = np.full(2, -9, [("time", np.int64), ("area", np.int32), ("y", np.int8)])
    strax.copy_to_buffer(source, target, "_partial", field_names=("area",))
    assert target["time"].tolist() == [-9, -9] and target["area"].tolist() == [1, -2]
    strax.copy_to_buffer(source, target, "_partial")     # same name, other fields
    assert target["time"].tolist() == [5, 6] and target["y"].tolist() == [-9, -9]


@pytest.mark.parametrize("kwargs, match", [
    (dict(func_name="copy"), "must start with '_'"),
    (dict(func_name="_c", field_names=("nope",)), "not in the buffer"),
])
def test_copy_to_buffer_refuses_bad_calls(kwargs, match):
    source = np.zeros(2, [("time", np.int64)])
    with pytest.raises(ValueError, match=match):
        strax.copy_to_buffer(source, np.zeros(2, source.dtype), **kwargs)
    with pytest.raises(ValueError, match="same length"):
        strax.copy_to_buffer(source, np.zeros(3, source.dtype), "_c")


@st.composite
def rows(draw):
    n = draw(st.integers(0, 20))
    x = np.zeros(n, strax.time_fields + [("area", np.float32), ("n", np.int16)])
    x["time"] = sorted(draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)))
    x["endtime"] = x["time"] + draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    x["area"] = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    return x


@settings(deadline=None, max_examples=60)
@given(rows(), st.integers(0, 60), st.integers(0, 30))
def test_apply_selection_time_range(x, start, length):
    end = start + length
    inside = strax.apply_selection(x, time_range=(start, end))
    np.testing.assert_array_equal(inside, x[[i for i, r in enumerate(x) if start <= r["time"]
                                             and r["endtime"] <= end]])
    touching = strax.apply_selection(x, time_range=(start, end), time_selection="touching")
    np.testing.assert_array_equal(touching, x[[i for i, r in enumerate(x)
                                               if r["endtime"] > start and r["time"] < end]])
    assert len(strax.apply_selection(x, time_range=(start, end), time_selection="skip")) == len(x)


def test_apply_selection_queries_and_columns():
    x = np.zeros(4, strax.time_fields + [("area", np.float32), ("n", np.int16)])
    x["area"], x["n"] = [0, 5, 10, 15], [1, 2, 3, 4]
    assert strax.apply_selection(x, selection="area > 4")["n"].tolist() == [2, 3, 4]
    assert strax.apply_selection(x, selection=["area > 4", "n < 4"])["n"].tolist() == [2, 3]
    assert strax.apply_selection(x, selection=lambda d: d["n"] == 1)["n"].tolist() == [1]
    assert strax.apply_selection(x, keep_columns="n").dtype.names == ("n",)
    assert strax.apply_selection(x, drop_columns=["area", "n"]).dtype.names == (
        "time", "endtime")
    with pytest.raises(ValueError, match="not both"):
        strax.apply_selection(x, keep_columns="n", drop_columns="area")
    with pytest.raises(ValueError, match="time_selection"):
        strax.apply_selection(x, time_range=(0, 1), time_selection="nearby")


def test_group_by_kind_uses_the_plugins_kinds():
    class Fake:
        def __init__(self, kinds):
            self.kinds = kinds

        def data_kind_for(self, name):
            return self.kinds[name]

    both = Fake({"peaks": "peaks", "peak_basics": "peaks", "events": "events"})
    plugins = {name: both for name in ("peaks", "peak_basics", "events")}
    assert strax.group_by_kind(["peaks", "events", "peak_basics"], plugins=plugins) == {
        "peaks": ["peaks", "peak_basics"], "events": ["events"]}
    with pytest.raises(ValueError, match="plugins= or context="):
        strax.group_by_kind(["peaks"])


def test_group_by_kind_from_a_context():
    from superstrax.testutils import Peaks, Records
    st = strax.Context(register=[Records, Peaks], config={"bonus_area": 1})
    assert strax.group_by_kind(["records", "peaks"], context=st) == {
        "records": ["records"], "peaks": ["peaks"]}


def test_dict_to_rec_and_iter_chunk_meta():
    rec = strax.dict_to_rec({"a": [1, 2], "b": [0.5, 1.5]})
    assert rec.dtype.names == ("a", "b") and rec["b"].tolist() == [0.5, 1.5]
    assert strax.dict_to_rec(rec) is rec
    md = {"chunks": [{"n": 2}, {"n": 0}, {"n": 3}]}
    assert [(c["n_from"], c["n_to"]) for c in strax.iter_chunk_meta(md)] == [
        (0, 2), (2, 2), (2, 5)]


def test_peak_splitting_names_exist_but_refuse_to_run():
    from superstrax.processing.peak_splitting import natural_breaks_gof, split_peaks
    for algorithm in (natural_breaks_gof, split_peaks):
        with pytest.raises(strax.errors.AlgorithmNotAvailable, match="not implement yet"):
            algorithm(np.zeros(3), 10)
        with pytest.raises(NotImplementedError):
            algorithm()


def test_compiled_copy_matches_numpy_twin(monkeypatch):
    from superstrax import dtypes as arrays
    monkeypatch.setattr(arrays, "COMPILE_COPY_FROM_ROWS", 1)
    rng = np.random.default_rng(3)
    source = np.zeros(50, [("time", np.int64), ("area", np.float64), ("wf", np.int16, (4,)),
                           ("skip", np.int8)])
    source["time"] = rng.integers(-10**12, 10**12, 50)
    source["area"] = rng.normal(0, 300, 50)
    source["wf"] = rng.integers(-900, 900, (50, 4))
    target_dtype = [("area", np.int16), ("time", np.int64), ("wf", np.int16, (4,))]
    compiled, twin = np.zeros(50, target_dtype), np.zeros(50, target_dtype)
    strax.copy_to_buffer(source, compiled, "_twin_check")
    arrays.copy_fields_numpy(source, twin, ("time", "area", "wf"))
    assert any(key[1] == np.dtype(target_dtype) for key in arrays._compiled_copies)
    np.testing.assert_array_equal(compiled, twin)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=24), st.integers(1, 40))
def test_b32_prefix_is_base32_cut_and_lowered(data, length):
    # Lineage hashes are the first characters of base32 of a sha1: computed from the bits,
    # they must be exactly what base64 gives (keys on disk depend on it).
    import base64
    from superstrax.hashing import b32_prefix
    assert b32_prefix(data, length) == base64.b32encode(data)[:length].decode().lower()


def test_lineage_hashes_are_those_strax_2_2_3_writes():
    # Known hashes of strax 2.2.3 (computed with it): a key stays findable by strax.
    assert strax.deterministic_hash({"a": [1, 2]}) == strax.deterministic_hash(
        (("a", (1, 2)),))
    assert strax.deterministic_hash("records") == "kcldiziyik"
    assert strax.deterministic_hash({"a": [1, 2]}) == "t7hgnanlkz"
