"""strax's Context API beyond loading: options and methods added by user code, the plugin tree,
sources of data, copies between frontends, sums over chunks. Real data in tmp_path."""
import logging
import os

import numpy as np
import pytest

import superstrax as sx
from superstrax.storage.memory import MemoryFrontend
from superstrax.testutils import CHUNK_NS, RUN_SPAN, PeakClassification, Peaks, Records

RUN = "0"


def make_context(tmp_path, *plugins, **options):
    plugins = list(plugins) or [Records, Peaks, PeakClassification]
    config = {"n_chunks": 4}
    if Peaks in plugins:
        config["bonus_area"] = 0    # else a per-run default, refused without use_per_run_defaults
    return sx.Context(storage=sx.DataDirectory(str(tmp_path / "data")), register=plugins,
                      config=config, **options)


class CutPeaks(sx.Plugin):
    """Same kind as peaks: one flag per peak."""
    __version__ = "0.0.1"
    provides = "cut_peaks"
    depends_on = ("peaks",)
    dtype = list(sx.dtypes.time_fields) + [(("passes", "cut_peaks"), np.bool_)]

    def compute(self, peaks):
        out = np.zeros(len(peaks), self.dtype)
        out["time"], out["endtime"] = peaks["time"], sx.endtime(peaks)
        out["cut_peaks"] = peaks["area"] >= 0
        return out


# --- logging, methods and options added by user code ------------------------------------------
def test_log_is_the_strax_logger_and_takes_filters(tmp_path, caplog):
    st = make_context(tmp_path)
    assert isinstance(st.log, logging.Logger) and st.log.name == "strax"
    st.set_config({"not_an_option": 1}, _check_known=False)
    with caplog.at_level(logging.WARNING, logger="strax"):
        st.purge_unused_configs()
    assert "not_an_option" in caplog.text and "not_an_option" not in st.config


def test_add_method_adds_a_method_every_context_has(tmp_path):
    @sx.Context.add_method
    def _test_n_plugins(self):
        return len(self._plugin_class_registry)
    try:
        assert make_context(tmp_path)._test_n_plugins() == 4
    finally:
        del sx.Context._test_n_plugins


def test_takes_config_on_context_adds_options_set_context_config_accepts(tmp_path):
    original = sx.Context.takes_config
    try:
        decorated = sx.takes_config(sx.Option("my_check", default=("a",), help="x"))(sx.Context)
        decorated = sx.takes_config(sx.Option("my_other", default=2, help="y"))(decorated)
        assert decorated is sx.Context
        # both additions and every built-in option stay
        assert {"my_check", "my_other", "write_superruns", "timeout"} <= set(sx.Context.takes_config)
        st = make_context(tmp_path)
        assert st.context_config["my_check"] == ("a",) and st.context_config["my_other"] == 2
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            st.set_context_config({"my_check": ("b",)})
        assert st.context_config["my_check"] == ("b",)
        with pytest.warns(UserWarning, match="Unknown context option"):
            st.set_context_config({"no_such_option": 1})
    finally:
        sx.Context.takes_config = original


def test_context_config_holds_the_strax_executor_keys(tmp_path):
    cc = make_context(tmp_path).context_config
    assert cc["max_messages"] == 4 and cc["timeout"] == 24 * 3600 and cc["allow_lazy"] is True
    assert cc["allow_multiprocess"] is False and cc["allow_shm"] is False
    listed = set(sx.options.context_options()["option"])
    assert {"max_messages", "timeout", "allow_multiprocess", "allow_lazy", "allow_shm"} <= listed


# --- the plugin tree ------------------------------------------------------------------------------
def test_tree_inversed_tree_and_dependencies(tmp_path):
    st = make_context(tmp_path, Records, Peaks, CutPeaks, PeakClassification)
    assert st.tree == {"records": [], "peaks": ["records"], "cut_peaks": ["peaks"],
                       "peak_classification": ["peaks"], "lone_hits": ["peaks"]}
    inv = st.inversed_tree
    assert inv["records"] == ["peaks"]
    assert sorted(inv["peaks"]) == ["cut_peaks", "lone_hits", "peak_classification"]
    assert st.get_dependencies("cut_peaks") == {"peaks", "records"}
    assert st.root_data_types == {"records"}


