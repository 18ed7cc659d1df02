"""strax.Config: options declared as descriptors in the class body, the validate/fetch hooks
Option subclasses override (as straxen's URLConfig does), takes_config options read as
attributes, and OMITTED as strax's value. Keys were recorded by running the same plugins
(tests/strax_style_plugins.py) on strax 2.2.3."""
import numbers
import warnings

import numpy as np
import pytest

import superstrax as sx
from superstrax import config as sx_config

from strax_style_plugins import (ALL, DoubledConfig, PulseAreas, PulseAreasChild,
                                 Pulses)

# str(st.key_for("0", t)) on strax 2.2.3 with the plugins of strax_style_plugins.py.
STRAX_KEYS = {
    "pulses": "0-pulses-pqdb5id6mv",
    "pulse_areas": "0-pulse_areas-vas5zzptfv",
    "pulse_areas_child": "0-pulse_areas_child-yvjh6gvt6n",
    "pulses_ch0": "0-pulses_ch0-fvnq4gtt7m",
    "pulses_ch1": "0-pulses_ch1-fvnq4gtt7m",
    "led_calibration": "0-led_calibration-jw5m3tnhfv",
    "pulse_pairs": "0-pulse_pairs-c4p5a6jdsy",
}
# (config, key of pulse_areas, key of pulse_areas_child), also from strax 2.2.3.
STRAX_KEYS_WITH_CONFIG = [
    ({"offset": "double:5"}, "0-pulse_areas-xrri2cv7dt", "0-pulse_areas_child-fljrgrc5fx"),
    ({"offset": 10}, "0-pulse_areas-xrri2cv7dt", "0-pulse_areas_child-fljrgrc5fx"),
    ({"area_scale": 3.0}, "0-pulse_areas-ao6hkc3lsi", "0-pulse_areas_child-yvjh6gvt6n"),
    ({"area_scale_child": 1.0}, "0-pulse_areas-vas5zzptfv", "0-pulse_areas_child-2xdu4jfk7u"),
    ({"n_chunks": 7}, "0-pulse_areas-vas5zzptfv", "0-pulse_areas_child-yvjh6gvt6n"),
    ({"amplitude": 2.5}, "0-pulse_areas-b7vtaxslxt", "0-pulse_areas_child-nm2mvmfqxo"),
    ({"channels": [1]}, "0-pulse_areas-baab4nsloc", "0-pulse_areas_child-pp2xnhylyb"),
]


@pytest.fixture
def pst(tmp_path):
    return sx.Context(storage=[sx.DataDirectory(str(tmp_path / "data"))], register=ALL,
                      progress_bar=False)


def test_class_body_configs_become_options_in_declaration_order():
    assert list(Pulses.takes_config) == ["n_chunks", "rows_per_chunk", "amplitude", "channels"]
    option = Pulses.takes_config["rows_per_chunk"]
    assert isinstance(option, sx.Config) and isinstance(option, sx.Option)
    assert option.name == "rows_per_chunk" and option.taken_by == "Pulses"
    assert option.type is int and option.help == "pulses per chunk"
    assert option.track and not Pulses.takes_config["n_chunks"].track
    # looked up on the class, a Config is its declaration
    assert Pulses.rows_per_chunk is option


def test_subclasses_inherit_configs_and_parents_stay_unchanged():
    # class-body Config first, then the takes_config decorator's option
    assert list(PulseAreas.takes_config) == ["offset", "area_scale"]
    assert list(PulseAreasChild.takes_config) == ["offset", "area_scale", "area_scale_child"]
    assert "area_scale_child" not in PulseAreas.takes_config
    child = PulseAreasChild.takes_config["area_scale_child"]
    assert child.child_option and child.parent_option_name == "area_scale"


def test_self_attribute_is_the_resolved_value(pst):
    p = pst.get_single_plugin("0", "pulses")
    assert (p.n_chunks, p.rows_per_chunk, p.amplitude, p.channels) == (3, 4, 1.5, [0, 1])
    assert p.config == {"n_chunks": 3, "rows_per_chunk": 4, "amplitude": 1.5,
                        "channels": [0, 1]}
    pst.set_config({"rows_per_chunk": 6, "amplitude": 0.5})
    p = pst.get_single_plugin("0", "pulses")
    assert p.rows_per_chunk == p.config["rows_per_chunk"] == 6 and p.amplitude == 0.5
    with pytest.raises(AttributeError, match="rows_per_chunk"):
        p.rows_per_chunk = 2
    data = pst.get_array("0", "pulses")
    assert len(data) == 3 * 6
    np.testing.assert_array_equal(data["amplitude"][:6], 0.5 * np.arange(1, 7))


def test_default_factory_is_called_for_the_value(pst):
    assert pst.get_single_plugin("0", "pulses").channels == [0, 1]
    np.testing.assert_array_equal(pst.get_array("0", "pulses")["channel"], [0, 1] * 6)
    pst.set_config({"channels": [1]})
    np.testing.assert_array_equal(pst.get_array("0", "pulses")["channel"], [1] * 12)


