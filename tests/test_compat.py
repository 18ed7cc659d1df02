"""superstrax.bind_as_strax(): `import strax` gives superstrax's own module objects.

Binding changes interpreter-wide import state, so every check runs in a fresh interpreter.
"""
import json
import os
import subprocess
import sys
import textwrap

from test_cli import subprocess_env


def run_python(code: str, tmp_path, extra_path=()):
    env = subprocess_env()
    env["PYTHONPATH"] = ":".join([*map(str, extra_path), env["PYTHONPATH"]])
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def fake_installed_strax(tmp_path):
    """A `strax` package on sys.path whose every module fails loudly when executed, standing
    in for a real strax installed next to superstrax (as straxen's dependencies install it)."""
    site = tmp_path / "site"
    pkg = site / "strax"
    (pkg / "storage").mkdir(parents=True)
    for rel in ("__init__.py", "dtypes.py", "only_in_strax.py", "storage/__init__.py",
                "storage/files.py"):
        (pkg / rel).write_text("raise RuntimeError('the installed strax was executed')\n")
    return site


def test_bound_names_are_superstrax_module_objects_imported_once(tmp_path):
    out = run_python("""
        import json, sys
        import superstrax
        import superstrax.dtypes              # imported before binding: aliased as it is
        assert superstrax.bind_as_strax() is superstrax
        superstrax.bind_as_strax()            # a second call changes nothing
        import strax
        import strax.dtypes
        import strax.storage.files
        # not imported by `import superstrax`: only the finder can make these the same objects
        assert "superstrax.maintenance" not in sys.modules
        import strax.maintenance
        from strax.testutils import Records
        import superstrax.maintenance, superstrax.testutils
        from strax.storage.common import DataKey
        from strax import chunk as chunk_module
        import superstrax.storage.files, superstrax.storage.common, superstrax.chunk
        by_file = {}
        for name, mod in list(sys.modules.items()):
            f = getattr(mod, "__file__", None)
            if f and "superstrax" in f:
                by_file.setdefault(f, set()).add(id(mod))
        aliases = {n: m is sys.modules["superstrax" + n[len("strax"):]]
                   for n, m in sys.modules.items() if n.startswith("strax.")}
        print(json.dumps({
            "package": strax is superstrax,
            "dtypes": strax.dtypes is superstrax.dtypes,
            "files": strax.storage.files is superstrax.storage.files,
            "key": DataKey is superstrax.storage.common.DataKey,
            "chunk": chunk_module is superstrax.chunk,
            "maintenance": strax.maintenance is superstrax.maintenance,
            "testutils": Records is superstrax.testutils.Records,
            "bound": superstrax.compat.is_bound_as_strax(),
            "finders": sum(type(f).__name__ == "_StraxAliasFinder" for f in sys.meta_path),
            "duplicated_files": sorted(f for f, ids in by_file.items() if len(ids) > 1),
            "aliases": aliases,
        }))
    """, tmp_path)
    assert out["package"] and out["dtypes"] and out["files"] and out["key"] and out["chunk"]
    assert out["maintenance"] and out["testutils"]
    assert out["bound"]
    assert out["finders"] == 1
    assert out["duplicated_files"] == []
    assert {"strax.dtypes", "strax.storage", "strax.storage.files", "strax.storage.common",
            "strax.chunk", "strax.maintenance", "strax.testutils"} <= set(out["aliases"])
    assert all(out["aliases"].values()), out["aliases"]


def test_an_installed_strax_never_answers_once_bound(tmp_path):
    site = fake_installed_strax(tmp_path)
    out = run_python("""
        import json, superstrax
        superstrax.bind_as_strax()
        import strax.dtypes, strax.storage.files
        results = {"dtypes": strax.dtypes is superstrax.dtypes,
                   "files": strax.storage.files is superstrax.storage.files}
        for name in ("strax.only_in_strax", "strax.no_such_module"):
            try:
                __import__(name)
                results[name] = "imported"
            except ModuleNotFoundError as err:
                results[name] = [err.name, str(err)]
        print(json.dumps(results))
    """, tmp_path, extra_path=[site])
    assert out["dtypes"] and out["files"]
    for name in ("strax.only_in_strax", "strax.no_such_module"):
        err_name, message = out[name]
        assert err_name == name
        assert "bound to superstrax" in message and "migrating-from-strax" in message