def test_tree_levels_by_longest_and_shortest_path(tmp_path):
    class Both(CutPeaks):
        provides = "both"
        depends_on = ("records", "cut_peaks")
    st = make_context(tmp_path, Records, Peaks, CutPeaks, Both)
    levels = st.tree_levels
    assert levels[False]["both"]["level"] == 3 and levels[True]["both"]["level"] == 1
    assert [levels[False][d]["order"] for d in ("records", "peaks", "cut_peaks", "both")] == \
        [0, 1, 2, 3]
    assert levels[False]["peaks"] == {"level": 1, "class": "Peaks", "index": 0, "order": 1}


def test_get_data_kinds(tmp_path):
    st = make_context(tmp_path, Records, Peaks, CutPeaks)
    assert st.get_data_kinds() == ({"records": ["records"], "peaks": ["peaks", "cut_peaks"]},
                                   {"records": "records", "peaks": "peaks",
                                    "cut_peaks": "peaks"})


def test_get_save_when_and_a_bad_rule(tmp_path):
    st = make_context(tmp_path)
    assert st.get_save_when("lone_hits") == sx.SaveWhen.ALWAYS

    class BadRecords(Records):
        save_when = "sometimes"
    st.register(BadRecords)
    with pytest.raises(ValueError, match="save_when"):
        st.get_save_when("records")
    with pytest.raises(ValueError):
        st.get_single_plugin(RUN, "records")


def test_check_superrun_finds_a_plugin_that_breaks_the_chain(tmp_path):
    st = make_context(tmp_path, Records, Peaks)
    st.check_superrun()     # records and peaks: neither allows superruns

    class SuperPeaks(Peaks):
        allow_superrun = True

    class NoSuper(CutPeaks):
        allow_superrun = False
    st.register([SuperPeaks, NoSuper])
    with pytest.raises(ValueError, match="cut_peaks"):
        st.check_superrun()


def test_deregister_plugins_with_missing_dependencies(tmp_path):
    st = make_context(tmp_path, Records, Peaks, CutPeaks)
    st.deregister_plugins_with_missing_dependencies()
    assert set(st._plugin_class_registry) == {"records", "peaks", "cut_peaks"}
    del st._plugin_class_registry["records"]
    st.deregister_plugins_with_missing_dependencies()
    assert st._plugin_class_registry == {}   # peaks, then cut_peaks


def test_purge_keeps_free_and_taken_options(tmp_path):
    st = make_context(tmp_path, free_options=("kept",))
    st.set_config({"kept": 1, "base_area": 2, "gone": 3}, _check_known=False)
    st.purge_unused_configs()
    assert st.config == {"n_chunks": 4, "bonus_area": 0, "kept": 1, "base_area": 2}


# --- plugins and the context hash ----------------------------------------------------------------
def test_get_plugins_gives_set_up_instances_and_one_per_class(tmp_path):
    st = make_context(tmp_path)
    plugins = st._get_plugins(("lone_hits",), RUN)
    assert set(plugins) == {"records", "peaks", "peak_classification", "lone_hits"}
    assert plugins["lone_hits"] is plugins["peak_classification"]
    assert plugins["peaks"].deps["records"] is plugins["records"]
    assert plugins["peaks"].run_id == RUN
    assert st.data_itemsize("peaks") == np.dtype(sx.peak_dtype()).itemsize


def test_a_shadowed_multi_output_plugin_is_not_used(tmp_path):
    class RecordsPlus(Records):
        provides = ("records", "plus")
        data_kind = {"records": "records", "plus": "plus"}
    st = make_context(tmp_path, RecordsPlus, Records, Peaks)
    assert type(st._get_plugins(("records",), RUN)["records"]) is Records
    with pytest.raises(KeyError):
        st.key_for(RUN, "no_such_type")


