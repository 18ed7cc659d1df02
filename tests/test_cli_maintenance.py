"""The command line on data directories in states the first CLI tests do not make: superruns
of superruns, copies left by an interrupted replacement, rechunking gapless data and KEYs
given as paths. On real files in tmp dirs, through `python -m superstrax` or, where only
messages and exit codes are checked, through superstrax.cli.main in this process."""
import os
import shutil

import numpy as np
import pytest

from superstrax.storage.files import FileSystemBackend

from test_cli import RUNS, SUPERRUN, cli, cli_in_process, context, folders


@pytest.fixture
def run_cli(capsys):
    return lambda *args: cli_in_process(capsys, *args)


@pytest.fixture(scope="module")
def runs_template(tmp_path_factory):
    """Three runs with stored records and peaks (no superruns). Built once; tests copy it."""
    from conftest import make_runs
    path = tmp_path_factory.mktemp("runs") / "data"
    st, storage = context(path)
    make_runs(st, storage, RUNS, mode="test")
    st.make(RUNS, "peaks")
    return path


@pytest.fixture
def runs_dir(runs_template, tmp_path):
    path = tmp_path / "data"
    shutil.copytree(runs_template, path)
    return path


def data_lines(out, data_type):
    return [line for line in out.splitlines() if line.strip().startswith(data_type + " ")]


def section(out, header):
    """The lines `superstrax runs` prints for one run, up to the next blank line."""
    block = out.split(f"\n{header}\n", 1)[1]
    return block.split("\n\n", 1)[0]


# --- runs: superruns of superruns ----------------------------------------------------------------
def test_runs_superrun_of_superruns_current_then_older(runs_dir):
    st, _ = context(runs_dir)
    st.define_run("_inner", ["0", "1"])
    st.define_run("_outer", ["_inner", "2"])
    st.set_context_config({"write_superruns": True})
    st.make("_outer", "records")
    stored = folders(runs_dir, "_outer_")
    assert len(stored) == 1 and "-records-" in stored[0]

    r = cli("runs", runs_dir)
    assert r.returncode == 0, r.stderr
    outer = section(r.stdout, "superrun _outer")
    assert "subruns: _inner (all), 2 (all)" in outer
    [line] = data_lines(outer, "records")
    assert stored[0] in line and "300 rows" in line
    assert "older definition" not in line and "[" not in line

    # Redefining the inner superrun changes what _outer holds, though _outer's own document
    # is unchanged: its stored data is now for an older definition.
    st.define_run("_inner", ["0"])
    r = cli("runs", runs_dir)
    assert r.returncode == 0, r.stderr
    outer = section(r.stdout, "superrun _outer")
    [line] = data_lines(outer, "records")
    assert stored[0] in line
    assert "[made for an older definition of the superrun]" in line
    # The library agrees: it no longer finds the stored data for _outer.
    st, _ = context(runs_dir)
    assert not st.is_stored("_outer", "records")


def test_runs_superrun_whose_inner_superrun_is_gone(runs_dir, run_cli):
    st, _ = context(runs_dir)
    st.define_run("_inner", ["0", "1"])
    st.define_run("_outer", ["_inner", "2"])
    st.set_context_config({"write_superruns": True})
    st.make("_outer", "records")
    os.remove(runs_dir / "_inner-metadata.json")
    r = run_cli("runs", runs_dir)
    assert r.returncode == 0, r.stderr
    [line] = data_lines(section(r.stdout, "superrun _outer"), "records")
    assert "definition no longer resolves" in line
    assert run_cli("verify", runs_dir, "--run", "_outer").returncode == 1


# --- leftover copies of an interrupted replacement -----------------------------------------------
def test_runs_and_verify_list_a_leftover_replaced_copy(runs_dir, run_cli):
    key = folders(runs_dir, "1-peaks-")[0]
    # What FileSaver leaves when the process stops between moving the old copy aside and
    # removing it: the aside copy next to the new data.
    leftover = f"{key}.replaced-0123abcd"
    shutil.copytree(runs_dir / key, runs_dir / leftover)
    r = run_cli("runs", runs_dir)
    assert r.returncode == 0, r.stderr
    assert "leftover copies of replaced data" in r.stdout
    assert leftover in r.stdout.rsplit("\n\n", 1)[1]
    assert "incomplete writes" not in r.stdout
    r = run_cli("verify", runs_dir, "--run", "1")
    assert r.returncode == 1 and leftover in r.stdout and "leftover copy" in r.stdout


