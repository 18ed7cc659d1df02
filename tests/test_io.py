import bz2
import os

import blosc
import lz4.frame
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superstrax.dtypes import peak_dtype, record_dtype
from superstrax.errors import DataCorrupted
from superstrax.storage import io

ALL = ["blosc", "zstd", "lz4", "bz2"]

# The exact calls strax's files amount to (facts sheet section 5).
REFERENCE = {
    "blosc": lambda b: blosc.compress(b, typesize=8, clevel=9, shuffle=blosc.NOSHUFFLE,
                                      cname="blosclz"),
    "zstd": lambda b: zstandard.ZstdCompressor(level=3).compress(b),
    "lz4": lambda b: lz4.frame.compress(b),
    "bz2": lambda b: bz2.compress(b, 9),
}

MAGIC = {
    "blosc": bytes.fromhex("02010008"),
    "zstd": bytes.fromhex("28b52ffd"),
    "lz4": bytes.fromhex("04224d18"),
    "bz2": b"BZh9",
}


def make_records(n=100, seed=0):
    rng = np.random.default_rng(seed)
    r = np.zeros(n, record_dtype())
    r["time"] = np.arange(n) * 1000
    r["length"] = 110
    r["dt"] = 10
    r["channel"] = rng.integers(0, 250, n)
    r["area"] = rng.integers(0, 10_000, n)
    r["baseline"] = 16000.5
    r["data"] = rng.integers(-5, 200, (n, 110))
    return r


def test_compressor_names():
    assert set(io.COMPRESSORS) == set(ALL)


@pytest.mark.parametrize("compressor", ALL)
def test_file_round_trip(tmp_path, compressor):
    r = make_records()
    path = str(tmp_path / "records-abc-000000")
    size = io.save_file(path, r, compressor)
    assert size == os.path.getsize(path)
    assert not os.path.exists(path + "_temp")
    back = io.load_file(path, r.dtype, compressor, n=len(r))
    assert back.dtype == r.dtype
    np.testing.assert_array_equal(back, r)
    assert back.flags.writeable


@pytest.mark.parametrize("compressor", ALL)
def test_magic_bytes(tmp_path, compressor):
    path = str(tmp_path / "chunk")
    io.save_file(path, make_records(), compressor)
    with open(path, "rb") as f:
        assert f.read(4) == MAGIC[compressor]


@pytest.mark.parametrize("compressor", ALL)
def test_bytes_equal_reference_calls(tmp_path, compressor):
    r = make_records(257)
    expected = REFERENCE[compressor](r.tobytes())
    assert io.compress(r, compressor) == expected
    assert io.compress(r.tobytes(), compressor) == expected
    path = str(tmp_path / "chunk")
    io.save_file(path, r, compressor)
    with open(path, "rb") as f:
        assert f.read() == expected


@pytest.mark.parametrize("compressor", ALL)
def test_non_contiguous_input_is_compressed_in_c_order(compressor):
    r = make_records(50)
    every_other = r[::2]
    assert not every_other.flags.c_contiguous
    assert io.compress(every_other, compressor) == REFERENCE[compressor](every_other.tobytes())


@pytest.mark.parametrize("compressor", ALL)
def test_reads_reference_written_bytes(compressor):
    r = make_records(30)
    raw = REFERENCE[compressor](r.tobytes())
    assert bytes(io.decompress(raw, compressor)) == r.tobytes()
    np.testing.assert_array_equal(io.load_array(raw, r.dtype, compressor), r)


def test_reads_foreign_blosc_and_zstd_settings():
    r = make_records(40)
    b = r.tobytes()
    shuffled = blosc.compress(b, typesize=4, clevel=5, shuffle=blosc.SHUFFLE, cname="lz4")
    np.testing.assert_array_equal(io.load_array(shuffled, r.dtype, "blosc"), r)
    z19 = zstandard.ZstdCompressor(level=19).compress(b)
    np.testing.assert_array_equal(io.load_array(z19, r.dtype, "zstd"), r)


def test_zstd_frame_without_content_size():
    r = make_records(40)
    raw = zstandard.ZstdCompressor(level=3, write_content_size=False).compress(r.tobytes())
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(raw)  # why a streaming decoder is needed
    np.testing.assert_array_equal(io.load_array(raw, r.dtype, "zstd"), r)


@pytest.mark.parametrize("compressor", ["zstd", "lz4", "bz2"])  # blosc1 has no multi-frame form
def test_concatenated_frames(compressor):
    r = make_records(20)
    raw = REFERENCE[compressor](r[:7].tobytes()) + REFERENCE[compressor](r[7:].tobytes())
    np.testing.assert_array_equal(io.load_array(raw, r.dtype, compressor), r)


