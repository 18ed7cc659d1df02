"""Superruns: defining, loading on the fly, storing rechunked, and their errors."""
import datetime
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import superstrax as sx
from superstrax.testutils import Peaks, Records

from conftest import make_runs, write_run_doc

MS = 1_000_000


def _span(st, run_id):
    """ns from start to end of a run's document."""
    doc = st.run_metadata(run_id)
    return (doc["end"] - doc["start"]) // datetime.timedelta(microseconds=1) * 1000


@pytest.fixture
def three(st, storage):
    """Runs 0, 1, 2 of 100 records each, 10 ms apart, with run documents."""
    bounds = make_runs(st, storage, ["0", "1", "2"], mode="calib", source="kr83m",
                       tags=[{"name": "good"}])
    return bounds


def test_define_writes_an_ordered_document_with_livetime(st, storage, three):
    st.define_run("_sr", ["2", "0", "1"])
    doc = st.run_metadata("_sr")
    assert list(doc["sub_run_spec"]) == ["0", "1", "2"]
    with open(storage._run_meta_path("_sr")) as f:
        on_disk = json.load(f)
    assert list(on_disk["sub_run_spec"]) == ["0", "1", "2"]
    livetime = sum(_span(st, r) for r in "012")
    assert doc["livetime"] == float(livetime)
    assert doc["start"] == st.run_metadata("0")["start"]
    assert doc["end"] == st.run_metadata("2")["end"]
    assert doc["mode"] == ["calib"] and doc["source"] == ["kr83m"]
    assert doc["tags"] == [{"name": "good"}]


def test_unpadded_run_ids_are_chained_by_time(st, storage):
    make_runs(st, storage, ["9", "10", "11"])
    st.define_run("_sr", ["10", "11", "9"])
    assert list(st.run_metadata("_sr")["sub_run_spec"]) == ["9", "10", "11"]
    data = st.get_array("_sr", "records")
    assert np.all(np.diff(data["time"]) >= 0)
    # (several runs in one get_array come in strax's order, by name: '10', '11', '9')
    expected = np.concatenate([st.get_array(r, "records") for r in ["9", "10", "11"]])
    np.testing.assert_array_equal(data["time"], expected["time"])
    assert list(dict.fromkeys(st.get_array(["9", "10", "11"], "records")["run_id"])) == \
        ["10", "11", "9"]


def test_on_the_fly_chunks_carry_superrun_and_subruns(st, three):
    st.define_run("_sr", ["0", "1", "2"])
    chunks = list(st.get_iter("_sr", "peaks"))
    assert all(c.run_id == "_sr" and c.is_superrun for c in chunks)
    assert chunks[0].first_subrun["run_id"] == "0"
    assert chunks[-1].last_subrun["run_id"] == "2"
    covered = {}
    for c in chunks:
        for sub, b in c.subruns.items():
            covered.setdefault(sub, []).append((b["start"], b["end"]))
    assert set(covered) == {"0", "1", "2"}
    # subrun peaks were made (and stored) where missing
    assert all(st.is_stored(r, "peaks") for r in "012")


def test_time_range_definition_equals_subruns_cut(st, three):
    s0, s1 = three["0"][0], three["1"][0]
    spec = {"0": [(s0 + 2, s0 + 5)], "1": [(s1, s1 + 3), (s1 + 6, s1 + 8)]}
    st.define_run("_ranges", spec)
    doc = st.run_metadata("_ranges")
    assert doc["livetime"] == 3.0 + 3 + 2
    # documents hold milliseconds: rounded outwards, so the selected data lies inside them
    to_ns = sx.superruns.to_ns
    assert to_ns(doc["start"]) <= s0 + 2 and to_ns(doc["end"]) >= s1 + 8
    assert to_ns(doc["end"]) - to_ns(doc["start"]) < s1 - s0 + 2 * MS
    got = st.get_array("_ranges", "peaks")
    parts = []
    for run, ranges in spec.items():
        p = st.get_array(run, "peaks")
        for a, b in ranges:
            parts.append(p[(p["time"] >= a) & (sx.endtime(p) <= b)])
    expected = np.concatenate(parts)
    np.testing.assert_array_equal(got, expected)
    st.set_context_config({"write_superruns": True})
    st.make("_ranges", "peaks")
    assert st.is_stored("_ranges", "peaks")
    np.testing.assert_array_equal(st.get_array("_ranges", "peaks"), expected)


