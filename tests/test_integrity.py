"""Stored data is either right or reported: checksums, metadata checks, leftovers, errors.

Every test damages real files in a temporary DataDirectory the way the issue found them
damaged (flipped bytes, edited metadata, killed writes) and checks that loading raises
DataCorrupted naming the file and that `verify` reports the damage and goes on.
"""
import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import superstrax as sx
from superstrax.storage import file_saver
from superstrax.storage.checksums import checksum_of
from superstrax.testutils import Peaks, Records, write_run_document
from superstrax.verification import check_folder, verify


def context(path, **config):
    return sx.Context(storage=[sx.DataDirectory(str(path), provide_run_metadata=True)],
                      register=[Records, Peaks], progress_bar=False,
                      config={"bonus_area": 42, **config})


@pytest.fixture
def one_chunk(tmp_path):
    """Records and peaks of run 0, one chunk each; (context, records folder, peaks folder)."""
    st = context(tmp_path / "d", n_chunks=1)
    st.make("0", "peaks")
    root = st.storage[0].path
    return (st, os.path.join(root, str(st.key_for("0", "records"))),
            os.path.join(root, str(st.key_for("0", "peaks"))))


def _chunk_file(folder):
    files = sorted(f for f in os.listdir(folder) if f[-6:].isdigit())
    return os.path.join(folder, files[0])


def _md_path(folder):
    return os.path.join(folder, os.path.basename(folder).split("-", 1)[1] + "-metadata.json")


def _edit_md(folder, edit):
    with open(_md_path(folder)) as f:
        md = json.load(f)
    edit(md)
    with open(_md_path(folder), "w") as f:
        json.dump(md, f)


def _flip(path, pos, mask=0xFF):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)[0]
        f.seek(pos)
        f.write(bytes([b ^ mask]))


# --- checksums ---------------------------------------------------------------------------
def test_every_flipped_byte_of_a_records_chunk_is_caught(one_chunk):
    """Exhaustive over the file: a change anywhere is a load error and a verify problem."""
    st, folder, _ = one_chunk
    path = _chunk_file(folder)
    original = open(path, "rb").read()
    good = st.get_array("0", "records").copy()
    for pos in range(len(original)):
        _flip(path, pos)
        with pytest.raises(sx.DataCorrupted, match=os.path.basename(path)):
            st.get_array("0", "records")
        assert not check_folder(folder).ok
        _flip(path, pos)
    np.testing.assert_array_equal(st.get_array("0", "records"), good)
    assert check_folder(folder).ok


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hst.data())
def test_flipped_bits_of_peaks_and_superrun_chunks_are_caught(tmp_path_factory, data):
    path_root = tmp_path_factory.mktemp("sr")
    st = context(path_root, n_chunks=1)
    storage = st.storage[0]
    for i, run in enumerate("012"):
        st.set_config({"secret_time_offset": i * 10_000_000})
        st.make(run, "records")
        write_run_document(storage, run, i * 10_000_000, i * 10_000_000 + 1)
    st.define_run("_sr", ["0", "1", "2"])
    st.set_context_config({"write_superruns": True})
    st.make("_sr", "peaks")
    target = data.draw(hst.sampled_from([("0", "peaks"), ("_sr", "peaks")]))
    folder = os.path.join(storage.path, str(st.key_for(*target)))
    path = _chunk_file(folder)
    size = os.path.getsize(path)
    pos = data.draw(hst.integers(0, size - 1))
    _flip(path, pos, data.draw(hst.integers(1, 255)))
    with pytest.raises(sx.DataCorrupted, match="checksum|blosc|rows"):
        st.get_array(*target)
    assert not check_folder(folder).ok
    shutil.rmtree(path_root)


