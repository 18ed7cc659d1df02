"""Two processes making the same data into one DataDirectory at once leave exactly one good
copy, and neither fails. (Relies on the writer claims of DataDirectory, issue 13.)"""
import multiprocessing
import os

import numpy as np

import parallel_plugins as pp

N_CHUNKS = 6


def make_when_released(path, barrier, results):
    st = pp.context(path, n_chunks=N_CHUNKS, rows_per_chunk=20_000, work=40)
    barrier.wait()
    try:
        st.make("7", "doubled")
        results.put(("ok", os.getpid()))
    except Exception as e:         # reported to the test, which fails on it
        results.put((f"{type(e).__name__}: {e}", os.getpid()))


def test_two_concurrent_makers_of_the_same_data_leave_exactly_one_good_copy(tmp_path):
    path = tmp_path / "data"
    mp = multiprocessing.get_context("spawn")
    barrier, results = mp.Barrier(2), mp.Queue()
    makers = [mp.Process(target=make_when_released, args=(str(path), barrier, results))
              for _ in range(2)]
    for p in makers:
        p.start()
    for p in makers:
        p.join(timeout=300)
    outcomes = [results.get(timeout=10)[0] for _ in makers]
    assert outcomes == ["ok", "ok"]
    st = pp.context(path, n_chunks=N_CHUNKS, rows_per_chunk=20_000)
    names = sorted(os.listdir(path))
    for d in ("pulses", "doubled"):
        key = str(st.key_for("7", d))
        assert [n for n in names if n.startswith(f"7-{d}-")] == [key], names
    expected = pp.expected_pulses("7", N_CHUNKS, 20_000)
    np.testing.assert_array_equal(st.get_array("7", "pulses"), expected)
    np.testing.assert_array_equal(st.get_array("7", "doubled")["twice"], 2 * expected["value"])