def test_takes_config_options_read_as_attributes(pst):
    p = pst.get_single_plugin("0", "pulse_areas")
    assert p.area_scale == p.config["area_scale"] == 2.0
    pst.set_config({"area_scale": 4.0})
    assert pst.get_single_plugin("0", "pulse_areas").area_scale == 4.0
    with pytest.raises(AttributeError, match="no_such_option"):
        p.no_such_option


def test_a_config_given_to_takes_config_is_an_attribute_too(tmp_path):
    @sx.takes_config(sx.Config(name="mixed", type=int, default=42),
                     sx.Option(name="plain", default="x"))
    class Mixed(Pulses):
        provides = "mixed_pulses"

    assert Mixed.mixed is Mixed.takes_config["mixed"]
    assert Mixed.takes_config["mixed"].taken_by == "Mixed"
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Mixed],
                    config={"mixed": 7}, progress_bar=False)
    p = st.get_single_plugin("0", "mixed_pulses")
    assert (p.mixed, p.plain, p.rows_per_chunk) == (7, "x", 4)


def test_validate_hook_rewrites_values_before_they_are_hashed(pst):
    p = pst.get_single_plugin("0", "pulse_areas")
    # validate turned the default 'double:3' into 6 (what the lineage holds) ...
    assert p.config["offset"] == 6
    assert pst.lineage("0", "pulse_areas")["pulse_areas"] == (
        "PulseAreas", "0.0.2", {"offset": 6, "area_scale": 2.0})
    # ... and fetch gives the plugin 6.5
    assert p.offset == 6.5
    areas = pst.get_array("0", "pulse_areas")["area"]
    np.testing.assert_allclose(areas, np.tile(1.5 * np.arange(1, 5) * 2.0 + 6.5, 3))
    # two spellings of one value are one key
    keys = {str(pst.new_context(config={"offset": v}).key_for("0", "pulse_areas"))
            for v in ("double:5", 10)}
    assert len(keys) == 1


def test_validate_is_called_with_strax_arguments(tmp_path):
    calls = []

    class Recording(sx.Config):
        def validate(self, config, run_id=None, run_defaults=None, set_defaults=True):
            calls.append((self.name, run_id, dict(run_defaults), set_defaults))
            super().validate(config, run_id, run_defaults, set_defaults)

    class Source(Pulses):
        provides = "recorded_pulses"
        gain = Recording(default=1)

    storage = sx.DataDirectory(str(tmp_path), provide_run_metadata=True)
    storage.write_run_metadata("_5", {"name": "5", "strax_defaults": {"gain": 3}})
    storage.write_run_metadata("7", {"name": "7", "strax_defaults": {"gain": 3}})
    st = sx.Context(storage=[storage], register=[Source], use_per_run_defaults=True,
                    progress_bar=False)
    assert st.get_single_plugin("7", "recorded_pulses").gain == 3
    assert ("gain", "7", {"gain": 3}, True) in calls
    # without use_per_run_defaults the run document does not count
    calls.clear()
    st = sx.Context(storage=[storage], register=[Source], progress_bar=False)
    assert st.get_single_plugin("7", "recorded_pulses").gain == 1
    assert calls and all(c[:3] == ("gain", "7", {}) for c in calls)


@pytest.mark.parametrize("data_type", sorted(STRAX_KEYS))
def test_keys_are_strax_keys(pst, data_type):
    assert str(pst.key_for("0", data_type)) == STRAX_KEYS[data_type]


@pytest.mark.parametrize("config, areas_key, child_key", STRAX_KEYS_WITH_CONFIG)
def test_keys_with_config_are_strax_keys(pst, config, areas_key, child_key):
    pst.set_config(config)
    assert str(pst.key_for("0", "pulse_areas")) == areas_key
    assert str(pst.key_for("0", "pulse_areas_child")) == child_key


def test_child_config_replaces_the_parent_option(pst):
    lineage = pst.lineage("0", "pulse_areas_child")["pulse_areas_child"]
    assert lineage == ("PulseAreasChild", "0.0.1",
                       {"offset": 6, "area_scale_child": 5.0, "PulseAreas": "0.0.2"})
    p = pst.get_single_plugin("0", "pulse_areas_child")
    assert p.area_scale == 5.0 and p.area_scale_child == 5.0
    pst.set_config({"area_scale_child": 1.0})
    areas = pst.get_array("0", "pulse_areas_child")["area"]
    np.testing.assert_allclose(areas, np.tile(1.5 * np.arange(1, 5) * 1.0 + 6.5, 3))


def test_omitted_is_straxs_string():
    assert sx_config.OMITTED == "<OMITTED>"
    assert not sx.Config().has_default
    assert sx.Config(default=sx_config.OMITTED).default is sx_config.OMITTED


