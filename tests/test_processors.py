"""strax's processor names: Context(processors=...), get_iter(processor=...) and running
st.get_components(...) with strax.PROCESSORS[name]. All names run superstrax's one executor."""
import numpy as np
import pytest

import superstrax as sx
from superstrax.testutils import Peaks, Records


def make_context(tmp_path, **kwargs):
    return sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records, Peaks],
                      config={"bonus_area": 2, "n_chunks": 3}, progress_bar=False, **kwargs)


def test_components_run_by_a_named_processor_give_and_store_the_data(tmp_path):
    st = make_context(tmp_path)
    components = st.get_components("7", "peaks")
    chunks = list(sx.PROCESSORS["threaded_mailbox"](components).iter())
    assert [c.data_type for c in chunks] == ["peaks"] * 3
    assert np.all(np.concatenate([c.data for c in chunks])["area"] == 2)
    # the savers of the plan were closed when the stream ended: both are stored now
    assert st.is_stored("7", "peaks") and st.is_stored("7", "records")
    again = st.get_components("7", "peaks")
    assert set(again.loaders) == {"peaks"} and again.plugins == {}
    loaded = list(sx.SingleThreadProcessor(again).iter())
    assert np.array_equal(np.concatenate([c.data for c in loaded]),
                          np.concatenate([c.data for c in chunks]))


def test_processor_names_of_a_context_are_checked_per_call(tmp_path):
    st = make_context(tmp_path, processors=["single_thread"])
    assert list(st.processors) == ["single_thread"]
    assert len(st.get_array("1", "records", processor="single_thread")) == 30
    with pytest.raises(sx.InvalidArgument, match="threaded_mailbox"):
        st.get_array("1", "records", processor="threaded_mailbox")
    # a derived context keeps the choice unless it makes its own
    assert list(st.new_context().processors) == ["single_thread"]
    assert list(st.new_context(processors="default").processors) == ["default"]
    assert set(make_context(tmp_path).processors) == {"default", "single_thread",
                                                      "threaded_mailbox"}
    with pytest.raises(sx.InvalidArgument, match="Unknown processor"):
        make_context(tmp_path, processors=["many_threads"])


def test_a_processor_needs_components_from_a_context():
    with pytest.raises(sx.InvalidArgument, match="get_components"):
        sx.SingleThreadProcessor(object())
