"""Run code written for strax unchanged: make the module name ``strax`` mean superstrax.

Code that says ``import strax`` (your own scripts, or packages such as straxen that you cannot
edit) keeps working when ``bind_as_strax()`` runs before it is imported::

    import superstrax
    superstrax.bind_as_strax()
    import straxen          # its `import strax`, `from strax.dtypes import ...` get superstrax

After binding, ``strax`` *is* the superstrax package and ``strax.<sub>`` *is*
``superstrax.<sub>``: the same module objects, each imported once, so classes, ``isinstance``
checks and module-level state are shared. A module that superstrax does not have raises
``ModuleNotFoundError`` naming it, instead of silently loading part of an installed strax.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

from .errors import SuperstraxError

__all__ = ["bind_as_strax", "is_bound_as_strax", "StraxAlreadyImported"]

_ALIAS = "strax"
_PACKAGE = __name__.rpartition(".")[0]  # "superstrax"


class StraxAlreadyImported(SuperstraxError, ImportError):
    """A different ``strax`` was imported before ``bind_as_strax()`` could bind the name."""


class _AlreadyImported(importlib.abc.Loader):
    """Loader that hands out a module already imported under its superstrax name."""

    def __init__(self, module: types.ModuleType):
        self._module = module

    def create_module(self, spec):
        return self._module

    def exec_module(self, module):
        """Nothing to run: the module was executed once, under its own name."""


class _StraxAliasFinder(importlib.abc.MetaPathFinder):
    """Answers ``strax.<sub>`` with the module object ``superstrax.<sub>``."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_ALIAS + "."):
            return None
        real_name = _PACKAGE + fullname[len(_ALIAS):]
        try:
            module = importlib.import_module(real_name)
        except ModuleNotFoundError as err:
            if err.name is None or not (real_name == err.name
                                        or real_name.startswith(err.name + ".")):
                raise  # the module exists; something it imports is missing
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: `strax` is bound to superstrax "
                f"(superstrax.bind_as_strax()), which has no {real_name!r}. See "
                f"docs/migrating-from-strax.md for where strax's names live in superstrax.",
                name=fullname) from None
        return importlib.machinery.ModuleSpec(fullname, _AlreadyImported(module),
                                              is_package=hasattr(module, "__path__"))


def is_bound_as_strax() -> bool:
    """True when ``import strax`` gives superstrax in this interpreter."""
    return sys.modules.get(_ALIAS) is sys.modules[_PACKAGE]


def bind_as_strax() -> types.ModuleType:
    """Make ``import strax`` and ``import strax.<sub>`` give superstrax; returns superstrax.

    Call it before anything imports strax. Calling it again does nothing. Raises
    ``StraxAlreadyImported`` when another ``strax`` is already imported, because objects made
    from that one would not be superstrax objects.
    """
    package = sys.modules[_PACKAGE]
    existing = sys.modules.get(_ALIAS)
    if existing is not None and existing is not package:
        raise StraxAlreadyImported(
            f"`strax` is already imported from {getattr(existing, '__file__', existing)!r}, so "
            f"it cannot be bound to superstrax any more. Call superstrax.bind_as_strax() "
            f"before anything imports strax (first lines of the script, or a conftest.py).")
    if not any(isinstance(finder, _StraxAliasFinder) for finder in sys.meta_path):
        # First on the path: an installed strax must never answer for a strax.<sub> name.
        sys.meta_path.insert(0, _StraxAliasFinder())
    for name, module in list(sys.modules.items()):
        if name.startswith(_PACKAGE + ".") and module is not None:
            sys.modules.setdefault(_ALIAS + name[len(_PACKAGE):], module)
    sys.modules[_ALIAS] = package
    return package
