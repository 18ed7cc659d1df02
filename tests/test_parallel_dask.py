"""Many runs on a Dask cluster (a real LocalCluster of two worker processes) and lazy Dask
frames of stored data: make through a client equals serial make, failures are reported, and
get_dask(...).compute() equals get_df."""
import numpy as np
import pandas as pd
import pytest

import superstrax as sx

import parallel_plugins as pp
from test_parallel import RUNS, assert_same_storage

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

# Bytes per worker. A worker with superstrax and dask.dataframe imported holds ~220 MB, and
# Dask pauses a worker at 80% of its limit, so the limit leaves room for a few 8 MB chunks.
MEMORY_LIMIT = 450e6


@pytest.fixture(scope="module")
def client():
    """One LocalCluster for the module: two worker processes, one thread each, a memory limit
    that the histogram test's superrun exceeds."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY_LIMIT,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


def test_make_on_dask_equals_serial(tmp_path, client):
    serial = pp.context(tmp_path / "serial")
    on_dask = pp.context(tmp_path / "dask")
    serial.make(RUNS, "doubled")
    on_dask.make(RUNS, "doubled", executor=client)
    assert_same_storage(tmp_path / "serial", tmp_path / "dask")
    workers = set(client.run(lambda: 1))
    assert len(workers) == 2


def test_executor_as_a_context_option_and_failures_on_dask(tmp_path, client):
    st = pp.context(tmp_path / "data", fail_runs=["3"])
    st.set_context_config({"executor": client})
    with pytest.raises(sx.RunsFailed) as info:
        st.make(RUNS, "pulses")
    assert sorted(info.value.failures) == ["3"]
    assert "a bad chunk in run 3" in str(info.value)
    assert [st.is_stored(r, "pulses") for r in RUNS] == [True, True, False, True]


def test_one_context_makes_on_dask_many_times_in_a_row(tmp_path, client):
    """Each call sends the same context. Sent under its content hash, a call's context had the
    key the previous call had just released, and the scheduler, forgetting it, cancelled the
    new call's tasks ("lost dependencies"): one call in ten failed on a loaded machine."""
    st = pp.context(tmp_path / "data", n_chunks=2, rows_per_chunk=10)
    runs = [str(r) for r in range(1, 25)]
    pp.write_run_documents(st, runs, n_chunks=2)
    for pair in zip(runs[::2], runs[1::2]):
        st.make(list(pair), "pulses", executor=client)
        st.make(list(pair), "doubled", executor=client)
    assert all(st.is_stored(r, "doubled") for r in runs)


@pytest.fixture
def workers_elsewhere(tmp_path, client):
    """The cluster's workers moved into an empty directory of their own (as workers started by
    a batch system are), and back afterwards."""
    import os
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = client.run(os.getcwd)
    client.run(os.chdir, str(elsewhere))
    yield elsewhere
    for address, cwd in before.items():
        client.run(os.chdir, cwd, workers=[address])


def test_a_relative_data_directory_is_the_callers_on_workers_elsewhere(
        tmp_path, monkeypatch, client, workers_elsewhere):
    import os
    (tmp_path / "client").mkdir()
    monkeypatch.chdir(tmp_path / "client")
    st = pp.context("data", n_chunks=3, rows_per_chunk=20)
    st.make(RUNS, "doubled", executor=client)
    frame = st.get_dask("2", ["pulses", "doubled"])
    got = computed(frame, client).reset_index(drop=True)
    assert os.listdir(workers_elsewhere) == []
    assert st.storage[0].path == "data"
    serial = pp.context(tmp_path / "serial", n_chunks=3, rows_per_chunk=20)
    serial.make(RUNS, "doubled")
    assert_same_storage(tmp_path / "serial", tmp_path / "client" / "data")
    pd.testing.assert_frame_equal(got, serial.get_df("2", ["pulses", "doubled"]))


@pytest.fixture
def stored(tmp_path, client):
    """Four runs of pulses (10 chunks each) made on the cluster, a superrun of them defined."""
    st = pp.context(tmp_path / "data", n_chunks=10, rows_per_chunk=50)
    pp.write_run_documents(st, RUNS, n_chunks=10)
    st.define_run("_all", RUNS)
    st.make(RUNS, "pulses", executor=client)
    return st


def computed(frame, client):
    return client.compute(frame).result()


def test_get_dask_of_a_run_equals_get_df(stored, client):
    frame = stored.get_dask("2", "pulses")
    assert frame.npartitions == 10 and frame.known_divisions
    got = computed(frame, client)
    assert (got.index.values == got["time"].values).all()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), stored.get_df("2", "pulses"))


def test_get_dask_of_a_chained_superrun_with_options_equals_get_df(stored, client):
    t0 = 2 * pp.RUN_SPAN + 3 * pp.CHUNK_NS + 555
    t1 = 4 * pp.RUN_SPAN + 2 * pp.CHUNK_NS
    args = dict(time_range=(t0, t1), selection="row >= 10", keep_columns=["time", "value"],
                add_run_id_field=True)
    frame = stored.get_dask("_all", "pulses", **args)
    assert frame.known_divisions
    assert frame.divisions[0] <= t0 + pp.ROW_NS and frame.divisions[-1] < t1
    got = computed(frame, client).reset_index(drop=True)
    expected = stored.get_df("_all", "pulses", **args)
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected)
    assert set(got["run_id"]) == {"2", "3", "4"}


