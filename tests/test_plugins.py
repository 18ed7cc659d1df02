"""Each plugin kind run through a Context on real files."""
import warnings

import numpy as np
import pytest

import superstrax as sx
from superstrax.testutils import PeakClassification, Peaks, Records

from conftest import make_runs


def _ctx(storage, *plugins, **config):
    return sx.Context(storage=[storage], register=[Records, Peaks, PeakClassification, *plugins],
                      config={"bonus_area": 42, **config}, progress_bar=False)


def test_source_and_plain_plugin_are_made_and_stored(storage):
    st = _ctx(storage)
    peaks = st.get_array("0", "peaks")
    assert len(peaks) == 100 and np.all(peaks["area"] == 42)
    assert st.is_stored("0", "records") and st.is_stored("0", "peaks")
    # Peaks rechunk on save: ten record chunks become one stored chunk [0, 10).
    chunks = st.get_meta("0", "peaks")["chunks"]
    assert [(c["start"], c["end"], c["n"]) for c in chunks] == [(0, 10, 100)]
    # Records do not: ten chunks, ten files.
    assert len(st.get_meta("0", "records")["chunks"]) == 10
    again = st.get_array("0", "peaks")
    np.testing.assert_array_equal(again, peaks)


def test_multi_output_plugin_saves_both_outputs_under_one_hash(storage):
    st = _ctx(storage)
    pc = st.get_array("0", "peak_classification")
    assert len(pc) == 100
    assert str(st.key_for("0", "peak_classification")) == "0-peak_classification-cs4m5gvv7q"
    assert str(st.key_for("0", "lone_hits")) == "0-lone_hits-cs4m5gvv7q"
    assert st.is_stored("0", "lone_hits")
    lh = st.get_array("0", "lone_hits")
    np.testing.assert_array_equal(lh["time"], pc["time"])


def test_two_types_of_one_kind_load_merged(storage):
    st = _ctx(storage)
    both = st.get_array("0", ["peaks", "peak_classification"])
    assert "area" in both.dtype.names and "type" in both.dtype.names
    assert len(both) == 100


def test_types_of_different_kinds_cannot_be_merged(storage):
    st = _ctx(storage)
    with pytest.raises(sx.PluginError, match="different data kinds"):
        st.get_array("0", ["peaks", "lone_hits"])


class SumPerChunk(sx.ExhaustPlugin):
    """Sees all records of a run at once: one row with the total count."""
    provides = "record_count"
    depends_on = "records"
    dtype = sx.time_fields + [(("Number of records", "n"), np.int64)]
    save_when = sx.SaveWhen.NEVER

    def compute(self, records, start, end):
        out = np.zeros(1, self.dtype_for("record_count"))
        out["time"], out["endtime"], out["n"] = start, end, len(records)
        return out


def test_exhaust_plugin_sees_the_whole_run(storage):
    st = _ctx(storage, SumPerChunk)
    r = st.get_array("0", "record_count")
    assert r["n"].tolist() == [100]
    assert (r["time"][0], r["endtime"][0]) == (0, 10)
    assert not st.is_stored("0", "record_count")
    # asking to save what its plugin never saves is an error (as in strax), not a silent no
    with pytest.raises(sx.InvalidArgument, match="SaveWhen.NEVER") as refused:
        st.make("0", "record_count", save=("records", "record_count"))
    assert isinstance(refused.value, ValueError)
    assert not st.is_stored("0", "record_count")


class Windows(sx.ExhaustPlugin):
    """One 'event' per two ns of the run's records: [2k, 2k+2)."""
    provides = "windows"
    depends_on = "records"
    data_kind = "windows"
    dtype = sx.time_fields
    rechunk_on_save = False

    def compute(self, records, start, end):
        t0 = (start + 1) // 2 * 2   # records arrive in 1 ns chunks: see them all at once
        times = np.arange(t0, end - 1, 2)
        out = np.zeros(len(times), self.dtype_for("windows"))
        out["time"], out["endtime"] = times, times + 2
        return out


class CountInWindow(sx.LoopPlugin):
    provides = "window_counts"
    depends_on = ("windows", "peaks")
    data_kind = "windows"
    dtype = sx.time_fields + [(("Peaks inside", "n_peaks"), np.int32),
                              (("Summed area", "area"), np.float64)]

    def compute_loop(self, windows, peaks):
        return {"n_peaks": len(peaks), "area": peaks["area"].sum()}


def test_loop_plugin_sees_rows_inside_each_window_across_kinds(storage):
    st = _ctx(storage, Windows, CountInWindow)
    out = st.get_array("0", "window_counts")
    assert out["time"].tolist() == [0, 2, 4, 6, 8]
    assert out["n_peaks"].tolist() == [20] * 5
    assert np.allclose(out["area"], 20 * 42)


