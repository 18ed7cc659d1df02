"""Helpers shared by the benchmarks: timing, and the floor (raw read + decompress)."""
import ast
import functools
import json
import os
import time

import numpy as np


def best_of(fn, repeat=3):
    """The fastest of `repeat` runs, in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


@functools.lru_cache(maxsize=None)
def _dtype(text):
    # Parsed once per distinct dtype: a thousand subrun folders share one, and parsing a
    # ~100-field dtype costs milliseconds, which would make the floor per-folder bound.
    return np.dtype(ast.literal_eval(text))


def folder_files(folder):
    """(dtype, compressor, [(path, n)]) of one stored data folder, from its metadata."""
    md_name = next(f for f in os.listdir(folder) if f.endswith("-metadata.json"))
    with open(os.path.join(folder, md_name)) as f:
        md = json.load(f)
    dtype = _dtype(md["dtype"])
    files = [(os.path.join(folder, c["filename"]), c["n"]) for c in md["chunks"] if c["n"]]
    return dtype, md["compressor"], files


def floor_read(folders, threads=1):
    """Read and decompress every chunk file of the folders into one preallocated array.

    This is the least any loader must do: no metadata logic, no chunk objects, no checks.
    With threads > 1 files are decoded concurrently (blosc releases the GIL).
    """
    import blosc
    plans = [folder_files(f) for f in folders]
    dtype = plans[0][0]
    total = sum(n for _, _, files in plans for _, n in files)
    out = np.empty(total, dtype=dtype)
    jobs, offset = [], 0
    for _, compressor, files in plans:
        assert compressor == "blosc"
        for path, n in files:
            jobs.append((path, out[offset:offset + n]))
            offset += n

    def read(job):
        path, target = job
        with open(path, "rb") as f:
            raw = f.read()
        blosc.decompress_ptr(raw, target.ctypes.data)

    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(read, jobs))
    else:
        for job in jobs:
            read(job)
    return out
