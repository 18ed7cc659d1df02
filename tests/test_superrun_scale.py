"""Superruns at scale: what making one writes, and memory that does not grow with subruns."""
import datetime
import json
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from conftest import make_runs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _data_folders(storage):
    return {f for f in os.listdir(storage.path) if os.path.isdir(os.path.join(storage.path, f))}


def _types(folders):
    return sorted(f.split("-")[1] for f in folders)


@pytest.fixture
def sr(st, storage):
    make_runs(st, storage, ["0", "1", "2"])
    for r in "012":
        st.make(r, "peaks")
    st.define_run("_sr", ["0", "1", "2"])
    st.set_context_config({"write_superruns": True})
    return "_sr"


def test_making_a_superrun_writes_only_the_target_and_what_save_names(st, storage, sr):
    before = _data_folders(storage)
    # peak_classification (allow_superrun) is computed over the superrun's chained peaks,
    # which come from records: neither is stored again for the superrun.
    st.make(sr, "peak_classification")
    new = _data_folders(storage) - before
    assert _types(new) == ["lone_hits", "peak_classification"]     # the plugin's two outputs
    assert all(f.startswith("_sr_") for f in new)
    assert st.is_stored(sr, "peak_classification") and not st.is_stored(sr, "peaks")

    st.define_run("_sr2", ["0", "1"])
    before = _data_folders(storage)
    st.make("_sr2", "peak_classification", save=("peaks",))
    assert _types(_data_folders(storage) - before) == ["lone_hits", "peak_classification",
                                                       "peaks"]

    before = _data_folders(storage)
    st.make(sr, "records")                        # a plain chained target is stored when asked
    assert _types(_data_folders(storage) - before) == ["records"]
    assert len(st.get_array(sr, "records")) == len(st.get_array(["0", "1", "2"], "records"))


# A fresh interpreter per measurement: peak RSS (getrusage) of a process only ever rises, so
# building the data and each make run in their own processes. With a fourth argument
# 'small', subruns are of 2 records, stored in chunks of ~600 rows, and the caches' bounds
# are lowered to 64 entries so that a few hundred subruns already go past them (at their
# real bound of 1,024 it takes thousands, and minutes to build).
_CHILD = textwrap.dedent('''
    import json, resource, sys, tracemalloc
    import numpy as np
    import superstrax as sx
    from superstrax import planning
    from superstrax.runs import registry
    from superstrax.storage import files
    from superstrax.testutils import Records, write_run_document

    small = sys.argv[4:] == ["small"]
    if small:
        planning.CHAIN_LOCATIONS_KEPT = files.METADATA_CACHE_ENTRIES = 64
        registry.RUN_DOCUMENT_CACHE_ENTRIES = 64

    class Hits(sx.Plugin):
        """One small row per record, computed over the superrun's chained records."""
        provides = "hits_sr"
        depends_on = ("records",)
        data_kind = "hits_sr"
        dtype = sx.time_fields
        allow_superrun = True

        def compute(self, records):
            out = np.zeros(len(records), self.dtype)
            out["time"] = records["time"]
            out["endtime"] = sx.endtime(records)
            return out

    what, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if small:
        # the rows a make holds before a chunk is written (and that chunk's subrun map) are
        # bounded by this, whatever the number of subruns
        Hits.chunk_target_size_mb = 0.01
    storage = sx.DataDirectory(path, provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records, Hits], progress_bar=False,
                    config={"n_chunks": 1, "recs_per_chunk": 2} if small else
                    {"n_chunks": 3, "recs_per_chunk": 8000})
    if what == "build":
        for i in range(n):
            st.set_config({"secret_time_offset": i * 10_000_000})     # 10 ms apart
            st.make(str(i), "records")
            write_run_document(storage, str(i), i * 10_000_000, i * 10_000_000 + 3)
        print(json.dumps({}))
    elif what == "columns":
        st.define_run(f"_sr{n}", [str(i) for i in range(n)])
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        data = st.get_array(f"_sr{n}", "records", drop_columns=["channel"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"growth_mb": (peak - rss0) / 1024, "rows": len(data),
                          "result_mb": data.nbytes / 2**20}))
    elif what == "traced_make":
        st.define_run(f"_sr{n}", [str(i) for i in range(n)])
        st.set_context_config({"write_superruns": True})
        tracemalloc.start()
        st.make(f"_sr{n}", "hits_sr")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps({"peak_bytes": peak, "rows": len(st.get_array(f"_sr{n}", "hits_sr"))}))
    else:
        runs = [str(i) for i in range(n)]
        st.define_run(f"_sr{n}", runs)
        st.set_context_config({"write_superruns": True})
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        st.make(f"_sr{n}", "hits_sr")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = len(st.get_array(f"_sr{n}", "hits_sr"))
        print(json.dumps({"growth_mb": (peak - rss0) / 1024, "rows": rows}))
''')


