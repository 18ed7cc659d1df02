"""Session: what the engine needs of one analysis, in one object.

The Context is the users' facade; the planner, the executor and the loading functions are
handed its Session and never the Context. A Session holds:

- the plugin registry (data type -> plugin class) and the config (`plugins`, `config`),
- the lineage resolver (`lineages`: plugin classes, resolved options, lineages),
- the context options (`context_config`, read with `option(name)`),
- the storage and the routing rules over it (`find_frontend`, `writable_frontend`,
  `data_metadata`, `get_meta`, `is_stored`),
- keys (`key_for`) and the run registry (`runs`: run documents, superrun specs),
- the checks made when plugins are registered and context options set (`register`,
  `set_context_config`; the Context's methods of those names forward here).

The Context keeps the same dict and list objects, so `st.config[...] = ...` or
`st.storage.append(...)` are seen here; it calls `changed()` after every setter.
"""
import logging
import warnings

import numpy as np

from ._version import STRAX_FORMAT_VERSION, __version__
from .config import check_per_run_defaults, option_defaults
from .errors import (DataNotAvailable, InvalidArgument, PluginError, SuperrunError,
                     check_config_mode)
from .lineage import LineageResolver
from .naming import check_no_dash, is_superrun_id
from .options import CONTEXT_OPTIONS, NO_EFFECT_OPTIONS
from .plugins.base import Plugin
from .runs.registry import RunRegistry
from .storage.common import DataKey, StorageFrontend
from .utils import to_str_tuple
from .validation import run_id_text


