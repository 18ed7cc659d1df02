"""Plugins as strax 2.2.3 sets them up and as its users' code reads them: self.dtype as numpy
dtype(s) before setup, per-output save_when / data_kind / rechunk_on_save declared with
immutabledict, empty_result, data_kind_for, log, metadata, dependencies_by_kind,
DownChunkingPlugin, camel_to_snake and register_all. Expected stored chunk layouts are the
ones strax 2.2.3 writes for the same plugins (tests/strax_style_plugins.py)."""
import logging
import re
import types

import numpy as np
import pytest
from hypothesis import given, strategies as hs
from immutabledict import immutabledict

import superstrax as sx

import strax_style_plugins as sp
from strax_style_plugins import ALL, PULSE_DTYPE


@pytest.fixture
def pst(tmp_path):
    return sx.Context(storage=[sx.DataDirectory(str(tmp_path / "data"))], register=ALL,
                      progress_bar=False)


def chunk_layout(st, data_type):
    return [(c["start"], c["end"], c["n"]) for c in st.get_metadata("0", data_type)["chunks"]]


# --------------------------------------------------------------------------------------------
# dtype, data kinds and the other attributes a set-up plugin has
# --------------------------------------------------------------------------------------------
def test_dtype_is_numpy_before_setup_and_deps_have_theirs(pst):
    p = pst.get_single_plugin("0", "pulse_areas")
    assert isinstance(p.dtype, np.dtype) and p.dtype.names == ("time", "endtime", "area")
    assert p.names_at_setup == p.dtype.names        # setup saw the numpy dtype
    assert p.deps["pulses"].dtype == np.dtype(PULSE_DTYPE)
    assert p.dtype_for("pulse_areas") is p.dtype
    # the class attribute is untouched: the declaration stays a list
    assert isinstance(sp.PulseAreas.dtype, list)


def test_multi_output_plugin_has_a_dict_of_dtypes_and_kinds(pst):
    p = pst.get_single_plugin("0", "pulses_ch0")
    assert p is not None and p.multi_output and p.provides == ("pulses_ch0", "pulses_ch1")
    assert set(p.dtype) == {"pulses_ch0", "pulses_ch1"}
    assert all(dt == np.dtype(PULSE_DTYPE) for dt in p.dtype.values())
    assert p.data_kind == immutabledict(pulses_ch0="pulses_ch0", pulses_ch1="pulses_ch1")
    assert p.data_kind_for("pulses_ch1") == "pulses_ch1"
    assert p.save_when == immutabledict(pulses_ch0=sx.SaveWhen.ALWAYS,
                                        pulses_ch1=sx.SaveWhen.EXPLICIT)
    empty = p.empty_result()
    assert set(empty) == set(p.provides)
    assert all(len(v) == 0 and v.dtype == np.dtype(PULSE_DTYPE) for v in empty.values())
    with pytest.raises(sx.PluginError, match="pulses_ch2"):
        p.dtype_for("pulses_ch2")


def test_single_output_attributes(pst):
    p = pst.get_single_plugin("0", "pulse_areas")
    # without a declared kind, the kind of the first dependency (as strax)
    assert p.data_kind == p.data_kind_for("pulse_areas") == "pulses"
    assert p.save_when == immutabledict(pulse_areas=sx.SaveWhen.ALWAYS)
    assert p.dependencies_by_kind() == {"pulses": ["pulses"]}
    assert isinstance(p.log, logging.Logger) and p.log.name == "PulseAreas"
    result = p.empty_result()
    assert len(result) == 0 and result.dtype == p.dtype
    assert not p.is_superrun and p.first_chunk == 0
    assert p.compute_pars == ["pulses"] and not p.compute_takes_chunk_i
    assert p.input_buffer == {}
    meta = p.metadata("0", "pulse_areas")
    assert meta["dtype"] == p.dtype and meta["data_kind"] == "pulses"
    assert meta["lineage"] == pst.lineage("0", "pulse_areas")
    assert meta["lineage_hash"] == "vas5zzptfv"        # strax 2.2.3's for this plugin
    assert meta["compressor"] == "blosc" and meta["chunk_target_size_mb"] == 200
    with pytest.raises(sx.PluginError, match="pulses_ch0"):
        p.metadata("0", "pulses_ch0")


