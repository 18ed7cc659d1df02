"""strax 2.2.3 behaviours of the data flow that code written for strax relies on (issue 10):
rewriting a stored folder with `rechunker`, gaps between a source's chunks, inputs without
any chunk, failed writes shown by get_metadata, and calls that drop columns storing nothing."""
import glob
import json
import os

import numpy as np
import pytest

import superstrax as sx
from superstrax.errors import ChunkError, DataNotAvailable, InvalidArgument
from superstrax.storage import file_saver
from superstrax.testutils import Peaks, Records


# --- helpers -----------------------------------------------------------------------------------
def _small_chunked_records(path, n_chunks=12):
    st = sx.Context(storage=[sx.DataDirectory(path)], register=[Records],
                    use_per_run_defaults=True, progress_bar=False)
    st.set_context_config(dict(allow_rechunk=False))
    st.set_config(dict(n_chunks=n_chunks, recs_per_chunk=7))
    st.make("3", "records")
    folder = os.path.join(path, str(st.key_for("3", "records")))
    return st, folder


def _chunk_files(folder):
    return sorted(f for f in os.listdir(folder) if not f.endswith(".json"))


def _metadata(folder):
    (md_file,) = glob.glob(os.path.join(folder, "*-metadata.json"))
    with open(md_file) as f:
        return json.load(f)


# --- rechunker -----------------------------------------------------------------------------------
def test_rechunker_writes_a_merged_recompressed_copy_into_the_destination(tmp_path):
    st, folder = _small_chunked_records(tmp_path / "src")
    before = st.get_array("3", "records")
    assert len(_chunk_files(folder)) == 12

    summary = sx.rechunker(folder, dest_directory=str(tmp_path / "out"), compressor="zstd",
                           target_size_mb=50, progress_bar=False)

    copy = os.path.join(tmp_path, "out", os.path.basename(folder))
    assert summary["dest_directory"] == copy
    assert summary["backend_key"] == os.path.basename(folder)
    assert (summary["source_compressor"], summary["dest_compressor"]) == ("blosc", "zstd")
    assert summary["uncompressed_mb"] == pytest.approx(before.nbytes / 1e6)
    assert summary["load_time"] >= 0 and summary["write_time"] >= 0
    # the source is untouched; the copy has one chunk file, zstd-compressed
    assert len(_chunk_files(folder)) == 12
    assert len(_chunk_files(copy)) == 1
    md = _metadata(copy)
    assert md["compressor"] == "zstd" and md["chunk_target_size_mb"] == 50
    assert md["chunks"][0]["start"] == 0 and md["chunks"][0]["n"] == len(before)
    other = sx.Context(storage=[sx.DataDirectory(tmp_path / "out")], register=[Records],
                       use_per_run_defaults=True, forbid_creation_of="*", progress_bar=False)
    np.testing.assert_array_equal(other.get_array("3", "records"), before)


def test_rechunker_replaces_the_source_in_place(tmp_path):
    st, folder = _small_chunked_records(tmp_path)
    before = st.get_array("3", "records")
    size_before = sx.utils.dir_size_mb(folder)

    summary = sx.rechunker(source_directory=folder, replace=True, compressor="lz4",
                           target_size_mb=10, parallel="thread", max_workers=3,
                           progress_bar=False)

    assert summary["dest_directory"] == os.path.normpath(folder)
    assert len(_chunk_files(folder)) == 1 and _metadata(folder)["compressor"] == "lz4"
    # only the data folder and its claim-free neighbours: no temp or replaced copies left
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(folder)]
    assert sx.utils.dir_size_mb(folder) != size_before
    st.set_context_config(dict(forbid_creation_of="*"))
    np.testing.assert_array_equal(st.get_array("3", "records"), before)


