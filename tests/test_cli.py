"""The `superstrax` command line, run end to end through `python -m superstrax` on real data
directories made with the library."""
import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

import superstrax as sx
from superstrax.storage.files import FileSaver, FileSystemBackend
from superstrax.testutils import Peaks, Records

from conftest import make_runs

RUNS = ["0", "1", "2"]
SUPERRUN = "_all3"


def subprocess_env():
    """The environment for a subprocess that imports the superstrax these tests import, from
    whatever working directory (an installed copy elsewhere must not answer instead)."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(sx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def cli(*args):
    return subprocess.run([sys.executable, "-m", "superstrax", *map(str, args)],
                          check=False, capture_output=True, text=True, timeout=120,
                          env=subprocess_env())


def cli_in_process(capsys, *args):
    """What cli() gives, from main() in this process: the same code on the same files, without
    a new interpreter's start-up (~0.6 s), for checks of messages and exit codes."""
    from superstrax.cli import main
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


@pytest.fixture
def run_cli(capsys):
    return lambda *args: cli_in_process(capsys, *args)


def context(path):
    storage = sx.DataDirectory(str(path), provide_run_metadata=True)
    return sx.Context(storage=[storage], register=[Records, Peaks], config={"bonus_area": 42},
                      progress_bar=False), storage