def test_checksum_is_xxh3_of_the_file_and_strax_data_without_it_loads(one_chunk):
    st, folder, _ = one_chunk
    md = st.get_meta("0", "records")
    path = _chunk_file(folder)
    assert md["chunks"][0]["checksum"] == checksum_of(open(path, "rb").read())
    good = st.get_array("0", "records").copy()
    _edit_md(folder, lambda m: m["chunks"][0].pop("checksum"))   # as strax writes it
    np.testing.assert_array_equal(context(os.path.dirname(folder), n_chunks=1)
                                  .get_array("0", "records"), good)
    report = check_folder(folder)
    assert report.ok and any("no checksum" in n for n in report.notes)


# --- metadata edits ----------------------------------------------------------------------
def _drop_last(md):
    md["chunks"].pop()


def _zero_n_no_filename(md):
    md["chunks"][1]["n"] = 0
    md["chunks"][1].pop("filename")


def _rename_time(md):
    md["dtype"] = md["dtype"].replace("'time'", "'tyme'")


def _missing(field):
    def edit(md):
        md.pop(field)
    edit.__name__ = f"missing_{field}"
    return edit


def _missing_chunk_field(field):
    def edit(md):
        md["chunks"][0].pop(field)
    edit.__name__ = f"missing_chunk_{field}"
    return edit


EDITS = [lambda md: md.update(chunks=[]), _zero_n_no_filename, _drop_last, _rename_time,
         _missing("chunks"), _missing("compressor"), _missing("data_kind"), _missing("dtype"),
         _missing_chunk_field("n"), _missing_chunk_field("start"),
         _missing_chunk_field("end"), lambda md: md["chunks"].reverse(),
         lambda md: md.update(chunks={"0": 1}), lambda md: md["chunks"].__setitem__(0, 5),
         lambda md: md["chunks"][2].update(n="ten")]


@pytest.mark.parametrize("edit", EDITS)
def test_each_metadata_edit_is_data_corrupted(tmp_path, edit):
    st = context(tmp_path / "d", n_chunks=4)
    st.make("0", "records")
    folder = os.path.join(st.storage[0].path, str(st.key_for("0", "records")))
    _edit_md(folder, edit)
    fresh = context(tmp_path / "d", n_chunks=4)
    for load in (lambda: fresh.get_array("0", "records"),
                 lambda: list(fresh.get_iter("0", "records")),
                 lambda: fresh.get_array("0", "records", time_range=(0, 1))):
        with pytest.raises(sx.DataCorrupted, match=os.path.basename(folder)):
            load()
    assert not check_folder(folder).ok


def test_metadata_that_is_not_json_any_more_fails_loads_of_it_and_of_what_needs_it(one_chunk):
    st, records_folder, peaks_folder = one_chunk
    # strax's name for the file prefix of a data folder finds the metadata file
    assert sx.dirname_to_prefix(records_folder + os.sep) == \
        f"records-{st.key_for('0', 'records').lineage_hash}"
    md_file = os.path.join(records_folder, f"{sx.dirname_to_prefix(records_folder)}-metadata.json")
    assert md_file == _md_path(records_folder)
    with open(md_file, "a") as f:
        f.write("\n} trailing text")
    shutil.rmtree(peaks_folder)
    with pytest.raises(sx.DataCorrupted, match="metadata"):
        st.get_array("0", "records")
    with pytest.raises(sx.DataCorrupted, match="metadata"):
        st.get_array("0", "peaks")          # would be made from the damaged records


def test_unreadable_metadata_is_not_called_corrupted(one_chunk, monkeypatch):
    """Lack of permission says so: the advice to delete the folder would delete intact data."""
    st, folder, _ = one_chunk
    real_open = open

    def no_permission(path, *a, **k):
        if str(path).endswith("-metadata.json") and os.path.basename(folder) in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    fresh = context(os.path.dirname(folder), n_chunks=1)
    monkeypatch.setattr("builtins.open", no_permission)
    with pytest.raises(sx.StorageError, match="permission") as info:
        fresh.get_array("0", "records")
    assert "Delete" not in str(info.value) and not isinstance(info.value, sx.DataCorrupted)