class Smooth(sx.OverlapWindowPlugin):
    """For each record: how many records lie within 3 ns before or after it."""
    provides = "neighbours"
    depends_on = "records"
    data_kind = "records"
    dtype = sx.time_fields + [(("Records within the window", "n_near"), np.int32)]
    rechunk_on_save = False

    def get_window_size(self):
        return 3

    def compute(self, records):
        t = records["time"]
        out = np.zeros(len(records), self.dtype_for("neighbours"))
        out["time"], out["endtime"] = t, sx.endtime(records)
        lo = np.searchsorted(t, t - 3, side="left")
        hi = np.searchsorted(t, t + 3, side="right")
        out["n_near"] = hi - lo
        return out


def test_overlap_window_plugin_matches_a_whole_run_computation(storage):
    st = _ctx(storage, Smooth)
    out = st.get_array("0", "neighbours")
    records = st.get_array("0", "records")
    t = records["time"]
    expected = np.searchsorted(t, t + 3, side="right") - np.searchsorted(t, t - 3, side="left")
    assert len(out) == len(records)
    np.testing.assert_array_equal(out["time"], t)
    np.testing.assert_array_equal(out["n_near"], expected)
    # Stored chunk by chunk, contiguous, nothing twice.
    chunks = st.get_meta("0", "neighbours")["chunks"]
    assert chunks[0]["start"] == 0 and chunks[-1]["end"] == 10
    assert all(a["end"] == b["start"] for a, b in zip(chunks, chunks[1:]))
    assert sum(c["n"] for c in chunks) == 100


class Cuts(sx.CutPlugin):
    depends_on = "peaks"
    cut_name = "cut_early"
    cut_description = "Peak before 5 ns"

    def cut_by(self, peaks):
        return peaks["time"] < 5


class CutLargeArea(sx.CutPlugin):
    depends_on = "peaks"

    def cut_by(self, peaks):
        return peaks["area"] > 10


class PeakInfo(sx.MergeOnlyPlugin):
    provides = "peak_info"
    depends_on = ("peaks", "peak_classification", "cuts")


def test_cut_and_merge_only_plugins(storage):
    st = _ctx(storage, Cuts, CutLargeArea, PeakInfo)
    info = st.get_array("0", "peak_info")
    assert {"area", "type", "cut_early"} <= set(info.dtype.names)
    assert len(info) == 100 and info["cut_early"].sum() == 50
    assert not st.is_stored("0", "peak_info")     # merge-only data: saved only when asked
    assert not st.is_stored("0", "cuts")          # a cut is saved only as a target
    # Fields as strax 2.2.3 orders them: by the sorted names of the data types merged
    # (cuts, peak_classification, peaks), so stored dtypes (straxen's event_info) match.
    fields_of = {d: st.get_single_plugin("0", d).dtype_for(d).names
                 for d in PeakInfo.depends_on}
    expected = ["time", "endtime"]
    for d in sorted(PeakInfo.depends_on):
        expected += [f for f in fields_of[d] if f not in expected]
    assert list(info.dtype.names) == expected
    st.make("0", "peak_info", save="peak_info")
    assert st.is_stored("0", "peak_info")
    # Several targets of one kind are joined in that order too, whatever order they are
    # asked in, and also when nothing is found (an empty result has the same fields).
    for targets in (("peaks", "cuts"), ("cuts", "peaks")):
        both = st.get_array("0", targets)
        assert list(both.dtype.names) == ["time", "endtime", "cut_early"] + [
            f for f in fields_of["peaks"] if f not in ("time", "endtime")]
        assert list(st.get_df("0", targets).columns) == list(both.dtype.names)
        assert st.get_array("0", targets, time_range=(10**6, 10**6 + 1)).dtype == both.dtype
    # as strax names them: data type and field from the class unless given
    cut = st.get_array("0", "cuts")
    assert st.is_stored("0", "cuts")
    assert cut.dtype.names == ("time", "endtime", "cut_early")
    assert cut.dtype.fields["cut_early"][2] == "Peak before 5 ns"
    assert cut["cut_early"].sum() == 50
    large = st.get_array("0", "cut_large_area")
    assert large.dtype.fields["cut_large_area"][2] == "cut large area"
    assert large["cut_large_area"].all()


def test_wrong_dtype_from_a_plugin_is_a_clear_error(storage):
    st = _ctx(storage, give_wrong_dtype=True)
    with pytest.raises(sx.PluginError, match="Peaks.*run 0.*peaks"):
        st.get_array("0", "peaks")
    assert not st.is_stored("0", "peaks")


def test_unknown_data_type_names_what_is_registered(storage):
    st = _ctx(storage)
    with pytest.raises(sx.DataNotAvailable, match="No plugin provides 'pekas'.*peaks"):
        st.get_array("0", "pekas")


