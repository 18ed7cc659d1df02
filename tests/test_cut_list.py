"""CutList and the Context methods around it (register_cut_list, get_dependency_plugins,
get_data_key). The keys below were computed by strax 2.2.3 for the same plugin definitions:
stored cut lists must be found under the names strax gives them."""
import datetime

import numpy as np
import pytest

import superstrax as sx
from superstrax.errors import InvalidArgument, PluginError

# st.key_for(run, data type) in strax 2.2.3, for the plugins defined below
STRAX_KEYS = {
    "things": "0-things-ioa2yjuorx",
    "cut_low": "0-cut_low-wn6vuukbvc",
    "cut_high": "0-cut_high-qjdfh5wzxk",
    "my_cuts": "0-my_cuts-n6udyrulgz",
    "all_cuts": "0-all_cuts-f23zix2m4i",
    "default_cuts": "0-default_cuts-34v6nvil5n",
    "explicit": "0-explicit-fnnrrx33c7",
}
# superrun '_sr' of runs '0' and '1' (define_run('_sr', ['0', '1'])), without/with combining
STRAX_SUPERRUN_KEY = "_sr_dgoccabkea-all_cuts-f23zix2m4i"
STRAX_SUPERRUN_COMBINING_KEY = "_sr_4wiqxbsszr-all_cuts-f23zix2m4i"
# the dtype strax 2.2.3 stores for all_cuts (its metadata's 'dtype')
STRAX_ALL_CUTS_DTYPE = (
    "[(('Start time since unix epoch [ns]', 'time'), '<i8'), "
    "(('Exclusive end time since unix epoch [ns]', 'endtime'), '<i8'), "
    "(('cut odd', 'cut_odd'), '|b1'), (('cut high', 'cut_high'), '|b1'), "
    "(('x above 2', 'cut_low'), '|b1'), "
    "(('Boolean AND of all cuts in cuts_both', 'cuts_both'), '|b1'), "
    "(('Boolean AND of all cuts in cuts_all', 'cuts_all'), '|b1')]")


class Things(sx.Plugin):
    """Two chunks of five rows, x = 0 .. 9."""
    depends_on = ()
    provides = "things"
    data_kind = "things"
    dtype = sx.time_fields + [("x", np.float64, "an x")]
    __version__ = "0.1.0"

    def is_ready(self, chunk_i):
        return chunk_i < 2

    def source_finished(self):
        return True

    def compute(self, chunk_i):
        d = np.zeros(5, self.dtype)
        d["time"] = np.arange(5) * 10 + chunk_i * 100
        d["endtime"] = d["time"] + 5
        d["x"] = np.arange(5) + chunk_i * 5
        return self.chunk(start=chunk_i * 100, end=(chunk_i + 1) * 100, data=d)


class CutLow(sx.CutPlugin):
    depends_on = "things"
    provides = "cut_low"
    cut_name = "cut_low"
    cut_description = "x above 2"
    __version__ = "1.0.0"
    low = sx.Config(default=2)

    def cut_by(self, things):
        return things["x"] > self.low


class CutHigh(sx.CutPlugin):
    depends_on = "things"
    __version__ = "0.0.2"

    def cut_by(self, things):
        return things["x"] < 8


class MyCuts(sx.CutList):
    cuts = (CutLow, CutHigh)
    accumulated_cuts_string = "cuts_both"
    __version__ = "0.0.1"


class CutOdd(sx.CutPlugin):
    depends_on = "things"
    provides = "cut_odd"

    def cut_by(self, things):
        return things["x"] % 2 == 1


class AllCuts(sx.CutList):
    """A cut list holding another one."""
    cuts = (MyCuts, CutOdd)
    accumulated_cuts_string = "cuts_all"


class DefaultCuts(sx.CutList):
    cuts = (CutOdd,)
    accumulated_cuts_string = "cut_default"


class Explicit(sx.CutList):
    """depends_on given: it wins over what the cuts provide."""
    cuts = (CutLow,)
    depends_on = ("cut_low", "cut_odd")
    accumulated_cuts_string = "ex"


