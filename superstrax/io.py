"""``strax.io``: strax's names and call shapes over superstrax's chunk-file format code.

The byte formats, compressor settings and the checks on reading live in ``storage.io``;
this module only gives them strax's signatures: ``COMPRESSORS[name]['compress']`` /
``['decompress']``, ``load_file(f, compressor, dtype)`` and
``save_file(f, data, compressor='zstd')`` (`f` a path or an open binary file), and
``dry_load_files`` for reading one data folder without a context.
"""
import json
import os

import numpy as np

from .dtypes import dtype_from_text
from .errors import DataCorrupted
from .storage import io as _chunk_io
from .storage.files import dirname_to_prefix, metadata_path

__all__ = ["COMPRESSORS", "DECOMPRESS_BUFFER_SIZE", "load_file", "save_file", "dry_load_files"]

# How much of a file strax's streaming decoders read at a time; kept as a name because
# strax exports it. Files here are read whole: chunks are sized to fit in memory anyway.
DECOMPRESS_BUFFER_SIZE = 64 * 1024 * 1024


def _entry(name):
    return {
        # Arrays and bytes-like objects are both accepted, as strax's compressors accept them.
        "compress": lambda data: _chunk_io.compress(data, name),
        "decompress": lambda raw: _chunk_io.decompress(raw, name),
        "_decompress": lambda f: _chunk_io.decompress(f.read(), name),
    }


COMPRESSORS = {name: _entry(name) for name in _chunk_io.COMPRESSORS}


def load_file(f, compressor, dtype):
    """The array stored in file `f` (a path or an open binary file). A file that cannot be
    decoded as `dtype` with `compressor` raises DataCorrupted naming it."""
    dtype = np.dtype(dtype)
    if isinstance(f, (str, os.PathLike)):
        return _chunk_io.load_file(os.fspath(f), dtype, compressor)
    if compressor not in _chunk_io.COMPRESSORS:
        raise DataCorrupted(f"Cannot read {f}: unknown compressor {compressor!r}; known "
                            f"compressors are {', '.join(_chunk_io.COMPRESSORS)}")
    raw = f.read()
    try:
        return _chunk_io.load_array(raw, dtype, compressor)
    except DataCorrupted as e:
        raise DataCorrupted(f"Cannot load {compressor} data from {f} ({len(raw)} bytes): "
                            f"{e}") from e


def save_file(f, data, compressor="zstd"):
    """Write `data` (a numpy array) compressed to `f` (a path or an open binary file) and
    return the number of bytes written. A path is written under a temporary name and renamed
    when complete, so readers never see a partial file."""
    if not isinstance(data, np.ndarray):
        raise TypeError(f"save_file needs a numpy array, got {type(data).__name__}")
    if isinstance(f, (str, os.PathLike)):
        return _chunk_io.save_file(os.fspath(f), data, compressor)
    payload = _chunk_io.compress(data, compressor)
    f.write(payload)
    return len(payload)


def dry_load_files(dirname, chunk_numbers=None, disable=False, **kwargs):
    """All rows (or those of the chunks `chunk_numbers`, an int or a sequence) of the data
    folder `dirname`, read with its metadata only; `kwargs` go to apply_selection."""
    from .processing.arrays import apply_selection
    from .utils import tqdm
    md_path = metadata_path(dirname)
    with open(md_path) as fh:
        md = json.load(fh)
    dtype = dtype_from_text(md["dtype"])
    chunks = md["chunks"]
    if chunk_numbers is None:
        chunk_numbers = list(range(len(chunks)))
    elif isinstance(chunk_numbers, (int, np.integer)):
        chunk_numbers = [int(chunk_numbers)]
    elif isinstance(chunk_numbers, (list, tuple)):
        chunk_numbers = list(chunk_numbers)
    else:
        raise ValueError(f"chunk_numbers must be an int, list or tuple, not "
                         f"{type(chunk_numbers).__name__}")
    missing = [c for c in chunk_numbers if not 0 <= c < len(chunks)]
    if missing:
        raise ValueError(f"Chunks {missing} do not exist in {dirname}: it has {len(chunks)} "
                         f"chunks (numbers 0 to {len(chunks) - 1})")
    prefix = dirname_to_prefix(dirname)
    pieces = []
    for c in tqdm(chunk_numbers, disable=disable):
        info = chunks[c]
        if info["n"]:
            name = info.get("filename") or f"{prefix}-{info['chunk_i']:06d}"
            data = _chunk_io.load_file(os.path.join(dirname, name), dtype, md["compressor"],
                                       n=info["n"])
        else:
            data = np.zeros(0, dtype)
        pieces.append(apply_selection(data, **kwargs))
    if not pieces:
        return np.zeros(0, dtype)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
