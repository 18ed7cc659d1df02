"""Loading a superrun finds each subrun's data once and reads its metadata once per call
(issue 11: repeated lookups made on-the-fly loading of 1,000 subruns twice as slow)."""
import collections

import superstrax as sx
from superstrax.storage.files import FileSystemBackend

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
