"""Loading 1e6 peaks from a DataDirectory, against the floor (read + decompress the same files).

    python benchmarks/load.py [--n 1000000]

The peaks (3055 bytes each, strax's peak dtype) are written by a source plugin with 2 us
between peaks, so saving rechunks them into ~200 MB chunks as strax would. The floor reads
and decompresses every chunk file into one preallocated array: the least any loader must do.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import best_of, floor_read, folder_files  # noqa: E402

import superstrax as sx  # noqa: E402


@sx.takes_config(
    sx.Option("n_peaks", type=int, default=1_000_000, track=False),
    sx.Option("per_chunk", type=int, default=20_000, track=False),
)
class BenchPeaks(sx.Plugin):
    """Peaks with a few realistic (noisy, hence less compressible) fields."""
    provides = "peaks"
    depends_on = ()
    dtype = sx.peak_dtype()
    spacing_ns = 2_000

    def is_ready(self, chunk_i):
        return chunk_i * self.config["per_chunk"] < self.config["n_peaks"]

    def source_finished(self):
        return True

    def compute(self, chunk_i):
        first = chunk_i * self.config["per_chunk"]
        n = min(self.config["per_chunk"], self.config["n_peaks"] - first)
        rng = np.random.default_rng(chunk_i)
        p = np.zeros(n, self.dtype_for("peaks"))
        p["time"] = (first + np.arange(n)) * self.spacing_ns
        p["length"], p["dt"] = 10, 10
        p["area"] = rng.exponential(100, n)
        p["area_per_channel"][:, :10] = rng.exponential(10, (n, 10))
        p["data"][:, :10] = rng.normal(0, 1, (n, 10))
        start = first * self.spacing_ns
        return self.chunk(start=start, end=start + n * self.spacing_ns, data=p)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="number of peaks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = sx.Context(storage=[sx.DataDirectory(tmp)], register=[BenchPeaks],
                        config={"n_peaks": args.n}, progress_bar=False)
        st.make("0", "peaks")
        folder = os.path.join(tmp, str(st.key_for("0", "peaks")))
        md = st.get_meta("0", "peaks")
        n = sum(c["n"] for c in md["chunks"])
        size = sum(c["nbytes"] for c in md["chunks"])
        disk = sum(c.get("filesize", 0) for c in md["chunks"])

        t_floor, floor = best_of(lambda: floor_read([folder]), args.repeat)
        del floor
        t_floor2, floor = best_of(lambda: floor_read([folder], threads=2), args.repeat)
        del floor
        t_load, peaks = best_of(lambda: st.get_array("0", "peaks"), args.repeat)
        assert len(peaks) == n
        del peaks
        t_iter, _ = best_of(lambda: sum(len(c) for c in st.get_iter("0", "peaks")), args.repeat)
        t_hash, t_unchecked = checksum_cost(st, folder, args.repeat)
        print(f"peaks: {n} rows in {len(md['chunks'])} chunks, {size / 1e9:.2f} GB in memory, "
              f"{disk / 1e9:.2f} GB on disk")
        print(f"{'':>22} {'seconds':>9} {'rows/s':>12} {'ratio':>7}")
        print(f"{'floor (read+decomp)':>22} {t_floor:9.3f} {n / t_floor:12.3g} {1:7.2f}")
        print(f"{'floor, 2 threads':>22} {t_floor2:9.3f} {n / t_floor2:12.3g} "
              f"{t_floor2 / t_floor:7.2f}")
        print(f"{'get_array':>22} {t_load:9.3f} {n / t_load:12.3g} {t_load / t_floor:7.2f}")
        print(f"get_array / 2-thread floor: {t_load / t_floor2:.2f}")
        print(f"{'get_iter (chunks)':>22} {t_iter:9.3f} {n / t_iter:12.3g} {t_iter / t_floor:7.2f}")
        print(f"{'get_array, no checksum':>22} {t_unchecked:9.3f} {n / t_unchecked:12.3g} "
              f"{t_unchecked / t_floor:7.2f}")
        print(f"checksums: hashing every file takes {t_hash:.3f} s = {t_hash / t_load:.1%} of "
              f"get_array (target < 10%); get_array with / without checking: "
              f"{t_load / t_unchecked:.3f}")


def checksum_cost(st, folder, repeat):
    """(seconds to hash every chunk file's bytes in memory, get_array seconds with the
    checksum check switched off)."""
    from superstrax.storage import checksums, io
    _, _, files = folder_files(folder)
    payloads = []
    for path, _ in files:
        with open(path, "rb") as f:
            payloads.append(f.read())
    t_hash, _ = best_of(lambda: [checksums.checksum_of(p) for p in payloads], repeat)
    del payloads
    real = io.check_checksum
    io.check_checksum = lambda raw, expected, path: None
    try:
        t_unchecked, peaks = best_of(lambda: st.get_array("0", "peaks"), repeat)
        del peaks
    finally:
        io.check_checksum = real
    return t_hash, t_unchecked


if __name__ == "__main__":
    main()
