"""straxen 4.1.1 (the XENON collaboration's plugins and contexts) on superstrax.

Needs the optional `compat` extra (`pip install superstrax[compat]`); skipped only when
straxen is not installed. In a fresh interpreter: bind `strax` to superstrax, import straxen,
build its xenonnt context offline and compare the key of every data type it registers with
the keys strax 2.2.3 gives (tests/data/straxen_4.1.1_xenonnt_keys.json, recorded with real
strax 2.2.3 and straxen 4.1.1). Keys do not cover what is stored under them, so also the dtype
(the text metadata holds), data kind, save rule, rechunking, compressor and chunk size of every
data type, and which plugins can be set up offline, against
tests/data/straxen_4.1.1_xenonnt_dtypes.json (recorded the same way with strax 2.2.3).
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from test_cli import subprocess_env

EXPECTED = os.path.join(os.path.dirname(__file__), "data", "straxen_4.1.1_xenonnt_keys.json")
EXPECTED_DTYPES = os.path.join(os.path.dirname(__file__), "data",
                               "straxen_4.1.1_xenonnt_dtypes.json")

BUILD_AND_KEY = textwrap.dedent("""
    import json, os, sys
    import superstrax
    superstrax.bind_as_strax()
    import straxen
    st = straxen.contexts.xenonnt(_database_init=False, output_folder=os.path.abspath("out"),
                                  _processed_paths=[], _raw_paths=[],
                                  _auto_append_rucio_local=False)
    keys = {t: str(st.key_for(sys.argv[1], t)) for t in st._plugin_class_registry}
    outside = sorted({getattr(m, "__file__", "") for n, m in list(sys.modules.items())
                      if (n == "strax" or n.startswith("strax."))
                      and "superstrax" not in (getattr(m, "__file__", "") or "superstrax")})
    print(json.dumps({"straxen": straxen.__version__, "keys": keys,
                      "context_class": type(st).__module__, "outside": outside}))
""")


def _run_on_superstrax(code, recorded, tmp_path_factory):
    """(the recording, what code printed as JSON): code run in a fresh interpreter for the
    recording's run id, in a new directory."""
    if importlib.util.find_spec("straxen") is None:
        pytest.skip("straxen is not installed: pip install superstrax[compat]")
    with open(recorded) as f:
        expected = json.load(f)
    cwd = tmp_path_factory.mktemp("straxen")
    r = subprocess.run([sys.executable, "-c", code, expected["run_id"]], cwd=cwd,
                       env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-5000:]
    return expected, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def straxen_on_superstrax(tmp_path_factory):
    return _run_on_superstrax(BUILD_AND_KEY, EXPECTED, tmp_path_factory)


def test_straxen_imports_and_builds_xenonnt_on_superstrax(straxen_on_superstrax):
    expected, got = straxen_on_superstrax
    assert got["straxen"] == expected["straxen_version"]
    assert got["context_class"].startswith("superstrax.")
    assert got["outside"] == [], "modules of an installed strax were imported"


def test_every_xenonnt_data_type_has_strax_2_2_3s_key(straxen_on_superstrax):
    expected, got = straxen_on_superstrax
    assert sorted(got["keys"]) == sorted(expected["keys"])
    differ = {t: (expected["keys"][t], got["keys"][t]) for t in expected["keys"]
              if got["keys"][t] != expected["keys"][t]}
    assert differ == {}