def test_dependencies_by_kind_groups_inputs_of_one_kind(tmp_path):
    class Both(sx.Plugin):
        depends_on = ("pulses", "pulse_areas", "pulses_ch0")
        provides = "both"
        dtype = sx.time_fields

        def compute(self, pulses, pulses_ch0):
            return np.zeros(0, self.dtype)

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=ALL + [Both],
                    progress_bar=False)
    p = st.get_single_plugin("0", "both")
    assert p.dependencies_by_kind() == {"pulses": ["pulses", "pulse_areas"],
                                        "pulses_ch0": ["pulses_ch0"]}


def test_superrun_plugins_know_they_are(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path), provide_run_metadata=True)],
                    register=ALL, progress_bar=False)
    st.make("1", "pulses")
    st.storage[0].write_run_metadata("1", {"name": "1", "start": 0, "end": 300})
    st.define_run("_one", ["1"])
    assert st.get_single_plugin("_one", "pulse_areas").is_superrun
    assert not st.get_single_plugin("1", "pulse_areas").is_superrun


def test_declared_attributes_straxen_sets_are_accepted(tmp_path):
    class Busy(sx.Plugin):
        __version__ = "1.2.3"
        depends_on = "pulses"
        provides = "busy"
        data_kind = "pulses"
        dtype = sx.time_fields
        compressor = "zstd"
        save_when = sx.SaveWhen.TARGET
        parallel = "process"
        input_timeout = 300
        chunk_target_size_mb = 50
        rechunk_on_load = True
        chunk_source_size_mb = 20
        max_messages = 4
        multi_output = False        # straxen writes it on single-output plugins
        __doc__ = "a plugin that sets many things"

        def compute(self, pulses):
            out = np.zeros(len(pulses), self.dtype)
            out["time"], out["endtime"] = pulses["time"], pulses["endtime"]
            return out

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=ALL + [Busy],
                    progress_bar=False)
    assert len(st.get_array("0", "busy")) == 12
    assert st.get_metadata("0", "busy")["compressor"] == "zstd"
    assert st.get_single_plugin("0", "busy").save_when == immutabledict(busy=sx.SaveWhen.TARGET)


def test_bad_declarations_are_refused(tmp_path):
    class Twice(sx.Plugin):
        depends_on = ("pulses", "pulses")
        dtype = sx.time_fields

        def compute(self, pulses):
            return pulses

    class StartNoEnd(sx.Plugin):
        depends_on = "pulses"
        dtype = sx.time_fields

        def compute(self, pulses, start):
            return pulses

    class BadSaveWhen(sx.Plugin):
        depends_on = "pulses"
        dtype = sx.time_fields
        save_when = "always"

        def compute(self, pulses):
            return pulses

    for cls, message in [(Twice, "more than once"), (StartNoEnd, "take end"),
                         (BadSaveWhen, "save_when")]:
        st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=ALL + [cls],
                        progress_bar=False)
        with pytest.raises(sx.PluginError, match=message):
            st.get_array("0", sx.camel_to_snake(cls.__name__))


# --------------------------------------------------------------------------------------------
# multi-output plugins: saving per output
# --------------------------------------------------------------------------------------------
def test_per_output_save_when_and_rechunk_on_save(pst):
    pst.make("0", "pulses_ch0")
    assert pst.is_stored("0", "pulses_ch0") and not pst.is_stored("0", "pulses_ch1")
    pst.make("0", "pulses_ch1", save=("pulses_ch1",))
    # ch0, stored already, was not written again when ch1 was made; as strax 2.2.3 stores them: ch0 not rechunked (one chunk per input chunk), ch1 merged
    assert chunk_layout(pst, "pulses_ch0") == [(0, 100, 2), (100, 200, 2), (200, 300, 2)]
    assert chunk_layout(pst, "pulses_ch1") == [(0, 300, 6)]
    pulses = pst.get_array("0", "pulses")
    for c in (0, 1):
        np.testing.assert_array_equal(pst.get_array("0", f"pulses_ch{c}"),
                                      pulses[pulses["channel"] == c])


# --------------------------------------------------------------------------------------------
# DownChunkingPlugin
# --------------------------------------------------------------------------------------------
def test_down_chunking_stores_the_yielded_chunks(pst):
    pst.make("0", "pulse_pairs")
    # strax 2.2.3 stores the same six chunks for this plugin
    assert chunk_layout(pst, "pulse_pairs") == [(0, 50, 2), (50, 100, 2), (100, 150, 2),
                                                (150, 200, 2), (200, 250, 2), (250, 300, 2)]
    np.testing.assert_array_equal(pst.get_array("0", "pulse_pairs"),
                                  pst.get_array("0", "pulses"))
    # computed and consumed in one go too, without storing
    pst.set_config({"rows_per_chunk": 3})
    chunks = list(pst.get_iter("0", "pulse_pairs"))
    assert [(c.start, c.end, len(c)) for c in chunks][:2] == [(0, 66, 2), (66, 100, 1)]