def test_event_array_definition(st, three):
    s1 = three["1"][0]
    events = np.zeros(2, dtype=sx.time_fields)
    events["time"] = [s1 + 1, s1 + 7]
    events["endtime"] = [s1 + 3, s1 + 9]
    st.define_run("_events", events, from_run="1")
    got = st.get_array("_events", "records")
    r = st.get_array("1", "records")
    keep = ((r["time"] >= s1 + 1) & (sx.endtime(r) <= s1 + 3)) | \
           ((r["time"] >= s1 + 7) & (sx.endtime(r) <= s1 + 9))
    np.testing.assert_array_equal(got, r[keep])
    df = pd.DataFrame({"time": events["time"], "endtime": events["endtime"], "run_id": ["1", "1"]})
    st.define_run("_events_df", df)
    np.testing.assert_array_equal(st.get_array("_events_df", "records"), r[keep])
    # run ids as bytes (strax's run_id_as_bytes) and length * dt instead of endtime
    rows = np.zeros(2, dtype=sx.time_dt_fields + [("run_id", "S1")])
    rows["time"], rows["length"], rows["dt"], rows["run_id"] = [s1 + 1, s1 + 7], 1, 2, b"1"
    st.define_run("_events_bytes", rows)
    assert st.run_metadata("_events_bytes")["sub_run_spec"] == {
        "1": [[s1 + 1, s1 + 3], [s1 + 7, s1 + 9]]}
    np.testing.assert_array_equal(st.get_array("_events_bytes", "records"), r[keep])


def test_nested_superruns(st, storage):
    make_runs(st, storage, ["0", "1", "2", "3"])
    st.define_run("_a", ["0", "1"])
    st.define_run("_b", ["2"])
    st.define_run("_ab", ["_a", "_b", "3"])
    assert st.run_metadata("_ab")["livetime"] == float(sum(_span(st, r) for r in "0123"))
    assert [s.run_id for s in st._subrun_specs("_ab")] == ["0", "1", "2", "3"]
    got = st.get_array("_ab", "records")
    np.testing.assert_array_equal(got["time"], st.get_array(list("0123"), "records")["time"])
    with pytest.raises(sx.SuperrunError, match="contains itself"):
        st.define_run("_a", ["_ab"])
    assert st.run_metadata("_a")["sub_run_spec"] == {"0": "all", "1": "all"}


def test_definition_errors_write_nothing(st, storage, three):
    s0, e0 = three["0"]
    cases = [
        (("nounderscore", ["0"]), "must be a string starting with '_'"),
        (("_x", []), "no subruns"),
        (("_x", ["0", "404"]), "subrun 404 is unknown"),
        (("_x", ["0", "0"]), "more than once"),
        (("_x", {"0": [(s0, s0 + 5), (s0 + 3, s0 + 6)]}), "overlap"),
        (("_x", {"0": [(s0 - 5 * MS, s0 + 2)]}), "outside subrun 0"),
        (("_x", ["_x"]), "cannot contain itself"),
        (("_x", ["_nope"]), "unknown|No run document"),
        (("_x-y", ["0"]), "may not contain '-'"),
        (("_x", {}), "no subruns"),
        (("_x", {"0": []}), "empty list of ranges"),
        (("_x", {"0": [(s0, e0 + 2 * MS)]}), "outside subrun 0"),
        (("_x", {"_inner": [(s0, e0 + 2 * MS)]}), "outside superrun _inner"),
        (("_x", {"_unknown": "all"}), "_unknown is unknown"),
        (("_x y", ["0"]), "may only hold letters"),
        (("_x", {"0": [(s0, s0 + 5.5)]}), "pairs of integers"),
        (("_x", {"0": [(True, s0 + 5)]}), "pairs of integers"),
    ]
    st.define_run("_inner", ["0"])
    before = sorted(os.listdir(storage.path))
    for (name, data), message in cases:
        with pytest.raises((sx.SuperrunError, sx.RunMetadataNotAvailable), match=message):
            st.define_run(name, data)
    assert not os.path.exists(storage._run_meta_path("_x"))
    assert sorted(os.listdir(storage.path)) == before