# What strax 2.2.3 would store for each data type, as the recording did it (see the JSON's
# recorded_with): the plugin as st._get_plugins makes it (configured, not set up), then
# get_single_plugin (configured strictly and set up) in a context of its own. Beside the
# plugin's own answers, "stored" is what superstrax's savers really write and do: the
# metadata they start from, and the save and rechunk rules the planner applies.
DESCRIBE_DTYPES = textwrap.dedent("""
    import json, os, sys
    from collections.abc import Mapping
    import superstrax
    superstrax.bind_as_strax()
    import numpy as np
    import strax, straxen

    def context():
        return straxen.contexts.xenonnt(_database_init=False, output_folder=os.path.abspath("out"),
                                        _processed_paths=[], _raw_paths=[],
                                        _auto_append_rucio_local=False)

    def describe(p, t):
        save_when = p.save_when[t] if isinstance(p.save_when, Mapping) else p.save_when
        return {"dtype": repr(np.dtype(p.dtype_for(t)).descr), "data_kind": p.data_kind_for(t),
                "save_when": strax.SaveWhen(save_when).name,
                "rechunk_on_save": bool(p.can_rechunk(t)), "compressor": p.compressor,
                "chunk_target_size_mb": p.chunk_target_size_mb}

    run_id = sys.argv[1]
    st = context()
    session = st._session
    described, stored, failed, setup = {}, {}, {}, {}
    for t in st._plugin_class_registry:
        try:
            p = st._get_plugins((t,), run_id)[t]
            described[t] = describe(p, t)
        except Exception as e:
            failed[t] = f"{type(e).__name__}: {e}"
            continue
        cls = session.plugin_class(t, run_id)
        md = session.data_metadata(st.key_for(run_id, t), cls, p.dtype_for(t), run_id)
        stored[t] = {"dtype": md["dtype"], "data_kind": md["data_kind"],
                     "save_when": cls.save_when_for(t).name,
                     "rechunk_on_save": bool(cls.can_rechunk(t)),
                     "compressor": md["compressor"],
                     "chunk_target_size_mb": md["chunk_target_size_mb"]}
    st = context()
    for t in described:
        try:
            st.get_single_plugin(run_id, t)
            setup[t] = "ok"
        except Exception as e:
            setup[t] = type(e).__name__
    print(json.dumps({"described": described, "stored": stored, "failed": failed,
                      "setup": setup}))
""")


@pytest.fixture(scope="module")
def straxen_dtypes_on_superstrax(tmp_path_factory):
    return _run_on_superstrax(DESCRIBE_DTYPES, EXPECTED_DTYPES, tmp_path_factory)


FIELDS = ("dtype", "data_kind", "save_when", "rechunk_on_save", "compressor",
          "chunk_target_size_mb")


def test_superstrax_makes_every_xenonnt_plugin_strax_2_2_3_makes(straxen_dtypes_on_superstrax):
    expected, got = straxen_dtypes_on_superstrax
    assert expected["straxen_version"] == "4.1.1"
    assert {t: got["failed"].get(t) for t in expected["dtypes"] if t not in got["described"]} \
        == {}
    assert sorted(got["described"]) == sorted(expected["dtypes"])


@pytest.mark.parametrize("side", ["described", "stored"])
def test_every_xenonnt_data_type_is_stored_as_strax_2_2_3_stores_it(straxen_dtypes_on_superstrax,
                                                                    side):
    """side='described': what the plugin says (dtype_for, data_kind_for, ...); 'stored': what
    superstrax's savers write into metadata and how they save and rechunk."""
    expected, got = straxen_dtypes_on_superstrax
    differ = {}
    for t, want in expected["dtypes"].items():
        have = got[side].get(t, {})
        for field in FIELDS:
            if have.get(field) != want[field]:
                differ[f"{t}.{field}"] = (want[field], have.get(field))
    assert differ == {}


def test_xenonnt_plugins_set_up_offline_as_with_strax_2_2_3(straxen_dtypes_on_superstrax):
    """Offline (no database, no resource files) strax sets up some plugins and not others;
    superstrax must set up every one strax can, and fail where strax fails (a plugin that
    sets up where strax's does not used values strax would not give it, e.g. an unresolved
    URL of straxen's URLConfig)."""
    if os.environ.get("XENON_CONFIG") or os.path.exists(os.path.expanduser("~/.xenon_config")):
        pytest.skip("a XENON configuration is present: plugins may reach their databases")
    expected, got = straxen_dtypes_on_superstrax
    want = {t: v["setup"] for t, v in expected["dtypes"].items()}
    assert {t: (want[t], got["setup"].get(t)) for t in want if got["setup"].get(t) != want[t]} \
        == {}