def test_get_dask_of_a_stored_superrun_equals_get_df(stored, client):
    stored.set_context_config({"write_superruns": True})
    stored.make("_all", "pulses")
    assert stored.is_stored("_all", "pulses")
    frame = stored.get_dask("_all", "pulses")
    chunks = stored.get_meta("_all", "pulses")["chunks"]
    assert frame.npartitions == len([c for c in chunks if c["n"]])
    whole = stored.get_df("_all", "pulses")
    pd.testing.assert_frame_equal(computed(frame, client).reset_index(drop=True), whole)


def test_known_divisions_let_a_time_slice_read_only_its_chunks(stored, client):
    frame = stored.get_dask("_all", "pulses")
    assert frame.npartitions == 40
    t0, t1 = 3 * pp.RUN_SPAN, 3 * pp.RUN_SPAN + 2 * pp.CHUNK_NS - 1
    part = frame.loc[t0:t1]
    assert part.npartitions <= 3
    got = computed(part, client)
    whole = stored.get_df("_all", "pulses")
    inside = whole[(whole["time"] >= t0) & (whole["time"] <= t1)]
    assert len(inside) == 100
    pd.testing.assert_frame_equal(got.reset_index(drop=True), inside.reset_index(drop=True))


def test_get_dask_of_several_targets_of_one_kind_joins_them_as_get_df(stored, client):
    stored.make(RUNS, "doubled", executor=client)
    # Doubled is rechunked on save, pulses not: the two are stored in different chunks.
    assert len(stored.get_meta("2", "doubled")["chunks"]) < \
        len(stored.get_meta("2", "pulses")["chunks"]) == 10
    frame = stored.get_dask("2", ["pulses", "doubled"])
    # partitions follow the first target's chunks; fields come in the order of the sorted
    # data type names, as in get_df (and strax)
    assert frame.npartitions == 10 and list(frame.columns) == \
        ["time", "endtime", "twice", "value", "row"]
    got = computed(frame, client).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, stored.get_df("2", ["pulses", "doubled"]))
    np.testing.assert_array_equal(got["twice"], 2 * got["value"])
    # and over the chained superrun, cut to a time range that starts inside a chunk
    args = dict(time_range=(2 * pp.RUN_SPAN + 5 * pp.CHUNK_NS + 15, 3 * pp.RUN_SPAN + 1),
                keep_columns=["time", "twice"])
    frame = stored.get_dask("_all", ("pulses", "doubled"), **args)
    got = computed(frame, client).reset_index(drop=True)
    expected = stored.get_df("_all", ("pulses", "doubled"), **args)
    assert len(expected) == 5 * 50 - 2
    pd.testing.assert_frame_equal(got, expected)


def test_get_dask_refuses_data_that_is_not_stored(stored):
    with pytest.raises(sx.DataNotAvailable, match="max_workers"):
        stored.get_dask("1", "doubled")


def reset_peak_rss():
    """Start a new peak-RSS measurement in this process (Linux: writing 5 to clear_refs resets
    VmHWM), so that what earlier tests did in the module's long-lived workers does not count."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_bytes():
    """The process's peak RSS since reset_peak_rss (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def test_histogram_of_a_superrun_larger_than_a_workers_memory(tmp_path, client):
    runs, n_chunks, rows = ["1", "2", "3", "4"], 15, 250_000   # 8 MB chunks, 480 MB in all
    st = pp.context(tmp_path / "data", n_chunks=n_chunks, rows_per_chunk=rows)
    pp.write_run_documents(st, runs, n_chunks=n_chunks)
    st.define_run("_big", runs)
    st.make(runs, "pulses", max_workers=2)       # the cluster's workers only read
    workers = sorted(client.scheduler_info()["workers"])
    size = sum(c["nbytes"] for r in runs for c in st.get_meta(r, "pulses")["chunks"])
    assert size > MEMORY_LIMIT

    client.run(reset_peak_rss)
    frame = st.get_dask("_big", "pulses")
    assert frame.npartitions == len(runs) * n_chunks
    counts, _ = da.histogram(frame["value"].to_dask_array(), bins=40, range=(-1, 1))
    counts = client.compute(counts).result(timeout=240)

    expected = sum(np.histogram(st.get_array(r, "pulses")["value"], bins=40, range=(-1, 1))[0]
                   for r in runs)
    assert expected.sum() == len(runs) * n_chunks * rows
    np.testing.assert_array_equal(counts, expected)
    # No worker was restarted for using too much memory, and none came near its limit.
    assert sorted(client.scheduler_info()["workers"]) == workers
    peaks = client.run(peak_rss_bytes)
    assert all(p < MEMORY_LIMIT for p in peaks.values()), peaks


def test_readme_section_on_many_runs_runs_as_written(tmp_path, monkeypatch, client):
    """The README's 'Processing many runs' blocks, executed in order in a fresh folder; the
    LocalCluster they start is the module's (starting one more would cost ~10 s)."""
    import contextlib
    import re
    from pathlib import Path
    import dask.distributed
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Processing many runs"):]
    blocks = re.findall(r"^```py\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 2
    started = []

    def local_cluster(**kwargs):
        started.append(kwargs)
        return contextlib.nullcontext(client.cluster)

    monkeypatch.setattr(dask.distributed, "LocalCluster", local_cluster)
    monkeypatch.setattr(dask.distributed, "Client",
                        lambda cluster: contextlib.nullcontext(client))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert started == [{"n_workers": 2, "threads_per_worker": 1}]
    st = namespace["st"]
    assert all(st.is_stored(r, "peak_classification") for r in namespace["runs"])