def test_a_definition_hidden_by_a_readonly_document_is_refused(st, storage, tmp_path, three):
    st.define_run("_sr", ["0", "1"])
    shared = sx.DataDirectory(storage.path, provide_run_metadata=True, readonly=True)
    mine = sx.DataDirectory(str(tmp_path / "mine"), provide_run_metadata=True)
    st2 = st.new_context(storage=[shared, mine], replace=True, config=dict(st.config),
                         register=[Records, Peaks], progress_bar=False)
    with pytest.raises(sx.SuperrunError, match="already holds a run document"):
        st2.define_run("_sr", ["0", "1", "2"])
    assert not os.path.exists(mine._run_meta_path("_sr"))
    st2.define_run("_sr_all", ["0", "1", "2"])
    assert os.path.exists(mine._run_meta_path("_sr_all"))


def test_overlapping_subruns_are_refused(st, storage, three):
    write_run_doc(storage, "5", three["0"][0], three["1"][1])
    with pytest.raises(sx.SuperrunError, match="overlap"):
        st.define_run("_x", ["0", "5"])


def test_redefinition_never_serves_stale_data(st, three):
    st.set_context_config({"write_superruns": True})
    st.define_run("_sr", ["0", "1"])
    st.make("_sr", "records")
    assert st.is_stored("_sr", "records")
    st.define_run("_sr", ["0", "1", "2"])
    assert not st.is_stored("_sr", "records")
    assert len(st.get_array("_sr", "records")) == 300


def test_redefining_an_inner_superrun_never_serves_stale_data(st, three):
    st.set_context_config({"write_superruns": True})
    st.define_run("_a", ["0", "1"])
    st.define_run("_ab", ["_a", "2"])
    st.make("_ab", "records")
    assert st.is_stored("_ab", "records")
    # _ab's own document is unchanged, but what it contains is not
    livetime = st.run_metadata("_ab")["livetime"]
    st.define_run("_a", ["0"])
    assert st.run_metadata("_ab")["sub_run_spec"] == {"_a": "all", "2": "all"}
    # its span and livetime follow what it contains now
    assert st.run_metadata("_ab")["livetime"] == livetime - _span(st, "1")
    assert st.run_metadata("_ab")["livetime"] == _span(st, "0") + _span(st, "2")
    assert st._run_doc("_ab")["end"] == st.run_metadata("2")["end"]     # not a cached copy
    assert st._run_doc("_ab")["livetime"] == _span(st, "0") + _span(st, "2")
    assert not st.is_stored("_ab", "records")
    got = st.get_array("_ab", "records")
    np.testing.assert_array_equal(got, np.concatenate([st.get_array(r, "records")
                                                       for r in ("0", "2")]))
    # also when another context (or process) redefines the inner superrun
    st.make("_ab", "records")
    other = st.new_context()
    other.define_run("_a", ["1"])
    assert not st.is_stored("_ab", "records")
    assert [s.run_id for s in st._subrun_specs("_ab")] == ["1", "2"]
    assert len(st.get_array("_ab", "records")) == 200
    # superruns of regular runs keep strax's key: a hash of their own sub_run_spec
    assert str(st.key_for("_a", "records")).startswith(
        "_a_" + sx.deterministic_hash(({"1": "all"}, False)))


