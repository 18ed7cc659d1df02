"""Many runs at once in local worker processes: same data as serial, failures collected,
killed workers, the context shipped by value."""
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as hst

import superstrax as sx
from superstrax.parallel.spec import ContextSpec, context_from_bytes
from superstrax.storage.io import load_file

import parallel_plugins as pp

RUNS = ["1", "2", "3", "4"]


def stored_folders(path):
    """{folder: (metadata without write times, [decompressed chunk arrays])} of a directory."""
    import json
    out = {}
    for name in sorted(os.listdir(path)):
        folder = os.path.join(path, name)
        if not os.path.isdir(folder):
            continue
        prefix = name.split("-", 1)[1]
        with open(os.path.join(folder, f"{prefix}-metadata.json")) as f:
            md = json.load(f)
        dtype = np.dtype(eval(md["dtype"]))  # noqa: S307 (a dtype descr we wrote)
        chunks = [load_file(os.path.join(folder, c["filename"]), dtype, md["compressor"])
                  for c in md["chunks"] if c.get("filename")]
        for k in ("writing_started", "writing_ended", "superstrax_version"):
            md.pop(k, None)
        for c in md["chunks"]:
            c.pop("filesize", None)      # compressed sizes may differ; the data may not
        out[name] = (md, chunks)
    return out


