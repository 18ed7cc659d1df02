"""Content checksums of chunk files.

Each chunk entry superstrax writes carries 'checksum': 'xxh3_64:<16 hex digits>' of the file's
bytes as stored (compressed). strax ignores unknown chunk fields, so data stays readable by
strax, and data written by strax (no checksum) loads as before, only unchecked.

xxh3_64 hashes at ~12 GB/s here (zlib.crc32: ~2 GB/s), so checking every file on load costs a
few percent of decompressing it (benchmarks/load.py shows the share).
"""
import xxhash

from ..errors import DataCorrupted

CHECKSUM_FIELD = "checksum"
ALGORITHM = "xxh3_64"

__all__ = ["CHECKSUM_FIELD", "ALGORITHM", "checksum_of", "check_checksum", "known_algorithm"]


def checksum_of(payload) -> str:
    """The checksum string stored in a chunk entry for these file bytes."""
    return f"{ALGORITHM}:{xxhash.xxh3_64_hexdigest(payload)}"


def known_algorithm(expected) -> bool:
    return isinstance(expected, str) and expected.partition(":")[0] == ALGORITHM


def check_checksum(raw, expected, path) -> None:
    """Raise DataCorrupted if `raw` (the bytes of file `path`) does not match `expected`.

    A missing checksum (strax-written data) passes; a checksum of an algorithm this version
    does not know is not checked (a later version may add one)."""
    if expected is None or not known_algorithm(expected):
        return
    actual = checksum_of(raw)
    if actual != expected:
        raise DataCorrupted(
            f"Data file {path}: its content checksum is {actual}, but the metadata recorded "
            f"{expected} when it was written: the file was changed or damaged since. Delete "
            f"the folder and make the data again (or load it from an intact copy)")
