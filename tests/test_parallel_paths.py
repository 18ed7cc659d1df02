"""Contexts with relative storage paths sent to workers that run in another working directory
(a Dask cluster started elsewhere, dask-jobqueue on a batch system): the data lands in, and is
read from, the caller's folders, and the caller's own frontends keep their paths as given."""
import functools
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np

import superstrax as sx
from superstrax.parallel import pool
from superstrax.parallel.spec import ContextSpec, with_absolute_paths
from superstrax.parallel.tasks import plan_tasks
from superstrax.parallel.worker import init_pool_worker
from superstrax.storage.memory import MemoryFrontend

import parallel_plugins as pp

RUNS = ["1", "2", "3", "4"]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def dirs(tmp_path):
    """(the caller's working directory, the workers' one), both empty."""
    here, elsewhere = tmp_path / "client", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    return here, elsewhere


def test_the_spec_holds_absolute_copies_and_the_callers_frontends_keep_their_paths(
        tmp_path, monkeypatch):
    here, _ = dirs(tmp_path)
    monkeypatch.chdir(here)
    (here / "zips").mkdir()
    data, zips = sx.DataDirectory("./data"), sx.ZipDirectory(pathlib.Path("zips"))
    absolute = sx.DataDirectory(str(tmp_path / "abs"))
    st = sx.Context(storage=[data, zips, absolute], register=[pp.Pulses])
    spec = ContextSpec.from_context(st)
    assert [fe.path for fe in spec.storage] == [
        str(here / "data"), str(here / "zips"), str(tmp_path / "abs")]
    assert spec.storage[2] is absolute           # nothing to resolve: not copied
    assert st.storage == [data, zips, absolute]
    assert (data.path, zips.path) == ("./data", "zips")


def test_urls_and_frontends_without_paths_are_sent_as_they_are():
    class Remote(sx.StorageFrontend):
        def __init__(self):
            super().__init__(readonly=True)
            self.path = "https://example.org/data"
            self.cache_dir = pathlib.Path("cache")

        def _find(self, key):
            raise sx.DataNotAvailable(str(key))

    class RemoteWithCache(Remote):
        local_path_attributes = ("cache_dir",)

    memory = MemoryFrontend()
    remote = Remote()
    assert with_absolute_paths(remote) is remote
    cached = with_absolute_paths(RemoteWithCache())
    assert cached.cache_dir == pathlib.Path(os.path.abspath("cache"))
    assert cached.path == "https://example.org/data"
    assert with_absolute_paths(memory) is memory


WORKER_SCRIPT = textwrap.dedent("""
    import json, sys
    from superstrax.parallel.worker import make_run
    blob = open(sys.argv[1], "rb").read()
    run_id, targets, keys = json.loads(sys.argv[2])
    outcome = make_run(blob, run_id, tuple(targets), tuple(keys))
    print(json.dumps([outcome.ok, outcome.error]))
""")


def test_a_spec_unpickled_in_another_directory_reads_and_writes_the_callers_folders(
        tmp_path, monkeypatch):
    """pulses of run 1 are zipped in ./zips; a process whose working directory is elsewhere
    makes doubled from them, into ./data of the caller."""
    here, elsewhere = dirs(tmp_path)
    monkeypatch.chdir(here)
    maker = pp.context("./staging", n_chunks=3, rows_per_chunk=20)
    maker.make("1", "pulses")
    os.mkdir("zips")
    sx.ZipDirectory.zip_dir("staging", "zips/1.zip", delete=True)
    st = sx.Context(storage=[sx.DataDirectory("./data"), sx.ZipDirectory("./zips")],
                    register=[pp.Pulses, pp.Doubled], config=dict(n_chunks=3, rows_per_chunk=20),
                    progress_bar=False)
    assert st.is_stored("1", "pulses") and not st.is_stored("1", "doubled")
    [task], _ = plan_tasks(st, ["1"], ["doubled"])
    blob_file = tmp_path / "context.bin"
    blob_file.write_bytes(ContextSpec.from_context(st).to_bytes())

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    done = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT, str(blob_file),
         json.dumps([task.run_id, task.targets, task.keys])],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [True, ""]

    assert os.listdir(elsewhere) == []
    assert st.is_stored("1", "doubled")
    doubled = st.get_array("1", "doubled")
    pulses = st.get_array("1", "pulses")
    assert len(doubled) == 60
    np.testing.assert_array_equal(doubled["twice"], 2 * pulses["value"])


def start_worker_in(directory, queue):
    """A pool initializer: the worker runs in directory (and leaves a file there, to show it
    did), as a worker started by something else would."""
    os.chdir(directory)
    open(f"worker-{os.getpid()}", "w").close()
    init_pool_worker(queue)


def test_pool_workers_in_another_directory_write_to_the_callers_folder(tmp_path, monkeypatch):
    here, elsewhere = dirs(tmp_path)
    monkeypatch.chdir(here)
    monkeypatch.setattr(pool, "init_pool_worker",
                        functools.partial(start_worker_in, str(elsewhere)))
    st = pp.context("./data")
    st.make(RUNS, "doubled", max_workers=2)
    left = os.listdir(elsewhere)
    assert left and all(name.startswith("worker-") for name in left), left
    serial = pp.context(tmp_path / "serial")
    for run in RUNS:
        assert st.is_stored(run, "doubled")
        np.testing.assert_array_equal(st.get_array(run, "doubled"),
                                      serial.get_array(run, "doubled"))
