"""Frontends, backends and savers written with strax 2.2.3's hooks work on superstrax.

`CatalogFrontend` below is written the way straxen's frontends are (RunDB: a catalogue of
where data lives plus run documents it serves itself; the Rucio frontends: a backend that
subclasses FileSytemBackend and reads files from its own layout). It overrides only strax's
hooks: `_find(key, write, allow_incomplete, fuzzy_for, fuzzy_for_options)`, `_scan_runs`,
`run_metadata` / `write_run_metadata`, backend `_get_metadata` / `_read_chunk` / `_saver`,
saver `_save_chunk` / `_save_chunk_metadata` / `_close`.
"""
import copy
import json
import logging
import os
import shutil
import uuid

import numpy as np
import pytest

import superstrax as sx
from superstrax.errors import DataExistsError, DataNotAvailable, RunMetadataNotAvailable
from superstrax.storage.io import load_file, save_file
from superstrax.storage.strax_style import lineage_matches
from superstrax.testing import FrontendConformance
from superstrax.testutils import Peaks, Records, write_run_document


class CatalogSaver(sx.Saver):
    """strax-style: chunk files under '<place>.partial-<writer>', renamed and catalogued on
    _close (where complete data is there already, it is kept unless the frontend set
    self.replace)."""

    def __init__(self, frontend_catalog, key_name, place, metadata, **kwargs):
        super().__init__(metadata, **kwargs)
        self.catalog, self.key_name, self.place = frontend_catalog, key_name, place
        self.partial = f"{place}.partial-{uuid.uuid4().hex[:8]}"
        os.makedirs(self.partial)
        self.chunk_metadata_calls = 0

    def _save_chunk(self, data, chunk_info, executor=None):
        name = f"part{chunk_info['chunk_i']:04d}"
        size = save_file(os.path.join(self.partial, name), data, self.md["compressor"])
        return {"filename": name, "filesize": size}, None

    def _save_chunk_metadata(self, chunk_info):
        self.chunk_metadata_calls += 1
        self._dump()

    def _dump(self):
        with open(os.path.join(self.partial, "md.json"), "w") as f:
            json.dump(self.md, f, default=str)

    def _close(self):
        self._dump()
        if "exception" in self.md:
            return                          # left under .partial; never catalogued
        if self.key_name in self.catalog and not getattr(self, "replace", False):
            shutil.rmtree(self.partial)     # another writer finished first: keep its copy
            return
        aside = self.place + ".old"
        if os.path.exists(self.place):
            os.rename(self.place, aside)
        os.rename(self.partial, self.place)
        shutil.rmtree(aside, ignore_errors=True)
        self.catalog[self.key_name] = self.place


class CatalogBackend(sx.FileSytemBackend):
    """Backend keys are places on disk in the catalogue's own layout (one folder per key)."""

    def __init__(self, catalog):
        super().__init__()
        self.catalog = catalog
        self.chunk_reads = 0

    def _get_metadata(self, place, **kwargs):
        path = os.path.join(place, "md.json")
        if not os.path.exists(path):
            raise DataNotAvailable(f"nothing at {place}")
        with open(path) as f:
            return json.load(f)

    def _read_chunk(self, place, chunk_info, dtype, compressor):
        self.chunk_reads += 1
        return load_file(os.path.join(place, chunk_info["filename"]), dtype, compressor)

    def _saver(self, place, metadata, **kwargs):
        return CatalogSaver(self.catalog, metadata.pop("_key_name"), place, metadata)


