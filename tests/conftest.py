import pytest

import superstrax as sx
from superstrax.testutils import PeakClassification, Peaks, Records
from superstrax.testutils import write_run_document as write_run_doc  # noqa: F401 (tests import it)


@pytest.fixture
def storage(tmp_path):
    return sx.DataDirectory(str(tmp_path / "strax_data"), provide_run_metadata=True)


@pytest.fixture
def st(storage):
    return sx.Context(storage=[storage], register=[Records, Peaks, PeakClassification],
                      config={"bonus_area": 42}, progress_bar=False)


def make_runs(st, storage, run_ids, gap_ns=10_000_000, n_chunks=10, recs_per_chunk=10,
              first_offset=0, **doc_fields):
    """Make records for consecutive runs (each starting gap_ns after the previous one ends)
    and write run documents matching the data; returns {run_id: (start, end)}."""
    bounds = {}
    offset = first_offset
    for run_id in run_ids:
        st.set_config({"secret_time_offset": offset, "n_chunks": n_chunks,
                       "recs_per_chunk": recs_per_chunk})
        st.make(run_id, "records")
        rr = st.get_array(run_id, "records")
        start, end = int(rr["time"].min()), int(sx.endtime(rr).max())
        write_run_doc(storage, run_id, start, end, **doc_fields)
        bounds[run_id] = (start, end)
        offset = end + gap_ns
    return bounds