def test_stored_superrun_loads_without_subrun_data(st, storage, three):
    st.set_context_config({"write_superruns": True})
    st.define_run("_sr", ["0", "1", "2"])
    expected = st.get_array("_sr", "peaks")
    st.make("_sr", "peaks")
    for r in "012":
        shutil.rmtree(os.path.join(storage.path, str(st.key_for(r, "peaks"))))
        shutil.rmtree(os.path.join(storage.path, str(st.key_for(r, "records"))))
    got = st.get_array("_sr", "peaks")
    np.testing.assert_array_equal(got, expected)
    assert not st.is_stored("0", "peaks")
    md = st.get_meta("_sr", "peaks")
    assert md["run_id"] == "_sr"
    assert len(md["chunks"]) == 1 and md["chunks"][0]["n"] == 300
    assert set(md["chunks"][0]["subruns"]) == {"0", "1", "2"}


def test_loading_options_on_superruns_stored_or_not(st, three):
    st.define_run("_sr", ["0", "1", "2"])
    s1 = three["1"][0]
    whole = st.get_array("_sr", "peaks")
    window = (s1 + 2, s1 + 5)
    expected = whole[(whole["time"] >= window[0]) & (sx.endtime(whole) <= window[1])]
    for stored in (False, True):
        if stored:
            st.set_context_config({"write_superruns": True})
            st.make("_sr", "peaks")
            assert st.is_stored("_sr", "peaks")
        np.testing.assert_array_equal(st.get_array("_sr", "peaks", time_range=window), expected)
        sel = st.get_array("_sr", "peaks", selection=f"time < {s1}")
        assert len(sel) == 100 and np.all(sel["time"] < s1)
        cols = st.get_array("_sr", "peaks", keep_columns=["time", "area"])
        assert cols.dtype.names == ("time", "area") and len(cols) == 300
        arrays = [n for n in whole.dtype.names if whole.dtype[n].shape]
        df = st.get_df("_sr", "peaks", drop_columns=arrays)
        assert len(df) == 300 and "data" not in df.columns and "area" in df.columns
        for target in ("records", "peaks"):
            ids = st.get_array("_sr", target, add_run_id_field=True)
            assert [ids["run_id"][i] for i in (0, 150, 299)] == ["0", "1", "2"]
        start = st.estimate_run_start_and_end("_sr")[0]
        seconds = ((window[0] - start) / 1e9, (window[1] - start) / 1e9)
        np.testing.assert_array_equal(st.get_array("_sr", "peaks", seconds_range=seconds),
                                      expected)
        # two types of one kind, one chained from subruns (or stored), one computed over the
        # superrun: both cut to the window before their rows are joined
        both = st.get_array("_sr", ["peaks", "peak_classification"], time_range=window)
        np.testing.assert_array_equal(both["time"], expected["time"])
        assert "type" in both.dtype.names and "area" in both.dtype.names


def test_several_types_with_a_time_range_line_up(st, three):
    # peaks stored in several chunks, peak_classification computed from the run's start
    class ChunkedPeaks(Peaks):
        rechunk_on_save = False
    st.register(ChunkedPeaks)
    st.make("1", "peaks")
    assert len(st.get_meta("1", "peaks")["chunks"]) == 10
    s1 = three["1"][0]
    got = st.get_array("1", ["peaks", "peak_classification"], time_range=(s1 + 2, s1 + 5))
    assert len(got) == 30 and got["time"].min() == s1 + 2 and got["time"].max() == s1 + 4


def test_fifty_subruns_equal_loading_one_by_one(st, storage):
    runs = [str(i) for i in range(50)]
    make_runs(st, storage, runs, n_chunks=4, recs_per_chunk=3)
    st.define_run("_fifty", runs)
    one_by_one = np.concatenate([st.get_array(r, "peaks") for r in runs])
    np.testing.assert_array_equal(st.get_array("_fifty", "peaks"), one_by_one)
    st.set_context_config({"write_superruns": True})
    st.make("_fifty", "peaks")
    np.testing.assert_array_equal(st.get_array("_fifty", "peaks"), one_by_one)


