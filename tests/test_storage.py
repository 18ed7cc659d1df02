"""DataDirectory on real files: strax 2.x's layout, metadata and compressor bytes, reading folders
written in strax's format by hand, superrun keys, run documents, and what failed, killed or
damaged writes leave behind.

Expected values come from the facts sheet (shared/docs/strax-facts.md §3-§5, §7), not from
superstrax itself: expected arrays and compressed bytes are rebuilt here with numpy and the
compression libraries directly.
"""
import ast
import bz2
import datetime
import json
import os
import socket
import subprocess
import sys
import time

import blosc
import lz4.frame
import numpy as np
import pytest
import xxhash
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import superstrax as sx
from superstrax.storage.files import FileSaver
from superstrax.storage.layout import is_temp_name
from superstrax.testutils import Peaks, Records, SomeCrash

from conftest import make_runs

RECORDS_KEY = "0-records-j3nd2fjbiq"
RECORDS_PREFIX = "records-j3nd2fjbiq"
RECORDS_LINEAGE = {"records": ("Records", "0.0.0", {"crash": False, "dummy_tracked_option": 42})}
PEAKS_LINEAGE = {
    "peaks": ("Peaks", "0.0.0", {"base_area": 0, "bonus_area": 42, "give_wrong_dtype": False}),
    **RECORDS_LINEAGE,
}
TIME_FIELDS_DTYPE_STR = ("[(('Start time since unix epoch [ns]', 'time'), '<i8'), "
                         "(('Exclusive end time since unix epoch [ns]', 'endtime'), '<i8')]")
TOP_LEVEL_KEYS = {"chunk_target_size_mb", "chunks", "compressor", "data_kind", "data_type",
                  "dtype", "end", "lineage", "lineage_hash", "run_id", "start", "strax_version",
                  "writing_ended", "writing_started", "superstrax_version"}
# strax's chunk fields, plus superstrax's content checksum of the file (strax ignores it)
CHUNK_KEYS = {"chunk_i", "end", "filename", "filesize", "first_endtime", "first_time",
              "last_endtime", "last_time", "n", "nbytes", "run_id", "start", "subruns",
              "checksum"}
EMPTY_CHUNK_KEYS = {"chunk_i", "end", "n", "nbytes", "run_id", "start", "subruns"}


def expected_records(chunk_i, n=10, offset=0):
    """What testutils.Records computes for one chunk, rebuilt from the facts sheet (§7)."""
    r = np.zeros(n, np.dtype(sx.record_dtype()))
    r["time"] = chunk_i + offset
    r["length"] = 1
    r["dt"] = 1
    r["channel"] = np.arange(n)
    return r


def strax_blosc(raw):
    return blosc.compress(raw, typesize=8, clevel=9, shuffle=blosc.NOSHUFFLE, cname="blosclz")


def read_md_text(folder, prefix):
    with open(os.path.join(folder, f"{prefix}-metadata.json")) as f:
        return f.read()


def plain_md(key, dtype, compressor="blosc"):
    """Metadata a saver starts from (as the context builds it)."""
    lineage = json.loads(json.dumps(key.lineage))
    return {"run_id": key.run_id, "data_type": key.data_type, "data_kind": key.data_type,
            "dtype": repr(np.dtype(dtype).descr), "compressor": compressor,
            "lineage": lineage, "lineage_hash": key.lineage_hash,
            "chunk_target_size_mb": 200, "strax_version": "2.2.3"}


def records_chunk(data, start, end, run_id="0"):
    return sx.Chunk(data_type="records", data_kind="records", dtype=data.dtype, run_id=run_id,
                    start=start, end=end, data=data)