def test_rechunker_without_rechunking_only_recompresses(tmp_path):
    st, folder = _small_chunked_records(tmp_path / "a", n_chunks=4)
    sx.rechunker(folder, dest_directory=str(tmp_path / "b"), compressor="bz2", rechunk=False,
                 progress_bar=False)
    copy = os.path.join(tmp_path, "b", os.path.basename(folder))
    assert [c["n"] for c in _metadata(copy)["chunks"]] == [7, 7, 7, 7]
    assert _metadata(copy)["compressor"] == "bz2"


def test_rechunker_refuses_what_it_cannot_do(tmp_path):
    _, folder = _small_chunked_records(tmp_path, n_chunks=2)
    with pytest.raises(FileNotFoundError):
        sx.rechunker(str(tmp_path / "nothing-here-abc"), replace=True)
    with pytest.raises(ValueError):          # neither a destination nor replace=True
        sx.rechunker(folder)
    with pytest.raises(InvalidArgument):
        sx.rechunker(folder, replace=True, parallel="cluster")
    with pytest.raises(InvalidArgument):
        sx.rechunker(folder, replace=True, compressor="gzip-9")
    # nothing was changed by the refused calls
    assert len(_chunk_files(folder)) == 2


def test_dir_size_mb_counts_files_below_a_path(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.bin").write_bytes(b"1" * 1500)
    (tmp_path / "b.bin").write_bytes(b"2" * 500)
    assert sx.utils.dir_size_mb(tmp_path) == pytest.approx(2000 / 1e6)
    assert sx.utils.dir_size_mb(tmp_path / "missing") == 0


# --- gaps between source chunks, inputs without chunks --------------------------------------------
_PULSES = [np.array([(5, 2, 1, 0)], dtype=sx.interval_dtype),
           np.array([(20, 3, 1, 0), (30, 1, 1, 0)], dtype=sx.interval_dtype)]


class Pulses(sx.Plugin):
    """A source that bounds each chunk by its rows, leaving gaps between chunks."""
    depends_on = ()
    provides = "pulses"
    dtype = sx.interval_dtype
    rechunk_on_save = False
    source_chunks = _PULSES

    def compute(self, chunk_i):
        rows = self.source_chunks[chunk_i]
        return self.chunk(data=rows, start=int(rows[0]["time"]),
                          end=int(sx.endtime(rows[-1])))

    def is_ready(self, chunk_i):
        return chunk_i < len(self.source_chunks)

    def source_finished(self):
        return True


class PulseWidths(sx.Plugin):
    depends_on = "pulses"
    provides = "pulse_widths"
    dtype = [("width", np.int32)] + sx.time_fields

    def compute(self, pulses):
        return dict(width=pulses["length"], time=pulses["time"], endtime=sx.endtime(pulses))


def test_gaps_between_source_chunks_are_absorbed(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(tmp_path)], register=[Pulses, PulseWidths],
                    progress_bar=False)
    widths = st.get_array("7", "pulse_widths")
    assert widths["width"].tolist() == [2, 3, 1]
    # the stored source data tiles the run: the second chunk starts where the first ended
    md = st.get_metadata("7", "pulses")
    assert [(c["start"], c["end"]) for c in md["chunks"]] == [(5, 7), (7, 31)]
    np.testing.assert_array_equal(st.get_array("7", "pulses"), np.concatenate(_PULSES))


def test_a_plugin_whose_input_has_no_chunk_at_all_raises(tmp_path):
    class NoPulses(Pulses):
        source_chunks = []

    st = sx.Context(storage=[sx.DataDirectory(tmp_path)], register=[NoPulses, PulseWidths],
                    progress_bar=False)
    with pytest.raises(ChunkError, match="no chunk at all") as e:
        st.make("7", "pulse_widths")
    # strax raises a ValueError or a RuntimeError here, depending on its processor
    assert isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)
    assert not st.is_stored("7", "pulse_widths")


# --- failures ------------------------------------------------------------------------------------
class Exploded(RuntimeError):
    pass


class FailingWidths(PulseWidths):
    def compute(self, pulses):
        raise Exploded("widths cannot be computed")


