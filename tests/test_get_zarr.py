"""Context.get_zarr: targets of many runs in persistent zarr arrays, as strax 2.2.3 offers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import superstrax as sx
from superstrax.testutils import Peaks, Records

zarr = pytest.importorskip("zarr")   # in the test extra; the module test below needs none
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def st(tmp_path):
    return sx.Context(storage=[sx.DataDirectory(str(tmp_path / "data"))],
                      register=[Records, Peaks], progress_bar=False, use_per_run_defaults=True)


def test_runs_are_appended_in_order_and_their_rows_recorded(st, tmp_path):
    runs = ["0", "1", "2"]
    group = st.get_zarr(runs, ("records", "peaks"), storage=str(tmp_path / "z"))
    for target in ("records", "peaks"):
        expected = np.concatenate([st.get_array(r, target) for r in runs])
        array = group[target]
        assert array.shape == (len(expected),)
        for name in expected.dtype.names:
            np.testing.assert_array_equal(array[name], expected[name])
        info = array.attrs["RUNS"]
        assert list(info) == runs
        at = 0
        for r in runs:
            n = len(st.get_array(r, target))
            assert (info[r]["start_idx"], info[r]["end_idx"]) == (at, at + n)
            assert info[r]["lineage_hash"] == st.key_for(r, target).lineage_hash
            at += n


def test_group_is_named_by_context_and_arguments_and_persists(st, tmp_path):
    path = str(tmp_path / "z")
    st.get_zarr("0", "peaks", storage=path)
    st.get_zarr("0", "peaks", storage=path, keep_columns=("time", "area"))
    root = zarr.open_group(path, mode="r")
    context_group = root[st._context_hash()]
    assert sorted(context_group.group_keys()) == sorted(
        [sx.deterministic_hash({}), sx.deterministic_hash({"keep_columns": ("time", "area")})])
    narrow = context_group[sx.deterministic_hash({"keep_columns": ("time", "area")})]["peaks"]
    assert narrow.dtype.names == ("time", "area")
    # Titles, which zarr cannot keep, are dropped; names and values stay.
    full = context_group[sx.deterministic_hash({})]["peaks"]
    assert full.dtype.names == st.get_array("0", "peaks").dtype.names


def test_overwrite_false_adds_only_runs_not_yet_there(st, tmp_path):
    path = str(tmp_path / "z")
    st.get_zarr(["0", "1"], "records", storage=path)
    group = st.get_zarr(["1", "2"], "records", storage=path, overwrite=False)
    assert list(group["records"].attrs["RUNS"]) == ["0", "1", "2"]
    expected = np.concatenate([st.get_array(r, "records") for r in "012"])
    np.testing.assert_array_equal(group["records"]["time"], expected["time"])
    # overwrite=True (the default) starts afresh
    group = st.get_zarr(["2"], "records", storage=path)
    assert list(group["records"].attrs["RUNS"]) == ["2"]
    assert group["records"].shape == (len(st.get_array("2", "records")),)


def test_a_run_that_failed_halfway_leaves_no_rows_behind(st, tmp_path):
    path = str(tmp_path / "z")
    st.get_zarr(["0"], "records", storage=path)
    # Run 1's stored records get a chunk whose bytes changed (its size did not): only
    # reading it tells, after the chunks before it were written to the array.
    st.make("1", "records")
    folder = os.path.join(str(tmp_path / "data"), str(st.key_for("1", "records")))
    chunk_file = sorted(f for f in os.listdir(folder) if f[-6:].isdigit())[5]
    with open(os.path.join(folder, chunk_file), "r+b") as f:
        f.seek(-4, os.SEEK_END)
        f.write(b"\xff\x00\xff\x00")
    with pytest.raises(sx.DataCorrupted, match=chunk_file):
        st.get_zarr(["1"], "records", storage=path, overwrite=False)
    assert zarr.open_group(path, mode="r")[st._context_hash()][sx.deterministic_hash({})][
        "records"].shape[0] > len(st.get_array("0", "records"))   # it did write some rows
    # Asked again for what it holds, the array drops the failed run's rows.
    group = st.get_zarr(["0"], "records", storage=path, overwrite=False)
    assert group["records"].shape == (len(st.get_array("0", "records")),)
    group = st.get_zarr(["2"], "records", storage=path, overwrite=False)
    info = group["records"].attrs["RUNS"]
    assert list(info) == ["0", "2"]
    n0 = len(st.get_array("0", "records"))
    assert info["2"]["start_idx"] == n0
    assert group["records"].shape == (info["2"]["end_idx"],)
    expected = np.concatenate([st.get_array(r, "records") for r in "02"])
    np.testing.assert_array_equal(group["records"]["time"], expected["time"])


def test_in_memory_store_as_strax_tests_use_it(st):
    pytest.importorskip("fsspec")
    group = st.get_zarr("0", ("records", "peaks"), storage="memory://")
    np.testing.assert_array_equal(group.peaks["time"], st.get_array("0", "peaks")["time"])


def test_without_zarr_2_the_error_says_how_to_install_it(st, monkeypatch):
    from superstrax import zarr_arrays
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImportError, match=r"superstrax\[zarr\]"):
        st.get_zarr("0", "records", storage="memory://")
    fake = type(sys)("zarr")
    fake.__version__ = "3.0.8"
    monkeypatch.setitem(sys.modules, "zarr", fake)
    with pytest.raises(ImportError, match="zarr 2"):
        zarr_arrays.require_zarr()


_BOUNDED = r"""
import json, resource, sys
import numpy as np
import superstrax as sx
from superstrax.testutils import Records
st = sx.Context(storage=[sx.DataDirectory(sys.argv[1])], register=[Records],
                progress_bar=False, config={"n_chunks": 30, "recs_per_chunk": 20000})
st.make("0", "records")         # 30 chunks of ~5 MB each
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
group = st.get_zarr("0", "records", storage=sys.argv[2])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": group["records"].shape[0], "grew_mb": after - before,
                  "data_mb": group["records"].nbytes / 1e6}))
"""


def test_memory_stays_near_one_chunk_while_writing(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _BOUNDED, str(tmp_path / "data"),
                           str(tmp_path / "z")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rows"] == 30 * 20000
    # The whole array is ~150 MB; holding it would grow the process by that much.
    assert result["data_mb"] > 100
    assert result["grew_mb"] < 0.5 * result["data_mb"], result