def test_bad_json_run_document_is_not_missing(tmp_path):
    storage = sx.DataDirectory(str(tmp_path), provide_run_metadata=True)
    with open(os.path.join(str(tmp_path), "5-metadata.json"), "w") as f:
        f.write('{"name": "5", ')
    with pytest.raises(sx.DataCorrupted, match="exists but is not valid JSON"):
        storage.run_metadata("5")
    st = context(tmp_path)
    with pytest.raises(sx.DataCorrupted, match="5-metadata.json"):
        st.run_metadata("5")


# --- path and OS errors ------------------------------------------------------------------
def test_data_directory_none_or_a_file(tmp_path):
    with pytest.raises(sx.StorageError, match="needs the path"):
        sx.DataDirectory(None)
    assert not os.path.exists("None")
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(sx.StorageError, match="is a file"):
        sx.DataDirectory(str(f))


def test_folder_replaced_by_a_file(one_chunk):
    st, folder, _ = one_chunk
    shutil.rmtree(folder)
    with open(folder, "w") as f:
        f.write("not a folder")
    fresh = context(os.path.dirname(folder), n_chunks=1)
    with pytest.raises(sx.StorageError, match="is a file"):
        fresh.is_stored("0", "records")
    with pytest.raises(sx.StorageError, match="is a file"):
        fresh.get_array("0", "records")


def test_a_data_directory_deleted_after_the_context_was_made_is_made_again(tmp_path):
    root = tmp_path / "nested" / "d"
    st = context(root, n_chunks=2)
    shutil.rmtree(tmp_path / "nested")
    assert not st.is_stored("0", "peaks")
    st.make("0", "peaks")
    assert sorted(os.listdir(root)) == sorted(str(st.key_for("0", t))
                                              for t in ("records", "peaks"))
    assert st.is_stored("0", "peaks") and len(st.get_array("0", "peaks")) == 20


def test_a_data_directory_that_cannot_be_made_again_is_a_storage_error(tmp_path):
    st = context(tmp_path / "gone" / "d", n_chunks=1)
    shutil.rmtree(tmp_path / "gone")
    (tmp_path / "gone").write_text("a file where the directory's parent was")
    with pytest.raises(sx.StorageError, match=f"{tmp_path / 'gone'} is a file"):
        st.make("0", "records")
    assert (tmp_path / "gone").read_text().startswith("a file")


