"""Several processes making the same data into one DataDirectory at the same moment.

Each process makes the records of three runs and the peaks of a superrun of them (stored with
write_superruns), all released at once by a barrier, 20 times over for N = 2 and N = 4. Every
round must leave exactly one complete copy of each key, no temp folder, claim or replaced copy,
data identical to a single process's, and no error or warning in any process (a process that
did not get the claim computes the same rows, does not store them, and waits for the one that
did: see superstrax/storage/file_saver.py).

The workers are started once per N (spawn) and reused for all rounds, so the cost is a few
interpreter starts plus 40 small makes per worker.
"""
import multiprocessing as mp
import os
import traceback
import warnings

import numpy as np
import pytest

import superstrax as sx
from superstrax.storage.layout import is_key_name
from superstrax.testutils import Peaks, Records, write_run_document
from superstrax.verification import verify

RUNS = ("0", "1", "2")
N_CHUNKS, RECS = 2, 5
OFFSETS = {"0": 0, "1": 1_000_000_000, "2": 2_000_000_000}
REPEATS = 20


def _context(path):
    return sx.Context(storage=[sx.DataDirectory(path, provide_run_metadata=True)],
                      register=[Records, Peaks], progress_bar=False,
                      config={"bonus_area": 42, "n_chunks": N_CHUNKS, "recs_per_chunk": RECS},
                      write_superruns=True)


def _prepare(path):
    st = _context(path)
    storage = st.storage[0]
    for run in RUNS:
        write_run_document(storage, run, OFFSETS[run], OFFSETS[run] + N_CHUNKS)
    st.define_run("_sr", list(RUNS))


def _make_all(path):
    st = _context(path)
    for run in RUNS:
        st.set_config({"secret_time_offset": OFFSETS[run]})
        st.make(run, "records")
    st.make("_sr", "peaks")


def _worker(paths, barrier, results):
    for path in paths:
        barrier.wait()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _make_all(path)
            results.put((path, os.getpid(), [str(w.message) for w in caught]))
        except BaseException:
            results.put((path, os.getpid(), ["ERROR " + traceback.format_exc()]))


def _check_round(path, reference):
    entries = sorted(os.listdir(path))
    data = [e for e in entries if os.path.isdir(os.path.join(path, e))]
    assert all(is_key_name(e) for e in data), f"leftovers in {path}: {data}"
    # 3 records + 3 subrun peaks + the superrun's peaks, each exactly once
    assert len(data) == 7, data
    assert not [e for e in entries if e.endswith("-claim.json") or ".writing" in e], entries
    assert all(r.ok for r in verify(path)), [r.problems for r in verify(path) if not r.ok]
    st = _context(path)
    for (run, target), expected in reference.items():
        assert st.is_stored(run, target)
        np.testing.assert_array_equal(st.get_array(run, target), expected)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("reference"))
    _prepare(path)
    _make_all(path)
    st = _context(path)
    return {(run, t): st.get_array(run, t) for run in RUNS + ("_sr",)
            for t in ("records", "peaks") if not (run == "_sr" and t == "records")}


@pytest.mark.parametrize("n_writers", [2, 4])
def test_concurrent_makers_leave_one_complete_copy(tmp_path, reference, n_writers):
    paths = []
    for i in range(REPEATS):
        path = str(tmp_path / f"round{i}")
        _prepare(path)
        paths.append(path)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n_writers)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(paths, barrier, results))
               for _ in range(n_writers)]
    for w in workers:
        w.start()
    got = [results.get(timeout=300) for _ in range(REPEATS * n_writers)]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    complaints = [(p, pid, msgs) for p, pid, msgs in got if msgs]
    assert not complaints, complaints[:3]
    for path in paths:
        _check_round(path, reference)
