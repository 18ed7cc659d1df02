"""Loading a superrun finds each subrun's data once and reads its metadata once per call
(issue 11: repeated lookups made on-the-fly loading of 1,000 subruns twice as slow)."""
import collections

import numpy as np
import pytest

import superstrax as sx
from superstrax.storage.files import FileSystemBackend
from superstrax.storage.memory import MemoryFrontend

from conftest import make_runs


class CountingBackend(FileSystemBackend):
    def __init__(self, counts):
        super().__init__()
        self.counts = counts

    def get_metadata(self, folder):
        self.counts[("get_metadata", folder.rsplit("/", 1)[-1])] += 1
        return super().get_metadata(folder)


class CountingDirectory(sx.DataDirectory):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counts = collections.Counter()
        self.backends = [CountingBackend(self.counts)]

    # Every way a caller looks a key up (a write lookup only names a folder: not counted)
    def find(self, key, write=False, **kwargs):
        if not write:
            self.counts[("find", str(key))] += 1
        return super().find(key, write=write, **kwargs)

    def locate(self, key):
        self.counts[("find", str(key))] += 1
        return super().locate(key)


def test_each_subrun_is_found_once_and_its_metadata_read_once_per_load(st, tmp_path):
    storage = CountingDirectory(str(tmp_path / "counted"), provide_run_metadata=True)
    st.storage = [storage]
    runs = ["0", "1", "2"]
    make_runs(st, storage, runs, n_chunks=3)
    st.define_run("_sr", runs)
    expected = sum(len(st.get_array(r, "records")) for r in runs)
    for load in (lambda: st.get_array("_sr", "records", combining=True),
                 lambda: list(st.get_iter("_sr", "records", combining=True))):
        storage.counts.clear()
        got = load()
        n = len(got) if not isinstance(got, list) else sum(len(c) for c in got)
        assert n == expected
        per_key = collections.Counter()
        for (what, name), count in storage.counts.items():
            per_key[what, name] = count
        finds = {k: c for k, c in per_key.items() if k[0] == "find"}
        reads = {k: c for k, c in per_key.items() if k[0] == "get_metadata"}
        assert len(finds) == len(runs) and set(finds.values()) == {1}, finds
        assert len(reads) == len(runs) and set(reads.values()) == {1}, reads


def test_a_chain_longer_than_the_kept_locations_holds_no_metadata_and_reads_it_once(
        st, tmp_path, monkeypatch):
    # Past CHAIN_LOCATIONS_KEPT subruns the plan holds its stored subruns packed (so a plan
    # over 10,000 subruns does not hold 10,000 nodes and parsed documents): each part comes
    # back with what reading needs of its metadata, still found once, parsed once, and the
    # same data.
    from superstrax import planning
    from superstrax.loading import plan
    from superstrax.storage import files, shared_metadata
    storage = CountingDirectory(str(tmp_path / "counted"), provide_run_metadata=True)
    st.storage = [storage]
    runs = ["0", "1", "2"]
    make_runs(st, storage, runs, n_chunks=3)
    st.define_run("_sr", runs)
    kept = st.get_array("_sr", "records", combining=True)
    short = plan(st._session, "_sr", ("records",), combining=True)
    assert short.parts.packed == 0
    monkeypatch.setattr(planning, "CHAIN_LOCATIONS_KEPT", 2)
    planner = planning.Planner(st._session, ("records",), combining=True)
    chain = planner.plan("_sr")
    assert chain.parts.packed == len(runs) and len(chain.parts) == len(runs)
    assert not any(isinstance(n, planning.LoadNode) for n in planner._nodes.values())
    for part, whole in zip(chain.parts, short.parts):
        assert part.run_id == whole.run_id and part.ranges == whole.ranges
        assert part.node.key == whole.node.key and str(part.node.key) == str(whole.node.key)
        assert part.node.location.backend_key == whole.node.location.backend_key
        full = whole.node.metadata
        slim = part.node.location.metadata
        assert slim == shared_metadata.reading_metadata(full)
        assert "lineage" not in slim and "filesize" not in slim["chunks"][0]
        assert [c["n"] for c in slim["chunks"]] == [10, 10, 10]
        assert part.node.rows_and_dtype() == whole.node.rows_and_dtype()
    storage.backends = [CountingBackend(storage.counts)]       # nothing cached
    parsed = collections.Counter()
    real_compact = files.compact_metadata

    def counting_compact(md):
        parsed[md.get("run_id")] += 1
        return real_compact(md)
    monkeypatch.setattr(files, "compact_metadata", counting_compact)
    storage.counts.clear()
    again = st.get_array("_sr", "records", combining=True)
    assert again.tobytes() == kept.tobytes()
    finds = {k: c for k, c in storage.counts.items() if k[0] == "find"}
    assert len(finds) == len(runs) and set(finds.values()) == {1}, finds
    assert parsed == {r: 1 for r in runs}, parsed


