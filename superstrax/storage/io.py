"""Compressed chunk files: the byte format strax reads and writes.

Each chunk file is one compressed copy of the array's raw C-order buffer, nothing
else: no header of our own, so files are interchangeable with strax. The compressor
settings below are fixed because byte-identical output is what lets the two
implementations be checked against each other.
"""
import bz2
import os
import struct
from collections import namedtuple

import blosc
import lz4.frame
import numpy as np
import zstandard

from ..errors import DataCorrupted, DataFileMissing
from .checksums import check_checksum, checksum_of

__all__ = ["COMPRESSORS", "Compressor", "compress", "decompress", "load_array",
           "save_file", "write_chunk_file", "load_file"]

# Processing runs in the caller's thread, but stored chunks are read ahead in two threads
# (storage.common's prefetch): blosc's own threads would only compete with those readers, and
# releasing the GIL lets decompression overlap with the caller's work.
blosc.set_releasegil(True)
blosc.set_nthreads(1)

Compressor = namedtuple("Compressor", ["compress", "decompress"])

_BLOSC_HEADER = struct.Struct("<BBBBIII")  # version, versionlz, flags, typesize, nbytes, blocksize, cbytes


def _blosc_compress(buf):
    nbytes = memoryview(buf).nbytes
    if nbytes >= blosc.MAX_BUFFERSIZE:
        raise ValueError(f"Cannot blosc-compress {nbytes} bytes: blosc handles at most "
                         f"{blosc.MAX_BUFFERSIZE - 1} bytes per buffer. Use smaller chunks "
                         f"(a lower chunk_target_size_mb) or another compressor (zstd, lz4, bz2).")
    return blosc.compress(buf, typesize=8, clevel=9, shuffle=blosc.NOSHUFFLE, cname="blosclz")


def _blosc_nbytes(raw):
    """Decompressed size from a blosc1 header, after checking the header fits the input."""
    if len(raw) < _BLOSC_HEADER.size:
        raise DataCorrupted(f"only {len(raw)} bytes, shorter than a blosc header "
                            f"({_BLOSC_HEADER.size} bytes); the file is truncated")
    _, _, _, _, nbytes, _, cbytes = _BLOSC_HEADER.unpack_from(raw)
    if cbytes > len(raw):
        raise DataCorrupted(f"the blosc header announces {cbytes} compressed bytes but only "
                            f"{len(raw)} are present; the file is truncated")
    if cbytes < len(raw):
        raise DataCorrupted(f"the blosc header announces {cbytes} compressed bytes but "
                            f"{len(raw)} are present; the file has trailing garbage")
    return nbytes


def _blosc_decompress(raw):
    _blosc_nbytes(raw)
    try:
        return blosc.decompress(raw)
    except Exception as e:
        raise DataCorrupted(f"cannot blosc-decompress: {e}") from e


def _streaming(make_decompressor, name):
    """Decompress with a streaming decoder: unlike one-shot calls it accepts frames that
    do not record their content size, and `eof` tells a complete stream from a cut one."""

    def decompress(raw):
        pieces = []
        rest = raw
        # Several concatenated frames are still one valid stream of these formats.
        while True:
            decoder = make_decompressor()
            try:
                pieces.append(decoder.decompress(rest))
            except Exception as e:
                raise DataCorrupted(f"cannot {name}-decompress: {e}") from e
            if not decoder.eof:
                raise DataCorrupted(f"the {name} stream stops before its end marker; "
                                    f"the file is truncated")
            rest = decoder.unused_data
            if not rest:
                break
        # A bytearray, so arrays built on it are writable.
        return bytearray().join(pieces)

    return decompress


COMPRESSORS = {
    "blosc": Compressor(_blosc_compress, _blosc_decompress),
    "zstd": Compressor(zstandard.ZstdCompressor(level=3).compress,
                       _streaming(lambda: zstandard.ZstdDecompressor().decompressobj(), "zstd")),
    "lz4": Compressor(lz4.frame.compress, _streaming(lz4.frame.LZ4FrameDecompressor, "lz4")),
    "bz2": Compressor(lambda buf: bz2.compress(buf, 9), _streaming(bz2.BZ2Decompressor, "bz2")),
}


def _check_compressor(compressor):
    if compressor not in COMPRESSORS:
        raise ValueError(f"Unknown compressor {compressor!r}; known compressors are "
                         f"{', '.join(COMPRESSORS)}")


def _raw_buffer(data):
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise ValueError(f"Cannot store an array with Python objects (dtype {data.dtype}): "
                             f"only plain numeric fields can be written to disk")
        data = np.ascontiguousarray(data).reshape(-1)
        # A flat uint8 view hands every library a simple byte buffer without copying.
        return data.view(np.uint8)
    return data


def compress(data, compressor):
    """Compressed bytes of a numpy array's raw C-order buffer (or of bytes-like data)."""
    _check_compressor(compressor)
    return COMPRESSORS[compressor].compress(_raw_buffer(data))