def test_context_hash_follows_config_and_plugin_versions(tmp_path):
    st = make_context(tmp_path)
    first = st._context_hash()
    st.set_config({"base_area": 3})
    second = st._context_hash()

    class NewPeaks(Peaks):
        __version__ = "9.9.9"
    st.register(NewPeaks)
    assert len({first, second, st._context_hash()}) == 3


def test_fixed_plugin_cache_holds_set_up_plugins_for_the_current_hash(tmp_path):
    st = make_context(tmp_path)
    cache = st._fixed_plugin_cache
    assert list(cache) == [st._context_hash()]
    peaks = cache[st._context_hash()]["peaks"]
    assert isinstance(peaks, Peaks) and peaks.dtype == np.dtype(sx.peak_dtype())
    assert st._fixed_plugin_cache[st._context_hash()]["peaks"] is peaks   # kept
    st._fixed_plugin_cache = None
    assert st._fixed_plugin_cache[st._context_hash()]["peaks"] is not peaks
    st.set_context_config({"use_per_run_defaults": True})
    assert list(st._fixed_plugin_cache) == []     # plugins may differ per run: no cache


def test_search_field_with_strax_signature(tmp_path, capsys):
    st = make_context(tmp_path)
    fields, code = st.search_field("time", return_matches=True)
    assert ("records", "Records") in fields["time"] and ("peaks", "Peaks") in fields["time"]
    assert {"Records.compute", "Peaks.compute"} <= set(code["time"])
    fields, code = st.search_field("area_f*", include_code_usage=False, return_matches=True)
    assert set(fields) == {"area_fraction_top"} and code == {}
    assert st.search_field("channel") is None
    assert "channel is part of records (provided by Records)" in capsys.readouterr().out


# --- where data is ---------------------------------------------------------------------------------
def test_get_source_and_stored_dependencies(tmp_path):
    st = make_context(tmp_path, Records, Peaks, CutPeaks)
    st.set_context_config({"forbid_creation_of": ("peaks",)})
    assert st.get_source(RUN, "cut_peaks") is None
    st.make(RUN, "records")
    assert st.get_source(RUN, "records") == {"records"}
    assert st.get_source(RUN, "cut_peaks") is None              # peaks forbidden
    assert st.get_source(RUN, "cut_peaks", check_forbidden=False) == {"records"}
    assert st.stored_dependencies(RUN, "cut_peaks", check_forbidden=False) == \
        {"cut_peaks": False, "peaks": False, "records": True}
    st.set_context_config({"forbid_creation_of": ()})
    st.make(RUN, "peaks")
    assert st.get_source(RUN, ("records", "cut_peaks")) == {"records", "peaks"}


def test_available_for_run_keys_for_runs_size_and_runs(tmp_path):
    st = make_context(tmp_path)
    st.make(RUN, "peaks")
    df = st.available_for_run(RUN)
    assert dict(zip(df["target"], df["is_stored"])) == {
        "records": True, "peaks": True, "peak_classification": False, "lone_hits": False}
    df = st.available_for_run(RUN, include_targets="peak*", exclude_targets="*class*")
    assert list(df["target"]) == ["peaks"]
    keys = st.keys_for_runs("peaks", ["0", "1"])
    assert [str(k) for k in keys] == [str(st.key_for(r, "peaks")) for r in ("0", "1")]
    nbytes = st.get_array(RUN, "peaks").nbytes
    assert st.size_mb(RUN, "peaks") == pytest.approx(nbytes / 1e6)
    assert st.runs is None or len(st.runs) >= 0
    df = st.select_runs()
    assert st.runs is df


def test_get_source_sf_and_is_stored_in_sf(tmp_path):
    st = make_context(tmp_path)
    st.make(RUN, "records")
    other = sx.DataDirectory(str(tmp_path / "other"))
    st.storage.append(other)
    first = st.storage[0]
    assert st.get_source_sf(RUN, "records") == [first]
    assert st.get_source_sf(RUN, ["records", "peaks"]) == []
    assert st._is_stored_in_sf(RUN, "records", first)
    assert not st._is_stored_in_sf(RUN, "records", other)
    with pytest.raises(sx.DataNotAvailable):
        st.get_source_sf(RUN, "peaks", should_exist=True)


