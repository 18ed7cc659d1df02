"""Fuzzy search: the context options fuzzy_for / fuzzy_for_options let stored data made with
other plugin options stand in for the exact key, and a fuzzy context never stores anything."""
import os

import numpy as np
import pytest

import superstrax as sx


def _folders(path):
    return sorted(n for n in os.listdir(path) if not n.startswith("."))


@pytest.fixture
def stored_peaks(st, storage):
    """peaks of run 3 stored with base_area=5; the context then asks for base_area=7."""
    st.set_config({"base_area": 5})
    st.make("3", "peaks")
    old = st.get_array("3", "peaks")
    st.set_config({"base_area": 7})
    return st, storage, old


def test_exact_key_misses_after_an_option_changed(stored_peaks):
    st, _, _ = stored_peaks
    assert not st.is_stored("3", "peaks")
    assert st.list_available("peaks", runs=["3"]) == []


@pytest.mark.parametrize("fuzzy", [{"fuzzy_for": ("peaks",)},
                                   {"fuzzy_for": "peaks"},
                                   {"fuzzy_for_options": ("base_area",)}])
def test_fuzzy_context_loads_the_other_lineage(stored_peaks, fuzzy):
    st, storage, old = stored_peaks
    fuzzy_st = st.new_context(**fuzzy)
    assert fuzzy_st.is_stored("3", "peaks")
    assert fuzzy_st.list_available("peaks", runs=["3"]) == ["3"]
    got = fuzzy_st.get_array("3", "peaks")
    np.testing.assert_array_equal(got, old)
    assert set(got["area"]) == {5 + 42}     # the stored option's value, not 7
    md = fuzzy_st.get_meta("3", "peaks")
    assert md["lineage_hash"] != fuzzy_st.key_for("3", "peaks").lineage_hash


def test_fuzzy_for_another_data_type_does_not_match(stored_peaks):
    st, _, _ = stored_peaks
    assert not st.new_context(fuzzy_for=("records",)).is_stored("3", "peaks")
    assert not st.new_context(fuzzy_for_options=("n_chunks",)).is_stored("3", "peaks")


def test_fuzzy_context_stores_nothing(st, storage):
    before = _folders(storage.path) if os.path.isdir(storage.path) else []
    fuzzy_st = st.new_context(fuzzy_for=("records",))
    peaks = fuzzy_st.get_array("4", "peaks")
    assert len(peaks) > 0
    after = _folders(storage.path) if os.path.isdir(storage.path) else []
    assert after == before
    assert not st.is_stored("4", "records") and not st.is_stored("4", "peaks")


def test_a_fuzzy_context_refuses_to_copy_what_it_finds_under_its_own_key(stored_peaks, tmp_path):
    st, storage, _ = stored_peaks
    fuzzy_st = st.new_context(fuzzy_for=("peaks",))
    other = sx.DataDirectory(str(tmp_path / "copies"))
    fuzzy_st.storage.append(other)
    assert fuzzy_st.is_stored("3", "peaks")          # found, made with base_area=5
    with pytest.raises(sx.InvalidArgument, match="fuzzy_for"):
        fuzzy_st.copy_to_frontend("3", "peaks", target_frontend_id=1)
    with pytest.raises(sx.InvalidArgument, match="fuzzy_for"):
        fuzzy_st.merge_per_chunk_storage("3", "peaks", "records")
    assert not os.path.isdir(other.path) or _folders(other.path) == []
    # the context the message points to copies what its own key names
    exact = fuzzy_st.new_context(fuzzy_for=(), fuzzy_for_options=())
    exact.make("3", "peaks")
    exact.copy_to_frontend("3", "peaks", target_frontend_id=1)
    assert str(exact.key_for("3", "peaks")) in _folders(other.path)


def test_fuzzy_options_are_effective_context_options():
    names = {s.name: s for s in sx.options.CONTEXT_SETTINGS}
    assert names["fuzzy_for"].effect and names["fuzzy_for_options"].effect
