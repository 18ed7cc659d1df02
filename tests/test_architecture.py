"""The package's structure: the layer map holds (tools/check_architecture.py), and the
checker itself catches what it is for."""
import importlib
import os
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tools"))
import check_architecture as arch  # noqa: E402

from superstrax._layers import LAYERS, layer_of  # noqa: E402


def test_the_package_has_no_cycle_no_upward_import_and_no_private_context_use():
    assert arch.problems() == []


def test_the_checker_finds_cycles_and_upward_imports():
    graph = {"chunk": {"errors"}, "errors": set(), "planning": {"loading"},
             "loading": {"planning", "context"}, "context": {"loading"}}
    assert arch.find_cycles(graph) == [["context", "loading", "planning"]]
    assert arch.upward_imports(graph, layer_of) == [("loading", "context", "engine", "facade")]
    assert arch.unmapped_modules({"newthing": set(), "chunk": set()}, layer_of) == ["newthing"]


def _package(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return arch.package_modules(str(tmp_path / "pkg"))


def test_the_checker_reads_relative_imports_inside_functions_and_private_uses(tmp_path):
    modules = _package(tmp_path, {
        "__init__.py": "from .context import Context\n",
        "context.py": "class Context:\n    def _secret(self):\n        return 1\n",
        "runs/__init__.py": "",
        "runs/registry.py": "def f(st):\n    from ..context import Context\n"
                            "    from . import listing\n    return st._secret()\n",
        "runs/listing.py": "from .. import context\n",
    })
    graph = arch.import_graph(modules)
    assert graph["runs.registry"] == {"context", "runs.listing"}
    assert graph["runs.listing"] == {"context"}
    assert graph["__init__"] == {"context"}
    assert arch.private_context_uses(modules, {"_secret"}) == [("runs.registry", 4, "_secret")]


def test_the_checker_counts_the_contexts_instance_attributes_as_private(tmp_path):
    path = tmp_path / "context.py"
    path.write_text("class Context:\n    def __init__(self):\n        self._session = 1\n"
                    "        self.public = 2\n        self.__mangled = 3\n"
                    "    def f(self, other):\n        other._peek = 4\n")
    assert arch.assigned_private_attributes(str(path)) == {"_session"}
    assert "_session" in arch.context_private_names()


def test_the_package_docstring_shows_the_layer_map():
    import superstrax
    doc = superstrax.__doc__
    for name, members in LAYERS[:-1]:
        line = next((ln for ln in doc.splitlines() if ln.strip().startswith(name)), None)
        assert line is not None, f"layer {name} missing from the package docstring"
        for m in members:
            if m.startswith("_") or not _exists(m):
                continue
            assert m in line, f"{m} missing from the {name} line of the package docstring"


def _exists(module):
    try:
        importlib.import_module(f"superstrax.{module}")
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("old, new", [("verification", "cli.verification"),
                                      ("maintenance", "cli.maintenance"),
                                      ("demo", "cli.demo")])
def test_old_module_paths_are_the_moved_modules(old, new):
    old_module = importlib.import_module(f"superstrax.{old}")
    assert old_module is importlib.import_module(f"superstrax.{new}")
    for name in getattr(old_module, "__all__", ()):
        assert hasattr(old_module, name)
