"""The README's main job: a few runs and a superrun in a local data directory."""
import os
import tempfile

import numpy as np


# Runs start 10 ms apart: run documents hold millisecond dates, so closer runs would overlap.
GAP_NS = 10_000_000


def run_demo(directory=None, n_runs=3, out=print):
    from .. import _version, context, dtypes
    from ..storage import files
    from ..testutils import Peaks, Records, write_run_document

    cleanup = None
    if directory is None:
        cleanup = tempfile.TemporaryDirectory(prefix="superstrax-demo-")
        directory = cleanup.name
    directory = os.path.abspath(directory)
    storage = files.DataDirectory(directory, provide_run_metadata=True)
    st = context.Context(storage=[storage], register=[Records, Peaks],
                    config={"bonus_area": 42}, progress_bar=False)
    out(f"superstrax {_version.__version__} demo in {directory}")
    offset = 0
    run_ids = [str(i) for i in range(n_runs)]
    for run_id in run_ids:
        st.set_config({"secret_time_offset": offset})
        records = st.get_array(run_id, "records")
        end = int(dtypes.endtime(records).max())
        write_run_document(storage, run_id, int(records["time"].min()), end, mode="demo")
        out(f"  run {run_id}: {len(records)} records in [{records['time'].min()}, {end}) ns, "
            f"stored as {st.key_for(run_id, 'records')}")
        offset = end + GAP_NS
    name = "_demo_superrun"
    st.define_run(name, run_ids)
    doc = st.run_metadata(name)
    out(f"  superrun {name}: subruns {list(doc['sub_run_spec'])}, "
        f"livetime {doc['livetime']:.0f} ns")
    peaks = st.get_array(name, "peaks")
    out(f"  loaded {len(peaks)} peaks of {name} on the fly (subrun peaks made and stored)")
    st.set_context_config({"write_superruns": True})
    st.make(name, "peaks")
    md = st.get_meta(name, "peaks")
    out(f"  stored {name} peaks rechunked: {len(md['chunks'])} chunk(s), "
        f"{sum(c['n'] for c in md['chunks'])} rows, key {st.key_for(name, 'peaks')}")
    again = st.get_array(name, "peaks")
    assert np.array_equal(again["time"], peaks["time"])
    out("  loading the stored superrun gives the same peaks")
    out(st.select_runs().to_string(index=False))
    if cleanup is not None:
        cleanup.cleanup()
    return 0