def test_down_chunking_feeds_plugins_that_depend_on_it(tmp_path):
    class PairAreas(sp.PulseAreas):
        depends_on = "pulse_pairs"
        provides = "pair_areas"

        def compute(self, pulses):       # the kind of pulse_pairs is its input's: pulses
            return super().compute(pulses)

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=ALL + [PairAreas],
                    progress_bar=False)
    np.testing.assert_array_equal(st.get_array("0", "pair_areas"),
                                  st.get_array("0", "pulse_areas"))


def test_down_chunking_refuses_parallel_and_wrong_output(tmp_path):
    class Parallel(sp.PulsePairs):
        parallel = True

    class MultiYieldingChunks(sp.PulsePairs):
        provides = ("pairs_a", "pairs_b")
        data_kind = immutabledict(pairs_a="pairs_a", pairs_b="pairs_b")

        def infer_dtype(self):
            return {d: PULSE_DTYPE for d in self.provides}

        def compute(self, pulses, start, end):
            yield self.chunk(start=start, end=end, data=pulses, data_type="pairs_a")

    class Returning(sp.PulsePairs):
        provides = "returned_pairs"

        def compute(self, pulses, start, end):
            return pulses

    def context(*extra):
        return sx.Context(storage=[sx.DataDirectory(str(tmp_path))],
                          register=ALL + list(extra), progress_bar=False)

    with pytest.raises(NotImplementedError, match="parallel"):
        context(Parallel).make("0", "pulse_pairs")
    with pytest.raises(ValueError, match="dicts"):
        context(MultiYieldingChunks).make("0", "pairs_a")
    with pytest.raises(sx.PluginGaveWrongOutput, match="generator"):
        context(Returning).make("0", "returned_pairs")


def test_down_chunking_source(tmp_path):
    class PulsesInHalves(sx.DownChunkingPlugin):
        depends_on = ()
        provides = "halves"
        data_kind = "halves"
        dtype = PULSE_DTYPE
        rechunk_on_save = False

        def is_ready(self, chunk_i):
            return chunk_i < 2

        def source_finished(self):
            return True

        def compute(self, chunk_i):
            for half in range(2):
                start = chunk_i * 100 + 50 * half
                rows = np.zeros(1, self.dtype)
                rows["time"], rows["endtime"] = start, start + 1
                yield self.chunk(start=start, end=start + 50, data=rows)

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[PulsesInHalves],
                    progress_bar=False)
    st.make("0", "halves")
    assert [c[:2] for c in chunk_layout(st, "halves")] == [(0, 50), (50, 100), (100, 150),
                                                             (150, 200)]


# --------------------------------------------------------------------------------------------
# names and registration
# --------------------------------------------------------------------------------------------
# What strax 2.2.3's camel_to_snake gives for these class names.
STRAX_SNAKE = {
    "LEDCalibration": "led_calibration", "PeakBasics": "peak_basics", "Records": "records",
    "S1AreaFractionTop": "s1_area_fraction_top", "NVetoRecorder": "n_veto_recorder",
    "RawRecordsCoinNV": "raw_records_coin_nv", "PeakletClassificationSOM":
    "peaklet_classification_som", "MergedS2sHighEnergy": "merged_s2s_high_energy",
    "Peak3DPositions": "peak3_d_positions", "ABC": "abc", "aB": "a_b",
    "HTTPServer2Go": "http_server2_go",
}


@pytest.mark.parametrize("name", sorted(STRAX_SNAKE))
def test_camel_to_snake_is_straxs(name):
    assert sx.camel_to_snake(name) == STRAX_SNAKE[name]


@given(hs.lists(hs.from_regex(r"[A-Z][a-z]{1,6}", fullmatch=True), min_size=1, max_size=5))
def test_camel_to_snake_splits_capitalised_words(words):
    assert sx.camel_to_snake("".join(words)) == "_".join(w.lower() for w in words)


def test_class_named_with_an_acronym(pst):
    assert sp.LEDCalibration.provides_tuple() == ("led_calibration",)
    counts = pst.get_array("0", "led_calibration")      # one row per chunk of pulses
    np.testing.assert_array_equal(counts["n_pulses"], [4, 4, 4])