def test_no_permission_to_make_the_data_directory_again_is_a_storage_error(tmp_path,
                                                                           monkeypatch):
    st = context(tmp_path / "d", n_chunks=1)
    shutil.rmtree(tmp_path / "d")
    real_makedirs = os.makedirs

    def refused(path, *args, **kwargs):
        if os.path.abspath(path) == str(tmp_path / "d"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_makedirs(path, *args, **kwargs)

    monkeypatch.setattr(file_saver.os, "makedirs", refused)
    with pytest.raises(sx.StorageError, match="0/records.*ermission") as info:
        st.make("0", "records")
    assert info.value.errno == errno.EACCES and not (tmp_path / "d").exists()


def test_disk_full_names_run_and_type(tmp_path, monkeypatch):
    def full(path, data, compressor):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    monkeypatch.setattr(file_saver, "write_chunk_file", full)
    st = context(tmp_path / "d", n_chunks=2)
    with pytest.raises(sx.StorageError, match=r"0/records.*disk is full") as info:
        st.make("0", "records")
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    monkeypatch.undo()
    assert not st.is_stored("0", "records")
    st.make("0", "records")
    assert len(st.get_array("0", "records")) == 20


def test_run_id_too_long_for_the_file_system(tmp_path):
    st = context(tmp_path / "d", n_chunks=1)
    with pytest.raises(sx.InvalidArgument, match="shorter"):
        st.make("9" * 240, "records")
    assert os.listdir(st.storage[0].path) == []


# --- leftovers ---------------------------------------------------------------------------
def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_replaced_copy_whose_key_is_missing_is_restored(one_chunk):
    st, folder, _ = one_chunk
    good = st.get_array("0", "records").copy()
    aside = folder + ".replaced-0123abcd"
    os.rename(folder, aside)              # a kill between the two renames of a replace
    with open(folder + "-claim.json", "w") as f:     # ... leaves the killed writer's claim
        json.dump({"writer": "abc", "pid": _dead_pid(), "host": socket.gethostname(),
                   "time": 0}, f)
    reports = {r.name: r for r in verify(os.path.dirname(folder))}
    assert f"rename {os.path.basename(aside)} to {os.path.basename(folder)}" in \
        " ".join(reports[os.path.basename(aside)].problems)
    fresh = context(os.path.dirname(folder), n_chunks=1)
    np.testing.assert_array_equal(fresh.get_array("0", "records"), good)
    assert os.path.isdir(folder) and not os.path.exists(aside)
    assert all(r.ok for r in verify(os.path.dirname(folder)))


def test_stale_claim_and_writing_leftovers_are_reported_then_recovered(one_chunk):
    st, folder, _ = one_chunk
    root = os.path.dirname(folder)
    key = str(st.key_for("1", "records"))
    with open(os.path.join(root, key + "-claim.json"), "w") as f:
        json.dump({"writer": "abc", "pid": _dead_pid(), "host": socket.gethostname(),
                   "time": 0}, f)
    os.makedirs(os.path.join(root, key + "_temp-abc"))
    with open(os.path.join(root, "7-metadata.json.1234abcd.writing"), "w") as f:
        f.write("{")
    reports = {r.name: r for r in verify(root)}
    assert not reports[key + "-claim.json"].ok
    assert not reports[key + "_temp-abc"].ok
    assert not reports["7-metadata.json.1234abcd.writing"].ok
    st.make("1", "records")            # takes the dead writer's claim over
    names = os.listdir(root)
    assert key in names and key + "-claim.json" not in names and key + "_temp-abc" not in names


@pytest.fixture
def live_holder():
    """A process that stays alive (sleeping) for the test, to hold claims in its name."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield holder
    holder.kill()
    holder.wait()


def _claim_for(root, key, pid):
    claim = os.path.join(root, key + "-claim.json")
    with open(claim, "w") as f:
        json.dump({"writer": "w1", "pid": pid, "host": socket.gethostname(), "time": 0}, f)
    return claim


def test_live_claim_of_another_process_makes_this_writer_wait_and_store_nothing(one_chunk,
                                                                                live_holder):
    st, folder, _ = one_chunk
    root = os.path.dirname(folder)
    key = str(st.key_for("1", "records"))
    claim = _claim_for(root, key, live_holder.pid)
    storage = st.storage[0]
    assert storage.claim_wait == 600        # the default
    saver = storage.saver(st.key_for("1", "records"), {"run_id": "1", "data_type": "records",
                                                       "compressor": "blosc"})
    assert saver.wait_seconds == 600
    saver.wait_seconds = 0.3
    assert saver.passive and not os.path.exists(saver.temp)
    with pytest.raises(sx.StorageError, match="did not store it"):
        saver.close()
    assert saver.outcome == file_saver.OTHER_BUSY
    assert key not in os.listdir(root) and os.path.exists(claim)


def test_a_short_claim_wait_ends_in_an_error_naming_run_type_and_claim(tmp_path, live_holder):
    root = str(tmp_path / "d")
    st = sx.Context(storage=[sx.DataDirectory(root, claim_wait=0.2)], register=[Records],
                    progress_bar=False, config={"n_chunks": 2})
    key = str(st.key_for("4", "records"))
    claim = _claim_for(root, key, live_holder.pid)     # a winner that never commits
    with pytest.raises(sx.StorageError) as e:
        st.make("4", "records")
    message = str(e.value)
    assert "run 4 records" in message and claim in message
    assert f"pid {live_holder.pid}" in message and "claim_wait" in message
    assert sorted(os.listdir(root)) == [key + "-claim.json"]     # nothing stored, no temp
    assert not st.is_stored("4", "records")


def _peaks_context(root, claim_wait):
    # Not rechunked, peaks is written (and its claim taken) from its first chunk on, so this
    # process holds the peaks claim when the records saver closes.
    return sx.Context(storage=[sx.DataDirectory(root, claim_wait=claim_wait)],
                      register=[Records, Peaks], progress_bar=False, use_per_run_defaults=True,
                      allow_rechunk=False, config={"n_chunks": 2})


def test_data_left_to_a_writer_that_hangs_is_an_error_even_while_this_make_holds_claims(
        tmp_path, live_holder):
    # Making peaks stores records too; another live process holds the records claim and never
    # commits. The records saver closes while this process still holds the peaks claim, so
    # it cannot wait then; it waits once peaks is committed, and says it gave up.
    root = str(tmp_path / "d")
    st = _peaks_context(root, claim_wait=0.3)
    records_key = str(st.key_for("4", "records"))
    _claim_for(root, records_key, live_holder.pid)
    with pytest.raises(sx.StorageError, match=f"run 4 records .*{records_key}"):
        st.make("4", "peaks")
    assert st.is_stored("4", "peaks") and not st.is_stored("4", "records")


@contextlib.contextmanager
def _another_writer_holding(key, root, script):
    """A second process running script (a slow make, given root and this folder), from the
    moment it holds key's claim; it must end well."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(here) + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    other = subprocess.Popen([sys.executable, "-c", script, root, here], env=env)
    try:
        claim = os.path.join(root, key + "-claim.json")
        deadline = time.monotonic() + 60
        while not os.path.exists(claim) and other.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(claim), f"the other writer never claimed {key}"
        yield other
    finally:
        assert other.wait(timeout=120) == 0


_SLOW_RECORDS_MAKER = r"""
import sys, time
import superstrax as sx
from superstrax.testutils import Records
compute = Records.compute
def slow(self, chunk_i):
    time.sleep(0.75)                 # the lineage stays Records'
    return compute(self, chunk_i)
Records.compute = slow
st = sx.Context(storage=[sx.DataDirectory(sys.argv[1])], register=[Records],
                progress_bar=False, config={"n_chunks": 2})
st.make("4", "records")
"""


def test_make_returns_once_data_left_to_another_writer_is_stored(tmp_path):
    root = str(tmp_path / "d")
    st = _peaks_context(root, claim_wait=60)
    with _another_writer_holding(str(st.key_for("4", "records")), root, _SLOW_RECORDS_MAKER):
        st.make("4", "peaks")
        # make waited for the other writer: both are stored when it returns
        assert st.is_stored("4", "records") and st.is_stored("4", "peaks")


_SLOW_SIDE_MAKER = r"""
import sys, time
import superstrax as sx
sys.path.insert(0, sys.argv[2])
from test_integrity import Side
compute = Side.compute
def slow(self, chunk_i):
    time.sleep(0.75)                 # the lineage stays Side's
    return compute(self, chunk_i)
Side.compute = slow
st = sx.Context(storage=[sx.DataDirectory(sys.argv[1])], register=[Side], progress_bar=False,
                config={"n_chunks": 2})
st.make("4", "side")
"""


class Side(Records):
    """Records under another name, for a make run inside another plugin's compute."""
    provides = "side"
    data_kind = "side"


class MakesSideWhileComputing(sx.Plugin):
    """Calls make('side') from compute, while this process holds its own output's claim
    (its output is not rechunked, so it is written, and claimed, from its first chunk)."""
    provides = "outer"
    depends_on = "records"
    dtype = sx.time_fields
    rechunk_on_save = False
    context = None                     # set by the test

    def compute(self, records, start, end):
        if start > 0:                  # the second chunk: the first one's claim is held
            type(self).context.make(self.run_id, "side")
        out = np.zeros(0, self.dtype)
        return self.chunk(start=start, end=end, data=out)


def test_a_make_inside_another_leaves_its_wait_to_the_outer_make(tmp_path):
    root = str(tmp_path / "d")
    st = sx.Context(storage=[sx.DataDirectory(root, claim_wait=60)],
                    register=[Records, Side, MakesSideWhileComputing], progress_bar=False,
                    allow_rechunk=False, config={"n_chunks": 2})
    MakesSideWhileComputing.context = st
    with _another_writer_holding(str(st.key_for("4", "side")), root, _SLOW_SIDE_MAKER):
        st.make("4", "outer")
        # The inner make could not wait (the outer held its claim); the outer waited once
        # its own data was committed, so both are stored when it returns.
        assert st.is_stored("4", "outer") and st.is_stored("4", "side")


def test_a_wait_that_cannot_be_done_or_left_to_anyone_is_said(tmp_path, live_holder):
    # This process holds a claim outside any make (a saver opened by hand), so the make
    # cannot wait for the live writer of records, and no make around it can: it says so.
    root = str(tmp_path / "d")
    st = _peaks_context(root, claim_wait=60)
    _claim_for(root, str(st.key_for("4", "records")), live_holder.pid)
    by_hand = st.storage[0].saver(st.key_for("5", "records"), {
        "run_id": "5", "data_type": "records", "compressor": "blosc"})
    try:
        with pytest.warns(UserWarning, match="could not wait"):
            st.make("4", "peaks")
        assert st.is_stored("4", "peaks") and not st.is_stored("4", "records")
    finally:
        by_hand.close(discard=True)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "10", None, True])