X = np.arange(10)


def context(tmp_path=None):
    storage = [] if tmp_path is None else [
        sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True)]
    st = sx.Context(storage=storage, progress_bar=False)
    st.register(Things)
    st.register_cut_list(AllCuts)
    st.register_cut_list([DefaultCuts])
    st.register(Explicit)
    return st


def test_keys_are_strax_keys():
    st = context()
    assert {d: str(st.key_for("0", d)) for d in STRAX_KEYS} == STRAX_KEYS


def test_register_cut_list_registers_the_cuts_and_nested_lists():
    st = sx.Context(storage=[])
    st.register_cut_list(AllCuts)
    assert sorted(st._plugin_class_registry) == [
        "all_cuts", "cut_high", "cut_low", "cut_odd", "my_cuts"]
    st = sx.Context(storage=[])
    st.register_cut_list((MyCuts, DefaultCuts))
    assert st._plugin_class_registry["default_cuts"] is DefaultCuts
    assert sorted(st._plugin_class_registry) == [
        "cut_high", "cut_low", "cut_odd", "default_cuts", "my_cuts"]
    with pytest.raises(InvalidArgument):
        st.register_cut_list("my_cuts")
    with pytest.raises(InvalidArgument):
        st.register_cut_list(CutLow)        # a cut, not a cut list


def test_depends_on_provides_and_fields():
    st = context()
    p = st.get_single_plugin("0", "all_cuts")
    assert isinstance(p, sx.MergeOnlyPlugin)
    assert p.depends_on == ("my_cuts", "cut_odd") == p._depends_on
    assert AllCuts.depends_on_tuple() == ("my_cuts", "cut_odd")
    assert p.provides == ("all_cuts",)
    assert p.save_when["all_cuts"] == sx.SaveWhen.TARGET
    assert p.lineage["all_cuts"] == ("AllCuts", "0.0.0", {})
    # fields of the sorted dependencies (cut_odd, then my_cuts), then the AND
    info = st.data_info("all_cuts")
    assert info["Field name"].tolist() == [
        "time", "endtime", "cut_odd", "cut_high", "cut_low", "cuts_both", "cuts_all"]
    assert info["Comment"].tolist()[-1] == "Boolean AND of all cuts in cuts_all"
    assert st.get_single_plugin("0", "explicit").depends_on == ("cut_low", "cut_odd")
    p.depends_on = "cut_odd"            # a property with a setter, as in strax
    assert p.depends_on == ("cut_odd",)


