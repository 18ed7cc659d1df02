"""Superruns at scale: what making one writes, and memory that does not grow with subruns."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import make_runs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _data_folders(storage):
    return {f for f in os.listdir(storage.path) if os.path.isdir(os.path.join(storage.path, f))}


def _types(folders):
    return sorted(f.split("-")[1] for f in folders)


@pytest.fixture
def sr(st, storage):
    make_runs(st, storage, ["0", "1", "2"])
    for r in "012":
        st.make(r, "peaks")
    st.define_run("_sr", ["0", "1", "2"])
    st.set_context_config({"write_superruns": True})
    return "_sr"


def test_making_a_superrun_writes_only_the_target_and_what_save_names(st, storage, sr):
    before = _data_folders(storage)
    # peak_classification (allow_superrun) is computed over the superrun's chained peaks,
    # which come from records: neither is stored again for the superrun.
    st.make(sr, "peak_classification")
    new = _data_folders(storage) - before
    assert _types(new) == ["lone_hits", "peak_classification"]     # the plugin's two outputs
    assert all(f.startswith("_sr_") for f in new)
    assert st.is_stored(sr, "peak_classification") and not st.is_stored(sr, "peaks")

    st.define_run("_sr2", ["0", "1"])
    before = _data_folders(storage)
    st.make("_sr2", "peak_classification", save=("peaks",))
    assert _types(_data_folders(storage) - before) == ["lone_hits", "peak_classification",
                                                       "peaks"]

    before = _data_folders(storage)
    st.make(sr, "records")                        # a plain chained target is stored when asked
    assert _types(_data_folders(storage) - before) == ["records"]
    assert len(st.get_array(sr, "records")) == len(st.get_array(["0", "1", "2"], "records"))