def test_register_all_takes_reexported_plugins_but_not_base_classes(tmp_path):
    module = types.ModuleType("my_analysis.plugins")
    for cls in ALL:                      # imported from elsewhere, as straxen.plugins does
        setattr(module, cls.__name__, cls)
    module.Plugin, module.LoopPlugin = sx.Plugin, sx.LoopPlugin
    module.DownChunkingPlugin, module.np = sx.DownChunkingPlugin, np
    module.DoubledConfig = sp.DoubledConfig
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], progress_bar=False)
    st.register_all(module)
    assert sorted(st._plugin_class_registry) == [
        "led_calibration", "pulse_areas", "pulse_areas_child", "pulse_pairs", "pulses",
        "pulses_ch0", "pulses_ch1"]
    assert str(st.key_for("0", "pulse_areas")) == "0-pulse_areas-vas5zzptfv"
    # a module that defines and re-exports: both count; a list of modules works too
    other = types.ModuleType("other")
    other.Extra = type("Extra", (sp.PulseAreas,), {"provides": "extra_areas"})
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register_all=[module, other],
                    progress_bar=False)
    assert "extra_areas" in st._plugin_class_registry
    assert not any(re.fullmatch(r".*_plugin|plugin", d) for d in st._plugin_class_registry)


# --------------------------------------------------------------------------------------------
# what compute may return, loop plugins, sources
# --------------------------------------------------------------------------------------------
class FieldsOut(sx.Plugin):
    """Returns {field: values}; the one-element 'flag' fills every row (numpy broadcasting)."""
    depends_on = "pulses"
    provides = "fields_out"
    dtype = sx.time_fields + [("double", np.float64), ("flag", np.int8)]

    def compute(self, pulses):
        return dict(time=pulses["time"], endtime=pulses["endtime"],
                    double=2 * pulses["amplitude"], flag=[7])


class FieldsOutMulti(sx.Plugin):
    depends_on = "pulses"
    provides = ("fields_a", "fields_b")
    data_kind = immutabledict(fields_a="pulses", fields_b="chunk_counts")
    dtype = immutabledict(fields_a=sx.time_fields + [("double", np.float64)],
                          fields_b=sx.time_fields + [("n", np.int32)])

    def compute(self, pulses, start, end):
        return dict(fields_a=dict(time=pulses["time"], endtime=pulses["endtime"],
                                  double=2 * pulses["amplitude"]),
                    fields_b=dict(n=[len(pulses)], time=start, endtime=end))


def test_compute_may_return_fields(tmp_path):
    class Unknown(FieldsOut):
        provides = "unknown_fields"

        def compute(self, pulses):
            return dict(time=pulses["time"], endtime=pulses["endtime"], nope=1)

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))],
                    register=ALL + [FieldsOut, FieldsOutMulti, Unknown], progress_bar=False)
    # made first, while pulses are computed (three chunks), not yet loaded (stored as one)
    counts = st.get_array("0", "fields_b")
    assert counts[["time", "endtime", "n"]].tolist() == [(0, 100, 4), (100, 200, 4), (200, 300, 4)]
    pulses = st.get_array("0", "pulses")
    out = st.get_array("0", "fields_out")
    np.testing.assert_array_equal(out["double"], 2 * pulses["amplitude"])
    np.testing.assert_array_equal(out["flag"], 7)
    np.testing.assert_array_equal(st.get_array("0", "fields_a")["double"], 2 * pulses["amplitude"])
    with pytest.raises(sx.PluginGaveWrongOutput, match="nope"):
        st.get_array("0", "unknown_fields")


class Windows(sx.Plugin):
    """One window per pulse, of another kind, for the loop plugins to loop over."""
    depends_on = "pulses"
    provides = "windows"
    data_kind = "windows"
    dtype = sx.time_fields

    def compute(self, pulses):
        return dict(time=pulses["time"], endtime=pulses["endtime"])


class PerWindow(sx.LoopPlugin):
    depends_on = ("windows", "pulses")
    provides = ("window_counts", "window_sums")
    data_kind = immutabledict(window_counts="windows_a", window_sums="windows_b")
    dtype = immutabledict(window_counts=sx.time_fields + [("n", np.int32)],
                          window_sums=sx.time_fields + [("total", np.float64)])

    def compute_loop(self, windows, pulses):
        return {"window_counts": {"n": len(pulses)},
                "window_sums": {"total": pulses["amplitude"].sum()}}


class Neighbours(sx.LoopPlugin):
    depends_on = ("windows", "pulses")
    provides = "neighbours"
    loop_over = "windows"
    dtype = sx.time_fields + [("n", np.int32)]
    time_selection = "touching"
    touching_window = 21

    def compute_loop(self, windows, pulses):
        return {"n": len(pulses)}