class Unsorted(sx.Plugin):
    """A source whose one chunk [0, 10) holds rows in the wrong order."""
    provides = "unsorted"
    depends_on = ()
    dtype = sx.time_fields

    def is_ready(self, chunk_i):
        return chunk_i == 0

    def source_finished(self):
        return True

    def compute(self, chunk_i):
        out = np.zeros(2, self.dtype_for("unsorted"))
        out["time"], out["endtime"] = [5, 1], [6, 2]
        return self.chunk(start=0, end=10, data=out)


class Outside(sx.Plugin):
    provides = "outside"
    depends_on = "records"
    dtype = sx.time_fields

    def compute(self, records, start, end):
        out = np.zeros(1, self.dtype_for("outside"))
        out["time"], out["endtime"] = start, end + 5
        return out


def test_non_monotonic_times_and_rows_outside_chunks_are_refused(storage):
    st = _ctx(storage, Unsorted, Outside)
    with pytest.raises(sx.ChunkError, match="not sorted"):
        st.get_array("0", "unsorted")
    with pytest.raises(sx.ChunkError, match="after the chunk end"):
        st.get_array("0", "outside")
    assert not st.is_stored("0", "unsorted") and not st.is_stored("0", "outside")


def test_crash_leaves_nothing_that_loads_and_data_can_be_made_after(storage, tmp_path):
    st = _ctx(storage, crash=True)
    from superstrax.testutils import SomeCrash
    with pytest.raises(SomeCrash):
        st.get_array("0", "records")
    assert not st.is_stored("0", "records")
    st.set_config({"crash": False})
    assert len(st.get_array("0", "records")) == 100
    assert st.is_stored("0", "records")


def test_per_run_defaults(storage):
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        st.register(Peaks)
    st.set_context_config({"use_per_run_defaults": True})
    st.register(Peaks)
    assert str(st.key_for("0", "peaks")) == "0-peaks-v63qonu2jo"
    assert str(st.key_for("1", "peaks")) == "1-peaks-n64lpr2ira"
    assert str(st.key_for("5", "peaks")) == "5-peaks-n64lpr2ira"
    assert np.all(st.get_array("0", "peaks")["area"] == 0)
    assert np.all(st.get_array("1", "peaks")["area"] == 1)


def test_lineage_keys_match_strax(storage):
    st = _ctx(storage)
    assert str(st.key_for("0", "records")) == "0-records-j3nd2fjbiq"
    assert str(st.key_for("123", "records")) == "123-records-j3nd2fjbiq"
    assert str(st.key_for("0", "peaks")) == "0-peaks-xia2iit6vb"
    st.set_config({"n_chunks": 3, "secret_time_offset": 7})     # untracked
    assert str(st.key_for("0", "records")) == "0-records-j3nd2fjbiq"
    st.set_config({"dummy_tracked_option": 43})
    assert st.key_for("0", "records").lineage_hash == "6xyrode2rq"
    st.set_config({"dummy_tracked_option": 42, "base_area": 1})
    assert st.key_for("0", "peaks").lineage_hash == "uframa7wcn"


def test_unknown_config_and_kwargs_warn(storage):
    st = _ctx(storage)
    with pytest.warns(UserWarning, match="no_such_option"):
        st.set_config({"no_such_option": 1})
    with pytest.warns(UserWarning, match="no_such_kwarg") as caught:
        st.get_array("0", "records", no_such_kwarg=True)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert "get_array()" in str(caught[0].message)
    with pytest.warns(UserWarning, match=r"get_df\(\) got unknown argument 'nope'"):
        st.get_df(["0", "1"], "records", nope=1, drop_columns=["data"])


def test_context_settings_given_to_one_call(storage):
    st = _ctx(storage)
    assert set(st.get_array("0", "peaks", config={"base_area": 100})["area"]) == {142}
    assert st.is_stored("0", "peaks", config={"base_area": 100})
    assert not st.is_stored("0", "peaks")                  # the context itself is unchanged
    assert set(st.get_array("0", "peaks")["area"]) == {42}
    st.make("1", "peaks", config={"base_area": 1})
    assert st.is_stored("1", "peaks", config={"base_area": 1})
    with pytest.raises(sx.DataNotAvailable, match="forbids"):
        st.get_array("2", "peaks", forbid_creation_of=("peaks",))
    chunks = list(st.get_iter("0", "peaks", config={"base_area": 7}))
    assert set(np.concatenate([c.data["area"] for c in chunks])) == {49}