def test_claim_wait_must_be_a_number_of_seconds(tmp_path, bad):
    with pytest.raises(sx.InvalidArgument, match="claim_wait"):
        sx.DataDirectory(str(tmp_path), claim_wait=bad)


# --- verify survives damaged run documents -----------------------------------------------
def test_verify_survives_every_damaged_run_document(tmp_path):
    st = context(tmp_path, n_chunks=1)
    storage = st.storage[0]
    for i, run in enumerate("012"):
        st.set_config({"secret_time_offset": i * 10_000_000})
        st.make(run, "records")
        write_run_document(storage, run, i * 10_000_000, i * 10_000_000 + 1)
    st.define_run("_a", ["0", "1"])
    st.define_run("_b", ["_a", "2"])
    st.define_run("_c", ["0"])
    docs = {"3": {"name": "3", "start": "yesterday", "end": None},
            "4": {"name": "4", "start": None},
            "5": {"name": "5", "start": [1, 2], "end": {"$date": "nonsense"}}}
    for run, doc in docs.items():
        with open(os.path.join(str(tmp_path), f"{run}-metadata.json"), "w") as f:
            json.dump(doc, f)
    with open(os.path.join(str(tmp_path), "6-metadata.json"), "w") as f:
        f.write("[1, 2")
    with open(os.path.join(str(tmp_path), "7-metadata.json"), "w") as f:
        f.write("[1, 2]")

    def edit(run, change):
        path = os.path.join(str(tmp_path), f"{run}-metadata.json")
        with open(path) as f:
            doc = json.load(f)
        change(doc)
        with open(path, "w") as f:
            json.dump(doc, f)

    edit("_c", lambda d: d.update(sub_run_spec=["0", "1"]))
    edit("_a", lambda d: d.update(sub_run_spec={"_b": "all"}))       # a cycle
    reports = {r.name: r for r in verify(str(tmp_path))}
    for run in ("3", "4", "5", "6", "7", "_a", "_b", "_c"):
        assert not reports[f"{run}-metadata.json"].ok, run
    assert "not a date" in " ".join(reports["3-metadata.json"].problems)
    assert "contains itself" in " ".join(reports["_a-metadata.json"].problems)
    assert reports["0-metadata.json"].ok
    r = subprocess.run([sys.executable, "-m", "superstrax", "verify", str(tmp_path)],
                       capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr
    fresh = context(tmp_path)
    with pytest.raises(sx.SuperrunError, match="contains itself"):
        fresh.get_array("_b", "records")


def test_cyclic_plugin_dependencies_are_a_plugin_error(tmp_path):
    class A(sx.Plugin):
        provides, depends_on, dtype = "a", ("b",), sx.time_fields

    class B(sx.Plugin):
        provides, depends_on, dtype = "b", ("a",), sx.time_fields

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[A, B],
                    progress_bar=False)
    with pytest.raises(sx.PluginError, match="a -> b -> a"):
        st.get_array("0", "a")


