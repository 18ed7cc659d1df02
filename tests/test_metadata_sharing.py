"""A context keeps the metadata of every folder it read; many folders of one data type must
not each cost a copy of what they have in common (the lineage above all), and what users get
from get_meta must not be that kept copy."""
import json
import os
import shutil
import tracemalloc

import numpy as np
import pytest

import superstrax as sx
from superstrax.testutils import Records


class LongLineageRecords(Records):
    """Records whose lineage is long, as straxen's event-level types' are (tens of KB of
    plugin options)."""
    # 2000 option values in the lineage: ~14 KB of JSON, several times that parsed.
    calibration = sx.Config(default=[round(0.001 * i, 3) for i in range(2000)], type=list)


@pytest.fixture
def copies(tmp_path):
    """A DataDirectory holding one records folder made by superstrax and 60 copies of it
    under other run ids (as 61 subruns of one lineage would be), and its backend."""
    storage = sx.DataDirectory(str(tmp_path / "data"))
    st = sx.Context(storage=[storage], register=[LongLineageRecords], progress_bar=False)
    st.make("0", "records")
    key = str(st.key_for("0", "records"))
    original = os.path.join(storage.path, key)
    folders = [original]
    for i in range(1, 61):
        folder = os.path.join(storage.path, key.replace("0-", f"{i}-", 1))
        shutil.copytree(original, folder)
        path = os.path.join(folder, [f for f in os.listdir(folder) if f.endswith(".json")][0])
        with open(path) as f:
            md = json.load(f)
        md["run_id"] = str(i)
        for c in md["chunks"]:
            c["run_id"] = str(i)
        with open(path, "w") as f:
            json.dump(md, f)
        folders.append(folder)
    return st, storage, folders


def test_folders_of_one_lineage_share_one_parsed_lineage(copies):
    st, storage, folders = copies
    backend = storage.backends[0]
    first = backend.get_metadata(folders[0])
    assert len(json.dumps(first["lineage"])) > 10_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        mds = [backend.get_metadata(f) for f in folders[1:]]
        per_folder = (tracemalloc.get_traced_memory()[0] - before) / len(mds)
    finally:
        tracemalloc.stop()
    assert all(md["lineage"] is first["lineage"] for md in mds)
    assert [md["run_id"] for md in mds] == [str(i) for i in range(1, 61)]
    # What one more folder costs does not depend on how long its lineage is.
    # (Ten chunks of metadata each take ~7 KB; the lineage parsed alone would be ~60 KB.)
    assert per_folder < 10_000, per_folder
    # And they load as written.
    assert len(st.get_array("7", "records")) == len(st.get_array("0", "records"))


def test_a_folder_whose_lineage_differs_under_the_same_hash_keeps_its_own(copies):
    st, storage, folders = copies
    backend = storage.backends[0]
    shared = backend.get_metadata(folders[0])["lineage"]
    folder = folders[5]
    path = os.path.join(folder, [f for f in os.listdir(folder) if f.endswith(".json")][0])
    with open(path) as f:
        md = json.load(f)
    md["lineage"]["records"][2]["calibration"][0] = 99.0     # damaged; same hash in its name
    with open(path, "w") as f:
        json.dump(md, f)
    read = backend.get_metadata(folder)
    assert read["lineage"] is not shared
    assert read["lineage"]["records"][2]["calibration"][0] == 99.0


def test_get_meta_gives_a_copy_that_the_caller_may_edit(copies):
    st, storage, folders = copies
    n = len(st.get_array("3", "records"))
    md = st.get_meta("3", "records")
    md["chunks"].clear()
    md["lineage"]["records"][2].clear()
    md["dtype"] = "nonsense"
    again = st.get_meta("3", "records")
    assert again["chunks"] and again["lineage"]["records"][2]["calibration"]
    assert np.dtype(eval(again["dtype"])) == st.get_array("3", "records").dtype   # noqa: S307
    assert len(st.get_array("3", "records")) == n
    assert st.get_meta("4", "records")["lineage"]["records"][2]["calibration"]