class WidthSums(sx.Plugin):
    depends_on = "pulse_widths"
    provides = "width_sums"
    dtype = [("total", np.int64)] + sx.time_fields

    def compute(self, pulse_widths):
        return dict(total=pulse_widths["width"], time=pulse_widths["time"],
                    endtime=pulse_widths["endtime"])


def test_a_failure_before_the_first_chunk_is_recorded_for_it_and_its_dependents(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(tmp_path)],
                    register=[Pulses, FailingWidths, WidthSums], progress_bar=False)
    with pytest.raises(Exploded):
        st.make("7", "width_sums")
    for data_type in ("pulse_widths", "width_sums"):
        assert not st.is_stored("7", data_type)
        md = st.get_metadata("7", data_type)
        assert "Exploded" in md["exception"] and md["chunks"] == []
    # what the failure left is never loaded
    st.set_context_config(dict(forbid_creation_of=("width_sums", "pulse_widths")))
    with pytest.raises(DataNotAvailable):
        st.get_array("7", "width_sums")
    # the source's stream was cut short by the failure too: kept as a failed write only
    assert not st.is_stored("7", "pulses")
    assert "Exploded" in st.get_metadata("7", "pulses")["exception"]


def test_an_exception_while_writing_a_chunk_propagates_unchanged(tmp_path, monkeypatch):
    def broken_disk(path, data, compressor):
        raise Exploded(f"cannot write {path}")

    monkeypatch.setattr(file_saver, "write_chunk_file", broken_disk)
    st = sx.Context(storage=[sx.DataDirectory(tmp_path)], register=[Pulses],
                    progress_bar=False)
    with pytest.raises(Exploded):
        st.make("7", "pulses")
    assert not st.is_stored("7", "pulses")
    assert "Exploded" in st.get_metadata("7", "pulses")["exception"]


# --- calls that drop columns store nothing -----------------------------------------------------------
def test_a_call_keeping_or_dropping_columns_stores_nothing(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(tmp_path)], register=[Records, Peaks],
                    use_per_run_defaults=True, progress_bar=False)
    times = st.get_array("2", "peaks", keep_columns=["time"])
    assert times.dtype.names == ("time",)
    assert "data" not in st.get_array("2", "peaks", drop_columns=["data"]).dtype.names
    assert not st.is_stored("2", "peaks") and not st.is_stored("2", "records")
    assert os.listdir(tmp_path) == []
    full = st.get_array("2", "peaks")
    assert st.is_stored("2", "peaks") and st.is_stored("2", "records")
    np.testing.assert_array_equal(full["time"], times["time"])


# --- ZipDirectory -----------------------------------------------------------------------------------
def test_zipped_runs_load_as_they_were_stored(tmp_path):
    data = tmp_path / "data"
    st = sx.Context(storage=[sx.DataDirectory(data)], register=[Records, Peaks],
                    use_per_run_defaults=True, progress_bar=False)
    peaks = st.get_array("5", "peaks")
    md = st.get_metadata("5", "peaks")
    (data / "notes.txt").write_text("not a data folder")
    archive = tmp_path / "zips"
    archive.mkdir()
    sx.ZipDirectory.zip_dir(str(data), str(archive / "5.zip"), delete=True)
    # the folders were packed and removed; files beside them are neither packed nor removed
    assert sorted(p.name for p in data.iterdir()) == ["notes.txt"]

    zipped = sx.Context(storage=[sx.ZipDirectory(archive)], register=[Records, Peaks],
                        use_per_run_defaults=True, forbid_creation_of="*", progress_bar=False)
    assert zipped.is_stored("5", "peaks") and not zipped.is_stored("6", "peaks")
    assert zipped.get_metadata("5", "peaks") == md
    np.testing.assert_array_equal(zipped.get_array("5", "peaks"), peaks)
    with pytest.raises(DataNotAvailable):
        zipped.get_array("6", "peaks")
    with pytest.raises(sx.InvalidConfiguration):
        sx.ZipDirectory(archive, readonly=False)
