"""A Context described by value, so that worker processes (local or Dask) can rebuild it.

What a worker needs to make the same data into the same storage: the plugin classes (by
reference when importable, by value when defined in a notebook or a function, through
cloudpickle), the plugin options, the context options and the storage frontends with their
paths. Caches (lineages, run documents) are not shipped: a rebuilt context fills its own.

Relative paths of frontends (DataDirectory("./data")) are made absolute when the spec is made,
in the calling process: a Dask worker started elsewhere (dask-jobqueue on a batch system) runs
in another working directory and would write to, and read from, another folder. The caller's
frontends are not changed; the spec holds copies.
"""
from __future__ import annotations

import copy
import hashlib
import os
import pathlib
import pickle
from dataclasses import dataclass, field

# Context options that only make sense in the process that set them (a Dask client holds
# sockets and threads); a worker gets the rest.
LOCAL_ONLY_OPTIONS = ("executor",)
_WRAPPED = "superstrax.ContextSpec/1"


@dataclass
class ContextSpec:
    """Everything a worker needs to rebuild a Context equal to the one that sent it."""
    storage: list
    config: dict
    context_config: dict
    plugins: dict = field(default_factory=dict)      # data_type -> plugin class

    @classmethod
    def from_session(cls, session) -> "ContextSpec":
        context_config = {k: (None if k in LOCAL_ONLY_OPTIONS else v)
                          for k, v in session.context_config.items()}
        return cls(storage=[with_absolute_paths(fe) for fe in session.storage],
                   config=dict(session.config),
                   context_config=context_config, plugins=dict(session.plugins))

    @classmethod
    def from_context(cls, ctx) -> "ContextSpec":
        """The spec a Context pickles as (through its public __reduce__, not its session)."""
        _, (spec,) = ctx.__reduce__()
        return spec

    def build(self):
        """A Session (what a Context holds) with this storage, these plugins and options.

        The registry is restored as a mapping, not by registering classes again: that would
        run registration's checks and warnings once more in every worker."""
        from ..session import Session
        return Session(list(self.storage), dict(self.config), dict(self.context_config),
                       dict(self.plugins))

    def to_bytes(self) -> bytes:
        """The spec pickled, wrapped with whether `strax` is bound to superstrax here: plugins
        of code written for strax refer to `strax.<module>` names, which a worker can only
        resolve once it has bound the name too (context_from_bytes does, before unpickling)."""
        from ..compat import is_bound_as_strax
        return pickle.dumps((_WRAPPED, is_bound_as_strax(), dumps(self)),
                            protocol=pickle.HIGHEST_PROTOCOL)


def with_absolute_paths(frontend):
    """frontend itself, or a shallow copy of it whose relative local paths (the attributes its
    class lists in local_path_attributes) are absolute, resolved in this process's working
    directory. URLs ("scheme://...") are left as they are."""
    names = getattr(type(frontend), "local_path_attributes", ("path",))
    relative = {n: getattr(frontend, n) for n in names
                if _is_relative_local_path(getattr(frontend, n, None))}
    if not relative:
        return frontend
    shipped = copy.copy(frontend)
    for name, value in relative.items():
        absolute = os.path.abspath(os.fspath(value))
        setattr(shipped, name, type(value)(absolute) if isinstance(value, pathlib.PurePath)
                else absolute)
    return shipped


def _is_relative_local_path(value) -> bool:
    if not isinstance(value, (str, os.PathLike)):
        return False
    text = os.fspath(value)
    return isinstance(text, str) and text != "" and "://" not in text \
        and not os.path.isabs(text)


def dumps(obj) -> bytes:
    """Pickle obj; with cloudpickle (installed with the dask extra) classes and functions
    that cannot be imported by name (notebooks, closures) are pickled by value."""
    try:
        import cloudpickle
    except ImportError:
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise pickle.PicklingError(
                f"Cannot send the context to worker processes: {e}. Plugins defined in a "
                f"notebook or inside a function need cloudpickle (pip install "
                f"'superstrax[dask]'), or define them in an importable module") from e
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


# Contexts rebuilt in this (worker) process, by the digest of what they were rebuilt from:
# a worker making many runs of one call builds the context once.
_BUILT: dict = {}


def context_from_bytes(blob: bytes):
    digest = hashlib.sha1(blob).hexdigest()
    ctx = _BUILT.get(digest)
    if ctx is None:
        tag, bound_as_strax, inner = pickle.loads(blob)   # plain types only: safe to load
        if tag != _WRAPPED:
            raise ValueError("not a context sent by ContextSpec.to_bytes")
        if bound_as_strax:
            from ..compat import bind_as_strax
            bind_as_strax()
        spec = pickle.loads(inner)
        ctx = spec.build()
        _BUILT.clear()        # one call at a time per worker: keep only the latest
        _BUILT[digest] = ctx
    return ctx

