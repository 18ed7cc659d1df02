"""strax.io's call shapes (COMPRESSORS table, load_file, save_file, dry_load_files) over the
chunk-file format code."""
import io as stdio
import os

import numpy as np
import pytest

import superstrax as strax
from superstrax.testutils import Records

COMPRESSORS = ["blosc", "zstd", "lz4", "bz2"]


def _records(n=50):
    r = np.zeros(n, strax.record_dtype(20))
    r["time"] = np.arange(n) * 100
    r["length"], r["dt"] = 20, 5
    r["data"] = np.arange(n * 20).reshape(n, 20) % 300
    return r


@pytest.mark.parametrize("name", COMPRESSORS)
def test_compressors_table_has_strax_shape(name):
    entry = strax.io.COMPRESSORS[name]
    data = _records()
    packed = entry["compress"](data)
    assert isinstance(packed, (bytes, bytearray)) and len(packed) < data.nbytes
    assert bytes(entry["decompress"](packed)) == data.tobytes()
    assert bytes(entry["_decompress"](stdio.BytesIO(packed))) == data.tobytes()
    # The same bytes superstrax writes into chunk files.
    assert bytes(packed) == strax.storage.io.compress(data, name)


@pytest.mark.parametrize("name", COMPRESSORS)
def test_save_and_load_by_path_and_by_handle(tmp_path, name):
    data = _records()
    path = str(tmp_path / "chunk")
    written = strax.save_file(path, data, compressor=name)
    assert written == os.path.getsize(path)
    assert os.listdir(tmp_path) == ["chunk"]          # nothing left under a temporary name
    np.testing.assert_array_equal(strax.load_file(path, compressor=name, dtype=data.dtype), data)
    np.testing.assert_array_equal(strax.io.load_file(tmp_path / "chunk", name, data.dtype), data)
    handle = stdio.BytesIO()
    assert strax.io.save_file(handle, data, name) == len(handle.getvalue())
    handle.seek(0)
    np.testing.assert_array_equal(strax.load_file(handle, name, data.dtype), data)


def test_save_file_default_compressor_is_zstd(tmp_path):
    path = str(tmp_path / "f")
    strax.save_file(path, _records(3))
    assert open(path, "rb").read(4) == bytes.fromhex("28b52ffd")


def test_bad_files_raise_data_corrupted_naming_them(tmp_path):
    path = tmp_path / "garbage"
    path.write_bytes(b"this is not compressed data at all")
    with pytest.raises(strax.DataCorrupted, match="garbage"):
        strax.load_file(str(path), "zstd", strax.record_dtype(20))
    with pytest.raises(strax.DataCorrupted):
        strax.load_file(stdio.BytesIO(b"nope"), "blosc", np.int64)
    with pytest.raises(strax.DataCorrupted, match="unknown compressor"):
        strax.load_file(stdio.BytesIO(b""), "snappy", np.int64)
    with pytest.raises(TypeError, match="numpy array"):
        strax.save_file(str(tmp_path / "x"), [1, 2, 3])


def test_dry_load_files_reads_a_stored_folder(tmp_path):
    st = strax.Context(storage=[strax.DataDirectory(str(tmp_path))], register=[Records])
    st.make("0", "records")
    folder = next(p for p in tmp_path.iterdir() if p.is_dir() and "-records-" in p.name)
    everything = st.get_array("0", "records")
    np.testing.assert_array_equal(strax.io.dry_load_files(str(folder), disable=True),
                                  everything)
    np.testing.assert_array_equal(strax.io.dry_load_files(str(folder), chunk_numbers=2,
                                                          disable=True),
                                  everything[everything["time"] == 2])
    some = strax.io.dry_load_files(str(folder), chunk_numbers=[0, 1], disable=True,
                                   time_range=(1, 2), keep_columns=["time", "channel"])
    assert some.dtype.names == ("time", "channel") and set(some["time"]) == {1}
    with pytest.raises(ValueError, match="do not exist"):
        strax.io.dry_load_files(str(folder), chunk_numbers=[99])
