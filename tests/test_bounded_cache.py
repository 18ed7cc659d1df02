"""The bounded caches of parsed files: an LRU that never holds more than its bound, and the
metadata and run-document caches that use it."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

import superstrax as sx
from superstrax.bounded_cache import BoundedCache
from superstrax.runs import registry
from superstrax.storage import files
from superstrax.testutils import Records

from conftest import make_runs

operations = st_.lists(st_.tuples(st_.sampled_from(["get", "set", "pop"]),
                                  st_.integers(0, 12), st_.integers()), max_size=200)


@settings(max_examples=300, deadline=None)
@given(st_.integers(1, 6), operations)
def test_bounded_cache_is_a_least_recently_used_cache(bound, ops):
    # Its model: a list of (key, value), most recently used last.
    cache, model = BoundedCache(bound), []

    def find(key):
        return next((i for i, (k, _) in enumerate(model) if k == key), None)

    for op, key, value in ops:
        i = find(key)
        if op == "get":
            expected = None if i is None else model[i][1]
            assert cache.get(key) == expected
            if i is not None:
                model.append(model.pop(i))
        elif op == "set":
            if i is not None:
                model.pop(i)
            model.append((key, value))
            del model[:-bound]
            cache[key] = value
        else:
            expected = None if i is None else model.pop(i)[1]
            assert cache.pop(key) == expected
        assert len(cache) == len(model) <= bound
        assert all(k in cache for k, _ in model)


def test_a_bounded_cache_needs_room():
    with pytest.raises(ValueError):
        BoundedCache(0)


def test_metadata_and_run_documents_kept_are_bounded(tmp_path, monkeypatch):
    # A context that looked at more runs than the bound keeps the latest ones parsed; loading
    # the others again reads their files again and gives the same data.
    monkeypatch.setattr(files, "METADATA_CACHE_ENTRIES", 2)
    monkeypatch.setattr(registry, "RUN_DOCUMENT_CACHE_ENTRIES", 2)
    storage = sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    runs = ["0", "1", "2", "3", "4"]
    make_runs(st, storage, runs, n_chunks=2)
    first = {r: st.get_array(r, "records") for r in runs}
    st.define_run("_sr", runs)
    chained = st.get_array("_sr", "records", combining=True)
    backend = storage.backends[0]
    assert len(backend._md_cache) <= 2 and len(backend._checked) <= 2
    assert len(st._session.runs.documents) <= 3      # two runs' and the superrun's
    assert len(chained) == sum(len(a) for a in first.values())
    for r in runs:
        assert st.get_array(r, "records").tobytes() == first[r].tobytes()


def test_a_superrun_of_more_subruns_than_the_bound_is_resolved_once(tmp_path, monkeypatch):
    # Resolving the superrun reads every subrun's document; its own document is kept apart,
    # so that those reads do not push it out (it was then read again on every use, and the
    # superrun resolved again, 10,000 documents each time).
    monkeypatch.setattr(registry, "RUN_DOCUMENT_CACHE_ENTRIES", 2)
    storage = sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    runs = ["0", "1", "2", "3", "4"]
    make_runs(st, storage, runs, n_chunks=1)
    st.define_run("_sr", runs)
    reads = []
    real = type(storage).versioned_run_metadata

    def counting(self, run_id):
        reads.append(str(run_id))
        return real(self, run_id)
    monkeypatch.setattr(type(storage), "versioned_run_metadata", counting)
    session = st._session
    session.runs.forget("_sr")
    specs = session.runs.subrun_specs("_sr")
    key = st.key_for("_sr", "records")
    assert session.runs.subrun_specs("_sr") is specs
    st.get_array("_sr", "records", combining=True)
    assert st.key_for("_sr", "records") == key
    assert reads.count("_sr") == 1, reads