def _child(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_of_a_superrun_make_does_not_grow_with_subruns(tmp_path):
    # Each subrun: 3 chunks of 8000 records (~2 MB each in memory, tiny on disk). The largest
    # superrun chains 24 of them (~150 MB); holding it, or any sizeable part, would show.
    # Costs ~10 s (four interpreters).
    path = str(tmp_path / "data")
    _child("build", path, 24)
    few, many = _child("make", path, 4), _child("make", path, 24)
    assert many["rows"] == 6 * few["rows"] == 24 * 3 * 8000
    # The generous bound: what the bigger superrun may add is far less than its data (~150 MB,
    # of which ~125 MB more than the smaller one's).
    assert many["growth_mb"] < few["growth_mb"] + 40, (few, many)

    # get_array with drop_columns holds the (projected) result and a chunk or two, not a list
    # of projected chunks plus their join (twice the result).
    columns = _child("columns", path, 24)
    assert columns["rows"] == many["rows"]
    assert columns["growth_mb"] < 1.3 * columns["result_mb"] + 20, columns


def test_a_make_over_many_small_subruns_keeps_little_per_subrun(tmp_path):
    # What a make keeps per subrun (plan, parsed metadata, run documents), by tracemalloc at
    # the make's peak, over many small subruns (see _CHILD). Planned all at once, a make kept
    # every subrun's whole parsed metadata and run document: 3.9 KB more per subrun here
    # (tracemalloc counts exactly, so the figure does not vary between runs). Past
    # CHAIN_LOCATIONS_KEPT with a node and slim metadata per subrun: 2.4 KB. Packed
    # (planning.PackedLoads), with the output's subrun maps as SubrunMaps: 0.85 KB, most of
    # it the superrun's definition (its document and specs) and the output's metadata.
    # ~10 s: 1,000 runs are built.
    path = str(tmp_path / "data")
    _child("build", path, 1000, "small")
    few = _child("traced_make", path, 100, "small")
    many = _child("traced_make", path, 1000, "small")
    assert many["rows"] == 10 * few["rows"] == 1000 * 2
    per_subrun = (many["peak_bytes"] - few["peak_bytes"]) / 900
    assert per_subrun < 1200, (few, many, per_subrun)


_FIRST_LOAD = textwrap.dedent('''
    import json, sys
    import superstrax as sx
    from superstrax.testutils import Records
    storage = sx.DataDirectory(sys.argv[1], provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    st.set_context_config({"write_superruns": True})
    if sys.argv[2] == "build":
        from superstrax.testutils import write_run_document
        for i in range(3):
            st.set_config({"secret_time_offset": i * 10_000_000})
            st.make(str(i), "records")
            write_run_document(storage, str(i), i * 10_000_000, i * 10_000_000 + 10)
        st.set_config({"secret_time_offset": 0})
        st.define_run("_sr", ["0", "1", "2"])
        st.make("_sr", "records")
        result = {}
    else:
        before = set(sys.modules)
        rows = len(st.get_array("_sr", "records"))
        st.make("_sr", "records")             # stored: nothing to do
        result = {"rows": rows, "new": sorted(set(sys.modules) - before)}
    from superstrax import kernels            # numba kernels loaded so far, in this process
    result["kernels"] = [name for name, f in vars(kernels).items()
                         if hasattr(f, "signatures") and f.signatures]
    print(json.dumps(result))
''')


def test_first_load_of_stored_superrun_imports_nothing(tmp_path):
    # A fresh process's first get_array of stored data is a few ms: any module it imports
    # (the parallel package, pandas, numba's compiler, bson...) would dominate it.
    path = str(tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    for what in ("build", "load"):
        proc = subprocess.run([sys.executable, "-c", _FIRST_LOAD, path, what], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert results[1]["rows"] == 3 * 10 * 10 and results[1]["new"] == []


@settings(max_examples=200, deadline=None)
@given(st_.datetimes(min_value=datetime.datetime(1900, 1, 1),
                     max_value=datetime.datetime(2200, 1, 1),
                     timezones=st_.sampled_from([None, datetime.timezone.utc,
                                                 datetime.timezone(datetime.timedelta(hours=-5))])))
def test_run_document_dates_read_as_bson_reads_them(when):
    # Run documents are read with a fast path for dates; it must agree with bson's reader.
    from bson import json_util
    from superstrax.storage.files import _read_options, _run_doc_hook
    options = _read_options()
    text = json.dumps({"start": when, "tags": [{"name": "x"}], "n": {"$numberLong": "7"}},
                      default=json_util.default)
    ours = json.loads(text, object_hook=lambda d: _run_doc_hook(d, json_util, options))
    theirs = json.loads(text, object_hook=lambda d: json_util.object_hook(
        d, json_options=options))
    assert ours == theirs
    assert ours["start"].tzinfo == datetime.timezone.utc


def test_run_documents_go_to_bson_for_the_keys_bson_reads():
    # Run documents hand a dict to bson's reader only if it has one of these keys (checked
    # without scanning every key of a ten-thousand-run sub_run_spec): they must be bson's.
    from bson import json_util
    from superstrax.storage.files import BSON_WRAPPER_KEYS
    assert BSON_WRAPPER_KEYS == set(json_util._PARSERS)


def test_superrun_spec_hashes_as_strax_hashes_it():
    # Values computed with strax 2.2.3's deterministic_hash; dicts of plain leaves take a
    # fast path, mixed ones the general one.
    from superstrax.hashing import deterministic_hash
    spec = {f"{i:06d}": "all" for i in range(10000)}
    assert deterministic_hash((spec, False)) == "gtnrkxetkz"
    assert deterministic_hash((spec, True)) == "5dansos37h"
    mixed = {"3": "all", "1": [[5, 9], [11, 12]], "x": {"b": None, "a": 1.5, "c": True}}
    assert deterministic_hash(mixed) == "v3sqoyd3gp"


def _reference_hashablize(obj):
    """The rule hashablize follows, as plainly as it can be written (no fast paths)."""
    if isinstance(obj, dict):
        return tuple((k, _reference_hashablize(v)) for k, v in sorted(obj.items()))
    if isinstance(obj, (list, tuple)):
        return tuple(_reference_hashablize(x) for x in obj)
    return obj


_leaves = st_.one_of(st_.text(max_size=5), st_.integers(), st_.booleans(), st_.none(),
                     st_.floats(allow_nan=False))
_trees = st_.recursive(_leaves, lambda inner: st_.one_of(
    st_.lists(inner, max_size=4), st_.lists(inner, max_size=4).map(tuple),
    st_.dictionaries(st_.text(max_size=4), inner, max_size=5)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st_.dictionaries(st_.text(max_size=6), _trees, max_size=8))
def test_hashablize_follows_the_plain_rule(tree):
    from superstrax.hashing import hashablize
    assert hashablize(tree) == _reference_hashablize(tree)


def test_making_and_saving_loads_no_numba_kernel(tmp_path):
    # Loading the first numba kernel in a process (from numba's cache, or compiling it) costs
    # ~0.15 s: more than a whole make of a small superrun. Making and saving runs and a
    # superrun (finding gaps, choosing cuts), and loading it, must not need one.
    path = str(tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for what in ("build", "load"):
        proc = subprocess.run([sys.executable, "-c", _FIRST_LOAD, path, what], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout.strip().splitlines()[-1])["kernels"] == [], what
