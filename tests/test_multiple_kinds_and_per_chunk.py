"""Targets of several data kinds made in one pass (allow_multiple), inlined plugin chains, and
per-chunk processing (chunk_number= and merge_per_chunk_storage), on real data directories."""
import os

import numpy as np
import pytest

import superstrax as sx
from superstrax.testutils import PeakClassification, Peaks, Records, write_run_document

RUN = "0"


class CountingRecords(Records):
    """Records that count how often each chunk is computed (per test, reset by the fixture)."""
    computed = []

    def compute(self, chunk_i):
        CountingRecords.computed.append(chunk_i)
        return super().compute(chunk_i)


class ChunkLabels(sx.Plugin):
    """One row per record carrying the chunk number compute was given."""
    __version__ = "0.1.0"
    provides = "chunk_labels"
    depends_on = ("records",)
    dtype = list(sx.time_fields) + [(("chunk number compute got", "label"), np.int64)]

    def compute(self, records, chunk_i):
        out = np.zeros(len(records), self.dtype)
        out["time"] = records["time"]
        out["endtime"] = sx.endtime(records)
        out["label"] = chunk_i
        return out


class SmoothedRecords(sx.OverlapWindowPlugin):
    """Needs neighbouring chunks, so it cannot be made from selected chunks."""
    __version__ = "0.1.0"
    provides = "smoothed"
    depends_on = ("records",)
    dtype = list(sx.time_fields)

    def get_window_size(self):
        return 2

    def compute(self, records):
        out = np.zeros(len(records), self.dtype)
        out["time"] = records["time"]
        out["endtime"] = sx.endtime(records)
        return out


class ParallelClassification(PeakClassification):
    parallel = "process"


@pytest.fixture(autouse=True)
def _reset_counts():
    CountingRecords.computed = []


def context(path, *plugins, **options):
    plugins = list(plugins) or [CountingRecords, Peaks, PeakClassification]
    config = {"n_chunks": 4}
    if Peaks in plugins:
        config["bonus_area"] = 0
    return sx.Context(storage=sx.DataDirectory(str(path)), register=plugins, config=config,
                      **options)


def folders(path):
    return sorted(f for f in os.listdir(path) if not f.startswith("."))


# --- several kinds in one pass ---------------------------------------------------------------
def test_make_several_kinds_in_one_pass_stores_each_and_computes_the_source_once(tmp_path):
    st = context(tmp_path / "a")
    st.make(RUN, ["lone_hits", "records", "peaks"], allow_multiple=True)
    assert all(st.is_stored(RUN, t) for t in ("records", "peaks", "lone_hits"))
    assert sorted(CountingRecords.computed) == [0, 1, 2, 3]
    # the same rows as made one kind at a time elsewhere
    other = context(tmp_path / "b")
    for t in ("records", "peaks", "lone_hits"):
        np.testing.assert_array_equal(st.get_array(RUN, t), other.get_array(RUN, t))


def test_several_kinds_without_allow_multiple_are_refused_as_strax_does(tmp_path):
    st = context(tmp_path)
    for call in (st.make, st.get_array, st.get_df):
        with pytest.raises(RuntimeError, match="different data kinds"):
            call(RUN, ("peaks", "lone_hits"))
    # one array cannot hold several kinds, whatever the flag says
    for call in (st.get_array, st.get_df):
        with pytest.raises(sx.CannotMergeKinds, match="allow_multiple"):
            call(RUN, ("peaks", "lone_hits"), allow_multiple=True)
    # several runs in worker processes: refused once, before any worker starts
    with pytest.raises(sx.CannotMergeKinds, match="runs? 1, 2"):
        st.make(["1", "2"], ("records", "lone_hits"), max_workers=2)
    assert folders(tmp_path) == []
    assert issubclass(sx.CannotMergeKinds, sx.PluginError)