class WholeRunArea(sx.ExhaustPlugin):
    provides = "total_area"
    depends_on = "peaks"
    allow_superrun = True
    dtype = sx.time_fields + [(("Summed area", "area"), np.float64),
                              (("Number of peaks", "n"), np.int64)]

    def compute(self, peaks, start, end):
        out = np.zeros(1, self.dtype_for("total_area"))
        out["time"], out["endtime"] = start, end
        out["area"], out["n"] = peaks["area"].sum(), len(peaks)
        return out


def test_exhaust_plugin_with_allow_superrun_sees_the_whole_superrun(st, three):
    st.register(WholeRunArea)
    st.define_run("_sr", ["0", "1", "2"])
    out = st.get_array("_sr", "total_area")
    assert out["n"].tolist() == [300]
    assert out["time"][0] == three["0"][0] and out["endtime"][0] == three["2"][1]
    assert st.get_array("1", "total_area")["n"].tolist() == [100]


def test_allow_superrun_plugin_and_combining(st, three):
    st.define_run("_sr", ["0", "1", "2"])
    st.set_context_config({"write_superruns": True})
    pc = st.get_array("_sr", "peak_classification")
    assert len(pc) == 300
    assert st.is_stored("_sr", "lone_hits")       # computed over the superrun and saved
    combined = st.get_array("_sr", "peak_classification", combining=True)
    np.testing.assert_array_equal(combined, pc)


def test_select_runs_lists_superruns_with_modes_and_availability(st, storage, three):
    make_runs(st, storage, ["7"], first_offset=three["2"][1] + 10 * MS, mode="background")
    st.define_run("_sr", ["0", "1", "2"])
    df = st.select_runs()
    row = df[df["name"] == "_sr"].iloc[0]
    assert np.isnan(row["number"]) and row["mode"] == "calib" and row["tags"] == "good"
    assert set(st.select_runs(run_mode="calib")["name"]) == {"0", "1", "2", "_sr"}
    assert set(st.select_runs(run_mode="background")["name"]) == {"7"}
    st.set_context_config({"write_superruns": True})
    st.make("_sr", "records")
    avail = st.select_runs(available="records")
    assert set(avail["name"]) == {"0", "1", "2", "7", "_sr"}
    assert avail["records_available"].all()


def test_frontends_without_superruns_neither_find_nor_store(st, storage, tmp_path, three):
    class NoSuperruns(sx.DataDirectory):
        provide_superruns = False

    other = NoSuperruns(str(tmp_path / "other"))
    st2 = st.new_context(storage=[other, storage], replace=True, config=dict(st.config),
                         register=[Records, Peaks], write_superruns=True, progress_bar=False)
    st.define_run("_sr", ["0", "1", "2"])
    st2.make("_sr", "records")
    assert not any(n.startswith("_sr") for n in os.listdir(other.path))
    assert any(n.startswith("_sr_") for n in os.listdir(storage.path))
    # superrun data placed in it is not found there either
    key = str(st2.key_for("_sr", "records"))
    shutil.move(os.path.join(storage.path, key), os.path.join(other.path, key))
    assert not st2.is_stored("_sr", "records")
    assert not other.is_stored(st2.key_for("_sr", "records"))
    plain = st.new_context(storage=[sx.DataDirectory(other.path), storage], replace=True,
                           config=dict(st.config), register=[Records, Peaks],
                           progress_bar=False)
    assert plain.is_stored("_sr", "records")      # the data is fine: only the flag hides it


def test_readonly_subrun_data_is_not_copied(st, storage, tmp_path, three):
    readonly = sx.DataDirectory(storage.path, provide_run_metadata=True, readonly=True)
    local = sx.DataDirectory(str(tmp_path / "local"))
    st2 = sx.Context(storage=[local, readonly], register=[Records, Peaks],
                     config={"bonus_area": 42}, progress_bar=False, write_superruns=True)
    st.define_run("_sr", ["0", "1", "2"])
    st2.make("_sr", "records")
    names = os.listdir(local.path)
    assert [n for n in names if n.endswith("-records-j3nd2fjbiq")] == \
        [str(st2.key_for("_sr", "records"))]