def folders(path, start):
    return sorted(n for n in os.listdir(path) if n.startswith(start))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Three runs 10 ms apart and a superrun of them whose peaks are stored as superrun data.
    Built once; tests work on copies."""
    path = tmp_path_factory.mktemp("template") / "data"
    st, storage = context(path)
    bounds = make_runs(st, storage, RUNS, mode="test")
    st.make(RUNS, "peaks")
    st.define_run(SUPERRUN, RUNS)
    st.set_context_config({"write_superruns": True})
    st.make(SUPERRUN, "peaks")
    return path, bounds


@pytest.fixture
def data_dir(template, tmp_path):
    path = tmp_path / "data"
    shutil.copytree(template[0], path)
    return path


@pytest.fixture
def bounds(template):
    return template[1]


def chunk_file(folder, i=0):
    md = FileSystemBackend().get_metadata(str(folder))
    return os.path.join(folder, md["chunks"][i]["filename"])


def tree_bytes(folder):
    return {name: open(os.path.join(folder, name), "rb").read()
            for name in sorted(os.listdir(folder))}


# --- help and usage ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [None, "demo", "runs", "define", "verify", "rechunk"])
def test_help_of_every_command(command):
    r = cli(*([command] if command else []), "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: superstrax")
    if command:
        assert f"superstrax {command}" in r.stdout
        assert "exit status" in r.stdout or command == "demo"
    else:
        for name in ("demo", "runs", "define", "verify", "rechunk"):
            assert name in r.stdout


def exit_status(help_text):
    """{code: description} from the 'exit status:' section of a help text."""
    codes = {}
    section = help_text.split("exit status:\n", 1)[1]
    for line in section.splitlines():
        if line[:4].strip().isdigit():
            code = int(line[:4])
            codes[code] = line[4:].strip()
        elif line.startswith("     ") and codes:
            codes[code] += " " + line.strip()
        else:
            break
    return codes


def help_text(capsys, *command):
    from superstrax.cli import main
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


def test_help_says_which_exit_code_an_unknown_run_or_key_gives(capsys):
    top = exit_status(help_text(capsys))
    assert "define" in top[1] and "subruns that have no run document" in top[1]
    assert "verify's run R" in top[2] and "rechunk's KEY" in top[2]
    define = exit_status(help_text(capsys, "define"))
    assert "a subrun without a run document in DIR" in define[1]
    assert "subrun" not in define[2]
    verify = exit_status(help_text(capsys, "verify"))
    assert "R (--run) has no run document and no data in DIR" in verify[2]
    rechunk = exit_status(help_text(capsys, "rechunk"))
    assert "KEY is not a complete data folder of DIR" in rechunk[2]
    assert "a path outside DIR" in rechunk[2]


def test_unknown_runs_and_keys_exit_as_the_help_says(data_dir, tmp_path, run_cli):
    before = sorted(os.listdir(data_dir))
    # A subrun of a definition is part of the definition: unknown means invalid, 1.
    r = run_cli("define", data_dir, "_x", "0", "7")
    assert r.returncode == 1 and "subrun 7 is unknown" in r.stderr
    ranges = tmp_path / "ranges.json"
    ranges.write_text(json.dumps({"0": "all", "7": "all"}))
    r = run_cli("define", data_dir, "_x", "--from-ranges", ranges)
    assert r.returncode == 1 and "subrun 7 is unknown" in r.stderr
    # A run or key the command is to act on: 2.
    r = run_cli("verify", data_dir, "--run", "7")
    assert r.returncode == 2 and "run 7 is not in" in r.stderr
    r = run_cli("verify", data_dir, "--run", "_nothing")
    assert r.returncode == 2 and "run _nothing is not in" in r.stderr
    r = run_cli("rechunk", data_dir, "7-peaks-xia2iit6vb", "--target-mb", "1")
    assert r.returncode == 2 and "no data folder 7-peaks-xia2iit6vb" in r.stderr
    assert sorted(os.listdir(data_dir)) == before


def test_help_of_rechunk_and_verify_say_what_they_cannot_do(capsys):
    from superstrax.chunk import DEFAULT_CHUNK_SPLIT_NS
    from superstrax.cli import SPLIT_NS
    assert SPLIT_NS == DEFAULT_CHUNK_SPLIT_NS
    text = " ".join(help_text(capsys, "rechunk").split())
    assert "joined until they pass the target" in text
    assert f"cut only where rows are more than {SPLIT_NS} ns apart" in text
    assert "fewer, larger chunks than asked for" in text
    text = " ".join(help_text(capsys, "verify").split())
    assert "carry no checksum" in text
    assert "may decode to wrong values undetected" in text
    assert "checks sizes, row counts, time order and bounds" in text


def test_demo_into_a_file_is_a_usage_error(tmp_path, run_cli):
    path = tmp_path / "a_file"
    path.write_text("not a directory\n")
    r = run_cli("demo", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ")
    assert f"{path} is a file, not a directory" in r.stderr
    assert "File exists" not in r.stderr and "Traceback" not in r.stderr
    assert path.read_text() == "not a directory\n"
    assert os.listdir(tmp_path) == ["a_file"]


def test_no_command_is_a_usage_error():
    r = cli()
    assert r.returncode == 2
    assert "usage: superstrax" in r.stderr


def test_main_returns_exit_codes_in_process(tmp_path, capsys):
    from superstrax.cli import main
    assert main(["runs", str(tmp_path)]) == 0
    assert "no runs" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "missing")]) == 2
    assert main(["verify", "--help"]) == 0


# --- runs ----------------------------------------------------------------------------------------
def test_runs_lists_runs_superruns_data_and_livetime(data_dir, bounds):
    r = cli("runs", data_dir)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "3 run(s), 1 superrun(s)" in out
    for run_id in RUNS:
        assert f"\nrun {run_id}\n" in out
        assert f"{run_id}-records-j3nd2fjbiq" in out
    assert f"superrun {SUPERRUN}" in out
    assert "subruns: 0 (all), 1 (all), 2 (all)" in out
    # Each run document spans 1 ms (its dates are rounded outwards to milliseconds).
    assert "livetime 3000000 ns (0.003 s)" in out
    assert "100 rows in 10 chunks" in out           # records of one run
    assert "300 rows in 1 chunk" in out              # the stored superrun peaks
    assert f"{SUPERRUN}_" in out and "-peaks-xia2iit6vb" in out
    assert " kB" in out


def test_runs_marks_data_of_an_older_superrun_definition(data_dir):
    st, _ = context(data_dir)
    st.define_run(SUPERRUN, RUNS[:2])
    r = cli("runs", data_dir)
    assert r.returncode == 0, r.stderr
    assert "subruns: 0 (all), 1 (all)\n" in r.stdout
    assert "made for an older definition" in r.stdout


def test_runs_on_a_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    r = cli("runs", missing)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and str(missing) in r.stderr
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not missing.exists()


# --- define --------------------------------------------------------------------------------------
def test_define_from_runs(data_dir):
    r = cli("define", data_dir, "_first_two", "0", "1")
    assert r.returncode == 0, r.stderr
    assert "defined superrun _first_two" in r.stdout
    assert "livetime 2000000 ns" in r.stdout
    st, _ = context(data_dir)
    doc = st.run_metadata("_first_two")
    assert doc["sub_run_spec"] == {"0": "all", "1": "all"}
    assert doc["livetime"] == 2_000_000
    assert len(st.get_array("_first_two", "peaks")) == 200


def test_define_from_a_ranges_file(data_dir, bounds, tmp_path):
    s0, _ = bounds["0"]
    s2, _ = bounds["2"]
    ranges = {"0": [[s0 + 2, s0 + 5]], "2": [[s2, s2 + 3], [s2 + 6, s2 + 8]]}
    path = tmp_path / "ranges.json"
    path.write_text(json.dumps(ranges))
    r = cli("define", data_dir, "_picked", "--from-ranges", path)
    assert r.returncode == 0, r.stderr
    assert "subruns: 0 (1 range), 2 (2 ranges)" in r.stdout
    assert "livetime 8 ns" in r.stdout
    st, _ = context(data_dir)
    doc = st.run_metadata("_picked")
    assert doc["sub_run_spec"] == ranges
    assert doc["livetime"] == 8
    peaks = st.get_array("_picked", "peaks")
    # Records of a run sit at t = start + chunk_i (ten per chunk), each 1 ns long.
    expected = [s0 + 2, s0 + 3, s0 + 4, s2, s2 + 1, s2 + 2, s2 + 6, s2 + 7]
    assert np.array_equal(np.unique(peaks["time"]), expected)


@pytest.mark.parametrize("args, code, message", [
    (["not_a_superrun", "0", "1"], 1, "must be a string starting with '_'"),
    (["_x", "0", "7"], 1, "subrun 7 is unknown"),
    (["_x", "0", "0"], 1, "listed more than once"),
    (["_x"], 2, "give the runs of the superrun"),
])
def test_define_errors(data_dir, args, code, message):
    before = sorted(os.listdir(data_dir))
    r = cli("define", data_dir, *args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(os.listdir(data_dir)) == before


def test_define_overlapping_ranges_and_bad_files(data_dir, bounds, tmp_path):
    s0, _ = bounds["0"]
    overlapping = tmp_path / "overlap.json"
    overlapping.write_text(json.dumps({"0": [[s0, s0 + 5], [s0 + 3, s0 + 8]]}))
    r = cli("define", data_dir, "_x", "--from-ranges", overlapping)
    assert r.returncode == 1 and "overlap" in r.stderr and r.stderr.startswith("error: ")
    broken = tmp_path / "broken.json"
    broken.write_text('{"0": [[1, 2]')
    r = cli("define", data_dir, "_x", "--from-ranges", broken)
    assert r.returncode == 2 and "cannot be read as JSON" in r.stderr
    r = cli("define", data_dir, "_x", "--from-ranges", tmp_path / "absent.json")
    assert r.returncode == 2 and "absent.json does not exist" in r.stderr
    assert not (data_dir / "_x-metadata.json").exists()


@pytest.mark.parametrize("ranges", ["[[S, S5.5]]", "[[true, S5]]", "[[S, true]]",
                                    "[[S0.5, S5]]"])
def test_define_refuses_ranges_that_are_not_whole_ns(data_dir, bounds, tmp_path, ranges,
                                                     run_cli):
    s0, _ = bounds["0"]
    # Written as JSON text, so the float and bool reach the definition as they are.
    text = ranges.replace("S5.5", f"{s0 + 5}.5").replace("S0.5", f"{s0}.5") \
        .replace("S5", str(s0 + 5)).replace("S", str(s0))
    path = tmp_path / "ranges.json"
    path.write_text('{"0": %s}' % text)
    before = {name: os.path.getmtime(data_dir / name) for name in os.listdir(data_dir)}
    r = run_cli("define", data_dir, "_x", "--from-ranges", path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and "pairs of integers" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert {name: os.path.getmtime(data_dir / name) for name in os.listdir(data_dir)} == before


def test_define_accepts_whole_ns_written_as_floats(data_dir, bounds, tmp_path, run_cli):
    s0, _ = bounds["0"]
    path = tmp_path / "ranges.json"
    path.write_text('{"0": [[%d.0, %d]]}' % (s0 + 2, s0 + 5))
    r = run_cli("define", data_dir, "_x", "--from-ranges", path)
    assert r.returncode == 0, r.stderr
    st, _ = context(data_dir)
    assert st.run_metadata("_x")["livetime"] == 3


def test_define_in_a_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    r = cli("define", missing, "_x", "0")
    assert r.returncode == 2
    assert f"data directory {missing} does not exist" in r.stderr
    assert not missing.exists()


# --- verify --------------------------------------------------------------------------------------
def test_verify_clean_data(data_dir):
    r = cli("verify", data_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 7 data folder(s) with 34 chunks and 900 rows" in r.stdout
    assert "4 run document(s)" in r.stdout


def test_verify_truncated_chunk_file(data_dir):
    folder = data_dir / folders(data_dir, "1-records-")[0]
    path = chunk_file(folder, 3)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    r = cli("verify", data_dir)
    assert r.returncode == 1
    assert f"PROBLEM  {folder.name}:" in r.stdout
    assert path in r.stdout and "truncated" in r.stdout
    assert "FAILED: problems in 1 of" in r.stdout
    # Other runs are still fine when checked on their own.
    assert cli("verify", data_dir, "--run", "2").returncode == 0
    assert cli("verify", data_dir, "--run", "1").returncode == 1


def test_verify_overwritten_bytes_in_a_chunk_file(data_dir):
    folder = data_dir / folders(data_dir, "0-records-")[0]
    path = chunk_file(folder, 0)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\xff" * 8)
    r = cli("verify", data_dir)
    assert r.returncode == 1
    assert path in r.stdout and "chunk 0:" in r.stdout


def test_verify_metadata_that_disagrees_with_the_files(data_dir, capsys):
    from superstrax.cli import main
    folder = data_dir / folders(data_dir, "2-records-")[0]
    md_path = folder / f"{folder.name.split('-', 1)[1]}-metadata.json"
    md = json.loads(md_path.read_text())
    md["chunks"][1]["n"] += 1
    md["chunks"][2]["filesize"] += 5
    md["chunks"][4]["start"] -= 1
    md_path.write_text(json.dumps(md))
    assert main(["verify", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "holds 10 rows but its metadata says 11" in out
    assert "nbytes is" in out
    assert "has" in out and "but the metadata says" in out
    assert "chunk 4 (" in out and "an overlap with" in out
    assert "chunk 3 ends" not in out


def test_verify_leftover_temp_folder(data_dir):
    folder = data_dir / folders(data_dir, "0-peaks-")[0]
    backend = FileSystemBackend()
    md = backend.get_metadata(str(folder))
    # A write that was killed after its first chunk: never closed, so never swapped in.
    saver = FileSaver(str(folder), {k: v for k, v in md.items() if k != "chunks"},
                      replace=True)
    saver.save(next(backend.iter_chunks(str(folder))))
    # killed: its claim names a process that is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(f"{folder}-claim.json", "w") as f:
        json.dump({"writer": saver.writer_id, "pid": dead.pid, "host": socket.gethostname()}, f)
    r = cli("verify", data_dir)
    assert r.returncode == 1
    assert f"INCOMPLETE {folder.name}_temp-{saver.writer_id}:" in r.stdout
    assert "incomplete write" in r.stdout
    assert cli("verify", data_dir, "--run", "1").returncode == 0
    r = cli("runs", data_dir)
    assert r.returncode == 0 and "incomplete writes" in r.stdout


def test_verify_unknown_run_and_missing_directory(data_dir, tmp_path):
    r = cli("verify", data_dir, "--run", "42")
    assert r.returncode == 2 and "run 42 is not in" in r.stderr
    r = cli("verify", tmp_path / "nope")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = cli("verify", data_dir, "--run", SUPERRUN, "-v")
    assert r.returncode == 0, r.stdout
    assert f"{SUPERRUN}_" in r.stdout and "1 chunks, 300 rows" in r.stdout


# --- rechunk -------------------------------------------------------------------------------------
def test_rechunk_changes_chunks_not_data(data_dir):
    st, _ = context(data_dir)
    before = st.get_array(SUPERRUN, "peaks")
    key = str(st.key_for(SUPERRUN, "peaks"))
    assert len(st.get_meta(SUPERRUN, "peaks")["chunks"]) == 1
    # 300 peaks of ~3 kB are ~0.9 MB; the subruns are 10 ms apart, so cuts fall between them.
    r = cli("rechunk", data_dir, key, "--target-mb", "0.4")
    assert r.returncode == 0, r.stderr
    assert "1 -> 3 chunks" in r.stdout and "300 rows" in r.stdout
    st, _ = context(data_dir)
    md = st.get_meta(SUPERRUN, "peaks")
    assert len(md["chunks"]) == 3 and md["chunk_target_size_mb"] == 0.4
    assert [list(c["subruns"]) for c in md["chunks"]] == [["0"], ["1"], ["2"]]
    after = st.get_array(SUPERRUN, "peaks")
    assert after.dtype == before.dtype and np.array_equal(after, before)
    assert cli("verify", data_dir).returncode == 0
    assert not any("_temp" in n or ".replaced-" in n or n.endswith("-claim.json")
                   for n in os.listdir(data_dir))
    # And back again: ten 1-row-per-ns record chunks of a run merge into one.
    r = cli("rechunk", data_dir, folders(data_dir, "0-records-")[0], "--target-mb", "200")
    assert r.returncode == 0, r.stderr
    assert "10 -> 1 chunks" in r.stdout
    st, _ = context(data_dir)
    assert len(st.get_array("0", "records")) == 100


def test_rechunk_failure_keeps_the_original(data_dir):
    folder = data_dir / folders(data_dir, "1-records-")[0]
    path = chunk_file(folder, 5)
    with open(path, "r+b") as f:
        f.truncate(10)
    original = tree_bytes(folder)
    r = cli("rechunk", data_dir, folder.name, "--target-mb", "200")
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and path in r.stderr
    assert "Traceback" not in r.stderr
    assert tree_bytes(folder) == original
    assert not [n for n in os.listdir(data_dir) if n.startswith(f"{folder.name}_temp")]


def test_rechunk_bad_input(data_dir, tmp_path):
    key = folders(data_dir, "0-peaks-")[0]
    for target in ("0", "-3", "lots"):
        r = cli("rechunk", data_dir, key, "--target-mb", target)
        assert r.returncode == 2 and "--target-mb" in r.stderr
    r = cli("rechunk", data_dir, "0-peaks-nosuchhash", "--target-mb", "1")
    assert r.returncode == 2 and "no data folder 0-peaks-nosuchhash" in r.stderr
    r = cli("rechunk", tmp_path / "nope", key, "--target-mb", "1")
    assert r.returncode == 2 and "does not exist" in r.stderr