def test_get_iter_with_allow_multiple_yields_the_end_of_the_chain(tmp_path):
    st = context(tmp_path)
    # records is what peak_classification is made from: the rows yielded are
    # peak_classification's, and records is stored on the way
    chunks = list(st.get_iter(RUN, ["records", "peak_classification"], allow_multiple=True))
    assert {c.data_type for c in chunks} == {"peak_classification"}
    assert sum(len(c) for c in chunks) == 40
    assert st.is_stored(RUN, "records") and st.is_stored(RUN, "peak_classification")
    assert sorted(CountingRecords.computed) == [0, 1, 2, 3]


def test_a_stored_target_beside_others_is_not_read_again(tmp_path):
    st = context(tmp_path)
    st.make(RUN, "records")
    before = list(CountingRecords.computed)
    st.make(RUN, ("records", "lone_hits"), allow_multiple=True)
    assert CountingRecords.computed == before
    assert st.is_stored(RUN, "lone_hits")


def test_get_components_of_several_kinds_and_inlining_a_chain(tmp_path):
    st = context(tmp_path, CountingRecords, Peaks, ParallelClassification)
    targets = ["records", "peaks", "peak_classification", "lone_hits"]
    components = st.get_components(RUN, targets)
    assert set(components.plugins) == set(targets)
    assert components.savers["peaks"][0].dirname == os.path.join(
        str(tmp_path), str(st.key_for(RUN, "peaks")))
    inlined = sx.ParallelSourcePlugin.inline_plugins(components, "records", st.log)
    chain = inlined.plugins["lone_hits"]
    assert isinstance(chain, sx.ParallelSourcePlugin)
    assert inlined.plugins["peaks"] is chain and components.plugins["peaks"] is not chain
    out = chain.do_compute(chunk_i=2)
    assert set(out) == set(targets)
    assert list(out["peaks"].data["time"]) == [2] * 10
    assert (out["lone_hits"].start, out["lone_hits"].end) == (2, 3)
    np.testing.assert_array_equal(out["peak_classification"].data,
                                  st.get_array(RUN, "peak_classification")[20:30])


# --- per-chunk processing --------------------------------------------------------------------
def test_per_chunk_keys_are_strax_2_2_3s(tmp_path):
    st = context(tmp_path, Records, Peaks)
    # computed with strax 2.2.3 for the same plugins and options
    assert str(st.key_for(RUN, "peaks")) == "0-peaks-v63qonu2jo"
    assert str(st.key_for(RUN, "peaks", chunk_number={"records": [0]})) == "0-peaks-k4sio6afsd"
    assert str(st.key_for(RUN, "peaks", chunk_number={"records": [0, 1]})) == \
        "0-peaks-m25fi3fg7u"
    # a data type's own chunk numbers do not change its key
    assert str(st.key_for(RUN, "records", chunk_number={"records": [3]})) == \
        str(st.key_for(RUN, "records"))
    lineage = st.key_for(RUN, "peaks", chunk_number={"records": [1]}).lineage
    assert lineage["peaks"][2]["chunk_number"] == {"records": [1]}
    assert "chunk_number" not in lineage["records"][2]


def test_peaks_made_per_chunk_then_merged_equal_peaks_made_whole(tmp_path):
    st = context(tmp_path / "a", Records, Peaks)
    st.make(RUN, "records")
    for group in ([0, 1], [2], [3]):
        st.make(RUN, "peaks", chunk_number={"records": group})
        part = st.get_array(RUN, "peaks", chunk_number={"records": group})
        assert sorted(set(part["time"])) == group
        md = st.get_meta(RUN, "peaks", chunk_number={"records": group})
        assert (md["chunks"][0]["start"], md["chunks"][-1]["end"]) == (group[0], group[-1] + 1)
    assert not st.is_stored(RUN, "peaks")

    # the first two groups together: the key of chunks 0-2
    st.merge_per_chunk_storage(RUN, "peaks", "records", chunk_number_group=[[2], [0, 1]])
    assert st.is_stored(RUN, "peaks", chunk_number={"records": [0, 1, 2]})
    assert not st.is_stored(RUN, "peaks")
    # every group: the ordinary key, the same rows as made in one go
    st.merge_per_chunk_storage(RUN, "peaks", "records",
                               chunk_number_group=[[0, 1], [2], [3]])
    assert st.is_stored(RUN, "peaks")
    whole = context(tmp_path / "b", Records, Peaks).get_array(RUN, "peaks")
    np.testing.assert_array_equal(st.get_array(RUN, "peaks"), whole)
    with pytest.raises(ValueError, match="stored already"):
        st.merge_per_chunk_storage(RUN, "peaks", "records")