class SmallChunkRecords(Records):
    """Records whose stored chunks target 10 kB (about 39 records)."""
    chunk_target_size_mb = 0.01


def test_stored_superrun_is_rechunked_to_the_target_size(storage):
    st = sx.Context(storage=[storage], register=[SmallChunkRecords], progress_bar=False,
                    write_superruns=True)
    make_runs(st, storage, ["0", "1", "2"], n_chunks=4, recs_per_chunk=30)
    st.define_run("_sr", ["0", "1", "2"])
    st.make("_sr", "records")
    chunks = st.get_meta("_sr", "records")["chunks"]
    # Records of one run follow each other without gaps, so cuts fall between subruns only:
    # each 120-record subrun (30 kB, above the target) becomes one chunk of its own.
    assert [c["n"] for c in chunks] == [120, 120, 120]
    assert [list(c["subruns"]) for c in chunks] == [["0"], ["1"], ["2"]]
    assert all(a["end"] <= b["start"] for a, b in zip(chunks, chunks[1:]))
    loaded = list(st.get_iter("_sr", "records"))
    assert [c.subruns for c in loaded] == [c["subruns"] for c in chunks]
    np.testing.assert_array_equal(np.concatenate([c.data["time"] for c in loaded]),
                                  st.get_array(["0", "1", "2"], "records")["time"])


class GappedRecords(SmallChunkRecords):
    """10 records every 2 us: a gap of 1999 ns after each chunk, where rechunking may cut."""

    def compute(self, chunk_i):
        t0 = 2000 * chunk_i + self.config["secret_time_offset"]
        r = np.zeros(self.config["recs_per_chunk"], self.dtype_for("records"))
        r["time"], r["length"], r["dt"] = t0, 1, 1
        return self.chunk(start=t0, end=t0 + 2000, data=r)


def test_rechunking_cuts_inside_subruns_and_joins_small_ones(storage):
    st = sx.Context(storage=[storage], register=[GappedRecords], progress_bar=False,
                    write_superruns=True)
    make_runs(st, storage, ["0", "1"], n_chunks=8, recs_per_chunk=10)
    make_runs(st, storage, ["2", "3"], n_chunks=1, recs_per_chunk=10, first_offset=30 * MS)
    st.define_run("_sr", ["0", "1", "2", "3"])
    st.make("_sr", "records")
    chunks = st.get_meta("_sr", "records")["chunks"]
    # 10 kB holds 38 records: subruns of 80 are cut at gaps, small pieces share a chunk
    assert all(c["n"] <= 38 for c in chunks) and sum(c["n"] for c in chunks) == 180
    assert chunks[0]["subruns"] == {"0": {"start": 0, "end": chunks[0]["end"]}}
    assert sum("0" in c["subruns"] for c in chunks) >= 2
    assert any({"2", "3"} <= set(c["subruns"]) for c in chunks)
    loaded = list(st.get_iter("_sr", "records"))
    assert [c.subruns for c in loaded] == [c["subruns"] for c in chunks]
    for c in loaded:
        for sub, b in c.subruns.items():
            rows = c.data[(c.data["time"] >= b["start"]) & (c.data["time"] < b["end"])]
            assert len(rows), f"chunk {c} claims subrun {sub} but holds none of its rows"
    np.testing.assert_array_equal(np.concatenate([c.data for c in loaded]), np.concatenate(
        [st.get_array(r, "records") for r in ("0", "1", "2", "3")]))
    # without rechunking allowed, every subrun chunk is stored as it came
    st.set_context_config({"allow_rechunk": False})
    st.define_run("_sr2", ["0", "1", "2", "3"])
    st.make("_sr2", "records")
    assert len(st.get_meta("_sr2", "records")["chunks"]) == 18