def test_binding_after_strax_was_imported_refuses(tmp_path):
    site = tmp_path / "site"
    (site / "strax").mkdir(parents=True)
    (site / "strax" / "__init__.py").write_text("MARK = 'the other strax'\n")
    out = run_python("""
        import json, sys, strax, superstrax
        from superstrax.errors import SuperstraxError
        try:
            superstrax.bind_as_strax()
            raised = None
        except superstrax.compat.StraxAlreadyImported as err:
            raised = [isinstance(err, ImportError), isinstance(err, SuperstraxError), str(err)]
        print(json.dumps({"raised": raised, "still": sys.modules["strax"].MARK,
                          "bound": superstrax.compat.is_bound_as_strax()}))
    """, tmp_path, extra_path=[site])
    is_import_error, is_library_error, message = out["raised"]
    assert is_import_error and is_library_error
    assert str(site / "strax" / "__init__.py") in message
    assert "before anything imports strax" in message
    assert out["still"] == "the other strax" and not out["bound"]


def test_code_written_for_strax_processes_and_stores_through_the_bound_name(tmp_path):
    out = run_python("""
        import json, os, superstrax
        superstrax.bind_as_strax()
        import numpy as np
        import strax
        from strax.testutils import Records

        @strax.takes_config(strax.Option("factor", default=3, type=int))
        class Scaled(strax.Plugin):
            depends_on = "records"
            provides = "scaled"
            dtype = strax.time_fields + [(("scaled channel", "scaled"), np.int64)]

            def compute(self, records):
                r = np.zeros(len(records), dtype=self.dtype)
                r["time"], r["endtime"] = records["time"], strax.endtime(records)
                r["scaled"] = records["channel"] * self.config["factor"]
                return r

        st = strax.Context(storage=[strax.DataDirectory("data")], register=[Records, Scaled])
        st.make("1", "scaled")
        rec = st.get_array("1", "records")
        got = st.get_array("1", "scaled")
        print(json.dumps({"stored": st.is_stored("1", "scaled"),
                          "ok": bool(np.array_equal(got["scaled"], rec["channel"] * 3)),
                          "n": len(got), "cls": type(st).__module__,
                          "folders": sorted(os.listdir("data"))}))
    """, tmp_path)
    assert out["stored"] and out["ok"] and out["n"] > 0
    assert out["cls"] == "superstrax.context"
    assert any(f.startswith("1-scaled-") for f in out["folders"])


def test_worker_processes_bind_strax_when_the_caller_had(tmp_path):
    # Plugins from a module written for strax travel to the workers by reference: the worker
    # imports that module, whose `import strax` works only once the worker has bound it too.
    (tmp_path / "written_for_strax.py").write_text(textwrap.dedent("""
        import strax
        from strax.testutils import Records

        class MoreRecords(Records):
            provides = "records"
    """))
    out = run_python("""
        import json, superstrax
        superstrax.bind_as_strax()
        import strax
        from written_for_strax import MoreRecords

        st = strax.Context(storage=[strax.DataDirectory("data")], register=[MoreRecords],
                           progress_bar=False)
        runs = [str(r) for r in range(4)]
        got = st.get_array(runs, "records", max_workers=2)
        print(json.dumps({"stored": [st.is_stored(r, "records") for r in runs],
                          "runs": sorted(set(got["run_id"]))}))
    """, tmp_path, extra_path=[tmp_path])
    assert out == {"stored": [True] * 4, "runs": ["0", "1", "2", "3"]}


def test_processing_submodules_are_attributes_as_in_strax():
    # strax code reaches strax.processing.peak_splitting without importing it first (checked
    # in a fresh interpreter: in this one another test may have imported it)
    import subprocess
    import sys
    code = ("import superstrax; print(superstrax.processing.peak_splitting.__name__, "
            "superstrax.processing.general.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__))).stdout
    assert out.split() == ["superstrax.processing.peak_splitting", "superstrax.processing.general"]