def test_copy_to_frontend_recompressed_and_rechunked(tmp_path):
    st = make_context(tmp_path)
    data = st.get_array(RUN, "records")
    other = sx.DataDirectory(str(tmp_path / "other"))
    st.storage.append(other)
    st.copy_to_frontend(RUN, "records", target_compressor="zstd")
    key = st.key_for(RUN, "records")
    assert other.is_stored(key)
    assert other.get_metadata(key)["compressor"] == "zstd"
    assert sorted(os.listdir(tmp_path / "other")) == sorted(os.listdir(tmp_path / "data"))
    again = sx.DataDirectory(str(tmp_path / "third"))
    st.storage.append(again)
    st.copy_to_frontend(RUN, "records", target_frontend_id=2, rechunk=True, rechunk_to_mb=100)
    assert len(again.get_metadata(key)["chunks"]) == 1      # 4 tiny chunks joined
    only_copy = sx.Context(storage=again, register=[Records], config={"n_chunks": 4})
    np.testing.assert_array_equal(only_copy.get_array(RUN, "records"), data)


def test_to_absolute_time_range(tmp_path):
    st = make_context(tmp_path)
    assert st.to_absolute_time_range(RUN, time_range=(1.0, 3)) == (1, 3)
    row = np.zeros(1, sx.interval_dtype)[0]
    row["time"], row["length"], row["dt"] = 10, 2, 3
    assert st.to_absolute_time_range(RUN, time_within=row) == (10, 16)
    assert st.to_absolute_time_range(RUN) is None
    with pytest.raises(ValueError):
        st.to_absolute_time_range(RUN, time_range=(0, 1), seconds_range=(0, 1))


def test_accumulate_sums_per_chunk(tmp_path):
    st = make_context(tmp_path)
    data = st.get_array(RUN, "records")
    result = st.accumulate(RUN, "records", fields="channel")
    assert result["channel"] == data["channel"].sum()
    assert result["n_chunks"] == len(st.get_meta(RUN, "records")["chunks"]) == 4
    assert result["n_rows"] == len(data) and (result["start"], result["end"]) == (0, 4)
    assert result["dt"] == data["dt"][0]       # first value of a field not summed
    squares = st.accumulate(RUN, "records", function=lambda d: d["channel"] ** 2)
    assert squares["result"] == (data["channel"] ** 2).sum()
    # one stream only: several kinds at once are refused, with strax's RuntimeError
    with pytest.raises(RuntimeError, match="allow_multiple") as info:
        st.accumulate(RUN, ["records", "peaks"], fields="channel", allow_multiple=True)
    assert isinstance(info.value, sx.CannotMergeKinds)


def test_compare_metadata(tmp_path, capsys):
    st = make_context(tmp_path)
    st.make(RUN, "records")
    md = st.get_meta(RUN, "records")
    result = st.compare_metadata((RUN, "records"), md, return_results=True)
    assert result["metadata1"] == md == result["metadata2"]
    assert result["lineage1"] == result["lineage2"]
    # not stored: lineages are compared
    st.compare_metadata((RUN, "peaks"), (RUN, "records"))
    assert "lineage.peaks" in capsys.readouterr().out


def test_get_components_lists_loaders_plugins_and_savers(tmp_path):
    st = make_context(tmp_path)
    c = st.get_components(RUN, "peak_classification")
    assert c.targets == ("peak_classification",) and c.loaders == {}
    assert set(c.plugins) == {"records", "peaks", "peak_classification", "lone_hits"}
    assert set(c.savers) == {"records", "peaks", "peak_classification", "lone_hits"}
    st.make(RUN, "peaks")
    c = st.get_components(RUN, "peak_classification")
    assert set(c.loaders) == {"peaks"} and str(c.loaders["peaks"]) == str(st.key_for(RUN, "peaks"))
    assert set(c.plugins) == {"peak_classification", "lone_hits"}
    assert [str(k) for k in c.savers["peak_classification"]] == \
        [str(st.key_for(RUN, "peak_classification"))]