class CatalogFrontend(sx.StorageFrontend):
    """A catalogue (key name -> place) and run documents in this process, chunk files on disk."""

    storage_type = sx.StorageType.ONLINE
    provide_superruns = True

    def __init__(self, root, minimum_run_number=0, maximum_run_number=None, *args, **kwargs):
        kwargs.setdefault("provide_run_metadata", True)
        super().__init__(*args, **kwargs)
        self.root = str(root)
        self.minimum_run_number = minimum_run_number
        self.maximum_run_number = maximum_run_number
        self.catalog = {}
        self.documents = {}
        self.backends = [CatalogBackend(self.catalog)]

    def _place(self, key):
        return os.path.join(self.root, "catalogue", str(key).replace("-", "_"))

    def _find(self, key, write, allow_incomplete, fuzzy_for, fuzzy_for_options):
        name = type(self.backends[0]).__name__
        if write:
            if self.overwrite == "never" and str(key) in self.catalog:
                raise DataExistsError(at=self.catalog[str(key)])
            self._pending_key = str(key)
            return name, self._place(key)
        partial = [p for p in os.listdir(os.path.dirname(self._place(key)))
                   if p.startswith(os.path.basename(self._place(key)) + ".partial-")] \
            if os.path.isdir(os.path.dirname(self._place(key))) else []
        if allow_incomplete and partial and str(key) not in self.catalog:
            return name, os.path.join(os.path.dirname(self._place(key)), partial[0])
        if str(key) in self.catalog:
            return name, self.catalog[str(key)]
        if fuzzy_for or fuzzy_for_options:
            for key_name, place in self.catalog.items():
                run, data_type, _ = key_name.split("-")
                if (run, data_type) != (key.run_id, key.data_type):
                    continue
                md = self.backends[0].get_metadata(place)
                if lineage_matches(md["lineage"], key.lineage, fuzzy_for, fuzzy_for_options):
                    return name, place
        raise DataNotAvailable

    def saver(self, key, metadata, **kwargs):
        # strax's frontends may hand extra information to their backend's _saver
        return super().saver(key, dict(metadata, _key_name=str(key)), **kwargs)

    def run_metadata(self, run_id, projection=None):
        if str(run_id) not in self.documents:
            raise RunMetadataNotAvailable(f"no run {run_id} in the catalogue")
        doc = copy.deepcopy(self.documents[str(run_id)])
        if projection is not None:
            doc = {k: v for k, v in doc.items() if k in projection}
        return doc

    def write_run_metadata(self, run_id, metadata):
        self.documents[str(run_id)] = dict(copy.deepcopy(metadata), name=str(run_id))

    def _scan_runs(self, store_fields):
        for run_id, doc in sorted(self.documents.items()):
            if run_id.isdigit() and (int(run_id) < self.minimum_run_number or (
                    self.maximum_run_number is not None
                    and int(run_id) > self.maximum_run_number)):
                continue
            yield {k: v for k, v in doc.items() if k == "name" or k in store_fields}


def _context(*storage, forbid_creation_of=(), **config):
    return sx.Context(storage=list(storage), register=[Records, Peaks], progress_bar=False,
                      config={"bonus_area": 1, **config},
                      forbid_creation_of=forbid_creation_of)


class TestCatalogFrontendConformance(FrontendConformance):
    """The whole storage contract, on a frontend written only with strax's hooks."""

    def make_frontend(self, tmp_path):
        return CatalogFrontend(tmp_path)


def test_it_constructs_with_straxen_arguments_and_answers_find_as_strax(tmp_path):
    fe = CatalogFrontend(tmp_path, minimum_run_number=2, maximum_run_number=None,
                         readonly=False, provide_run_metadata=True, overwrite="if_broken",
                         take_only=("records", "peaks"), exclude=())
    st = _context(fe)
    st.make("3", "peaks")
    key = st.key_for("3", "peaks")
    name, place = fe.find(key)
    assert name == "CatalogBackend" and place == fe.catalog[str(key)]
    assert fe._get_backend(name) is fe.backends[0]
    assert fe.find_several([key, st.key_for("4", "peaks")]) == [(name, place), False]
    assert isinstance(fe.log, logging.Logger) and fe.storage_type == sx.StorageType.ONLINE
    assert fe.backends[0].chunk_reads == 0
    again = _context(fe, forbid_creation_of=("records", "peaks"))
    np.testing.assert_array_equal(again.get_array("3", "peaks"), st.get_array("3", "peaks"))
    assert fe.backends[0].chunk_reads > 0            # loaded through the strax hook


def test_if_broken_refuses_to_overwrite_complete_data_but_replaces_broken(tmp_path):
    fe = CatalogFrontend(tmp_path)               # overwrite="if_broken", strax's default
    st = _context(fe)
    st.make("1", "records")
    key = st.key_for("1", "records")
    with pytest.raises(DataExistsError):
        fe.find(key, write=True)
    md = fe.get_metadata(key)
    # a broken copy (its write raised) is neither found nor in the way of a new write
    md["exception"] = "RuntimeError: died"
    with open(os.path.join(fe.catalog[str(key)], "md.json"), "w") as f:
        json.dump(md, f)
    assert not fe.is_stored(key)
    assert fe.find(key, write=True)[0] == "CatalogBackend"
    assert fe.find(key, check_broken=False)[1] == fe.catalog[str(key)]


