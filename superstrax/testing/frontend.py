"""FrontendConformance: what every StorageFrontend must do, as pytest tests.

Subclass it in a test module (the subclass's name starts with 'Test') and implement
`make_frontend(tmp_path)`, returning a new, empty, writable frontend that stores run
documents if it can. Each test below states one rule of the contract in
StorageFrontend's docstring; a frontend that passes them all works with a Context.
"""
import numpy as np
import pytest

from ..chunk import Chunk
from ..context import Context
from ..errors import DataNotAvailable, RunMetadataNotAvailable
from ..storage.common import DataKey, StorageFrontend
from ..testutils import Peaks, Records, write_run_document

_LINEAGE = {"things": ("Things", "0.0.1", {"an_option": 1})}
_DTYPE = np.dtype([("time", np.int64), ("endtime", np.int64), ("value", np.float64)])


def _chunk(run_id, start, end, n):
    data = np.zeros(n, _DTYPE)
    data["time"] = np.linspace(start, end - 1, n).astype(np.int64) if n else []
    data["endtime"] = data["time"] + 1
    data["value"] = np.arange(n) + start
    return Chunk(data_type="things", data_kind="things", dtype=_DTYPE, run_id=run_id,
                 start=start, end=end, data=data)


def _metadata(key):
    return {"run_id": key.run_id, "data_type": key.data_type, "data_kind": "things",
            "dtype": repr(_DTYPE.descr), "compressor": "blosc", "lineage": key.lineage,
            "lineage_hash": key.lineage_hash, "chunk_target_size_mb": 200}


def _write(fe, key, chunks, exception=None, replace=False):
    saver = fe.saver(key, _metadata(key), replace=replace) if replace else \
        fe.saver(key, _metadata(key))
    for c in chunks:
        saver.save(c)
    saver.close(exception=exception)