@pytest.mark.parametrize("compressor", ALL)
def test_out_parameter(tmp_path, compressor):
    r = make_records(64)
    path = str(tmp_path / "chunk")
    io.save_file(path, r, compressor)
    out = np.empty(len(r), r.dtype)
    got = io.load_file(path, r.dtype, compressor, n=len(r), out=out)
    assert got is out
    np.testing.assert_array_equal(out, r)


def test_out_slice_of_bigger_buffer(tmp_path):
    # The loader's use: decode several chunks straight into one preallocated array.
    r = make_records(90)
    paths = []
    for i, part in enumerate((r[:30], r[30:60], r[60:])):
        paths.append(str(tmp_path / f"chunk-{i}"))
        io.save_file(paths[-1], part, "blosc")
    big = np.zeros(len(r), r.dtype)
    for i, p in enumerate(paths):
        io.load_file(p, r.dtype, "blosc", n=30, out=big[30 * i:30 * (i + 1)])
    np.testing.assert_array_equal(big, r)


def test_decompress_ptr_path_equals_plain_decode():
    r = make_records(77)
    raw = io.compress(r, "blosc")
    via_bytes = np.frombuffer(blosc.decompress(raw), r.dtype)
    via_ptr = io.load_array(raw, r.dtype, "blosc")
    out = np.empty(len(r), r.dtype)
    into = io.load_array(raw, r.dtype, "blosc", out=out)
    assert into is out
    np.testing.assert_array_equal(via_ptr, via_bytes)
    np.testing.assert_array_equal(out, via_bytes)


@pytest.mark.parametrize("compressor", ALL)
def test_out_non_contiguous(compressor):
    r = make_records(10)
    raw = io.compress(r, compressor)
    holder = np.zeros(20, r.dtype)
    got = io.load_array(raw, r.dtype, compressor, out=holder[::2])
    np.testing.assert_array_equal(holder[::2], r)
    np.testing.assert_array_equal(got, r)
    assert (holder[1::2]["time"] == 0).all()