def test_plugin_rows_with_negative_length_are_refused(tmp_path):
    class Bad(Records):
        def compute(self, chunk_i):
            c = super().compute(chunk_i)
            c.data["length"][3] = -1
            return c
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Bad],
                    progress_bar=False, config={"n_chunks": 1})
    with pytest.raises(sx.PluginError, match="negative length"):
        st.make("0", "records")
    assert not st.is_stored("0", "records")


def test_plain_array_rows_that_end_before_they_start_are_refused(tmp_path):
    # compute() returning a plain array (not a Chunk) is checked too
    class Backwards(sx.Plugin):
        provides, depends_on, data_kind = "backwards", ("records",), "backwards"
        dtype = sx.time_fields

        def compute(self, records):
            rows = np.zeros(len(records), self.dtype)
            rows["time"] = records["time"]
            rows["endtime"] = records["time"] + 1
            rows["endtime"][1] = rows["time"][1] - 1
            return rows

    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[Records, Backwards],
                    progress_bar=False, config={"n_chunks": 1})
    with pytest.raises(sx.PluginError, match="endtime before its time.*first: row 1"):
        st.make("0", "backwards")
    assert not st.is_stored("0", "backwards")


def test_claim_of_a_saver_dropped_without_closing_is_taken_over_in_the_same_process(one_chunk):
    st, folder, _ = one_chunk
    key = st.key_for("1", "records")
    md = {"run_id": "1", "data_type": "records", "compressor": "blosc"}
    saver = st.storage[0].saver(key, md)
    assert not saver.passive
    del saver                      # dropped, never closed: its claim file stays behind
    assert os.path.exists(os.path.join(st.storage[0].path, f"{key}-claim.json"))
    st.make("1", "records")
    assert st.is_stored("1", "records") and len(st.get_array("1", "records")) == 10


def test_a_write_lists_its_directory_only_after_taking_a_stale_claim_over(tmp_path, monkeypatch):
    """Looking for a killed writer's leftovers lists the whole directory: done for every write,
    filling a directory with n runs would cost n^2. Only a stale claim says there may be any."""
    from superstrax.storage import file_saver
    calls = []
    for name in ("_leftover_temps", "restore_replaced"):
        real = getattr(file_saver, name)
        monkeypatch.setattr(file_saver, name,
                            lambda *a, _real=real, _name=name, **k: calls.append(_name)
                            or _real(*a, **k))
    st = context(str(tmp_path), n_chunks=1)
    for run in ("0", "1", "2"):
        st.make(run, "records")
    assert calls == []
    key = str(st.key_for("3", "records"))
    with open(os.path.join(str(tmp_path), key + "-claim.json"), "w") as f:
        json.dump({"writer": "abc", "pid": _dead_pid(), "host": socket.gethostname(),
                   "time": 0}, f)
    os.makedirs(os.path.join(str(tmp_path), key + "_temp-abc"))
    st.make("3", "records")
    assert sorted(calls) == ["_leftover_temps", "restore_replaced"]
    assert key + "_temp-abc" not in os.listdir(str(tmp_path))