def test_time_range_selection_and_columns(storage, caplog):
    st = _ctx(storage)
    peaks = st.get_array("0", "peaks")
    part = st.get_array("0", "peaks", time_range=(3, 6))
    np.testing.assert_array_equal(part, peaks[(peaks["time"] >= 3) & (sx.endtime(peaks) <= 6)])
    sel = st.get_array("0", "peaks", selection="(time >= 2) & (time < 5)")
    assert len(sel) == 3 * 10
    cols = st.get_array("0", "peaks", keep_columns=("time", "area"))
    assert cols.dtype.names == ("time", "area")
    arrays = [n for n in peaks.dtype.names if peaks.dtype[n].shape]
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # only scalar fields left: no warning
        dropped = st.get_df("0", "peaks", drop_columns=arrays)
    assert "area" in dropped.columns and "data" not in dropped.columns
    assert caplog.records == []
    # as strax 2.x: array fields become columns of per-row arrays, with a warning logged on
    # the context's (strax's) logger, in strax's words
    df = st.get_df("0", "peaks", keep_columns=["time", "area", "data"])
    [record] = caplog.records
    assert record.name == "strax" and record.levelname == "WARNING"
    assert "Columns ['data'] contain non-scalar entries" in record.getMessage()
    assert list(df.columns) == ["time", "area", "data"]
    np.testing.assert_array_equal(np.stack(df["data"]), peaks["data"])
    secs = st.get_array("0", "records", seconds_range=(0, 5e-9))   # no run doc: data start
    assert len(secs) == 50


def test_seconds_range_counts_from_the_whole_second_the_run_starts_in(storage):
    st = _ctx(storage)
    half = 1_500_000_000                              # the run starts at 1.5 s
    st.set_config({"secret_time_offset": half})
    records = st.get_array("7", "records")
    sx.testutils.write_run_document(storage, "7", half, half + 10)
    assert st.estimate_run_start_and_end("7")[0] == 1_000_000_000
    # as in strax: seconds count from 1 s, so the data lies in [0.5, 0.6) s of the run
    assert len(st.get_array("7", "records", seconds_range=(0, 0.5))) == 0
    np.testing.assert_array_equal(st.get_array("7", "records", seconds_range=(0.5, 0.6)),
                                  records)
    # without a run document: the first stored chunk of the data the target is made from
    st.set_config({"secret_time_offset": half + 10})
    st.make("8", "records")
    assert st.estimate_run_start_and_end("8", "peaks") == (1_000_000_000, 1_000_000_000)
    assert len(st.get_array("8", "peaks", seconds_range=(0.5, 0.6))) == 100
    # nothing to go by: a warning, and seconds from the epoch
    st.set_config({"secret_time_offset": 0})
    with pytest.warns(UserWarning, match="Cannot tell when run 9 starts"):
        assert len(st.get_array("9", "peaks", seconds_range=(0, 1e-8))) == 100


def test_several_runs_get_a_run_id_field(storage):
    st = _ctx(storage)
    make_runs(st, storage, ["0", "1"])
    both = st.get_array(["0", "1"], "records")
    assert len(both) == 200
    assert set(both["run_id"]) == {"0", "1"}
    df = st.get_df(["0", "1"], "peaks", keep_columns=["time", "area"])
    assert len(df) == 200 and set(df["run_id"]) == {"0", "1"}


def test_storage_converter_copies_whole_loads_to_writable_storage(storage, tmp_path):
    st = _ctx(storage)
    peaks = st.get_array("0", "peaks")
    source = sx.DataDirectory(storage.path, readonly=True)
    local = sx.DataDirectory(str(tmp_path / "local"))
    conv = sx.Context(storage=[source, local], register=[Records, Peaks],
                      config={"bonus_area": 42}, progress_bar=False, storage_converter=True)
    conv.get_array("0", "peaks", time_range=(2, 4))       # partial: nothing copied
    assert not local.is_stored(conv.key_for("0", "peaks"))
    np.testing.assert_array_equal(conv.get_array("0", "peaks"), peaks)
    assert local.is_stored(conv.key_for("0", "peaks"))
    only_local = sx.Context(storage=[local], register=[Records, Peaks],
                            config={"bonus_area": 42}, progress_bar=False,
                            forbid_creation_of=("records", "peaks"))
    np.testing.assert_array_equal(only_local.get_array("0", "peaks"), peaks)


def test_apply_data_function_changes_loaded_data(storage):
    seen = []

    def double_area(data, run_id, targets):
        seen.append((run_id, targets))
        data = data.copy()
        data["area"] *= 2
        return data

    st = _ctx(storage)
    st.set_context_config({"apply_data_function": (double_area,)})
    assert set(st.get_array("0", "peaks")["area"]) == {84}
    assert seen[0] == ("0", "peaks")


def test_options_without_effect_warn(storage):
    with pytest.warns(UserWarning, match="allow_multiprocess.*no effect"):
        _ctx(storage).set_context_config({"allow_multiprocess": True})
    with pytest.warns(UserWarning, match="Unknown context option 'no_such'"):
        _ctx(storage).set_context_config({"no_such": True})