class Session:
    """Plugins, configuration, storage and runs of one context, for the engine."""

    def __init__(self, storage: list, config: dict, context_config: dict, plugins: dict,
                 documents: dict | None = None):
        self.storage = storage
        self.config = config
        self.context_config = context_config
        self.plugins = plugins
        self.runs = RunRegistry(self, documents)
        self._lineages = None
        # plugin instances for run '0' by context hash (inspection.FixedPluginCache)
        self.plugin_instances: dict = {}

    def derived(self, storage, config, context_config, plugins) -> "Session":
        """A session for another context that shares what is known of run documents."""
        return Session(storage, config, context_config, plugins, self.runs.documents)

    def changed(self) -> None:
        """Plugins, config, options or definitions changed: drop what was derived from them."""
        self._lineages = None
        self.plugin_instances.clear()
        self.runs.forget()

    def option(self, name: str):
        return self.context_config.get(name, CONTEXT_OPTIONS.get(name))

    def progress_enabled(self, progress_bar=None) -> bool:
        if progress_bar is None:
            return bool(self.option("progress_bar"))
        return bool(progress_bar)

    # --- registering plugins, setting context options ----------------------------------------
    def register(self, plugin_class):
        """Register a plugin class (or a list or tuple of them) for each data type it
        provides; later registrations win, and a class they displace from some of its data
        types is deregistered from all of them (strax's rule). Returns the class (None for a
        list).

        A plugin with per-run defaults in a session without use_per_run_defaults raises
        InvalidConfiguration after it is registered (as strax; see Context.register)."""
        if isinstance(plugin_class, (list, tuple)):
            for p in plugin_class:
                self.register(p)
            return None
        if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
            raise PluginError(f"register() takes Plugin subclasses, got {plugin_class!r}")
        provides = plugin_class.provides_tuple()
        for d in provides:      # all checked before any is registered
            if not isinstance(d, str):
                raise PluginError(f"{plugin_class.__name__} provides {d!r}: data types are "
                                  f"strings")
            check_no_dash(d, f"data type (provided by {plugin_class.__name__})")
        displaced = {self.plugins[d] for d in provides
                     if d in self.plugins and self.plugins[d] is not plugin_class}
        for d in provides:
            self.plugins[d] = plugin_class
        for old in displaced:
            # A class registered for only some of what it provides would make those from one
            # class and the rest from another: it goes from the rest too, as in strax.
            rest = [d for d, cls in self.plugins.items() if cls is old]
            if rest:
                logging.getLogger("strax").warning(
                    f"{plugin_class.__name__} provides some of what the multi-output plugin "
                    f"{old.__name__} provides; {old.__name__} is deregistered, also from "
                    f"{', '.join(rest)}")
                for d in rest:
                    del self.plugins[d]
        self.changed()
        check_per_run_defaults(plugin_class, self.config,
                               self.context_config["use_per_run_defaults"])
        return plugin_class

    def set_context_config(self, context_config, mode: str, known, stacklevel: int = 2):
        """Set context options; known is the Context's takes_config ({name: Option}).

        mode 'replace' starts again from known's defaults, 'setdefault' keeps what is set,
        'update' sets what is given. An option strax's executor had warns when its value changes
        (it does nothing here); one not in known warns and is left out. Warnings point
        stacklevel frames up (2: at the caller of this method)."""
        check_config_mode(mode, "set_context_config")
        if mode == "replace":
            self.context_config = option_defaults(known)
        for k, v in dict(context_config or {}).items():
            if k in NO_EFFECT_OPTIONS:
                if v != self.context_config.get(k):
                    warnings.warn(f"Context option {k!r} is accepted for strax compatibility "
                                  f"but has no effect in superstrax", UserWarning,
                                  stacklevel=stacklevel)
            elif k not in known:
                warnings.warn(f"Unknown context option {k!r}; it will do nothing. Known options: "
                              f"{sorted(known)}", UserWarning, stacklevel=stacklevel)
                continue
            if mode == "setdefault":
                self.context_config.setdefault(k, v)
            else:
                self.context_config[k] = v
        # a changed use_per_run_defaults is checked against every plugin, as at register time
        for cls in set(self.plugins.values()):
            check_per_run_defaults(cls, self.config, self.context_config["use_per_run_defaults"])
        self.changed()

    # --- plugins and lineage -----------------------------------------------------------------
    @property
    def lineages(self) -> LineageResolver:
        if self._lineages is None:
            self._lineages = LineageResolver(self.plugins, self.config, self.context_config,
                                             self.runs.metadata, self.runs.regular_subruns)
        return self._lineages

    def plugin_class(self, data_type: str, run_id=None) -> type:
        return self.lineages.plugin_class(data_type, run_id)

    def kind_of(self, data_type: str) -> str:
        cls = self.plugin_class(data_type)
        kind = cls.kind_of(data_type)
        if kind is None:
            kind = self.kind_of(cls.depends_on_tuple()[0])
        return kind

    def make_plugin(self, cls: type, run_id: str, instances: dict | None = None,
                    setup: bool = True):
        """A plugin instance for run_id, with instances of its dependencies in .deps.

        As strax, only a plugin that is asked for with setup=True (one that computes, or
        get_single_plugin's) has its options checked complete and is set up; the others
        (its dependencies, those made for inspection) are configured as far as their options
        resolve and get their dtype, no more. So data made from a plugin whose setup needs a
        database or resource files (straxen's, offline) can still be planned, loaded and
        inspected, as with strax. One made without setup is set up when later asked for with it.
        """
        instances = {} if instances is None else instances
        plugin = instances.get((cls, run_id))
        if plugin is None:
            plugin = cls()
            plugin.run_id = str(run_id)
            config = self.lineages.config_for(cls, run_id, tolerant=True)
            plugin.config = {k: v for k, v in config.items() if k != "__subrun_dependent__"}
            plugin.lineage = self.lineages.lineage(run_id, plugin.provides[-1])
            instances[(cls, run_id)] = plugin
            plugin._kinds = {d: self.kind_of(d) for d in plugin.provides}
            plugin.deps = {d: self.make_plugin(self.plugin_class(d, run_id), run_id, instances,
                                               setup=False)
                           for d in plugin.depends_on}
            plugin.fix_dtype()     # before setup, as strax: setup may read self.dtype
        if setup and not plugin.__dict__.get("_superstrax_set_up"):
            self.lineages.config_for(cls, run_id)    # InvalidConfiguration if incomplete
            plugin.setup()
            plugin._superstrax_set_up = True
        return plugin

    def assign_chunk_number(self, plugin, run_id, chunk_number: dict) -> None:
        """Per-chunk processing: the plugin's lineage names the selected chunks (so its data
        is stored under a key of its own), and a plugin reading a selected dependency learns
        which chunks it gets (chunk_number, first_chunk), as in strax."""
        plugin.lineage = self.lineages.lineage(run_id, plugin.provides[-1],
                                               chunk_number=chunk_number)
        for d in plugin.depends_on:
            if d in chunk_number:
                plugin.chunk_number = list(chunk_number[d])

    def single_plugin(self, run_id, data_type: str):
        """The plugin making data_type for run_id (a superrun: for its first subrun), not set
        up: its callers want its dtype, which strax knows without setting a plugin up."""
        run_id = run_id_text(run_id)
        if is_superrun_id(run_id):
            run_id = self.runs.subrun_specs(run_id)[0].run_id
        return self.make_plugin(self.plugin_class(data_type, run_id), run_id, setup=False)

    # --- keys and storage ----------------------------------------------------------------------
    def key_for(self, run_id, data_type: str, combining: bool = False,
                chunk_number: dict | None = None) -> DataKey:
        """The DataKey of data_type for run_id (superruns carry a hash of their definition;
        chunk_number= the chunks of dependencies it is made from)."""
        run_id = check_no_dash(run_id_text(run_id), "run id")
        lineage = self.lineages.lineage(run_id, data_type, chunk_number=chunk_number)
        if is_superrun_id(run_id) and chunk_number is not None:
            raise InvalidArgument(
                f"chunk_number= selects chunks of a regular run's stored data; superrun "
                f"{run_id} has none of its own (as in strax)")
        known_hash = None
        if chunk_number is None and not is_superrun_id(run_id) and not combining:
            known_hash = self.lineages.lineage_hash(run_id, data_type)
        return self.data_key(run_id, data_type, lineage, combining, lineage_hash=known_hash)

    def data_key(self, run_id, data_type: str, lineage: dict, combining: bool = False,
                 lineage_hash: str | None = None) -> DataKey:
        """The DataKey of data_type for run_id under a given lineage (strax's get_data_key):
        a superrun's carries the hash of its definition, as key_for's does."""
        run_id = check_no_dash(run_id_text(run_id), "run id")
        if is_superrun_id(run_id):
            spec, digest = self.runs.key_parts(run_id, combining)
            return DataKey(run_id, data_type, lineage, subruns=spec, combining=combining,
                           definition_hash=digest)
        if combining:
            raise SuperrunError(f"combining=True only applies to superruns, not run {run_id}")
        return DataKey(run_id, data_type, lineage, lineage_hash=lineage_hash)

    def frontends_for(self, key: DataKey):
        """The frontends that can hold key's data, in the order they are searched."""
        for fe in self.storage:
            if not isinstance(fe, StorageFrontend):
                raise TypeError(f"storage holds {fe!r}, which is not a StorageFrontend; "
                                f"subclass superstrax.StorageFrontend (see its docstring)")
            if fe.can_hold(key):
                yield fe

    def find_frontend(self, key: DataKey) -> StorageFrontend | None:
        found = self.locate(key)
        return found[0] if found is not None else None

    def locate(self, key: DataKey):
        """(frontend, Location) of the first frontend holding complete data of key, or None.
        The Location carries the metadata read and checked while finding it, so one call
        (one plan) looks each key up once."""
        # As strax: the nearest storage first (storage_type: MEMORY < LOCAL < ... < TAPE),
        # in the order given among equals.
        fuzzy = self.fuzzy_options()
        for fe in sorted(self.frontends_for(key), key=lambda fe: fe.storage_type):
            try:
                return fe, fe.locate(key, **fuzzy)
            except DataNotAvailable:
                continue
        return None

    def fuzzy_options(self) -> dict:
        """The context's fuzzy_for / fuzzy_for_options, as frontends' find takes them; empty
        when fuzzy search is off."""
        fuzzy = {name: to_str_tuple(self.option(name) or ()) for name in
                 ("fuzzy_for", "fuzzy_for_options")}
        return fuzzy if any(fuzzy.values()) else {}

    def writable_frontends(self, key: DataKey) -> list:
        """Where newly made data of key is written, as strax: every frontend that can hold
        it and is not readonly (nearest storage_type first); none for superrun data unless
        write_superruns (and never for combining)."""
        if key.is_superrun and (not self.option("write_superruns") or key.combining):
            return []
        if self.fuzzy_options():
            # as strax: a fuzzy context stores nothing, since what it computes may rest on
            # data of another lineage than the key it would be stored under says
            return []
        return [fe for fe in sorted(self.frontends_for(key), key=lambda fe: fe.storage_type)
                if not fe.readonly]

    def writable_frontend(self, key: DataKey) -> StorageFrontend | None:
        """The first of writable_frontends(key), if any."""
        frontends = self.writable_frontends(key)
        return frontends[0] if frontends else None

    def data_metadata(self, key: DataKey, cls: type, dtype, run_id) -> dict:
        """The metadata a saver starts from (strax's fields, plus our version)."""
        return {
            "run_id": str(run_id),
            "data_type": key.data_type,
            "data_kind": self.kind_of(key.data_type),
            "dtype": repr(np.dtype(dtype).descr),
            "compressor": cls.compressor,
            "lineage": key.lineage,
            "lineage_hash": key.lineage_hash,
            "chunk_target_size_mb": cls.chunk_target_size_mb,
            "strax_version": STRAX_FORMAT_VERSION,
            "superstrax_version": __version__,
        }

    def is_stored(self, run_id, data_type: str, combining: bool = False,
                  chunk_number: dict | None = None) -> bool:
        """Whether a frontend holds complete data of the key, asked through the frontends'
        own is_stored/find (as strax asks them: a subclass's find is honoured)."""
        key = self.key_for(run_id, data_type, combining=combining, chunk_number=chunk_number)
        fuzzy = self.fuzzy_options()
        return any(fe.is_stored(key, **fuzzy)
                   for fe in sorted(self.frontends_for(key), key=lambda fe: fe.storage_type))

    def get_meta(self, run_id, data_type: str, chunk_number: dict | None = None,
                 failed_too: bool = False) -> dict:
        """The metadata of stored data; with failed_too, that of a failed write when no
        complete data is stored (what strax's get_metadata shows: its 'exception' says why
        the write failed; such data is never loaded)."""
        key = self.key_for(run_id, data_type, chunk_number=chunk_number)
        found = self.locate(key)
        if found is None:
            for frontend in self.frontends_for(key) if failed_too else ():
                md = frontend.failed_write_metadata(key)
                if md is not None:
                    return md
            raise DataNotAvailable(f"{key} is not stored in any frontend; make it first "
                                   f"(st.make({str(run_id)!r}, {data_type!r}))")
        frontend, location = found
        return location.metadata if location is not None else frontend.get_metadata(key)