def test_incomplete_data_is_found_only_with_allow_incomplete(tmp_path):
    fe = CatalogFrontend(tmp_path)
    key = _context(fe).key_for("1", "records")
    dtype = np.dtype(Records.dtype)
    md = {"run_id": "1", "data_type": "records", "data_kind": "records",
          "dtype": repr(dtype.descr), "compressor": "blosc", "lineage": key.lineage}
    saver = fe.saver(key, md)
    saver.save(sx.Chunk(data_type="records", data_kind="records", dtype=dtype,
                        run_id="1", start=0, end=1, data=np.zeros(2, dtype)))
    assert saver.chunk_metadata_calls == 1
    with pytest.raises(DataNotAvailable):
        fe.find(key)
    name, place = fe.find(key, allow_incomplete=True)
    assert ".partial-" in place


def test_take_only_and_exclude_route_data_types_to_frontends(tmp_path):
    records_only = sx.DataDirectory(tmp_path / "r", take_only="records")
    the_rest = CatalogFrontend(tmp_path / "c", exclude=("records",))
    st = _context(records_only, the_rest)
    st.make("1", "peaks")
    assert os.listdir(tmp_path / "r") == [str(st.key_for("1", "records"))]
    assert list(the_rest.catalog) == [str(st.key_for("1", "peaks"))]
    with pytest.raises(DataNotAvailable):
        records_only.find(st.key_for("1", "peaks"))


def test_scan_runs_goes_through_the_strax_hook(tmp_path):
    fe = CatalogFrontend(tmp_path, minimum_run_number=2)
    for i, run in enumerate(("1", "2", "3")):
        write_run_document(fe, run, i * 10_000_000, i * 10_000_000 + 10, mode=f"m{run}")
    st = _context(fe)
    runs = st.select_runs()
    assert sorted(runs["name"]) == ["2", "3"]
    st.define_run("_both", ["2", "3"])
    assert st.run_metadata("_both")["sub_run_spec"]


def test_fuzzy_for_options_finds_data_made_with_other_option_values(tmp_path):
    for fe in (CatalogFrontend(tmp_path / "c"), sx.DataDirectory(tmp_path / "d")):
        _context(fe, base_area=3).make("1", "peaks")
        other = _context(fe, base_area=4).key_for("1", "peaks")
        assert not fe.is_stored(other)
        with pytest.raises(DataNotAvailable):
            fe.find(other, fuzzy_for_options=("n_chunks",))
        assert fe.find(other, fuzzy_for_options=("base_area",))
        assert fe.find(other, fuzzy_for=("peaks",))


def test_lineage_matching_ignores_only_what_it_is_told_to():
    a = {"peaks": ("Peaks", "0.1", {"x": 1, "y": [1, 2]}), "records": ("Records", "1", {})}
    b = {"peaks": ("Peaks", "0.1", {"x": 2, "y": (1, 2)}), "records": ("Records", "1", {})}
    assert not lineage_matches(a, b)
    assert lineage_matches(a, b, fuzzy_for_options=("x",))
    assert lineage_matches(a, b, fuzzy_for=("peaks",))
    assert not lineage_matches(a, {"peaks": a["peaks"]}, fuzzy_for=("records",))


def test_data_directory_never_overwrites_with_overwrite_never(tmp_path):
    fe = sx.DataDirectory(tmp_path, overwrite="never")
    st = _context(fe)
    st.make("1", "records")
    with pytest.raises(DataExistsError):
        fe.find(st.key_for("1", "records"), write=True)
    with pytest.raises(sx.InvalidConfiguration):
        sx.DataDirectory(tmp_path, overwrite="sometimes")


def test_a_file_backend_subclass_overriding_one_strax_hook_is_used(tmp_path):
    class Counting(sx.FileSytemBackend):
        reads = 0

        def _read_chunk(self, folder, chunk_info, dtype, compressor):
            Counting.reads += 1
            return super()._read_chunk(folder, chunk_info, dtype, compressor)

    fe = sx.DataDirectory(tmp_path)
    st = _context(fe, n_chunks=3)
    made = st.get_array("1", "records")
    fe.backends = [Counting()]
    np.testing.assert_array_equal(st.get_array("1", "records"), made)
    assert Counting.reads == 3
    assert sx.FileSytemBackend is sx.FileSystemBackend


def test_storage_type_values_are_stricts_and_mongo_is_refused_clearly():
    assert {t.name: int(t) for t in sx.StorageType} == {
        "MEMORY": 0, "LOCAL": 1, "ONLINE": 2, "COMPRESSED": 3, "REMOTE": 4, "TAPE": 10}
    assert sx.DataDirectory.storage_type == sx.StorageType.LOCAL
    with pytest.raises(ImportError, match="does not provide strax's MongoDB"):
        import superstrax.storage.mongo  # noqa: F401

    class OnlineStyle(sx.MongoFrontend):      # straxen's OnlineMonitor subclasses it
        pass

    with pytest.raises(ImportError, match="not implemented"):
        OnlineStyle(take_only="online_peak_monitor")