def test_the_and_of_all_cuts_and_nested_lists():
    a = context().get_array("0", "all_cuts")
    both = (X > 2) & (X < 8)
    assert a["cuts_both"].tolist() == both.tolist()
    assert a["cut_odd"].tolist() == (X % 2 == 1).tolist()
    assert a["cuts_all"].tolist() == (both & (X % 2 == 1)).tolist()
    assert a["time"].tolist() == [i * 10 + (i // 5) * 50 for i in X]
    e = context().get_array("0", "explicit")
    assert list(e.dtype.names) == ["time", "endtime", "cut_low", "cut_odd", "ex"]
    assert e["ex"].tolist() == ((X > 2) & (X % 2 == 1)).tolist()


def test_stored_as_strax_stores_it_and_read_back(tmp_path):
    st = context(tmp_path)
    st.make("0", "all_cuts")
    assert st.is_stored("0", "all_cuts")
    assert not st.is_stored("0", "my_cuts") and not st.is_stored("0", "cut_low")
    md = st.get_meta("0", "all_cuts")
    assert md["dtype"] == STRAX_ALL_CUTS_DTYPE and md["lineage_hash"] == "f23zix2m4i"
    assert (tmp_path / "data" / STRAX_KEYS["all_cuts"]).is_dir()
    assert context(tmp_path).get_array("0", "all_cuts")["cuts_all"].sum() == 3


def test_get_data_key_and_superrun_keys(tmp_path):
    st = context(tmp_path)
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    for r in ("0", "1"):
        begin = start + datetime.timedelta(seconds=10 * int(r))
        st.storage[0].write_run_metadata(r, dict(
            name=r, start=begin, end=begin + datetime.timedelta(seconds=1)))
    st.define_run("_sr", ["0", "1"])
    lineage = st.get_single_plugin("0", "all_cuts").lineage
    key = st.get_data_key("0", "all_cuts", lineage)
    assert isinstance(key, sx.DataKey) and str(key) == STRAX_KEYS["all_cuts"]
    assert key == st.key_for("0", "all_cuts")
    assert str(st.get_data_key("_sr", "all_cuts", lineage)) == STRAX_SUPERRUN_KEY
    assert str(st.key_for("_sr", "all_cuts")) == STRAX_SUPERRUN_KEY
    assert str(st.get_data_key("_sr", "all_cuts", lineage, combining=True)) == \
        STRAX_SUPERRUN_COMBINING_KEY
    with pytest.raises(ValueError):     # combining is for superruns (strax: ValueError too)
        st.get_data_key("0", "all_cuts", lineage, combining=True)


def test_get_dependency_plugins_lists_everything_below_in_strax_order():
    st = context()
    found = st.get_dependency_plugins("all_cuts", "0")
    # strax's order: the target's dependencies, then what each is made from
    assert list(found) == ["my_cuts", "cut_odd", "cut_low", "cut_high", "things"]
    assert {d: type(p) for d, p in found.items()} == {
        "my_cuts": MyCuts, "cut_odd": CutOdd, "cut_low": CutLow, "cut_high": CutHigh,
        "things": Things}
    assert found["cut_low"].config == {"low": 2} and found["things"].run_id == "0"
    assert found["my_cuts"].deps["cut_low"] is found["cut_low"]
    assert st.get_dependency_plugins("things", "0") == {}
    # chunk_number= leaves the listed plugins' lineages those of whole runs, as in strax
    per_chunk = st.get_dependency_plugins("all_cuts", "0", chunk_number={"things": [0]})
    assert {d: p.lineage for d, p in per_chunk.items()} == \
        {d: p.lineage for d, p in found.items()}
    with pytest.raises(KeyError):
        st.get_dependency_plugins("no_such_type", "0")


def test_broken_cut_lists_say_what_is_wrong():
    class NoName(sx.CutList):
        cuts = (CutOdd,)

    class OtherKind(sx.CutPlugin):
        depends_on = "things"
        provides = "other_kind"
        data_kind = "other"

        def cut_by(self, things):
            return things["x"] > 0

    class Mixed(sx.CutList):
        cuts = (CutOdd, OtherKind)
        accumulated_cuts_string = "mixed"

    class NotPlugins(sx.CutList):
        cuts = ("cut_odd",)
        accumulated_cuts_string = "np"

    st = context()
    st.register([NoName, OtherKind, Mixed])
    with pytest.raises(PluginError, match="accumulated_cuts_string"):
        st.get_single_plugin("0", "no_name")
    with pytest.raises(PluginError, match="one data kind"):
        st.get_single_plugin("0", "mixed")
    with pytest.raises(PluginError, match="plugin classes"):
        NotPlugins.depends_on_tuple()


def test_get_accumulated_bool():
    a = np.zeros(3, dtype=sx.time_fields + [("a", bool), ("b", bool)])
    a["a"] = [True, True, False]
    a["b"] = [True, False, False]
    a["time"] = 1                       # time and endtime take no part
    assert sx.get_accumulated_bool(a).tolist() == [True, False, False]
    assert sx.get_accumulated_bool(a[["time", "endtime"]]).tolist() == [True] * 3


def test_strax_module_path():
    from superstrax.plugins import cut_plugin
    assert cut_plugin.CutList is sx.CutList and cut_plugin.CutPlugin is sx.CutPlugin
    assert cut_plugin.get_accumulated_bool is sx.get_accumulated_bool