@sx.takes_config(sx.Option("scale", default_by_run=[(0, 1), (1, 2)], help="per-run factor"))
class ScaledAreaSum(sx.ExhaustPlugin):
    """One row: scale x the summed peak area of everything it is given."""
    provides = "area_sum"
    depends_on = "peaks"
    allow_superrun = True
    save_when = sx.SaveWhen.NEVER
    dtype = sx.time_fields + [(("Scaled summed area", "total"), np.float64)]

    def compute(self, peaks, start, end):
        out = np.zeros(1, self.dtype_for("area_sum"))
        out["time"], out["endtime"] = start, end
        out["total"] = self.config["scale"] * peaks["area"].sum()
        return out


def test_per_run_defaults_apply_per_subrun(storage):
    st = sx.Context(storage=[storage], register=[Records, Peaks, ScaledAreaSum],
                    use_per_run_defaults=True, progress_bar=False, write_superruns=True)
    make_runs(st, storage, ["0", "1", "2"])
    st.define_run("_sr", ["0", "1", "2"])
    peaks = st.get_array("_sr", "peaks")
    # bonus_area is 0 from run 0 on and 1 from run 1 on: each subrun keeps its own value.
    assert [set(peaks["area"][i * 100:(i + 1) * 100]) for i in range(3)] == [{0}, {1}, {1}]
    # Stored superrun data of a subrun-dependent type gets its own lineage, never a subrun's.
    st.make("_sr", "peaks")
    assert st.is_stored("_sr", "peaks")
    np.testing.assert_array_equal(st.get_array("_sr", "peaks"), peaks)
    assert st.key_for("_sr", "peaks").lineage_hash != st.key_for("1", "peaks").lineage_hash
    # A plugin computed over the whole superrun cannot use a value that differs per subrun.
    with pytest.raises(sx.InvalidConfiguration, match="scale"):
        st.get_array("_sr", "area_sum")
    st.set_config({"scale": 3})
    assert st.get_array("_sr", "area_sum")["total"].tolist() == [3 * (0 * 100 + 1 * 200)]


def test_any_time_range_definition_loads_the_subruns_cut_to_it(tmp_path_factory):
    """Property: for random disjoint ranges in random subruns, the superrun's data (on the fly
    and with time_range on top) is exactly the subruns' rows fully inside those ranges."""
    from hypothesis import given, settings, strategies as hst

    storage = sx.DataDirectory(str(tmp_path_factory.mktemp("prop")), provide_run_metadata=True)
    st = sx.Context(storage=[storage], register=[Records], progress_bar=False)
    bounds = make_runs(st, storage, ["0", "1", "2"], n_chunks=5, recs_per_chunk=4)
    whole = {r: st.get_array(r, "records") for r in bounds}

    @hst.composite
    def definitions(draw):
        spec = {}
        for r in draw(hst.lists(hst.sampled_from(sorted(bounds)), min_size=1, max_size=3,
                                unique=True)):
            s, e = bounds[r]
            cuts = sorted(draw(hst.lists(hst.integers(s, e), min_size=2, max_size=6,
                                         unique=True)))
            pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2])]
            spec[r] = pairs if pairs and draw(hst.booleans()) else "all"
        return spec

    @settings(max_examples=25, deadline=None)
    @given(definitions(), hst.integers(0, 25_000_000), hst.integers(1, 25_000_000))
    def check(spec, t0, width):
        st.define_run("_p", spec)
        parts = []
        for r in sorted(spec, key=lambda r: bounds[r][0]):
            d = whole[r]
            ranges = [bounds[r]] if spec[r] == "all" else spec[r]
            keep = np.zeros(len(d), bool)
            for a, b in ranges:
                keep |= (d["time"] >= a) & (sx.endtime(d) <= b)
            parts.append(d[keep])
        expected = np.concatenate(parts)
        np.testing.assert_array_equal(st.get_array("_p", "records"), expected)
        t1 = t0 + width
        inside = (expected["time"] >= t0) & (sx.endtime(expected) <= t1)
        np.testing.assert_array_equal(st.get_array("_p", "records", time_range=(t0, t1)),
                                      expected[inside])

    check()
