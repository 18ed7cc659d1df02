"""MetadataPack: what reading needs of many folders' metadata, in columns, comes back as it
went in (reading_metadata is the plain form it must equal), whatever form the fields have."""
import json
import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as hs

from superstrax.storage.shared_metadata import MetadataPack, reading_metadata

INT64 = hs.integers(-2 ** 63, 2 ** 63 - 1)
ODD = hs.one_of(hs.none(), hs.booleans(), hs.floats(allow_nan=False), hs.text(max_size=5),
                hs.integers(2 ** 63, 2 ** 70), hs.integers(-2 ** 70, -2 ** 63 - 1))
INT_OR_ODD = hs.one_of(INT64, INT64, ODD)
CHECKSUMS = hs.one_of(
    hs.integers(0, 2 ** 64 - 1).map(lambda v: f"xxh3_64:{v:016x}"),
    hs.integers(0, 2 ** 64 - 1).map(lambda v: f"xxh3_64:{v:016X}"),     # upper case: kept
    hs.integers(0, 2 ** 40).map(lambda v: f"xxh3_64:{v:x}"),            # short: kept
    hs.sampled_from(["xxh3_64:+_12", "xxh3_64: 1f", "crc32:0000beef", "", None]))


@hs.composite
def chunk_entries(draw, run_id, prefix):
    info = {}
    for field in ("chunk_i", "start", "end", "n", "nbytes", "first_time", "last_time"):
        if draw(hs.integers(0, 5)):
            info[field] = draw(INT_OR_ODD)
    if draw(hs.booleans()):
        info["checksum"] = draw(CHECKSUMS)
    form = draw(hs.integers(0, 3))
    if form and type(info.get("chunk_i")) is int and form < 3:
        info["filename"] = f"{prefix}-{info['chunk_i']:06d}"
    elif form:
        info["filename"] = draw(hs.one_of(hs.text(max_size=12), hs.none()))
    if draw(hs.booleans()):
        info["run_id"] = draw(hs.sampled_from([run_id, "other", None, 7]))
    if draw(hs.booleans()):
        info["subruns"] = draw(hs.one_of(hs.none(), hs.just({"a": {"start": 1, "end": 2}})))
    if draw(hs.booleans()):
        info["filesize"] = draw(INT64)        # not needed for reading: left out
    return info


@hs.composite
def documents(draw):
    run_id = draw(hs.sampled_from(["000001", "000002", "r-3"]))
    prefix = draw(hs.sampled_from(["records-abcdefghij", "peaks-0123456789", "a-b-c"]))
    md = {"data_type": draw(hs.sampled_from(["records", "peaks"])),
          "dtype": "[(('t', 'time'), '<i8')]", "compressor": "blosc",
          "lineage": {"records": ["Records", "0.0.0", {}]}, "lineage_hash": "abcdefghij"}
    if draw(hs.booleans()):
        md["run_id"] = run_id
    if draw(hs.booleans()):
        md["data_kind"] = draw(hs.sampled_from(["records", ["a", "list"]]))   # unhashable too
    if draw(hs.booleans()):
        md["chunk_target_size_mb"] = draw(hs.sampled_from([200, 5.5]))
    if draw(hs.integers(0, 5)):
        md["chunks"] = draw(hs.lists(chunk_entries(run_id, prefix), max_size=4))
    return md


@settings(max_examples=300, deadline=None)
@given(hs.lists(documents(), min_size=1, max_size=8))
def test_a_pack_gives_back_what_reading_needs_of_each_document(docs):
    pack = MetadataPack()
    handles = [pack.add(md) for md in docs]
    assert handles == list(range(len(docs))) and len(pack) == len(docs)
    for handle, md in zip(handles, docs):
        slim = pack.metadata(handle)
        assert slim == reading_metadata(md)
        # the same types, too (True is not 1, 1.0 is not 1)
        assert json.dumps(slim, sort_keys=True) == json.dumps(reading_metadata(md),
                                                             sort_keys=True)
        ns = [c["n"] for c in md.get("chunks") or () if type(c.get("n")) is int
              and -2 ** 63 <= c["n"] < 2 ** 63]
        if len(ns) == len(md.get("chunks") or ()):
            assert pack.rows(handle) == sum(ns)
    # each call gives a new document: a caller changing one changes no other
    first = pack.metadata(0)
    first["chunks"].append({"n": 1})
    assert pack.metadata(0) == reading_metadata(docs[0])


_PACK_SIZE = textwrap.dedent('''
    import sys, tracemalloc
    from superstrax.storage.shared_metadata import MetadataPack, reading_metadata

    def document(i):
        start = 10_000_000_000 * i
        return {"data_type": "records", "data_kind": "records", "run_id": f"{i:06d}",
                "dtype": "[(('t', 'time'), '<i8')]", "compressor": "blosc",
                "chunk_target_size_mb": 200,
                "chunks": [{"chunk_i": 0, "start": start, "end": start + 200_000, "n": 100,
                            "nbytes": 25700, "filename": "records-tompl7gkwp-000000",
                            "checksum": f"xxh3_64:{(i * 7919) % 2 ** 64:016x}",
                            "run_id": f"{i:06d}", "subruns": None, "first_time": start,
                            "last_time": start + 198_000, "filesize": 15191}]}

    pack = MetadataPack()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(10_000):
        pack.add(document(i))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert pack.metadata(1234) == reading_metadata(document(1234))
    assert pack.metadata(1234)["run_id"] is sys.intern("001234")
    print(held / 10_000)
''')


def test_a_pack_of_ten_thousand_one_chunk_folders_is_small():
    # The reason it exists: a superrun of 10,000 subruns is read from 10,000 folders. Their
    # reading metadata as dicts holds ~1 KB each; packed, a fraction of that. Measured in a
    # fresh interpreter: tracemalloc counts every thread's allocations, and threads other
    # tests leave running would be counted too.
    proc = subprocess.run([sys.executable, "-c", _PACK_SIZE], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    per_folder = float(proc.stdout.strip().splitlines()[-1])
    # the run ids (interned strings, ~55 bytes each) are a third of it
    assert per_folder < 250, per_folder


SUBRUN_MAPS = hs.dictionaries(
    hs.text(min_size=1, max_size=8),
    hs.tuples(INT64, INT64).map(lambda t: {"start": t[0], "end": t[1]}), max_size=20)


@settings(max_examples=200, deadline=None)
@given(SUBRUN_MAPS)
def test_a_subrun_map_reads_and_is_written_as_the_dict_it_stands_for(subruns):
    import copy
    import pickle

    from superstrax.storage.common import metadata_pieces
    from superstrax.storage.shared_metadata import SubrunMap
    packed = SubrunMap(subruns)
    assert packed == subruns and dict(packed.items()) == subruns
    assert list(packed) == list(subruns) and len(packed) == len(subruns)
    for k, v in subruns.items():
        assert packed[k] == v and k in packed
    assert "not a subrun id" not in packed or "not a subrun id" in subruns
    assert pickle.loads(pickle.dumps(packed)) == subruns
    assert copy.deepcopy(packed) == subruns
    md = {"chunks": [{"chunk_i": 0, "subruns": packed}], "run_id": "_sr"}
    plain = {"chunks": [{"chunk_i": 0, "subruns": subruns}], "run_id": "_sr"}
    assert "".join(metadata_pieces(md)) == json.dumps(plain, sort_keys=True, indent=4)
