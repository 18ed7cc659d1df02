"""straxen 4.1.1 (the XENON collaboration's plugins and contexts) on superstrax.

Needs the optional `compat` extra (`pip install superstrax[compat]`); skipped only when
straxen is not installed. In a fresh interpreter: bind `strax` to superstrax, import straxen,
build its xenonnt context offline and compare the key of every data type it registers with
the keys strax 2.2.3 gives (tests/data/straxen_4.1.1_xenonnt_keys.json, recorded with real
strax 2.2.3 and straxen 4.1.1).
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


@pytest.fixture(scope="module")
def straxen_on_superstrax(tmp_path_factory):
    if importlib.util.find_spec("straxen") is None:
        pytest.skip("straxen is not installed: pip install superstrax[compat]")
    with open(EXPECTED) as f:
        expected = json.load(f)
    cwd = tmp_path_factory.mktemp("straxen")
    r = subprocess.run([sys.executable, "-c", BUILD_AND_KEY, expected["run_id"]], cwd=cwd,
                       env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-5000:]
    return expected, json.loads(r.stdout.strip().splitlines()[-1])


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