def assert_same_storage(a, b):
    fa, fb = stored_folders(a), stored_folders(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        assert fa[name][0] == fb[name][0], name
        assert len(fa[name][1]) == len(fb[name][1])
        for x, y in zip(fa[name][1], fb[name][1]):
            assert x.tobytes() == y.tobytes(), name


def test_parallel_make_equals_serial(tmp_path):
    serial = pp.context(tmp_path / "serial")
    parallel = pp.context(tmp_path / "parallel")
    serial.make(RUNS, "doubled")
    parallel.make(RUNS, "doubled", max_workers=2)
    assert_same_storage(tmp_path / "serial", tmp_path / "parallel")
    for run in RUNS:
        np.testing.assert_array_equal(parallel.get_array(run, "pulses"), pp.expected_pulses(run))


def test_superrun_make_and_get_array_in_parallel(tmp_path):
    serial = pp.context(tmp_path / "serial", )
    parallel = pp.context(tmp_path / "parallel")
    for st in (serial, parallel):
        pp.write_run_documents(st, RUNS)
        st.define_run("_all", RUNS)
        st.set_context_config({"write_superruns": True})
    serial.make("_all", "doubled")
    parallel.make("_all", "doubled", max_workers=2)
    assert parallel.is_stored("_all", "doubled")
    assert all(parallel.is_stored(r, "doubled") for r in RUNS)
    assert_same_storage(tmp_path / "serial", tmp_path / "parallel")

    # get_array of a superrun whose subruns are not made yet: made in workers, then chained
    fresh = pp.context(tmp_path / "fresh")
    pp.write_run_documents(fresh, RUNS)
    fresh.define_run("_all", RUNS)
    got = fresh.get_array("_all", "pulses", max_workers=2)
    np.testing.assert_array_equal(got, np.concatenate([pp.expected_pulses(r) for r in RUNS]))
    assert all(fresh.is_stored(r, "pulses") for r in RUNS)


def test_failing_runs_are_reported_together_and_the_others_stored(tmp_path):
    st = pp.context(tmp_path / "data", fail_runs=["2", "4"])
    with pytest.raises(sx.RunsFailed) as info:
        st.make(RUNS, "doubled", max_workers=2)
    err = info.value
    assert sorted(err.failures) == ["2", "4"]
    assert "a bad chunk in run 2" in str(err) and "a bad chunk in run 4" in str(err)
    assert "run 2" in str(err) and "doubled" in str(err)
    assert sorted(err.done) == ["1", "3"]
    for run in ("1", "3"):
        assert st.is_stored(run, "doubled")
    # Nothing of the failed runs is left, not even a failed write kept for inspection.
    left = [n for n in os.listdir(tmp_path / "data") if n.startswith(("2-", "4-"))]
    assert left == []
    # Fixed, a second make makes only what failed.
    st.set_config({"fail_runs": []})
    st.make(RUNS, "doubled", max_workers=2)
    for run in RUNS:
        np.testing.assert_array_equal(st.get_array(run, "pulses"), pp.expected_pulses(run))


def test_a_killed_worker_leaves_nothing_loadable_and_a_second_make_completes(tmp_path):
    marker = tmp_path / "kill-me"
    marker.write_text("while this exists, the worker making run 3 kills itself")
    st = pp.context(tmp_path / "data", kill_marker=str(marker), kill_run="3")
    with pytest.raises(sx.RunsFailed) as info:
        st.make(RUNS, "doubled", max_workers=2)
    assert sorted(info.value.failures) == ["3"]
    assert "worker process died" in info.value.failures["3"]
    assert sorted(info.value.done) == ["1", "2", "4"]
    assert not st.is_stored("3", "pulses") and not st.is_stored("3", "doubled")
    with pytest.raises(sx.DataNotAvailable):
        st.get_array("3", "pulses", forbid_creation_of=("pulses",))
    # It did write something before it died: under a temp name, never loadable.
    assert any(n.startswith("3-pulses") for n in os.listdir(tmp_path / "data"))
    marker.unlink()
    st.make(RUNS, "doubled", max_workers=2)
    np.testing.assert_array_equal(st.get_array("3", "pulses"), pp.expected_pulses("3"))
    assert sx.DataDirectory(str(tmp_path / "data")).incomplete_writes() == []


def test_plugins_that_cannot_be_imported_travel_by_value(tmp_path):
    @sx.takes_config(sx.Option("factor", type=int, default=3),
                     sx.Option("offset", type=float, default_factory=float))
    class Tripled(sx.Plugin):             # defined here: workers cannot import it by name
        provides = "tripled"
        depends_on = "pulses"
        data_kind = "pulses"
        dtype = sx.time_fields + [(("Three times the value", "thrice"), np.float64)]
        __version__ = "0.1.0"

        def compute(self, pulses):
            out = np.zeros(len(pulses), self.dtype_for("tripled"))
            out["time"], out["endtime"] = pulses["time"], pulses["endtime"]
            out["thrice"] = self.config["factor"] * pulses["value"] + self.config["offset"]
            return out

    st = pp.context(tmp_path / "data")
    st.register(Tripled)
    st.make(["1", "2"], "tripled", max_workers=2)
    assert st.is_stored("1", "tripled") and st.is_stored("2", "tripled")
    np.testing.assert_array_equal(st.get_array("2", "tripled")["thrice"],
                                  3 * pp.expected_pulses("2")["value"])


def test_nothing_prints_with_progress_bar_false(tmp_path, capfd):
    st = pp.context(tmp_path / "data", work=30)
    st.make(RUNS, "pulses", max_workers=2, progress_bar=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_context_round_trips_through_pickle(tmp_path):
    st = pp.context(tmp_path / "data", n_chunks=3, rows_per_chunk=7)
    st.set_context_config({"write_superruns": True, "allow_rechunk": False})
    pp.write_run_documents(st, RUNS, n_chunks=3)
    st.define_run("_some", ["1", "2"])
    back = pickle.loads(pickle.dumps(st))
    assert back is not st
    assert back.config == st.config
    assert back.context_config == st.context_config
    assert [fe.path for fe in back.storage] == [fe.path for fe in st.storage]
    assert back._plugin_class_registry == st._plugin_class_registry
    for run in ("1", "_some"):
        for d in ("pulses", "doubled"):
            assert str(back.key_for(run, d)) == str(st.key_for(run, d))


@settings(max_examples=25, deadline=None)
@given(n_chunks=hst.integers(1, 10**6), rows=hst.integers(0, 10**6), work=hst.integers(0, 9),
       run=hst.integers(0, 10**9))
def test_context_spec_rebuilds_the_same_keys(tmp_path_factory, n_chunks, rows, work, run):
    st = pp.context(tmp_path_factory.getbasetemp() / "spec", n_chunks=n_chunks,
                    rows_per_chunk=rows, work=work)
    back = context_from_bytes(ContextSpec.from_context(st).to_bytes())   # a Session
    for d in ("pulses", "doubled"):
        assert str(back.key_for(str(run), d)) == str(st.key_for(str(run), d))
        assert back.lineages.lineage(str(run), d) == st.lineage(str(run), d)


def test_bad_max_workers_and_executor_are_refused(tmp_path):
    st = pp.context(tmp_path / "data")
    with pytest.raises(sx.InvalidConfiguration, match="executor"):
        st.make(RUNS, "pulses", executor="not an executor")


def test_one_bar_counts_runs_and_workers_print_nothing(tmp_path, capfd, monkeypatch):
    import superstrax.progress
    monkeypatch.setattr(superstrax.progress, "DELAY", 0)   # show the bar however quick
    st = pp.context(tmp_path / "data")
    st.make(RUNS, "pulses", max_workers=2, progress_bar=True)
    out, err = capfd.readouterr()
    assert "Making pulses of 4 runs" in err and "/4 [" in err
    assert "Loading" not in err and out == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_a_make_in_a_dask_worker_reuses_the_heap_its_nanny_set_to_trim_at_once(tmp_path):
    """Dask's nannies set MALLOC_TRIM_THRESHOLD_; inside heap_kept_for_reuse (every worker's
    make) temporary arrays come from the heap again instead of fresh, page-faulting mmaps."""
    code = textwrap.dedent("""
        import resource
        import numpy as np
        from superstrax.parallel.worker import heap_kept_for_reuse

        def faults():
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

        def churn():
            v = np.ones(40_000)
            for _ in range(300):
                v = np.sin(v)

        churn(); a = faults(); churn(); plain = faults() - a
        with heap_kept_for_reuse():
            churn(); a = faults(); churn(); kept = faults() - a
        print(plain, kept)
        """)
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    plain, kept = map(int, out.split())
    assert plain > 300 * 10          # each of the 300 arrays of 320 kB faulted its pages in
    assert kept < plain / 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_workers_are_forked_only_from_a_caller_without_other_threads():
    import threading
    from superstrax.parallel.pool import process_context
    if threading.active_count() == 1:    # (an earlier test may have left a thread behind)
        assert process_context().get_start_method() == "fork"
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert process_context().get_start_method() == "forkserver"
    finally:
        release.set()
        other.join()