def decompress(raw, compressor):
    """The decompressed bytes of `raw`; raises DataCorrupted when it cannot be decoded."""
    _check_compressor(compressor)
    return COMPRESSORS[compressor].decompress(raw)


def _check_out(out, dtype):
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise ValueError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def _rows(nbytes, dtype):
    if nbytes % dtype.itemsize:
        raise DataCorrupted(f"the decompressed size {nbytes} B is not a multiple of the "
                            f"row size {dtype.itemsize} B of the dtype")
    return nbytes // dtype.itemsize


def _check_size(out, nbytes, dtype):
    if out.nbytes != nbytes:
        raise DataCorrupted(f"holds {_rows(nbytes, dtype)} rows but {out.size} were expected")


def load_array(raw, dtype, compressor, out=None):
    """Decode compressed bytes into an array of `dtype`.

    With `out` (a writable array of `dtype` with as many rows as the data holds) the data
    is decoded into it and `out` is returned; for blosc this skips every intermediate copy.
    Raises DataCorrupted if the bytes cannot be decoded or do not fit the dtype/`out`.
    """
    _check_compressor(compressor)
    dtype = np.dtype(dtype)
    if dtype.itemsize == 0:
        raise ValueError(f"Cannot load rows of dtype {dtype}: its items have no size")
    if out is not None:
        _check_out(out, dtype)

    if compressor == "blosc":
        nbytes = _blosc_nbytes(raw)
        n = _rows(nbytes, dtype)
        if out is not None:
            _check_size(out, nbytes, dtype)
        # Decoding straight into a fresh array also makes the result writable, which
        # np.frombuffer over blosc's bytes would not be.
        target = out if out is not None and out.flags.c_contiguous else np.empty(n, dtype)
        if nbytes:
            try:
                written = blosc.decompress_ptr(raw, target.ctypes.data)
            except Exception as e:
                raise DataCorrupted(f"cannot blosc-decompress: {e}") from e
            if written != nbytes:
                raise DataCorrupted(f"blosc decoded {written} bytes, its header says {nbytes}")
        if out is not None and target is not out:
            out[...] = target
            return out
        return target

    buf = decompress(raw, compressor)
    n = _rows(len(buf), dtype)
    if out is not None:
        _check_size(out, len(buf), dtype)
        if n:
            out.reshape(-1)[...] = np.frombuffer(buf, dtype=dtype)
        return out
    if n == 0:
        return np.zeros(0, dtype)
    return np.frombuffer(buf, dtype=dtype)


def save_file(path, data, compressor):
    """Write `data` compressed to `path`; returns the compressed size in bytes.

    The bytes go to `path + "_temp"` first and are renamed into place, so a crash never
    leaves a partial file under the final name (readers would take it for a whole chunk).
    """
    return write_chunk_file(path, data, compressor)[0]


def write_chunk_file(path, data, compressor):
    """Like save_file; returns (compressed size in bytes, content checksum of the file)."""
    payload = compress(data, compressor)
    temp = path + "_temp"
    try:
        with open(temp, "wb") as f:
            f.write(payload)
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    return len(payload), checksum_of(payload)


def _remake_hint(path):
    folder = os.path.dirname(os.path.abspath(path))
    return (f"The stored data is damaged: delete {folder} and make the data again "
            f"(or load it from another storage that holds an intact copy).")


def load_file(path, dtype, compressor, n=None, out=None, checksum=None):
    """Read and decode one chunk file. `n` is the row count the metadata promises, `checksum`
    the content checksum it recorded (see checksums.py; None: not checked).

    Any way the file fails to match (missing, undecodable, truncated, wrong size, row count
    or checksum) raises DataCorrupted naming the file.
    """
    if compressor not in COMPRESSORS:
        raise DataCorrupted(f"Data file {path}: its metadata names compressor {compressor!r}, "
                            f"which is not one of {', '.join(COMPRESSORS)}. "
                            f"{_remake_hint(path)}")
    dtype = np.dtype(dtype)
    if out is not None and n is not None and out.size != n:
        raise ValueError(f"out has {out.size} rows but n={n} rows were requested")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError as e:
        raise DataFileMissing(f"Data file {path} is missing although the metadata lists it. "
                            f"{_remake_hint(path)}") from e
    check_checksum(raw, checksum, path)
    try:
        arr = load_array(raw, dtype, compressor, out=out)
    except DataCorrupted as e:
        raise DataCorrupted(f"Cannot load {compressor} data file {path} ({len(raw)} bytes): "
                            f"{e}. {_remake_hint(path)}") from e
    if n is not None and len(arr) != n:
        raise DataCorrupted(f"Data file {path} holds {len(arr)} rows but its metadata says "
                            f"{n}. {_remake_hint(path)}")
    return arr