def test_stored_data_is_loaded_from_the_nearest_storage_type(tmp_path):
    far = sx.DataDirectory(tmp_path / "far")
    far.storage_type = sx.StorageType.REMOTE          # strax's tests set it per instance
    near = sx.DataDirectory(tmp_path / "near")
    # n_chunks is untracked: the same key holds 4 chunks far away and 2 nearby
    _context(far, n_chunks=4).make("1", "records")
    _context(near, n_chunks=2).make("1", "records")
    st = _context(far, near, forbid_creation_of=("records",))
    assert len(st.get_metadata("1", "records")["chunks"]) == 2
    assert len(st.get_array("1", "records")) == 2 * 10


def test_new_data_is_written_to_every_writable_frontend_that_can_hold_it(tmp_path):
    # as strax: each frontend that is not readonly (and takes the data type) gets a copy
    archive = sx.DataDirectory(tmp_path / "archive")
    archive.storage_type = 10.5                       # any number orders frontends
    local = sx.DataDirectory(tmp_path / "local")
    peaks_only = sx.DataDirectory(tmp_path / "peaks_only", take_only=("peaks",))
    shelf = sx.DataDirectory(tmp_path / "shelf", readonly=True)
    st = _context(archive, local, peaks_only, shelf)
    st.make("4", "peaks")
    key = {t: str(st.key_for("4", t)) for t in ("records", "peaks")}
    assert sorted(os.listdir(tmp_path / "archive")) == sorted(key.values())
    assert sorted(os.listdir(tmp_path / "local")) == sorted(key.values())
    assert os.listdir(tmp_path / "peaks_only") == [key["peaks"]]
    assert not (tmp_path / "shelf").exists()         # readonly: not even made
    # the copies are whole and equal: each frontend alone gives the same rows
    rows = [_context(fe, forbid_creation_of="*").get_array("4", "peaks")
            for fe in (archive, local, peaks_only)]
    assert all(np.array_equal(r, rows[0]) for r in rows) and len(rows[0]) > 0
    assert [str(k) for k in st.get_components("5", "peaks").savers["peaks"]] == \
        [str(st.key_for("5", "peaks"))] * 3


def test_is_stored_asks_each_frontend_through_its_own_find(tmp_path):
    class Refusing(sx.DataDirectory):
        asked = 0

        def find(self, key, *args, **kwargs):
            type(self).asked += 1
            raise sx.DataNotAvailable(f"{key}: this frontend is offline")

    near = sx.DataDirectory(tmp_path / "near")
    offline = Refusing(tmp_path / "offline")
    offline.storage_type = sx.StorageType.REMOTE
    _context(sx.DataDirectory(tmp_path / "offline")).make("2", "records")
    assert not _context(offline).is_stored("2", "records") and Refusing.asked == 1
    _context(near).make("2", "records")
    assert _context(offline, near).is_stored("2", "records")
    assert Refusing.asked == 1                   # the nearer frontend answered first


def test_a_strax_style_saver_gets_its_chunk_entries_subruns_as_dicts(tmp_path):
    # A FileSaver keeps a superrun chunk's subruns packed (SubrunMap) until it writes them;
    # a strax-style saver's hooks get plain dicts, as strax gives them, even where the class
    # would pack (it may write them itself: this one json.dumps with default=str).
    class PackingCatalogSaver(CatalogSaver):
        compact_subruns = True

    dtype = np.dtype(sx.time_fields)
    subruns = {"0": {"start": 0, "end": 10}, "1": {"start": 10, "end": 20}}
    md = {"compressor": "blosc", "run_id": "_sr", "data_type": "records", "dtype": str(dtype)}
    saver = PackingCatalogSaver({}, "_sr-records-x", str(tmp_path / "place"), md)
    data = np.zeros(2, dtype)
    data["time"], data["endtime"] = [1, 11], [2, 12]
    saver.save(sx.Chunk(data_type="records", data_kind="records", dtype=dtype, run_id="_sr",
                        start=0, end=20, data=data, subruns=subruns), chunk_i=0)
    entry = saver.md["chunks"][0]
    assert type(entry["subruns"]) is dict and entry["subruns"] == subruns
    with open(os.path.join(saver.partial, "md.json")) as f:
        assert json.load(f)["chunks"][0]["subruns"] == subruns
