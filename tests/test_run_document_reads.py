"""Run documents are read once per change, not once per load, for any frontend that reports
their versions (here the in-memory one, which counts its reads)."""
import datetime

import numpy as np
import pytest

import superstrax as sx
from superstrax.storage.memory import MemoryFrontend

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MS = 1_000_000


class Ticks(sx.Plugin):
    """One row per ms; its data is written straight into the store by the test."""
    provides = "ticks"
    depends_on = ()
    dtype = [("time", np.int64), ("endtime", np.int64)]

    def compute(self, chunk_i):
        raise AssertionError("the test stores all ticks; none should be computed")


def _store_runs(st, fe, n_runs):
    for i in range(n_runs):
        run_id, start = str(i), 10 * i * _MS
        key = st.key_for(run_id, "ticks")
        rows = np.zeros(3, Ticks.dtype)
        rows["time"] = start + np.arange(3) * _MS
        rows["endtime"] = rows["time"] + 1
        md = {"run_id": run_id, "data_type": "ticks", "data_kind": "ticks",
              "dtype": repr(np.dtype(Ticks.dtype).descr), "compressor": "blosc",
              "lineage": key.lineage, "lineage_hash": key.lineage_hash,
              "chunk_target_size_mb": 200}
        saver = fe.saver(key, md)
        saver.save(sx.Chunk(data_type="ticks", data_kind="ticks", dtype=np.dtype(Ticks.dtype),
                            run_id=run_id, start=start, end=start + 3 * _MS, data=rows))
        saver.close()
        fe.write_run_metadata(run_id, {"start": _EPOCH + datetime.timedelta(milliseconds=10 * i),
                                       "end": _EPOCH + datetime.timedelta(milliseconds=10 * i + 3),
                                       "mode": "bg"})


@pytest.mark.parametrize("n_subruns", [20, 1000])
def test_superrun_loads_read_each_run_document_once_per_change(n_subruns):
    fe = MemoryFrontend()
    st = sx.Context(storage=[fe], register=[Ticks], progress_bar=False,
                    forbid_creation_of=("ticks",))
    _store_runs(st, fe, n_subruns)
    st.define_run("_all", [str(i) for i in range(n_subruns)])

    reads = fe.run_document_reads
    first = st.get_array("_all", "ticks")
    assert len(first) == 3 * n_subruns
    assert fe.run_document_reads - reads <= 1          # at most the superrun's own document
    reads = fe.run_document_reads
    for _ in range(3):
        np.testing.assert_array_equal(st.get_array("_all", "ticks"), first)
        st.is_stored("_all", "ticks")
        st.run_metadata("_all")
    assert fe.run_document_reads == reads              # nothing changed: nothing read

    # A per-call setting makes a temporary context; it shares what is known of documents.
    st.get_array("_all", "ticks", progress_bar=False, allow_rechunk=False)
    assert fe.run_document_reads == reads

    # One subrun's document changes: it alone is read again, once.
    doc = st.run_metadata("5")
    fe.write_run_metadata("5", {**doc, "mode": "kr"})
    assert st.run_metadata("5")["mode"] == "kr"
    st.get_array("_all", "ticks")
    st.run_metadata("5")
    assert fe.run_document_reads == reads + 1

    # Redefining the superrun changes its document: read once, the subruns' not again.
    st.define_run("_all", [str(i) for i in range(n_subruns // 2)])
    reads = fe.run_document_reads
    assert len(st.get_array("_all", "ticks")) == 3 * (n_subruns // 2)
    st.get_array("_all", "ticks")
    assert fe.run_document_reads - reads <= 1


def test_a_document_is_read_from_the_first_storage_that_has_it_and_kept_while_that_holds(
        tmp_path):
    """The registry keeps a document while the storages asked before it still have none and
    its own file is unchanged; a later storage's copy is hidden by it and is not looked at."""
    first = sx.DataDirectory(tmp_path / "first", provide_run_metadata=True)
    second = sx.DataDirectory(tmp_path / "second", provide_run_metadata=True)
    st = sx.Context(storage=[first, second], register=[Ticks], progress_bar=False)
    second.write_run_metadata("7", {"mode": "second"})
    assert st.run_metadata("7")["mode"] == "second"

    reads = []
    for fe in (first, second):
        original = fe.versioned_run_metadata
        fe.versioned_run_metadata = (lambda o, name: lambda run_id: (reads.append(name),
                                                                     o(run_id))[1])(
            original, fe.path)
    assert st.run_metadata("7")["mode"] == "second" and reads == []

    # A document appearing in the earlier storage hides the later one at once.
    first.write_run_metadata("7", {"mode": "first"})
    assert st.run_metadata("7")["mode"] == "first"
    assert reads == [first.path]                       # the later storage was not asked
    del reads[:]

    # The later storage's copy changes: hidden, so nothing is read again.
    second.write_run_metadata("7", {"mode": "second, rewritten"})
    assert st.run_metadata("7")["mode"] == "first" and reads == []

    # The earlier copy goes away: the later one is read again, and is the new one.
    (tmp_path / "first" / "7-metadata.json").unlink()
    assert st.run_metadata("7")["mode"] == "second, rewritten"
    assert reads == [first.path, second.path]