def dead_pid():
    """The pid of a process that has exited."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def listing(root):
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


class ZstdRecords(Records):
    compressor = "zstd"


class Lz4Records(Records):
    compressor = "lz4"


class Bz2Records(Records):
    compressor = "bz2"


class GappyRecords(Records):
    """Records whose odd chunks are empty."""

    def compute(self, chunk_i):
        chunk = super().compute(chunk_i)
        if chunk_i % 2:
            return self.chunk(start=chunk.start, end=chunk.end, data=chunk.data[:0])
        return chunk


class HalfwayCrash(Records):
    """Crashes after three chunks have been saved."""

    def compute(self, chunk_i):
        if chunk_i == 3:
            raise SomeCrash("halfway")
        return super().compute(chunk_i)


# --------------------------------------------------------------------------------------------
# Layout written by superstrax
# --------------------------------------------------------------------------------------------
def test_records_folder_layout_and_metadata(st, storage):
    st.make("0", "records")
    folder = os.path.join(storage.path, RECORDS_KEY)
    assert listing(storage.path) == [RECORDS_KEY]
    assert listing(folder) == sorted([f"{RECORDS_PREFIX}-{i:06d}" for i in range(10)]
                                     + [f"{RECORDS_PREFIX}-metadata.json"])

    text = read_md_text(folder, RECORDS_PREFIX)
    md = json.loads(text)
    assert text == json.dumps(md, sort_keys=True, indent=4)
    assert not text.endswith("\n")
    assert set(md) == TOP_LEVEL_KEYS
    assert md["strax_version"] == "2.2.3"
    assert md["superstrax_version"] == sx.__version__
    assert md["chunk_target_size_mb"] == 200
    assert md["compressor"] == "blosc"
    assert md["data_kind"] == md["data_type"] == "records"
    assert md["run_id"] == "0"
    assert md["lineage"] == json.loads(json.dumps(RECORDS_LINEAGE))
    assert md["lineage_hash"] == "j3nd2fjbiq"
    assert (md["start"], md["end"]) == (0, 10)
    assert isinstance(md["writing_started"], float)
    assert md["writing_started"] <= md["writing_ended"] <= time.time()
    assert np.dtype(ast.literal_eval(md["dtype"])) == np.dtype(sx.record_dtype())
    assert md["dtype"] == repr(np.dtype(sx.record_dtype()).descr)
    assert st.get_meta("0", "records") == md

    assert len(md["chunks"]) == 10
    for i, c in enumerate(md["chunks"]):
        raw = expected_records(i).tobytes()
        path = os.path.join(folder, c["filename"])
        with open(path, "rb") as f:
            payload = f.read()
        assert set(c) == CHUNK_KEYS
        assert c == {"chunk_i": i, "start": i, "end": i + 1, "n": 10, "nbytes": 2570,
                     "run_id": "0", "subruns": None, "filename": f"{RECORDS_PREFIX}-{i:06d}",
                     "filesize": len(payload), "first_time": i, "last_time": i,
                     "first_endtime": i + 1, "last_endtime": i + 1,
                     "checksum": "xxh3_64:" + xxhash.xxh3_64_hexdigest(payload)}
        assert payload[:4] == bytes([0x02, 0x01, 0x00, 0x08])
        assert payload == strax_blosc(raw)


def test_peaks_and_multi_output_layout(st, storage):
    st.make("0", "peak_classification")
    st.make("0", "lone_hits")
    names = listing(storage.path)
    assert names == ["0-lone_hits-cs4m5gvv7q", "0-peak_classification-cs4m5gvv7q",
                     "0-peaks-xia2iit6vb", RECORDS_KEY]
    folder = os.path.join(storage.path, "0-lone_hits-cs4m5gvv7q")
    assert listing(folder) == ["lone_hits-cs4m5gvv7q-000000", "lone_hits-cs4m5gvv7q-metadata.json"]
    md = json.loads(read_md_text(folder, "lone_hits-cs4m5gvv7q"))
    assert md["dtype"] == TIME_FIELDS_DTYPE_STR
    assert md["data_kind"] == "lone_hits" and md["lineage_hash"] == "cs4m5gvv7q"
    # 10 records chunks of one ns each are merged into one chunk on save (rechunk_on_save)
    assert [(c["start"], c["end"], c["n"], c["nbytes"]) for c in md["chunks"]] == [(0, 10, 100, 1600)]
    lh = np.zeros(100, np.dtype(ast.literal_eval(TIME_FIELDS_DTYPE_STR)))
    lh["time"] = np.repeat(np.arange(10), 10)
    lh["endtime"] = lh["time"] + 1
    with open(os.path.join(folder, "lone_hits-cs4m5gvv7q-000000"), "rb") as f:
        assert f.read() == strax_blosc(lh.tobytes())
    pk = json.loads(read_md_text(os.path.join(storage.path, "0-peaks-xia2iit6vb"),
                                 "peaks-xia2iit6vb"))
    assert pk["lineage"] == json.loads(json.dumps(PEAKS_LINEAGE))
    assert pk["data_kind"] == "peaks"
    assert pk["chunks"][0]["nbytes"] == 100 * 3055


@pytest.mark.parametrize("cls, magic, compress", [
    (ZstdRecords, bytes.fromhex("28b52ffd"), zstandard.ZstdCompressor(level=3).compress),
    (Lz4Records, bytes.fromhex("04224d18"), lz4.frame.compress),
    (Bz2Records, b"BZh9", lambda raw: bz2.compress(raw, 9)),
])
def test_other_compressors_write_strax_bytes(storage, cls, magic, compress):
    st = sx.Context(storage=[storage], register=[cls], progress_bar=False,
                    config={"n_chunks": 3})
    st.make("0", "records")
    key = str(st.key_for("0", "records"))
    folder = os.path.join(storage.path, key)
    prefix = key.split("-", 1)[1]
    md = json.loads(read_md_text(folder, prefix))
    assert md["compressor"] == cls.compressor
    for i, c in enumerate(md["chunks"]):
        with open(os.path.join(folder, c["filename"]), "rb") as f:
            payload = f.read()
        assert payload[:4] == magic
        assert payload == compress(expected_records(i).tobytes())
        assert c["filesize"] == len(payload)
    np.testing.assert_array_equal(st.get_array("0", "records"),
                                  np.concatenate([expected_records(i) for i in range(3)]))


def test_empty_chunks_have_no_file_and_no_row_fields(storage):
    st = sx.Context(storage=[storage], register=[GappyRecords], progress_bar=False,
                    config={"n_chunks": 4})
    st.make("0", "records")
    key = str(st.key_for("0", "records"))
    folder = os.path.join(storage.path, key)
    prefix = key.split("-", 1)[1]
    md = st.get_meta("0", "records")
    assert [set(c) for c in md["chunks"]] == [CHUNK_KEYS, EMPTY_CHUNK_KEYS] * 2
    assert md["chunks"][1] == {"chunk_i": 1, "start": 1, "end": 2, "n": 0, "nbytes": 0,
                               "run_id": "0", "subruns": None}
    assert listing(folder) == [f"{prefix}-000000", f"{prefix}-000002", f"{prefix}-metadata.json"]
    data = st.get_array("0", "records")
    np.testing.assert_array_equal(data, np.concatenate([expected_records(0), expected_records(2)]))


def test_file_saver_with_an_empty_chunk(tmp_path):
    key = sx.DataKey("0", "records", RECORDS_LINEAGE)
    folder = str(tmp_path / str(key))
    saver = FileSaver(folder, plain_md(key, sx.record_dtype()))
    empty = expected_records(0, n=0)
    saver.save(records_chunk(empty, 0, 5))
    saver.save(records_chunk(expected_records(7), 5, 8))
    saver.close()
    assert listing(tmp_path) == [RECORDS_KEY]
    assert listing(folder) == [f"{RECORDS_PREFIX}-000001", f"{RECORDS_PREFIX}-metadata.json"]
    md = json.loads(read_md_text(folder, RECORDS_PREFIX))
    assert md["chunks"][0] == {"chunk_i": 0, "start": 0, "end": 5, "n": 0, "nbytes": 0,
                               "run_id": "0", "subruns": None}
    assert set(md["chunks"][1]) == CHUNK_KEYS
    assert (md["start"], md["end"]) == (0, 8)


# --------------------------------------------------------------------------------------------
# Folders written by hand in strax's format
# --------------------------------------------------------------------------------------------
HAND_COMPRESSORS = {
    "blosc": strax_blosc,
    # strax reads blosc frames written with any settings
    "blosc-shuffled": lambda raw: blosc.compress(raw, typesize=1, clevel=5,
                                                 shuffle=blosc.SHUFFLE, cname="lz4"),
    "zstd": zstandard.ZstdCompressor(level=3).compress,
    "zstd-19": zstandard.ZstdCompressor(level=19).compress,
    "lz4": lz4.frame.compress,
    "bz2": lambda raw: bz2.compress(raw, 9),
}


def write_strax_folder(root, key, chunks, compressor, md_name=None, dtype=None,
                       empty_files=False):
    """Write a data folder as strax 2.2.3 does, without superstrax: chunks is a list of
    (start, end, array); empty arrays get no file (unless empty_files, as early strax did)."""
    dtype = np.dtype(dtype if dtype is not None else sx.record_dtype())
    prefix = f"{key.data_type}-{key.lineage_hash}"
    folder = os.path.join(root, str(key))
    os.makedirs(folder)
    compress = HAND_COMPRESSORS[compressor]
    infos = []
    for i, (start, end, data) in enumerate(chunks):
        info = {"chunk_i": i, "start": start, "end": end, "n": len(data),
                "nbytes": data.nbytes, "run_id": key.run_id, "subruns": None}
        if len(data) or empty_files:
            filename = f"{prefix}-{i:06d}"
            payload = compress(data.tobytes())
            with open(os.path.join(folder, filename), "wb") as f:
                f.write(payload)
            info.update(filename=filename, filesize=len(payload))
        if len(data):
            ends = data["time"] + data["length"] * data["dt"]
            info.update(first_time=int(data["time"][0]), last_time=int(data["time"][-1]),
                        first_endtime=int(ends[0]), last_endtime=int(ends[-1]))
        infos.append(info)
    md = {"chunk_target_size_mb": 200, "chunks": infos,
          "compressor": compressor.split("-")[0], "data_kind": key.data_type,
          "data_type": key.data_type, "dtype": repr(dtype.descr),
          "end": chunks[-1][1], "lineage": json.loads(json.dumps(key.lineage)),
          "lineage_hash": key.lineage_hash, "run_id": key.run_id, "start": chunks[0][0],
          "strax_version": "2.2.3", "writing_ended": 1700000001.5,
          "writing_started": 1700000000.25}
    with open(os.path.join(folder, md_name or f"{prefix}-metadata.json"), "w") as f:
        f.write(json.dumps(md, sort_keys=True, indent=4))
    return folder


@pytest.mark.parametrize("compressor", sorted(HAND_COMPRESSORS))
@pytest.mark.parametrize("md_name", [None, "metadata.json"])
def test_loads_folder_written_in_strax_format(st, storage, compressor, md_name):
    key = st.key_for("0", "records")
    assert str(key) == RECORDS_KEY
    parts = [(0, 100, expected_records(3, n=4)), (100, 200, expected_records(0, n=0)),
             (200, 300, expected_records(250, n=7))]
    write_strax_folder(storage.path, key, parts, compressor, md_name=md_name)
    assert st.is_stored("0", "records")
    data = st.get_array("0", "records")
    np.testing.assert_array_equal(data, np.concatenate([p[2] for p in parts]))
    assert st.get_meta("0", "records")["compressor"] == compressor.split("-")[0]
    # loaded data feeds processing like data superstrax made itself
    peaks = st.get_array("0", "peaks")
    np.testing.assert_array_equal(peaks["time"], data["time"])
    assert np.all(peaks["area"] == 42)


@pytest.mark.parametrize("compressor", ["blosc", "zstd"])
def test_loads_files_written_for_empty_chunks(st, storage, compressor):
    parts = [(0, 5, expected_records(1, n=2)), (5, 9, expected_records(0, n=0)),
             (9, 12, expected_records(10, n=1))]
    folder = write_strax_folder(storage.path, st.key_for("0", "records"), parts, compressor,
                                empty_files=True)
    assert len(listing(folder)) == 4
    np.testing.assert_array_equal(st.get_array("0", "records"),
                                  np.concatenate([p[2] for p in parts]))


def test_hand_written_folder_with_other_lineage_is_not_found(st, storage):
    other = sx.DataKey("0", "records", {"records": ("Records", "0.0.0",
                                                    {"crash": False, "dummy_tracked_option": 1})})
    write_strax_folder(storage.path, other, [(0, 1, expected_records(0))], "blosc")
    assert not st.is_stored("0", "records")
    st.set_config({"dummy_tracked_option": 1})
    assert st.is_stored("0", "records")


# --------------------------------------------------------------------------------------------
# Superrun keys
# --------------------------------------------------------------------------------------------
def test_superrun_folder_name(st, storage):
    make_runs(st, storage, ["0", "1", "2"], n_chunks=1, recs_per_chunk=2)
    st.define_run("_superrun_test", ["0", "1", "2"])
    st.set_context_config({"write_superruns": True})
    assert str(st.key_for("_superrun_test", "records")) == \
        "_superrun_test_xasmpdqviq-records-j3nd2fjbiq"
    assert str(st.key_for("_superrun_test", "records", combining=True)) == \
        "_superrun_test_m3bpl6gape-records-j3nd2fjbiq"
    st.make("_superrun_test", "records")
    folder = os.path.join(storage.path, "_superrun_test_xasmpdqviq-records-j3nd2fjbiq")
    assert listing(folder) == [f"{RECORDS_PREFIX}-000000", f"{RECORDS_PREFIX}-metadata.json"]
    md = json.loads(read_md_text(folder, RECORDS_PREFIX))
    assert md["run_id"] == "_superrun_test"
    (c,) = md["chunks"]
    assert c["run_id"] == "_superrun_test" and c["n"] == 6
    assert list(c["subruns"]) == ["0", "1", "2"]
    assert set(md) == TOP_LEVEL_KEYS


@pytest.mark.parametrize("spec", [{"0": [(0, 1)], "1": [(10, 11)]},
                                  {"1": [[10, 11]], "0": [[0, 1]]}])
def test_superrun_key_for_time_range_spec(spec):
    key = sx.DataKey("_sr_ranges", "peaks", PEAKS_LINEAGE, subruns=spec)
    assert str(key) == repr(key) == "_sr_ranges_rvucaojxjn-peaks-xia2iit6vb"
    assert key.lineage_hash == "xia2iit6vb"
    assert key.prefix == "peaks-xia2iit6vb"


def test_superrun_keys_edge_cases():
    assert str(sx.DataKey("_x", "peaks", {}, subruns={})) == "_x_ej54nbrwx5-peaks-s7ixbykvb3"
    spec = {"0": "all", "1": "all", "2": "all"}
    assert str(sx.DataKey("_superrun_test", "peak_classification",
                          {"lone_hits": ("PeakClassification", "0.0.0", {}), **PEAKS_LINEAGE},
                          subruns=spec)) == \
        "_superrun_test_xasmpdqviq-peak_classification-cs4m5gvv7q"
    with pytest.raises(sx.SuperstraxError, match="_sr"):
        sx.DataKey("_sr", "peaks", PEAKS_LINEAGE)
    assert str(sx.DataKey(123, "records", RECORDS_LINEAGE)) == "123-records-j3nd2fjbiq"


# --------------------------------------------------------------------------------------------
# Run documents
# --------------------------------------------------------------------------------------------
UTC = datetime.timezone.utc


def test_run_document_path_and_dates(storage):
    assert storage._run_meta_path("12") == os.path.join(storage.path, "12-metadata.json")
    storage.write_run_metadata("12", {
        "start": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901),             # naive: UTC
        "end": datetime.datetime(2024, 1, 2, 4, 4, 6, tzinfo=UTC),
        "nested": {"a": 1}, "tags": [{"name": "x"}]})
    with open(storage._run_meta_path("12")) as f:
        text = f.read()
    raw = json.loads(text)
    assert raw["start"] == {"$date": "2024-01-02T03:04:05.678Z"}
    assert raw["end"] == {"$date": "2024-01-02T04:04:06Z"}
    assert raw["name"] == "12"
    assert list(raw) == sorted(raw)
    doc = storage.run_metadata("12")
    assert doc["start"] == datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert doc["end"] == datetime.datetime(2024, 1, 2, 4, 4, 6, tzinfo=UTC)
    for k in ("start", "end"):
        assert doc[k].utcoffset() == datetime.timedelta(0)
    assert doc["nested.a"] == 1
    assert storage.run_metadata("12", projection=["start"]) == {"start": doc["start"]}


@pytest.mark.parametrize("date", [
    {"$date": 1704164645678},
    {"$date": {"$numberLong": "1704164645678"}},
    {"$date": "2024-01-02T03:04:05.678Z"},
    {"$date": "2024-01-02T04:04:05.678+01:00"},
])
def test_run_document_date_forms_are_read(storage, date):
    with open(storage._run_meta_path("3"), "w") as f:
        json.dump({"name": "3", "start": date}, f)
    start = storage.run_metadata("3")["start"]
    assert start == datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert start.utcoffset() == datetime.timedelta(0)


def test_failed_run_document_write_keeps_old_document(storage):
    storage.write_run_metadata("4", {"mode": "a"})
    with pytest.raises(TypeError):
        storage.write_run_metadata("4", {"mode": object()})
    assert storage.run_metadata("4")["mode"] == "a"
    with pytest.raises(TypeError):
        storage.write_run_metadata("5", {"mode": object()})
    assert listing(storage.path) == ["4-metadata.json"]


def test_superrun_document_keeps_start_order_on_disk(st, storage):
    # '9' is taken before '10', but '10' sorts first alphabetically
    make_runs(st, storage, ["9", "10"], n_chunks=1, recs_per_chunk=1)
    st.define_run("_sr", ["10", "9"])
    with open(storage._run_meta_path("_sr")) as f:
        raw = json.load(f)
    assert list(raw["sub_run_spec"]) == ["9", "10"]
    assert list(st.run_metadata("_sr")["sub_run_spec"]) == ["9", "10"]
    assert isinstance(raw["start"], dict) and raw["start"]["$date"].endswith("Z")


def test_scan_runs_deep_scan_and_broken_documents(tmp_path):
    storage = sx.DataDirectory(str(tmp_path / "d"), provide_run_metadata=True, deep_scan=True)
    st = sx.Context(storage=[storage], register=[Records, Peaks],
                    config={"bonus_area": 42, "n_chunks": 1}, progress_bar=False)
    make_runs(st, storage, ["1", "2"], n_chunks=1)
    st.make("7", "records")                       # data, no run document
    with open(storage._run_meta_path("3"), "w") as f:
        f.write("{broken")
    open(storage._run_meta_path("4"), "w").close()  # empty, as a failed strax write leaves
    st.define_run("_sr", ["1", "2"])
    st.set_context_config({"write_superruns": True})
    st.make("_sr", "records")
    names = [d["name"] for d in storage.scan_runs(("start",))]
    assert sorted(names) == ["1", "2", "7", "_sr"]
    assert sorted(st.select_runs()["name"]) == ["1", "2", "7", "_sr"]
    # a document that is there but broken is not reported as missing
    with pytest.raises(sx.DataCorrupted, match="3-metadata.json.*not valid JSON"):
        storage.run_metadata("3")
    # without deep_scan, runs with only data are not listed
    shallow = sx.DataDirectory(storage.path, provide_run_metadata=True)
    assert sorted(d["name"] for d in shallow.scan_runs()) == ["1", "2", "_sr"]


# --------------------------------------------------------------------------------------------
# Failure safety
# --------------------------------------------------------------------------------------------
def test_crash_leaves_nothing_that_loads(st, storage):
    st.set_config({"crash": True})
    with pytest.raises(SomeCrash):
        st.make("0", "records")
    assert not st.is_stored("0", "records")
    key = str(st.key_for("0", "records"))
    assert not os.path.exists(os.path.join(storage.path, key))
    for name in listing(storage.path):
        assert is_temp_name(name)
        md = json.loads(read_md_text(os.path.join(storage.path, name), key.split("-", 1)[1]))
        assert "exception" in md


def test_crash_after_some_chunks(storage):
    st = sx.Context(storage=[storage], register=[HalfwayCrash], progress_bar=False)
    key = str(st.key_for("0", "records"))
    with pytest.raises(SomeCrash, match="halfway"):
        st.make("0", "records")
    assert not st.is_stored("0", "records")
    assert storage.list_keys() == []
    assert not os.path.exists(os.path.join(storage.path, key))
    names = listing(storage.path)
    assert names == [] or (len(names) == 1 and names[0].startswith(key + "_temp-"))
    if names:
        md = json.loads(read_md_text(os.path.join(storage.path, names[0]), key.split("-", 1)[1]))
        assert "SomeCrash" in md["exception"]
    with pytest.raises(SomeCrash):        # is_stored stays False: the next call tries again
        st.get_array("0", "records")


def test_stopping_to_read_leaves_nothing_behind(st, storage):
    st.make("1", "records")
    for chunk in st.get_iter("0", "records"):
        break                                   # the reader stops after the first chunk
    del chunk
    assert listing(storage.path) == [str(st.key_for("1", "records"))]
    assert not st.is_stored("0", "records")
    assert len(st.get_array("0", "records")) == 100
    assert st.is_stored("0", "records")


def test_failed_rewrite_keeps_stored_data(st, storage):
    st.make("0", "records")
    before = st.get_array("0", "records").copy()
    key = st.key_for("0", "records")
    folder = os.path.join(storage.path, str(key))
    md_text = read_md_text(folder, RECORDS_PREFIX)

    saver = storage.saver(key, plain_md(key, sx.record_dtype()))
    saver.save(records_chunk(expected_records(100, n=3), 100, 101))
    try:
        raise RuntimeError("rewrite failed")
    except RuntimeError as e:
        saver.close(exception=e)
    assert st.is_stored("0", "records")
    np.testing.assert_array_equal(st.get_array("0", "records"), before)
    assert read_md_text(folder, RECORDS_PREFIX) == md_text
    assert storage.list_keys() == [RECORDS_KEY]

    # a saver does not overwrite complete data unless asked to (another writer may have
    # just made it, and readers may be reading it)
    saver = storage.saver(key, plain_md(key, sx.record_dtype()))
    assert saver.passive and saver.outcome == "already stored"
    saver.save(records_chunk(expected_records(100, n=3), 100, 101))
    saver.close()
    np.testing.assert_array_equal(st.get_array("0", "records"), before)

    # a rewrite that completes replaces the data, leaving nothing else behind
    saver = storage.saver(key, plain_md(key, sx.record_dtype()), replace=True)
    saver.save(records_chunk(expected_records(100, n=3), 100, 101))
    saver.close()
    np.testing.assert_array_equal(st.get_array("0", "records"), expected_records(100, n=3))
    assert listing(storage.path) == [RECORDS_KEY]


@pytest.mark.parametrize("frontend", ["directory", "memory"])
def test_a_write_of_many_chunks_writes_its_metadata_twice(st, storage, monkeypatch, frontend):
    # Rewriting the growing metadata after every chunk made a write of n chunks cost n^2
    # (bytes and JSON encoding): it is written when the saver opens and when it closes.
    from superstrax.storage import file_saver, memory
    sizes = []
    if frontend == "directory":
        real = file_saver.write_atomically

        def counting(path, text):
            text = text if isinstance(text, str) else "".join(text)   # pieces: joined
            sizes.append(len(text))
            real(path, text)
        monkeypatch.setattr(file_saver, "write_atomically", counting)
        target = storage
    else:
        real = memory.MemorySaver._write_metadata

        def counting(self):
            sizes.append(len(json.dumps(self.md, default=str)))
            real(self)
        monkeypatch.setattr(memory.MemorySaver, "_write_metadata", counting)
        target = memory.MemoryFrontend()
    key = st.key_for("0", "records")
    n = 200
    saver = target.saver(key, plain_md(key, sx.record_dtype()))
    for i in range(n):
        saver.save(records_chunk(expected_records(i), i, i + 1))
    saver.close()
    assert len(sizes) == 2, sizes
    assert sizes[1] > sizes[0] + 200 * n      # the complete metadata: n chunk entries
    md = target.get_metadata(key)
    assert len(md["chunks"]) == n and "writing_ended" in md
    data = sx.Context(storage=[target], register=[Records]).get_array("0", "records")
    np.testing.assert_array_equal(data, np.concatenate([expected_records(i) for i in range(n)]))


def test_killed_write_leaves_only_temp_folder(st, storage):
    key = st.key_for("0", "records")
    saver = storage.saver(key, plain_md(key, sx.record_dtype()))
    for i in range(2):
        saver.save(records_chunk(expected_records(i), i, i + 1))
    temp_name = os.path.basename(saver.temp)
    writer = saver.writer_id
    del saver                          # never closed: as if the process was killed
    assert listing(storage.path) == sorted([RECORDS_KEY + "-claim.json", temp_name])
    assert temp_name == f"{RECORDS_KEY}_temp-{writer}"
    claim = os.path.join(storage.path, RECORDS_KEY + "-claim.json")
    with open(claim) as f:
        assert json.load(f)["writer"] == writer
    # The claim names this (live) process; a killed process's claim names a dead pid.
    with open(claim, "w") as f:
        json.dump({"writer": writer, "pid": dead_pid(), "host": socket.gethostname(),
                   "time": 0}, f)
    temp = os.path.join(storage.path, temp_name)
    # The metadata is written when the saver opens and again when it closes (not per
    # chunk, which cost n^2 for n chunks): a killed write's shows no chunk, its files remain.
    md = json.loads(read_md_text(temp, RECORDS_PREFIX))
    assert "writing_ended" not in md and md["chunks"] == []
    assert sorted(f for f in os.listdir(temp) if not f.endswith(".json")) == \
        [f"{RECORDS_PREFIX}-00000{i}" for i in range(2)]
    assert not st.is_stored("0", "records")
    assert storage.list_keys() == []

    data = st.get_array("0", "records")
    np.testing.assert_array_equal(data, np.concatenate([expected_records(i) for i in range(10)]))
    assert st.is_stored("0", "records")
    assert listing(storage.path) == [RECORDS_KEY]


@pytest.mark.parametrize("change", ["exception", "no_writing_ended"])
def test_strax_failed_write_is_not_data_and_gets_replaced(st, storage, change):
    """strax renames a crashed write into place with `exception` in its metadata; a folder
    without `writing_ended` was never finished. Neither is data; the next make replaces it."""
    key = st.key_for("0", "records")
    folder = write_strax_folder(storage.path, key, [(0, 1, expected_records(0, n=3))], "blosc")
    path = os.path.join(folder, f"{RECORDS_PREFIX}-metadata.json")
    with open(path) as f:
        md = json.load(f)
    if change == "exception":
        md.update(exception="Traceback ...\nSomeCrash: CRASH!!!!", chunks=[])
        del md["start"], md["end"]
    else:
        del md["writing_ended"], md["end"]
    with open(path, "w") as f:
        f.write(json.dumps(md, sort_keys=True, indent=4))
    assert not st.is_stored("0", "records")
    assert len(st.get_array("0", "records")) == 100
    assert st.is_stored("0", "records")
    assert listing(storage.path) == [RECORDS_KEY]
    assert "exception" not in st.get_meta("0", "records")


def test_readonly_directory_never_writes(tmp_path, st, storage):
    missing = tmp_path / "nothing_here"
    ro = sx.DataDirectory(str(missing), readonly=True, provide_run_metadata=True)
    st_ro = sx.Context(storage=[ro], register=[Records, Peaks], config={"bonus_area": 42},
                       progress_bar=False)
    try:
        st_ro.make("0", "records")
    except sx.SuperstraxError:
        pass
    assert not missing.exists()
    assert not st_ro.is_stored("0", "records")
    assert len(st_ro.get_array("0", "peaks")) == 100
    assert not missing.exists()
    with pytest.raises(sx.SuperstraxError):
        ro.write_run_metadata("0", {"mode": "x"})
    assert not missing.exists()

    # readonly over existing data: loads it, stores nothing new
    st.make("0", "records")
    before = sorted(os.walk(storage.path))
    ro2 = sx.DataDirectory(storage.path, readonly=True)
    st_ro2 = sx.Context(storage=[ro2], register=[Records, Peaks], config={"bonus_area": 42},
                        progress_bar=False)
    assert st_ro2.is_stored("0", "records")
    st_ro2.make("0", "peaks")
    assert len(st_ro2.get_array("0", "peaks")) == 100
    assert sorted(os.walk(storage.path)) == before


@pytest.mark.parametrize("run_id, why", [("a-b", "'-'"), ("0-1", "'-'"),
                                         ("../up", "path separator"), ("a/b", "path separator")])
def test_unstorable_run_ids_are_rejected(tmp_path, st, storage, run_id, why):
    with pytest.raises(sx.SuperstraxError, match=why):
        st.make(run_id, "records")
    with pytest.raises(sx.SuperstraxError, match=why):
        storage.write_run_metadata(run_id, {})
    assert listing(storage.path) == []
    assert listing(tmp_path) == ["strax_data"]       # nothing written next to the directory


# --------------------------------------------------------------------------------------------
# Damaged data
# --------------------------------------------------------------------------------------------
def chunk_path(storage, i, key=RECORDS_KEY, prefix=RECORDS_PREFIX):
    return os.path.join(storage.path, key, f"{prefix}-{i:06d}")


def _truncate(path):
    with open(path, "rb") as f:
        payload = f.read()
    with open(path, "wb") as f:
        f.write(payload[:len(payload) // 2])


def _flip_header(path):
    with open(path, "r+b") as f:
        f.seek(4)                 # the blosc header's uncompressed size
        f.write(b"\xff\xff\x00\x00")


def _garbage(path):
    with open(path, "wb") as f:
        f.write(os.urandom(300))


def _append(path):
    with open(path, "ab") as f:
        f.write(b"\x00" * 7)


@pytest.mark.parametrize("damage", [_truncate, _flip_header, _garbage, _append, os.remove])
def test_damaged_chunk_file_raises_naming_it(st, storage, damage):
    st.make("0", "records")
    path = chunk_path(storage, 3)
    damage(path)
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000003") as info:
        st.get_array("0", "records")
    # Code written for strax catches a missing file as FileNotFoundError; only that is one.
    assert isinstance(info.value, FileNotFoundError) == (damage is os.remove)
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000003"):
        list(st.get_iter("0", "records"))
    if damage is _flip_header:
        # same size: only reading the file (its checksum) tells, so other chunks still load
        assert len(st.get_array("0", "records", time_range=(0, 3))) == 30
    else:
        # a missing file or one of another size is seen before any row is returned
        with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000003"):
            st.get_array("0", "records", time_range=(0, 3))


def test_damaged_zstd_file_raises_naming_it(storage):
    st = sx.Context(storage=[storage], register=[ZstdRecords], progress_bar=False,
                    config={"n_chunks": 2})
    st.make("0", "records")
    key = str(st.key_for("0", "records"))
    path = chunk_path(storage, 1, key=key, prefix=key.split("-", 1)[1])
    _truncate(path)
    with pytest.raises(sx.DataCorrupted, match=os.path.basename(path)):
        st.get_array("0", "records")


@pytest.mark.parametrize("n", [9, 11, 0])
def test_row_count_mismatch_raises_naming_file(st, storage, n):
    st.make("0", "records")
    folder = os.path.join(storage.path, RECORDS_KEY)
    md = json.loads(read_md_text(folder, RECORDS_PREFIX))
    md["chunks"][4]["n"] = n
    with open(os.path.join(folder, f"{RECORDS_PREFIX}-metadata.json"), "w") as f:
        f.write(json.dumps(md, sort_keys=True, indent=4))
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000004"):
        st.get_array("0", "records")


def test_unknown_compressor_in_metadata_raises_naming_the_file(st, storage):
    st.make("0", "records")
    folder = os.path.join(storage.path, RECORDS_KEY)
    md = json.loads(read_md_text(folder, RECORDS_PREFIX))
    md["compressor"] = "snappy"
    with open(os.path.join(folder, f"{RECORDS_PREFIX}-metadata.json"), "w") as f:
        f.write(json.dumps(md, sort_keys=True, indent=4))
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000000.*'snappy'"):
        st.get_array("0", "records")


def test_a_run_without_data_is_stored_empty_and_not_made_again(storage):
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False,
                    config={"n_chunks": 0})
    assert len(st.get_array("0", "records")) == 0
    assert st.is_stored("0", "records")
    md = st.get_meta("0", "records")
    assert md["chunks"] == [] and "writing_ended" in md and "exception" not in md
    st.set_config({"crash": False, "n_chunks": 3})    # untracked: would make data if asked
    assert len(st.get_array("0", "records")) == 0     # loaded, not made again


def test_unreadable_metadata_raises_naming_it(st, storage):
    st.make("0", "records")
    path = os.path.join(storage.path, RECORDS_KEY, f"{RECORDS_PREFIX}-metadata.json")
    with open(path, "w") as f:
        f.write('{"chunks": [')
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-metadata.json"):
        st.get_array("0", "records")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=hst.lists(hst.tuples(hst.integers(0, 10_000), hst.integers(0, 7)),
                       min_size=1, max_size=3))
def test_bit_flips_never_give_wrong_shapes(st, storage, flips):
    """The format has no checksums, so a flipped payload bit may decode to other values; but
    loading must either raise DataCorrupted naming the file or give the promised rows."""
    if not st.is_stored("0", "records"):
        st.set_config({"n_chunks": 2})
        st.make("0", "records")
    path = chunk_path(storage, 1)
    with open(path, "rb") as f:
        original = f.read()
    damaged = bytearray(original)
    for pos, bit in flips:
        damaged[pos % len(damaged)] ^= 1 << bit
    try:
        with open(path, "wb") as f:
            f.write(damaged)
        try:
            data = st.get_array("0", "records")
        except sx.DataCorrupted as e:
            assert f"{RECORDS_PREFIX}-000001" in str(e)
        else:
            assert len(data) == 20 and data.dtype == np.dtype(sx.record_dtype())
    finally:
        with open(path, "wb") as f:
            f.write(original)


# --------------------------------------------------------------------------------------------
# Partial loads
# --------------------------------------------------------------------------------------------
def test_time_range_reads_only_needed_chunk_files(st, storage):
    st.make("0", "records")
    for i in list(range(3)) + list(range(5, 10)):
        # same size, other bytes: only the checksum tells, and only if the file is read
        path = chunk_path(storage, i)
        size = os.path.getsize(path)
        with open(path, "wb") as f:
            f.write(b"\x55" * size)
    data = st.get_array("0", "records", time_range=(3, 5))
    np.testing.assert_array_equal(data, np.concatenate([expected_records(3), expected_records(4)]))
    assert len(st.get_df("0", "records", time_range=(4, 5), drop_columns=["data"])) == 10
    with pytest.raises(sx.DataCorrupted, match=f"{RECORDS_PREFIX}-000000"):
        st.get_array("0", "records")


# --------------------------------------------------------------------------------------------
# Option values in the stored lineage
# --------------------------------------------------------------------------------------------
def test_numpy_option_values_are_written_as_plain_json(st, storage):
    st.set_config({"dummy_tracked_option": np.int64(43), "n_chunks": 1})
    assert str(st.key_for("0", "records")) == "0-records-6xyrode2rq"     # hashes like 43
    st.make("0", "records")
    folder = os.path.join(storage.path, "0-records-6xyrode2rq")
    text = read_md_text(folder, "records-6xyrode2rq")
    assert '"dummy_tracked_option": 43' in text
    assert json.loads(text)["lineage"]["records"][2] == {"crash": False,
                                                         "dummy_tracked_option": 43}
    assert len(st.get_array("0", "records")) == 10


def test_unwritable_option_value_fails_cleanly(st, storage):
    st.set_config({"dummy_tracked_option": {3, 4}, "n_chunks": 1})
    with pytest.warns(UserWarning, match="dummy_tracked_option"):
        st.key_for("0", "records")              # a set hashes (as a list) ...
    with pytest.raises(sx.SuperstraxError, match="not plain JSON"):
        st.make("0", "records")                 # ... but cannot be stored as JSON
    assert listing(storage.path) == []
