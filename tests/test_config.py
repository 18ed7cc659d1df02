"""Options: declaring them, resolving defaults (also per run), what enters the lineage, and the
context's configuration calls. Expected keys are the strax 2.2.3 ones from the facts sheet (§2)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import superstrax as sx
from superstrax.config import resolve_config, run_number
from superstrax.testutils import Peaks, Records

from conftest import make_runs, write_run_doc


def per_run_context(storage, **context_config):
    return sx.Context(storage=[storage], register=[Records, Peaks], progress_bar=False,
                      use_per_run_defaults=True, **context_config)


# --------------------------------------------------------------------------------------------
# Option defaults
# --------------------------------------------------------------------------------------------
def test_option_default_kinds():
    calls = []

    def factory():
        calls.append(1)
        return [1, 2]

    assert sx.Option("a", default=3).get_default("0") == 3
    assert sx.Option("a", default=None).get_default("0") is None
    o = sx.Option("b", default_factory=factory)
    first, second = o.get_default("0"), o.get_default("0")
    assert first == second == [1, 2] and first is not second and len(calls) == 2
    by_run = sx.Option("c", default_by_run=[(0, "zero"), (10, "ten"), (100, "hundred")])
    assert [by_run.get_default(r) for r in ("0", "9", "10", "99", "100", "12345")] == \
        ["zero", "zero", "ten", "ten", "hundred", "hundred"]
    with pytest.raises(sx.InvalidConfiguration, match="Missing option d"):
        sx.Option("d").get_default("0")
    with pytest.raises(sx.InvalidConfiguration, match="e"):
        sx.Option("e", default=1, default_factory=list)
    assert not sx.Option("f").has_default and sx.Option("f", default=0).has_default


def test_default_by_run_run_numbers():
    assert run_number("5") == 5 and run_number("0001") == 1 and run_number("1_000") == 1000
    assert run_number("_12") == 12
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        run_number("abc", "bonus_area")
    # a superrun id has its leading '_' stripped before the run number is taken
    for run_id, area in [("_0", 0), ("_1", 1), ("_5", 1), ("1", 1)]:
        config = resolve_config(Peaks, {}, run_id, use_per_run_defaults=True)
        assert config["bonus_area"] == area


def test_run_defaults_override_declared_defaults():
    config = resolve_config(Peaks, {"base_area": 2}, "0", use_per_run_defaults=True,
                            run_defaults={"bonus_area": 7, "base_area": 9,
                                          "give_wrong_dtype": False})
    assert config == {"base_area": 2, "give_wrong_dtype": False, "bonus_area": 7}
    # run documents' defaults only count when the context allows per-run defaults
    config = resolve_config(Peaks, {"bonus_area": 3}, "0", use_per_run_defaults=False,
                            run_defaults={"base_area": 9})
    assert config["base_area"] == 0


# --------------------------------------------------------------------------------------------
# Lineage: which options are tracked (facts §2 keys)
# --------------------------------------------------------------------------------------------
def test_untracked_options_leave_keys_unchanged(st):
    assert str(st.key_for("0", "records")) == "0-records-j3nd2fjbiq"
    assert str(st.key_for("123", "records")) == "123-records-j3nd2fjbiq"
    st.set_config({"secret_time_offset": 1000, "n_chunks": 3, "recs_per_chunk": 2})
    assert str(st.key_for("0", "records")) == "0-records-j3nd2fjbiq"
    assert st.lineage("0", "records") == {
        "records": ("Records", "0.0.0", {"crash": False, "dummy_tracked_option": 42})}
    assert str(st.key_for("0", "peaks")) == "0-peaks-xia2iit6vb"
    assert str(st.key_for("0", "lone_hits")) == "0-lone_hits-cs4m5gvv7q"
    assert str(st.key_for("0", "peak_classification")) == "0-peak_classification-cs4m5gvv7q"
    st.set_config({"dummy_tracked_option": 43})
    assert str(st.key_for("0", "records")) == "0-records-6xyrode2rq"
    st.set_config({"dummy_tracked_option": 42, "base_area": 1})
    assert str(st.key_for("0", "records")) == "0-records-j3nd2fjbiq"
    assert str(st.key_for("0", "peaks")) == "0-peaks-uframa7wcn"


def test_untracked_option_changes_data_not_key(st):
    st.set_config({"n_chunks": 2, "secret_time_offset": 100})
    st.make("0", "records")
    st.set_config({"secret_time_offset": 500})
    # same key, so the stored data (made with offset 100) is what loads
    assert st.get_array("0", "records")["time"].min() == 100


# --------------------------------------------------------------------------------------------
# Per-run defaults through a context
# --------------------------------------------------------------------------------------------
def test_per_run_default_needs_context_permission(storage):
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        st.register(Peaks)
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        sx.Context(storage=[storage], register=[Records, Peaks])
    # setting the option explicitly is enough; the refused Peaks stayed registered (as in
    # strax), so the option is a known one and registering again is harmless
    assert st._plugin_class_registry["peaks"] is Peaks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st.set_config({"bonus_area": 42})
    st.register(Peaks)
    assert str(st.key_for("0", "peaks")) == "0-peaks-xia2iit6vb"


def test_per_run_defaults_by_run_number(storage):
    st = per_run_context(storage, config={"n_chunks": 1})
    expected = {"0": (0, "0-peaks-v63qonu2jo"), "1": (1, "1-peaks-n64lpr2ira"),
                "5": (1, "5-peaks-n64lpr2ira")}
    for run_id, (area, key) in expected.items():
        assert st.get_single_plugin(run_id, "peaks").config["bonus_area"] == area
        assert str(st.key_for(run_id, "peaks")) == key
        peaks = st.get_array(run_id, "peaks")
        assert len(peaks) == 10 and np.all(peaks["area"] == area)
    # records do not depend on per-run options: one key for all runs
    assert str(st.key_for("5", "records")) == "5-records-j3nd2fjbiq"


def test_run_document_strax_defaults(storage):
    st = per_run_context(storage, config={"n_chunks": 1})
    write_run_doc(storage, "1", 0, 10, strax_defaults={"bonus_area": 7, "base_area": 3})
    assert st.get_single_plugin("1", "peaks").config["bonus_area"] == 7
    assert st.get_single_plugin("5", "peaks").config["bonus_area"] == 1      # no document
    assert np.all(st.get_array("1", "peaks")["area"] == 10)
    assert str(st.key_for("1", "peaks")) != "1-peaks-n64lpr2ira"
    # an explicitly set option beats the run document
    st.set_config({"base_area": 100})
    assert st.get_single_plugin("1", "peaks").config["base_area"] == 100
    # without per-run defaults the run document's defaults are ignored
    off = sx.Context(storage=[storage], register=[Records, Peaks], config={"bonus_area": 0},
                     progress_bar=False)
    assert off.get_single_plugin("1", "peaks").config == \
        {"bonus_area": 0, "base_area": 0, "give_wrong_dtype": False}


def test_non_numeric_run_with_per_run_default(storage):
    st = per_run_context(storage)
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        st.key_for("abc", "peaks")
    with pytest.raises(sx.InvalidConfiguration, match="bonus_area"):
        st.get_single_plugin("abc", "peaks")
    assert str(st.key_for("abc", "records")) == "abc-records-j3nd2fjbiq"
    st.set_config({"bonus_area": 42})
    assert str(st.key_for("abc", "peaks")) == "abc-peaks-xia2iit6vb"


def test_superrun_of_subruns_with_the_same_per_run_default(st, storage):
    make_runs(st, storage, ["1", "2"], n_chunks=1, recs_per_chunk=1)
    st2 = per_run_context(storage)
    st2.define_run("_both", ["1", "2"])
    assert st2.get_single_plugin("_both", "peaks").config["bonus_area"] == 1
    assert np.all(st2.get_array("_both", "peaks")["area"] == 1)


# --------------------------------------------------------------------------------------------
# Context configuration calls
# --------------------------------------------------------------------------------------------
def test_unknown_config_key_warns(st):
    with pytest.warns(UserWarning, match="nope"):
        st.set_config({"nope": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st.set_config({"base_area": 1})
    with pytest.warns(UserWarning, match="not_a_context_option"):
        st.set_context_config({"not_a_context_option": 1})


def test_unknown_config_key_given_to_the_constructor_warns(storage):
    with pytest.warns(UserWarning, match="bonus_aera") as caught:
        sx.Context(storage=[storage], register=[Records, Peaks],
                   config={"bonus_area": 42, "bonus_aera": 1})
    assert [w.filename for w in caught] == [__file__]     # points at the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sx.Context(storage=[storage], register=[Records, Peaks], config={"bonus_area": 42})


def test_type_mismatch_warns_but_works(st):
    st.set_config({"dummy_tracked_option": "43", "n_chunks": 1})
    with pytest.warns(UserWarning, match="dummy_tracked_option"):
        key = st.key_for("0", "records")
    # strax hashes the value as given, so "43" and 43 differ
    assert str(key) not in ("0-records-6xyrode2rq", "0-records-j3nd2fjbiq")
    assert len(st.get_array("0", "records")) == 10
    # numpy integers are integers: no warning, and they hash like Python ints
    st.set_config({"dummy_tracked_option": np.int64(43)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert str(st.key_for("0", "records")) == "0-records-6xyrode2rq"


def test_show_config(st):
    df = st.show_config()
    assert isinstance(df, pd.DataFrame)
    assert "option" in df.columns
    assert {"crash", "dummy_tracked_option", "secret_time_offset", "bonus_area",
            "base_area"} <= set(df["option"])
    only_records = st.show_config("records")
    assert set(only_records["option"]) == set(Records.takes_config)
    row = df[df["option"] == "bonus_area"].iloc[0]
    assert row["current"] == 42
    assert set(st.show_config(pattern="*area")["option"]) == {"base_area", "bonus_area"}


def test_new_context(st, storage, tmp_path):
    st.set_context_config({"write_superruns": True})
    child = st.new_context(config={"base_area": 5})
    assert set(child._plugin_class_registry) == set(st._plugin_class_registry)
    assert child.config == {"bonus_area": 42, "base_area": 5}
    assert st.config == {"bonus_area": 42}            # the parent is untouched
    assert child.context_config["write_superruns"] is True
    assert child.storage == st.storage
    assert str(child.key_for("0", "peaks")) != str(st.key_for("0", "peaks"))
    assert str(child.key_for("0", "records")) == str(st.key_for("0", "records"))
    child.set_config({"bonus_area": 1})
    assert st.config["bonus_area"] == 42

    other = sx.DataDirectory(str(tmp_path / "other"))
    fresh = st.new_context(storage=[other], replace=True)
    assert fresh._plugin_class_registry == {}
    assert fresh.config == {}
    assert fresh.storage == [other]
    assert fresh.context_config["write_superruns"] is False
    with pytest.raises(sx.DataNotAvailable):
        fresh.key_for("0", "records")


def test_takes_config_inheritance(storage):
    @sx.takes_config(sx.Option("extra", default=5, help="a new option"),
                     sx.Option("n_chunks", default=2, track=False, help="fewer chunks"))
    class MoreRecords(Records):
        pass

    assert list(MoreRecords.takes_config)[:5] == list(Records.takes_config)
    assert set(MoreRecords.takes_config) == set(Records.takes_config) | {"extra"}
    assert "extra" not in Records.takes_config
    assert MoreRecords.takes_config["n_chunks"].default == 2
    assert Records.takes_config["n_chunks"].default == 10

    st = sx.Context(storage=[storage], register=[MoreRecords], progress_bar=False)
    config = st.get_single_plugin("0", "records").config
    assert config["extra"] == 5 and config["crash"] is False and config["n_chunks"] == 2
    assert st.lineage("0", "records") == {
        "records": ("MoreRecords", "0.0.0",
                    {"crash": False, "dummy_tracked_option": 42, "extra": 5})}
    assert len(st.get_array("0", "records")) == 20

    # a further subclass without its own decorator keeps everything
    class EvenMore(MoreRecords):
        pass

    assert dict(EvenMore.takes_config) == dict(MoreRecords.takes_config)


def test_set_config_modes(st):
    st.set_config({"base_area": 1})
    st.set_config({"base_area": 2, "crash": False}, mode="setdefault")
    assert st.config == {"bonus_area": 42, "base_area": 1, "crash": False}
    st.set_config({"base_area": 3}, mode="replace")
    assert st.config == {"base_area": 3}
    with pytest.raises(sx.InvalidConfiguration):
        st.set_config({"base_area": 4}, mode="bogus")
    assert st.config == {"base_area": 3}


@sx.takes_config(sx.Option("threshold", default=5), sx.Option("width", default=1))
class ParentFinder(sx.Plugin):
    __version__ = "0.0.5"
    provides = "found"
    depends_on = "records"
    dtype = sx.time_fields + [(("Threshold used", "threshold"), np.int64)]

    def compute(self, records):
        out = np.zeros(len(records), self.dtype_for(self.provides[0]))
        out["time"], out["endtime"] = records["time"], sx.endtime(records)
        out["threshold"] = self.config["threshold"]
        return out


@sx.takes_config(sx.Option("threshold_child", default=9, child_option=True,
                           parent_option_name="threshold"))
class ChildFinder(ParentFinder):
    __version__ = "0.0.1"
    provides = "found_by_child"
    child_plugin = True


def test_child_option_replaces_its_parent_option(storage):
    st = sx.Context(storage=[storage], register=[Records, ChildFinder], progress_bar=False)
    # the lineage names the child option and the parent class, not the parent option
    assert st.key_for("0", "found_by_child").lineage["found_by_child"] == (
        "ChildFinder", "0.0.1", {"width": 1, "threshold_child": 9, "ParentFinder": "0.0.5"})
    # the parent's code reads the child's value under the parent's name
    assert set(st.get_array("0", "found_by_child")["threshold"]) == {9}
    st.set_config({"threshold_child": 3})
    assert set(st.get_array("0", "found_by_child")["threshold"]) == {3}


def test_missing_option_without_default(storage):
    @sx.takes_config(sx.Option("needed", type=int, help="no default"))
    class NeedsOption(Records):
        pass

    st = sx.Context(storage=[storage], register=[NeedsOption], progress_bar=False)
    # as strax: the key leaves the unset option out; making or setting up the plugin raises
    assert "needed" not in st.lineage("0", "records")["records"][2]
    assert st.key_for("0", "records").lineage_hash != "j3nd2fjbiq"
    with pytest.raises(sx.InvalidConfiguration, match="needed"):
        st.get_array("0", "records")
    with pytest.raises(sx.InvalidConfiguration, match="needed"):
        st.get_single_plugin("0", "records")
    st.set_config({"needed": 1})
    assert st.lineage("0", "records")["records"][2]["needed"] == 1


def test_run_defaults_are_the_documents_strax_defaults_when_the_context_uses_them(storage):
    write_run_doc(storage, "1", 0, 10, strax_defaults={"bonus_area": 7})
    st = per_run_context(storage)
    assert st.run_defaults("1") == {"bonus_area": 7}
    assert st.run_defaults(5) == {}                                  # no document
    off = sx.Context(storage=[storage], progress_bar=False)
    assert off.run_defaults("1") == {}                               # not used: none