def touching_reference(pulses, window):
    """For each pulse: the pulses that overlap it widened by window ns on both sides."""
    return [np.sum((pulses["endtime"] > p["time"] - window)
                   & (pulses["time"] < p["endtime"] + window)) for p in pulses]


def test_loop_plugins_with_several_outputs_and_touching_selection(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))],
                    register=ALL + [Windows, PerWindow, Neighbours], progress_bar=False)
    st.make("0", "pulses")     # stored as one chunk: neighbours are not cut off by chunk ends
    assert len(st.get_metadata("0", "pulses")["chunks"]) == 1
    pulses = st.get_array("0", "pulses")
    counts, sums = st.get_array("0", "window_counts"), st.get_array("0", "window_sums")
    # loop_over defaults to the kind of the first dependency; each window holds its pulse
    np.testing.assert_array_equal(counts["n"], 1)
    np.testing.assert_array_equal(sums["total"], pulses["amplitude"])
    np.testing.assert_array_equal(sums["time"], pulses["time"])
    neighbours = st.get_array("0", "neighbours")["n"]
    np.testing.assert_array_equal(neighbours, touching_reference(pulses, 21))
    assert neighbours.max() == 3          # the window really reaches the neighbours

    class Overlapping(Neighbours):
        provides = "overlapping"
        touching_window = 0

    st.register(Overlapping)
    np.testing.assert_array_equal(st.get_array("0", "overlapping")["n"],
                                  touching_reference(pulses, 0))


def test_loop_plugin_refuses_unsorted_input(tmp_path):
    class Backwards(Windows):
        provides = "backwards"

        def compute(self, pulses):
            return dict(time=pulses["time"][::-1], endtime=pulses["endtime"][::-1])

    class LoopBackwards(Neighbours):
        depends_on = ("windows", "backwards")
        provides = "loop_backwards"
        time_selection = "fully_contained"

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))],
                    register=ALL + [Windows, Backwards, LoopBackwards], progress_bar=False)
    with pytest.raises(Exception, match="sorted|order"):
        st.get_array("0", "loop_backwards")


def test_source_is_done_when_not_ready_and_finished(tmp_path):
    """As strax: is_ready is asked once per wait, so a source whose is_ready flips (strax's
    exhaust test does this) stops at the first 'not ready' after it is finished."""

    class Flipping(sp.Pulses):
        provides = "flipping"
        data_kind = "flipping"

        def setup(self):
            self.ready, self.done = False, False

        def is_ready(self, chunk_i):
            self.ready = not self.ready
            return self.ready

        def source_finished(self):
            return self.done

        def compute(self, chunk_i):
            self.done = chunk_i == 4
            return super().compute(chunk_i)

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Flipping],
                    progress_bar=False)
    assert len(st.get_array("0", "flipping")) == 5 * 4


# --- __version__ = None: a version made from the plugin's code (strax's auto version) ------
def _develop(body_factor, base=sp.Pulses):
    class InDevelopment(base):
        __version__ = None
        factor = 2

        def scale(self, x):
            return x * body_factor
    return InDevelopment


def test_auto_version_follows_the_plugin_code_not_its_class_object(tmp_path):
    first = _develop(1)
    assert first.version().startswith("auto_")
    again = type("InDevelopment", (first,), {})     # a new class object, nothing new in it
    assert again.version() == first.version()
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[first],
                    progress_bar=False)
    key = st.key_for("0", "pulses")
    assert st.lineage("0", "pulses")["pulses"][1] == first.version()
    st.make("0", "pulses")
    # a context registering an equal class finds the stored data under the same key
    st2 = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[_develop(1)],
                     progress_bar=False, forbid_creation_of="*")
    assert st2.key_for("0", "pulses") == key and len(st2.get_array("0", "pulses")) > 0
    # changing code, a class attribute or the base's code changes the version
    class Edited(first):
        def scale(self, x):
            return x + 1
    changed = {Edited.version(), type("InDevelopment", (first,), {"factor": 3}).version(),
               _develop(1, base=sp.PulseAreas).version()}
    assert first.version() not in changed and len(changed) == 3


def test_auto_version_ignores_superstraxs_own_base_classes():
    # only code the plugin's author wrote counts: a plugin made of nothing but a base class
    # of superstrax has the version of the empty attribute set, whatever that base does
    bare = [type("Bare", (base,), {"__version__": None})
            for base in (sx.Plugin, sx.OverlapWindowPlugin, sx.LoopPlugin)]
    assert len({b.version() for b in bare}) == 1
    assert bare[0].version() == "auto_" + sx.deterministic_hash({})
