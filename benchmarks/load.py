"""Loading 1e6 peaks from a DataDirectory, against the floor (read + decompress the same files).

    python benchmarks/load.py [--n 1000000]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from _common import best_of, floor_read  # noqa: E402

import superstrax as sx  # noqa: E402
from superstrax.testutils import Peaks, Records  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="number of peaks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    per_chunk = 10_000
    n_chunks = max(1, args.n // per_chunk)
    with tempfile.TemporaryDirectory() as tmp:
        st = sx.Context(storage=[sx.DataDirectory(tmp)], register=[Records, Peaks],
                        config={"bonus_area": 42, "n_chunks": n_chunks,
                                "recs_per_chunk": per_chunk}, progress_bar=False)
        st.make("0", "peaks")
        folder = os.path.join(tmp, str(st.key_for("0", "peaks")))
        md = st.get_meta("0", "peaks")
        n = sum(c["n"] for c in md["chunks"])
        size = sum(c["nbytes"] for c in md["chunks"])

        t_floor, floor = best_of(lambda: floor_read([folder]), args.repeat)
        t_load, peaks = best_of(lambda: st.get_array("0", "peaks"), args.repeat)
        assert len(peaks) == len(floor) == n
        print(f"peaks: {n} rows, {len(md['chunks'])} chunks, {size / 1e9:.2f} GB uncompressed")
        print(f"{'':>22} {'seconds':>9} {'rows/s':>12} {'ratio':>7}")
        print(f"{'floor (read+decomp)':>22} {t_floor:9.3f} {n / t_floor:12.3g} {1:7.2f}")
        print(f"{'get_array':>22} {t_load:9.3f} {n / t_load:12.3g} {t_load / t_floor:7.2f}")


if __name__ == "__main__":
    main()