def test_get_array_of_several_runs_add_run_id_field_and_ignore_errors(tmp_path):
    st = make_context(tmp_path, Records)
    for r in ("1", "3"):
        st.make(r, "records")
    both = st.get_array(["1", "3"], "records")
    assert set(both["run_id"]) == {"1", "3"}
    plain = st.get_array(["1", "3"], "records", add_run_id_field=False)
    assert "run_id" not in plain.dtype.names and len(plain) == len(both)
    st.set_context_config({"forbid_creation_of": "*"})     # '*': nothing may be made
    with pytest.raises(sx.DataNotAvailable):
        st.get_array(["1", "2", "3"], "records")
    with pytest.warns(UserWarning, match="Run 2 left out"):
        some = st.get_array(["1", "2", "3"], "records", ignore_errors=True)
    assert set(some["run_id"]) == {"1", "3"}


def test_writable_storage_leaves_out_readonly_frontends(tmp_path):
    ro = sx.DataDirectory(str(tmp_path / "ro"), readonly=True)
    rw = sx.DataDirectory(str(tmp_path / "rw"))
    mem = MemoryFrontend()
    st = sx.Context(storage=[ro, rw, mem], progress_bar=False)
    assert st.writable_storage() == [rw, mem]
    rw.readonly = True
    assert st.writable_storage() == [mem]


def test_several_runs_come_ordered_by_run_id_with_the_run_id_field_first(tmp_path):
    st = make_context(tmp_path, Records)
    runs = ["3", "10", "2", "3"]
    got = st.get_array(runs, "records")
    # strax's order: by run id as text ('10' < '2' < '3'), a repeated run twice
    assert list(dict.fromkeys(got["run_id"])) == ["10", "2", "3"]
    assert got.dtype.names[0] == "run_id" and got.dtype["run_id"] == np.dtype("<U2")
    one = st.get_array("2", "records")
    assert np.array_equal(got[got["run_id"] == "2"][list(one.dtype.names)], one)
    assert (got["run_id"] == "3").sum() == 2 * len(one)
    small = st.get_array(runs, "records", run_id_as_bytes=True)
    assert small.dtype["run_id"] == np.dtype("S2") and small["run_id"][0] == b"10"
    df = st.get_df(["3", "2"], "records", keep_columns=["time", "channel"])
    assert list(df.columns) == ["run_id", "time", "channel"]
    assert list(dict.fromkeys(df["run_id"])) == ["2", "3"]


def test_data_info_lists_each_field_with_its_type_and_comment(tmp_path):
    st = make_context(tmp_path)
    info = st.data_info("peak_classification")
    assert list(info.columns) == ["Field name", "Data type", "Comment"]
    assert list(info["Field name"]) == ["time", "endtime", "type"]
    assert info.set_index("Field name").loc["type", "Data type"] == "int8"
    assert info.set_index("Field name").loc["type", "Comment"] == "Classification of the peak."
    # an array field shows its shape after the element type
    records = make_context(tmp_path, Records).data_info("records").set_index("Field name")
    assert records.loc["data", "Data type"] == "int16(110,)"


# --- registering plugins and setting context options (the Session does both for the Context) ---
def test_register_returns_the_class_and_refuses_what_is_not_a_plugin_class(tmp_path):
    st = make_context(tmp_path, Records)
    st.config["bonus_area"] = 0         # Peaks' option has only per-run defaults
    assert st.register(CutPeaks) is CutPeaks        # usable as a class decorator, as strax's
    assert st.register([Peaks, PeakClassification]) is None
    assert st.provided_dtypes()["cut_peaks"] is CutPeaks
    types = {"records", "peaks", "lone_hits", "cut_peaks", "peak_classification"}
    assert set(st.provided_dtypes()) == types
    for not_a_class in (Records(), object, "records"):
        with pytest.raises(sx.PluginError, match="takes Plugin subclasses"):
            st.register(not_a_class)
    assert set(st.provided_dtypes()) == types