def test_merge_refuses_missing_repeated_or_gapped_groups(tmp_path):
    st = context(tmp_path, Records, Peaks)
    st.make(RUN, "records")
    st.make(RUN, "peaks", chunk_number={"records": [0]})
    with pytest.raises(sx.DataNotAvailable, match=r"chunks \[1\]"):
        st.merge_per_chunk_storage(RUN, "peaks", "records")
    with pytest.raises(ValueError, match="twice"):
        st.merge_per_chunk_storage(RUN, "peaks", "records", chunk_number_group=[[0], [0]])
    with pytest.raises(ValueError, match="gaps"):
        st.merge_per_chunk_storage(RUN, "peaks", "records", chunk_number_group=[[0], [2]])
    assert not st.is_stored(RUN, "peaks")


def test_compute_gets_the_selected_chunk_numbers(tmp_path):
    st = context(tmp_path, Records, ChunkLabels)
    st.make(RUN, "records")
    # a stored data type's own chunk numbers select its chunks
    assert set(st.get_array(RUN, "records", chunk_number={"records": [1]})["time"]) == {1}
    labels = st.get_array(RUN, "chunk_labels", chunk_number={"records": [2, 3]})
    assert list(labels["label"]) == [2] * 10 + [3] * 10
    assert list(labels["time"]) == list(labels["label"])
    plugin = st.get_single_plugin(RUN, "chunk_labels", chunk_number={"records": [2, 3]})
    assert plugin.first_chunk == 2
    assert plugin.lineage["chunk_labels"][2]["chunk_number"] == {"records": [2, 3]}
    assert st.get_single_plugin(RUN, "chunk_labels").first_chunk == 0


def test_per_chunk_refusals(tmp_path):
    st = context(tmp_path, Records, Peaks, SmoothedRecords)
    with pytest.raises(sx.DataNotAvailable, match="(?i)make it first"):
        # selected chunks of data that is not stored: nothing is made from all of it instead
        st.make(RUN, "peaks", chunk_number={"records": [0]})
    assert folders(tmp_path) == []
    st.make(RUN, "records")
    with pytest.raises(ValueError, match="consecutive"):
        st.make(RUN, "peaks", chunk_number={"records": [0, 2]})
    with pytest.raises(ValueError, match="not \\[7\\]"):
        st.make(RUN, "peaks", chunk_number={"records": [7]})
    with pytest.raises(NotImplementedError, match="across chunk boundaries"):
        st.make(RUN, "smoothed", chunk_number={"records": [0]})
    assert issubclass(sx.PerChunkNotSupported, ValueError)
    assert folders(tmp_path) == [str(st.key_for(RUN, "records"))]


def test_superruns_have_no_chunks_of_their_own_to_select(tmp_path):
    st = sx.Context(storage=sx.DataDirectory(str(tmp_path), provide_run_metadata=True),
                    register=[Records, Peaks], config={"n_chunks": 2, "bonus_area": 0})
    write_run_document(st.storage[0], "0", 0, 2)
    write_run_document(st.storage[0], "1", 10_000_000, 10_000_002)
    st.define_run("_both", ["0", "1"])
    with pytest.raises(ValueError, match="chunk_number.*superrun _both"):
        st.get_array("_both", "peaks", chunk_number={"records": [0]})
    with pytest.raises(ValueError, match="chunk_number.*superrun _both"):
        st.key_for("_both", "peaks", chunk_number={"records": [0]})