def test_out_misuse_is_a_value_error():
    r = make_records(5)
    raw = io.compress(r, "blosc")
    with pytest.raises(ValueError, match="dtype"):
        io.load_array(raw, r.dtype, "blosc", out=np.empty(5, peak_dtype()))
    ro = np.empty(5, r.dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        io.load_array(raw, r.dtype, "blosc", out=ro)


@pytest.mark.parametrize("compressor", ALL)
def test_out_of_wrong_size_is_corruption(compressor):
    r = make_records(5)
    raw = io.compress(r, compressor)
    with pytest.raises(DataCorrupted, match="5 rows but 6"):
        io.load_array(raw, r.dtype, compressor, out=np.empty(6, r.dtype))


@pytest.mark.parametrize("compressor", ALL)
def test_empty_array(tmp_path, compressor):
    e = np.zeros(0, record_dtype())
    path = str(tmp_path / "empty")
    io.save_file(path, e, compressor)
    back = io.load_file(path, e.dtype, compressor, n=0)
    assert back.dtype == e.dtype and len(back) == 0
    assert len(io.load_array(io.compress(e, compressor), e.dtype, compressor)) == 0


@pytest.mark.parametrize("compressor", ALL)
def test_truncated_file_is_corrupted(tmp_path, compressor):
    path = str(tmp_path / "records-abc-000003")
    io.save_file(path, make_records(), compressor)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[:len(raw) // 2])
    with pytest.raises(DataCorrupted) as info:
        io.load_file(path, record_dtype(), compressor)
    msg = str(info.value)
    assert path in msg
    assert "truncated" in msg
    assert "make the data again" in msg


@pytest.mark.parametrize("compressor", ALL)
def test_garbage_file_is_corrupted(tmp_path, compressor):
    path = str(tmp_path / "records-abc-000004")
    with open(path, "wb") as f:
        f.write(os.urandom(3000))
    with pytest.raises(DataCorrupted, match="records-abc-000004"):
        io.load_file(path, record_dtype(), compressor)


@pytest.mark.parametrize("compressor", ALL)
def test_empty_file_is_corrupted(tmp_path, compressor):
    path = str(tmp_path / "zero-bytes")
    open(path, "wb").close()
    with pytest.raises(DataCorrupted, match="zero-bytes"):
        io.load_file(path, record_dtype(), compressor)


@pytest.mark.parametrize("compressor", ALL)
def test_trailing_garbage_is_corrupted(tmp_path, compressor):
    path = str(tmp_path / "chunk")
    io.save_file(path, make_records(10), compressor)
    with open(path, "ab") as f:
        f.write(b"\x00junk-after-the-frame")
    with pytest.raises(DataCorrupted, match="chunk"):
        io.load_file(path, record_dtype(), compressor)


def test_corrupted_blosc_body_never_crashes():
    r = make_records(50)
    good = io.compress(r, "blosc")
    rng = np.random.default_rng(3)
    for _ in range(300):
        bad = bytearray(good)
        for i in rng.integers(0, len(bad), 3):
            bad[i] = rng.integers(0, 256)
        try:
            io.load_array(bytes(bad), r.dtype, "blosc")
        except DataCorrupted:
            pass


@pytest.mark.parametrize("compressor", ALL)
def test_row_count_mismatch(tmp_path, compressor):
    path = str(tmp_path / "records-abc-000001")
    io.save_file(path, make_records(10), compressor)
    with pytest.raises(DataCorrupted) as info:
        io.load_file(path, record_dtype(), compressor, n=11)
    assert path in str(info.value) and "10 rows" in str(info.value)


@pytest.mark.parametrize("compressor", ALL)
def test_size_not_multiple_of_itemsize(tmp_path, compressor):
    path = str(tmp_path / "chunk")
    io.save_file(path, np.zeros(10, np.int8), compressor)
    with pytest.raises(DataCorrupted, match="not a multiple") as info:
        io.load_file(path, record_dtype(), compressor)
    assert path in str(info.value)


def test_missing_file(tmp_path):
    path = str(tmp_path / "records-abc-000009")
    with pytest.raises(DataCorrupted, match="records-abc-000009.*missing") as info:
        io.load_file(path, record_dtype(), "blosc")
    assert isinstance(info.value, FileNotFoundError)    # as strax's reading raises


def test_unknown_compressor(tmp_path):
    r = make_records(3)
    for call in (lambda: io.compress(r, "gzip"),
                 lambda: io.decompress(b"", "gzip"),
                 lambda: io.load_array(b"", r.dtype, "gzip"),
                 lambda: io.save_file(str(tmp_path / "x"), r, "gzip")):
        with pytest.raises(ValueError, match="gzip.*blosc.*zstd.*lz4.*bz2"):
            call()
    assert not os.path.exists(tmp_path / "x")
    # a stored file whose metadata names an unknown compressor is damaged data
    with pytest.raises(DataCorrupted, match="x: .*gzip.*blosc.*zstd.*lz4.*bz2"):
        io.load_file(str(tmp_path / "x"), r.dtype, "gzip")


def test_blosc_size_limit_is_explained(monkeypatch):
    monkeypatch.setattr(blosc, "MAX_BUFFERSIZE", 1000)
    with pytest.raises(ValueError, match="2570 bytes"):
        io.compress(make_records(10), "blosc")


def test_save_file_replaces_existing(tmp_path):
    path = str(tmp_path / "chunk")
    io.save_file(path, make_records(5), "zstd")
    io.save_file(path, make_records(8, seed=1), "zstd")
    np.testing.assert_array_equal(io.load_file(path, record_dtype(), "zstd"), make_records(8, seed=1))


def test_save_file_failure_leaves_no_temp(tmp_path):
    path = str(tmp_path / "missing_dir" / "chunk")
    with pytest.raises(OSError):
        io.save_file(path, make_records(5), "blosc")
    assert not os.path.exists(path + "_temp")


def test_object_arrays_refused():
    with pytest.raises(ValueError, match="object"):
        io.compress(np.array([{"a": 1}], dtype=object), "zstd")


# Field types that can be stored: every fixed-size numeric kind, some as sub-arrays.
_FIELD_TYPES = st.sampled_from(["<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8",
                                "<f4", "<f8", "|b1", "<c8", "|S3"])
_SHAPES = st.sampled_from([(), (), (2,), (3, 2)])


@st.composite
def structured_dtypes(draw):
    n = draw(st.integers(1, 6))
    names = [f"f{i}" for i in range(n)]
    fields = []
    for name in names:
        t, shape = draw(_FIELD_TYPES), draw(_SHAPES)
        if draw(st.booleans()):
            name = (f"Title of {name} [unit] ", name)
        fields.append((name, t, shape) if shape else (name, t))
    return np.dtype(fields)


@st.composite
def structured_arrays(draw):
    dt = draw(structured_dtypes())
    n = draw(st.integers(0, 60))
    # Random bytes cover every bit pattern (NaNs included) without per-type strategies.
    raw = draw(st.binary(min_size=n * dt.itemsize, max_size=n * dt.itemsize))
    return np.frombuffer(raw, dtype=dt).copy()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arr=structured_arrays(), compressor=st.sampled_from(ALL))
def test_property_round_trip(arr, compressor):
    raw = io.compress(arr, compressor)
    assert raw == REFERENCE[compressor](arr.tobytes())
    back = io.load_array(raw, arr.dtype, compressor)
    assert back.dtype == arr.dtype
    assert back.tobytes() == arr.tobytes()
    out = np.empty(len(arr), arr.dtype)
    assert io.load_array(raw, arr.dtype, compressor, out=out).tobytes() == arr.tobytes()