def test_a_plugin_providing_a_name_with_a_dash_registers_none_of_its_types(tmp_path):
    class Dashed(sx.Plugin):
        __version__ = "0.0.1"
        provides = ("fine_type", "bad-type")
        depends_on = ("records",)
        dtype = list(sx.dtypes.time_fields)

    class NotAName(Dashed):
        provides = ("fine_type", 3)

    st = make_context(tmp_path, Records)
    with pytest.raises(sx.InvalidName, match="bad-type"):
        st.register(Dashed)
    with pytest.raises(sx.PluginError, match="data types are strings"):
        st.register(NotAName)
    assert set(st.provided_dtypes()) == {"records"}


def test_set_context_config_modes_and_the_line_its_warnings_point_at(tmp_path):
    import warnings
    st = make_context(tmp_path, Records)
    st.set_context_config({"write_superruns": True, "store_run_fields": ("mode",)})
    st.set_context_config({"write_superruns": False}, mode="setdefault")
    assert st.context_config["write_superruns"] is True          # setdefault keeps what is set
    st.set_context_config({"allow_rechunk": False}, mode="replace")
    assert st.context_config["allow_rechunk"] is False
    assert st.context_config["write_superruns"] is False         # back to the default
    assert st.context_config["store_run_fields"] == ()
    with pytest.warns(UserWarning) as caught:
        st.set_context_config({"no_such_option": 1, "allow_multiprocess": True})
    assert [w.filename for w in caught] == [__file__, __file__]  # the user's line
    assert "no_such_option" not in st.context_config
    assert st.context_config["allow_multiprocess"] is True       # kept, though it does nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # strax's executor options warn only when changed
        st.set_context_config({"allow_multiprocess": True})
        st.set_context_config(None)


def test_select_runs_adds_a_column_per_checked_target_and_filters_on_available(tmp_path):
    storage = sx.DataDirectory(str(tmp_path / "runs"), provide_run_metadata=True)
    st = sx.Context(storage=storage, register=Records, progress_bar=False,
                    check_available=("records",))
    for run in ("1", "2"):
        sx.testutils.write_run_document(storage, run, RUN_SPAN * int(run),
                                        RUN_SPAN * int(run) + 4 * CHUNK_NS, mode="calib")
    st.make("2", "records")
    table = st.select_runs()          # check_available: a column, but every run is listed
    assert dict(zip(table["name"], table["records_available"])) == {"1": False, "2": True}
    assert st.runs is table
    only = st.select_runs(available="records")
    assert list(only["name"]) == ["2"] and list(only.index) == [0]
    assert st.list_available("records") == ["2"]


@pytest.mark.parametrize("method", ["set_config", "set_context_config"])
def test_an_unknown_config_mode_is_refused_as_strax_refuses_it(tmp_path, method):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], progress_bar=False)
    before = (dict(st.config), dict(st.context_config))
    with pytest.raises(RuntimeError, match="update, setdefault or replace") as info:
        getattr(st, method)({"forbid_creation_of": ("x",)}, mode="overwrite")
    assert isinstance(info.value, sx.InvalidConfiguration)
    assert (dict(st.config), dict(st.context_config)) == before


def test_a_plugin_that_takes_over_part_of_a_multi_output_plugin_deregisters_it(tmp_path,
                                                                                caplog):
    class Both(sx.Plugin):
        provides = ("left", "right")
        depends_on = ()
        data_kind = "things"
        dtype = [("time", np.int64), ("endtime", np.int64)]

    class OnlyLeft(sx.Plugin):
        provides = "left"
        depends_on = ()
        data_kind = "things"
        dtype = [("time", np.int64), ("endtime", np.int64)]

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Both],
                    progress_bar=False)
    with caplog.at_level(logging.WARNING, logger="strax"):
        st.register(OnlyLeft)
    assert st._plugin_class_registry == {"left": OnlyLeft}
    assert "Both is deregistered, also from right" in caplog.text
    with pytest.raises(KeyError):
        st.key_for("1", "right")


def test_an_unknown_context_option_warns_at_the_line_that_made_the_context(tmp_path):
    with pytest.warns(UserWarning, match="Unknown context option 'no_such_option'") as caught:
        sx.Context(storage=[sx.DataDirectory(str(tmp_path))], no_such_option=1)
    assert [w.filename for w in caught if "no_such_option" in str(w.message)] == [__file__]