@pytest.mark.parametrize("frontend", ["directory", "memory"])
def test_a_long_chain_loads_and_stores_what_a_short_one_does(st, tmp_path, monkeypatch,
                                                             frontend):
    # The same superrun, read with every subrun's whole metadata kept and past
    # CHAIN_LOCATIONS_KEPT (a DataDirectory keeps only what reading needs; a frontend whose
    # backend cannot slim a location finds each subrun again as it reads it): whole, cut to
    # a time range, in partitions (get_dask) and stored rechunked, the rows are the same.
    from superstrax import planning
    storage = sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True) \
        if frontend == "directory" else MemoryFrontend()
    st.storage = [storage]
    bounds = make_runs(st, storage, ["0", "1", "2", "3"], n_chunks=3)
    st.define_run("_sr", ["0", "1", "2", "3"])
    window = (bounds["1"][0] + 5, bounds["2"][1] - 5)

    def loads():
        out = {"whole": st.get_array("_sr", "records", combining=True),
               "window": st.get_array("_sr", "records", combining=True, time_range=window)}
        try:
            frame = st.get_dask("_sr", "records", combining=True)
        except ImportError:      # dask is an extra
            return out
        df = frame.compute()
        # (the waveform column holds arrays, as objects: compared by the plain columns)
        out["dask"] = np.asarray(df[["time", "length", "channel"]].to_records(index=False))
        out["divisions"] = np.asarray(frame.divisions, dtype=np.int64)
        return out

    short = loads()
    monkeypatch.setattr(planning, "CHAIN_LOCATIONS_KEPT", 1)
    long = loads()
    assert set(short) == set(long)
    for what in short:
        assert long[what].tobytes() == short[what].tobytes(), what
    st.set_context_config({"write_superruns": True})
    st.make("_sr", "records")
    assert st.get_array("_sr", "records").tobytes() == short["whole"].tobytes()


def test_a_backend_with_reading_of_its_own_is_not_packed(st, tmp_path, monkeypatch):
    # A backend that reads chunks its own way may use any metadata field: a long chain keeps
    # its subruns unpacked, and they are read with their whole metadata.
    from superstrax import planning
    from superstrax.loading import plan
    seen = []

    class OwnReading(FileSystemBackend):
        def read_chunk(self, folder, md, info, dtype, out=None):
            seen.append(("filesize" in info, "lineage" in md))
            return super().read_chunk(folder, md, info, dtype, out=out)

    assert FileSystemBackend.reads_packed_metadata and not OwnReading.reads_packed_metadata
    storage = sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True)
    st.storage = [storage]
    runs = ["0", "1", "2"]
    make_runs(st, storage, runs, n_chunks=2)
    st.define_run("_sr", runs)
    short = st.get_array("_sr", "records", combining=True)
    storage.backends = [OwnReading()]
    monkeypatch.setattr(planning, "CHAIN_LOCATIONS_KEPT", 1)
    chain = plan(st._session, "_sr", ("records",), combining=True)
    assert len(chain.parts) == 3 and chain.parts.packed == 0
    seen.clear()
    assert st.get_array("_sr", "records", combining=True).tobytes() == short.tobytes()
    assert seen and all(seen), seen
