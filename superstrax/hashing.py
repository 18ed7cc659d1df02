"""Lineage hashing, bit-for-bit identical to strax so keys on disk are interchangeable."""
import base64
import hashlib
import json
from collections.abc import Mapping

import numpy as np


class NumpyJSONEncoder(json.JSONEncoder):
    """Encodes iterables and numpy numbers the way strax's encoder does."""

    def default(self, o):
        try:
            iterable = iter(o)
        except TypeError:
            pass
        else:
            return [self.default(x) for x in iterable]
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        return json.JSONEncoder.default(self, o)


try:
    # CPython's own SHA-1: with numba's libraries loaded, OpenSSL's (hashlib.sha1) takes
    # ~60 us on its first call in a process, against ~5 us for this one. Same digest.
    from _sha1 import sha1 as _sha1
except ImportError:          # (a Python built without it)
    _sha1 = hashlib.sha1

_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


def _is_hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def hashablize(obj):
    """Turn obj into nested tuples; dicts become key-sorted (key, value) pairs."""
    kind = type(obj)
    if kind in _SCALARS:
        # The common leaves (a superrun's spec has one per subrun) skip the generic checks.
        return obj
    if kind is tuple or kind is list:
        # (before the Mapping check: isinstance against an ABC costs ~100 us the first time
        # per type in a process, a tenth of a small superrun's first load)
        if kind is tuple and _is_hashable(obj):
            return obj
        return tuple(hashablize(x) for x in obj)
    if kind is not dict and isinstance(obj, Mapping):
        # (a plain dict skips the ABC check, whose first call in a process is slow)
        obj = dict(obj)
    if _is_hashable(obj):
        return obj
    if isinstance(obj, dict):
        items = sorted(obj.items())
        if all(map(_SCALAR_TYPES.__contains__, map(type, obj.values()))):
            # Plain leaves: the (key, value) pairs as they are, at C speed (a superrun's
            # sub_run_spec is {run_id: 'all'} for up to tens of thousands of runs).
            return tuple(items)
        return tuple((k, hashablize(v)) for k, v in items)
    if isinstance(obj, np.ndarray):
        return tuple(obj.tolist())
    if hasattr(obj, "__iter__"):
        return tuple(hashablize(x) for x in obj)
    raise TypeError(f"Cannot hash object of type {type(obj).__name__}: {obj!r}")


def deterministic_hash(thing, length=10):
    """Short lowercase base32 sha1 of thing's canonical JSON (strax's lineage hash)."""
    text = json.dumps(hashablize(thing), cls=NumpyJSONEncoder)
    digest = _sha1(text.encode("ascii")).digest()
    return b32_prefix(digest, length)


_B32_LOWER = "abcdefghijklmnopqrstuvwxyz234567"


def b32_prefix(data: bytes, length: int) -> str:
    """base64.b32encode(data)[:length].decode().lower(), for length <= 8 * len(data) / 5
    (no padding), computed from the bits directly: b32encode's first call in a process
    builds a 1,024-entry table, a tenth of a small first load."""
    if length * 5 > len(data) * 8:
        return base64.b32encode(data)[:length].decode("ascii").lower()
    n_bytes = (length * 5 + 7) // 8
    bits = int.from_bytes(data[:n_bytes], "big") >> (n_bytes * 8 - length * 5)
    return "".join(_B32_LOWER[(bits >> (5 * (length - 1 - i))) & 31] for i in range(length))