def test_runs_on_a_directory_holding_only_a_leftover_copy(runs_dir, tmp_path, run_cli):
    only = tmp_path / "only"
    only.mkdir()
    key = folders(runs_dir, "0-peaks-")[0]
    shutil.copytree(runs_dir / key, only / f"{key}.replaced-feedbeef")
    r = run_cli("runs", only)
    assert r.returncode == 0, r.stderr
    assert "no runs" not in r.stdout
    assert f"{key}.replaced-feedbeef" in r.stdout


# --- rechunk -------------------------------------------------------------------------------------
def test_rechunk_gapless_data_says_chunks_were_joined(runs_dir):
    key = folders(runs_dir, "0-records-")[0]
    st, _ = context(runs_dir)
    before = st.get_array("0", "records")
    itemsize = before.dtype.itemsize
    # Ten chunks of ten records 1 ns apart: no gap to cut at. Ask for ~3 rows per chunk.
    target_mb = 3 * itemsize / 1e6
    r = cli("rechunk", runs_dir, key, "--target-mb", target_mb)
    assert r.returncode == 0, r.stderr
    assert "10 -> 1 chunks" in r.stdout
    notes = [line for line in r.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "no gaps over 1000 ns to cut at; chunks were joined" in notes[0]
    md = FileSystemBackend().get_metadata(str(runs_dir / key))
    assert [c["n"] for c in md["chunks"]] == [100]
    st, _ = context(runs_dir)
    assert np.array_equal(st.get_array("0", "records"), before)


def test_rechunk_cut_at_gaps_has_no_note(tmp_path, run_cli):
    from conftest import make_runs
    path = tmp_path / "data"
    st, storage = context(path)
    make_runs(st, storage, RUNS)
    st.define_run(SUPERRUN, RUNS)
    st.set_context_config({"write_superruns": True})
    st.make(SUPERRUN, "records")
    key = str(st.key_for(SUPERRUN, "records"))
    itemsize = st.get_array("0", "records").dtype.itemsize
    # Subruns of 100 rows, 10 ms apart; a target of 150 rows cuts between every subrun.
    r = run_cli("rechunk", path, key, "--target-mb", 150 * itemsize / 1e6)
    assert r.returncode == 0, r.stderr
    assert "1 -> 3 chunks" in r.stdout
    assert "note:" not in r.stdout


def test_rechunk_key_given_as_a_path_inside_the_directory(runs_dir, monkeypatch, run_cli):
    key = folders(runs_dir, "2-records-")[0]
    for given in (runs_dir / key, f"{runs_dir / key}{os.sep}"):
        r = run_cli("rechunk", runs_dir, given, "--target-mb", "200")
        assert r.returncode == 0, r.stderr
        assert f"rechunked {key} " in r.stdout
    # Relative to the working directory, as a shell would pass it.
    monkeypatch.chdir(runs_dir.parent)
    r = run_cli("rechunk", runs_dir.name, os.path.join(runs_dir.name, key), "--target-mb", "1")
    assert r.returncode == 0, r.stderr
    assert run_cli("verify", runs_dir).returncode == 0


def test_rechunk_key_given_as_a_path_elsewhere_is_refused(runs_dir, tmp_path, run_cli):
    key = folders(runs_dir, "2-records-")[0]
    other = tmp_path / "other"
    shutil.copytree(runs_dir, other)
    before = sorted(os.listdir(runs_dir)), sorted(os.listdir(runs_dir / key))
    # A folder of the same name in another data directory: not the one DIR holds.
    r = run_cli("rechunk", runs_dir, other / key, "--target-mb", "200")
    assert r.returncode == 2, r.stdout
    assert r.stderr.startswith("error: KEY ")
    assert f"is not a folder of the data directory {runs_dir}" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("rechunk", runs_dir, tmp_path / "nowhere" / key, "--target-mb", "200")
    assert r.returncode == 2 and "is not a folder of the data directory" in r.stderr
    assert (sorted(os.listdir(runs_dir)), sorted(os.listdir(runs_dir / key))) == before
    md = FileSystemBackend().get_metadata(str(other / key))
    assert len(md["chunks"]) == 10