def test_show_config_shows_omitted(pst):
    class NeedsGain(Pulses):
        provides = "gained"
        gain = sx.Config(help="no default")

    pst.register(NeedsGain)
    rows = pst.show_config("gained").set_index("option")
    assert rows.loc["gain", "default"] == "<OMITTED>"
    assert rows.loc["gain", "current"] == "<OMITTED>"
    # strax 2.2.3's key: the lineage leaves out what has no value ...
    assert pst.lineage("0", "gained")["gained"][2] == {
        "rows_per_chunk": 4, "amplitude": 1.5, "channels": [0, 1]}
    # ... and the plugin cannot be made without it
    with pytest.raises(sx.InvalidConfiguration, match="gain.*NeedsGain"):
        pst.get_array("0", "gained")
    pst.set_config({"gain": 2})
    assert pst.show_config("gained").set_index("option").loc["gain", "current"] == 2
    assert pst.get_single_plugin("0", "gained").gain == 2


def test_infer_type_uses_abstract_number_types():
    assert sx.Config(default=3, infer_type=True).type is numbers.Integral
    assert sx.Config(default=np.int32(3), infer_type=True).type is numbers.Integral
    assert sx.Config(default=1.5, infer_type=True).type is numbers.Number
    assert sx.Config(default="a", infer_type=True).type is str
    assert sx.Config(default=3).type is sx_config.OMITTED
    assert Pulses.takes_config["amplitude"].type is numbers.Number


def test_wrong_type_warns_naming_option_and_plugin(pst):
    pst.set_config({"rows_per_chunk": "four"})
    with pytest.warns(UserWarning, match="rows_per_chunk of Pulses"):
        pst.key_for("0", "pulses")
    pst.set_config({"rows_per_chunk": np.int64(5), "amplitude": np.float32(2)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pst.key_for("1", "pulses")


def test_bad_declarations_are_refused():
    with pytest.raises(sx.InvalidConfiguration, match="parent_option_name"):
        sx.Config(default=1, child_option=True)
    with pytest.raises(sx.InvalidConfiguration, match="child_option"):
        sx.Config(default=1, parent_option_name="x")
    with pytest.raises(sx.InvalidConfiguration, match="at most one"):
        sx.Config(default=1, default_factory=list)
    with pytest.raises(sx.InvalidConfiguration, match="default_by_run"):
        sx.Config(default_by_run=lambda run_id: 1)


def test_default_by_run_configs_need_per_run_defaults(tmp_path):
    class ByRun(Pulses):
        provides = "by_run_pulses"
        scale = sx.Config(default_by_run=[(0, 1.0), (10, 2.0)], help="per run")

    storage = sx.DataDirectory(str(tmp_path))
    with pytest.raises(sx.InvalidConfiguration, match="scale"):
        sx.Context(storage=[storage], register=[ByRun])
    st = sx.Context(storage=[storage], register=[ByRun], use_per_run_defaults=True,
                    progress_bar=False)
    assert [st.get_single_plugin(r, "by_run_pulses").scale for r in ("3", "12")] == [1.0, 2.0]


def test_a_refused_per_run_plugin_stays_registered_until_configured(tmp_path):
    # strax registers first and then complains; code that catches the error and fixes the
    # configuration afterwards must not have to register again
    class ByRun(Pulses):
        provides = "by_run_pulses"
        scale = sx.Config(default_by_run=[(0, 1.0), (10, 2.0)], help="per run")

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Pulses],
                    progress_bar=False)
    with pytest.raises(sx.InvalidConfiguration, match="scale"):
        st.register(ByRun)
    assert st._plugin_class_registry["by_run_pulses"] is ByRun
    with pytest.raises(sx.InvalidConfiguration, match="scale"):
        st.get_array("3", "by_run_pulses")          # unusable while the option has no value
    st.set_config({"scale": 4.0})
    assert st.get_single_plugin("12", "by_run_pulses").scale == 4.0
    assert len(st.get_array("3", "by_run_pulses")) == len(st.get_array("3", "pulses"))


def test_register_all_registers_every_plugin_and_names_each_refused_one(tmp_path):
    import types
    module = types.ModuleType("per_run_module")

    class ScaleA(Pulses):
        provides = "scaled_a"
        scale_a = sx.Config(default_by_run=[(0, 1.0)], help="per run")

    class ScaleB(Pulses):
        provides = "scaled_b"
        scale_b = sx.Config(default_by_run=[(0, 2.0)], help="per run")

    module.ScaleA, module.ScaleB, module.Pulses = ScaleA, ScaleB, Pulses
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], progress_bar=False)
    with pytest.raises(sx.InvalidConfiguration) as refused:
        st.register_all(module)
    assert "scale_a" in str(refused.value) and "scale_b" in str(refused.value)
    assert {"scaled_a", "scaled_b", "pulses"} <= set(st._plugin_class_registry)
    st.set_context_config({"use_per_run_defaults": True})     # now allowed: no error
    assert st.get_single_plugin("0", "scaled_b").scale_b == 2.0


def test_config_subclass_instances_keep_their_own_state():
    a, b = DoubledConfig(default=1), DoubledConfig(default="double:2")
    config = {}
    a.name, b.name = "a", "b"
    a.validate(config)
    b.validate(config)
    assert config == {"a": 1, "b": 4}
    # set_defaults=False leaves unset options unset
    empty = {}
    a.validate(empty, set_defaults=False)
    assert empty == {}