class FrontendConformance:
    """The storage contract as tests; see the module docstring."""

    def make_frontend(self, tmp_path) -> StorageFrontend:
        raise NotImplementedError("a FrontendConformance subclass gives make_frontend(tmp_path)")

    @pytest.fixture
    def frontend(self, tmp_path):
        fe = self.make_frontend(tmp_path)
        assert isinstance(fe, StorageFrontend), "make_frontend must return a StorageFrontend"
        assert not fe.readonly, "make_frontend must return a writable frontend"
        return fe

    @pytest.fixture
    def key(self):
        return DataKey("1", "things", _LINEAGE)

    # --- capabilities --------------------------------------------------------------------
    def test_capabilities_are_booleans_and_agree_with_strax_names(self, frontend):
        for name in ("stores_data", "stores_run_documents", "stores_superruns", "readonly",
                     "can_define_runs"):
            assert isinstance(getattr(frontend, name), bool), name
        assert frontend.provide_run_metadata == frontend.stores_run_documents
        assert frontend.provide_superruns == frontend.stores_superruns

    # --- data ------------------------------------------------------------------------------
    def test_missing_data_is_not_found(self, frontend, key):
        assert not frontend.is_stored(key)
        with pytest.raises(DataNotAvailable):
            frontend.find(key)
        with pytest.raises(DataNotAvailable):
            frontend.get_metadata(key)
        assert frontend.find_several([key]) == [False]

    def test_saved_chunks_load_back_with_their_bounds(self, frontend, key):
        chunks = [_chunk("1", 0, 100, 5), _chunk("1", 100, 200, 0), _chunk("1", 200, 300, 7)]
        _write(frontend, key, chunks)
        assert frontend.is_stored(key)
        md = frontend.get_metadata(key)
        assert [c["n"] for c in md["chunks"]] == [5, 0, 7]
        assert (md["start"], md["end"]) == (0, 300)
        assert md["lineage_hash"] == key.lineage_hash
        loaded = list(frontend.loader(key))
        assert [(c.start, c.end, len(c)) for c in loaded] == [(0, 100, 5), (100, 200, 0),
                                                              (200, 300, 7)]
        for got, want in zip(loaded, chunks):
            np.testing.assert_array_equal(got.data, want.data)
            assert got.data_type == "things" and got.run_id == "1"

    def test_loader_gives_only_chunks_touching_a_time_range(self, frontend, key):
        _write(frontend, key, [_chunk("1", i * 10, i * 10 + 10, 2) for i in range(5)])
        got = [(c.start, c.end) for c in frontend.loader(key, time_range=(25, 35))]
        assert got == [(20, 30), (30, 40)]

    def test_data_is_invisible_until_its_write_completes(self, frontend, key):
        saver = frontend.saver(key, _metadata(key))
        saver.save(_chunk("1", 0, 10, 3))
        assert not frontend.is_stored(key)
        saver.close()
        assert frontend.is_stored(key)

    def test_a_failed_write_is_not_found_and_keeps_older_data(self, frontend, key):
        _write(frontend, key, [_chunk("1", 0, 10, 3)], exception=RuntimeError("boom"))
        assert not frontend.is_stored(key)
        _write(frontend, key, [_chunk("1", 0, 10, 3)])
        _write(frontend, key, [_chunk("1", 0, 10, 9)], exception=RuntimeError("boom"))
        assert [len(c) for c in frontend.loader(key)] == [3]

    def test_a_complete_rewrite_with_replace_replaces_the_data(self, frontend, key):
        _write(frontend, key, [_chunk("1", 0, 10, 3)])
        _write(frontend, key, [_chunk("1", 0, 10, 4), _chunk("1", 10, 20, 1)], replace=True)
        assert [len(c) for c in frontend.loader(key)] == [4, 1]

    def test_complete_data_is_kept_by_a_saver_without_replace(self, frontend, key):
        """Another writer made the data after this one planned to: its copy stays (and
        readers of it are never disturbed)."""
        _write(frontend, key, [_chunk("1", 0, 10, 3)])
        _write(frontend, key, [_chunk("1", 0, 10, 4), _chunk("1", 10, 20, 1)])
        assert [len(c) for c in frontend.loader(key)] == [3]

    def test_savers_of_one_key_at_once_leave_exactly_one_complete_copy(self, frontend, key):
        chunks = [_chunk("1", 0, 10, 3), _chunk("1", 10, 20, 2)]
        savers = [frontend.saver(key, _metadata(key)) for _ in range(3)]
        for c in chunks:
            for s in savers:
                s.save(c)
        assert not frontend.is_stored(key)
        for s in savers:
            s.close()
        loaded = list(frontend.loader(key))
        assert [(c.start, c.end, len(c)) for c in loaded] == [(0, 10, 3), (10, 20, 2)]
        for got, want in zip(loaded, chunks):
            np.testing.assert_array_equal(got.data, want.data)

    def test_a_discarded_write_leaves_nothing(self, frontend, key):
        saver = frontend.saver(key, _metadata(key))
        saver.save(_chunk("1", 0, 10, 3))
        saver.close(discard=True)
        assert not frontend.is_stored(key)

    def test_superrun_data_only_where_superruns_are_stored(self, frontend):
        key = DataKey("_sr", "things", _LINEAGE, subruns={"1": "all"})
        if frontend.stores_superruns:
            _write(frontend, key, [_chunk("_sr", 0, 10, 2)])
            assert frontend.is_stored(key)
            assert not frontend.is_stored(DataKey("_sr", "things", _LINEAGE,
                                                  subruns={"2": "all"}))
        else:
            with pytest.raises(DataNotAvailable):
                frontend.saver(key, _metadata(key))
            assert not frontend.is_stored(key)

    # --- run documents -----------------------------------------------------------------------
    def test_run_documents_round_trip_and_change_their_version(self, frontend):
        if not frontend.stores_run_documents:
            with pytest.raises(RunMetadataNotAvailable):
                frontend.run_metadata("7")
            return
        with pytest.raises(RunMetadataNotAvailable):
            frontend.run_metadata("7")
        write_run_document(frontend, "7", 0, 5_000_000, mode="bg")
        before = frontend.run_document_version("7")
        doc = frontend.run_metadata("7")
        assert doc["name"] == "7" and doc["mode"] == "bg" and doc["start"] < doc["end"]
        assert frontend.run_metadata("7", projection=["mode"]) == {"mode": "bg"}
        write_run_document(frontend, "7", 0, 5_000_000, mode="kr")
        assert frontend.run_metadata("7")["mode"] == "kr"
        if before is not None:
            assert frontend.run_document_version("7") != before
        assert "7" in [d["name"] for d in frontend.scan_runs(("mode",))]

    # --- through a context -------------------------------------------------------------------
    def test_a_context_stores_and_finds_data_in_it(self, frontend):
        st = Context(storage=[frontend], register=[Records, Peaks], progress_bar=False,
                     config={"bonus_area": 1})
        made = st.get_array("3", "peaks")
        assert st.is_stored("3", "peaks") and st.is_stored("3", "records")
        again = Context(storage=[frontend], register=[Records, Peaks], progress_bar=False,
                        config={"bonus_area": 1},
                        forbid_creation_of=("records", "peaks"))
        np.testing.assert_array_equal(again.get_array("3", "peaks"), made)

    def test_run_documents_are_read_once_per_change_not_per_load(self, frontend):
        if not frontend.can_define_runs:
            return
        st = Context(storage=[frontend], register=[Records], progress_bar=False)
        for i in range(3):
            # documents hold milliseconds: runs 10 ms apart
            st.set_config({"secret_time_offset": 10_000_000 * i, "n_chunks": 2})
            st.make(str(i), "records")
            write_run_document(frontend, str(i), 10_000_000 * i, 10_000_000 * i + 2)
        st.define_run("_three", ["0", "1", "2"])
        reads = []
        original = frontend.versioned_run_metadata    # what the run registry reads through

        def counting(run_id):
            reads.append(run_id)
            return original(run_id)

        frontend.versioned_run_metadata = counting
        first = st.get_array("_three", "records")
        n_first = len(reads)
        for _ in range(3):
            np.testing.assert_array_equal(st.get_array("_three", "records"), first)
        assert len(reads) == n_first
        write_run_document(frontend, "1", 10_000_000, 10_000_002, mode="changed")
        assert st.run_metadata("1")["mode"] == "changed"
        st.run_metadata("1")
        assert reads[n_first:] == ["1"]
