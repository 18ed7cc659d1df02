"""Context: the facade users talk to. It holds plugins, configuration and storage, and wires
lineage, planning, the executor, superruns and the run registry together."""
import copy
import logging
import warnings
from types import MappingProxyType

from . import config as cfg
from . import dispatch, inspection, loading, output, runs, sources
from ._version import STRAX_FORMAT_VERSION  # noqa: F401 (its old home; kept for importers)
from .chunk import DEFAULT_CHUNK_SIZE_MB
from .errors import CannotMergeKinds, InvalidArgument, InvalidConfiguration, check_config_mode
from .options import ACCEPTED_GET_KWARGS, CONTEXT_SETTINGS, split_call_arguments
from .plugins.cut_plugin import plugins_of_cut_list
from .plugins.registration import plugin_classes_in
from .processors import PROCESSORS, resolve_processors
from .session import Session
from .validation import run_id_text
from .docstrings import select_docs  # noqa: F401  (strax.context.select_docs)


class Context:
    """Plugins, configuration and storage of one analysis."""

    # strax's logger (name 'strax'), so filters and levels set for strax apply.
    log = logging.getLogger("strax")
    # The last scan_runs/select_runs table (None before the first), as in strax.
    runs = None
    # Context options as Option objects. strax.takes_config(Option(...))(Context) adds one,
    # which set_context_config then accepts (it does nothing in superstrax itself; code that
    # added it reads it from context_config).
    takes_config = MappingProxyType({
        s.name: cfg.Option(s.name, default=s.default, help=s.help) for s in CONTEXT_SETTINGS})

    @classmethod
    def add_method(cls, f):
        """Add the function f to Context as a method of its name (a decorator, as in strax)."""
        setattr(cls, f.__name__, f)
        return f

    def __init__(self, storage=None, config=None, register=None, register_all=None,
                 processors=None, **context_config):
        if storage is None:
            storage = []
        elif not isinstance(storage, (list, tuple)):
            storage = [storage]
        self._session = Session(list(storage), {}, cfg.option_defaults(type(self).takes_config), {})
        if processors is not None:
            self.processors = processors
        # stacklevel 3: a warning about an option points at the line that made the context
        self._session.set_context_config(context_config, "update", type(self).takes_config,
                                         stacklevel=3)
        if config:
            # Plugins are registered after their options are set (per-run defaults need
            # them), so unknown options are reported once everything is registered.
            self.set_config(config, _check_known=False)
        if register_all is not None:
            self.register_all(register_all)
        if register is not None:
            self.register(register)
        if config and self._plugin_class_registry:
            self._warn_unknown_options(config, stacklevel=3)

    def __repr__(self):
        plugins = sorted(self._plugin_class_registry)
        shown = ", ".join(plugins[:8]) + (f", ... ({len(plugins)} in all)" if len(plugins) > 8 else "")
        return (f"Context(storage={self.storage!r}, data types: {shown or 'none'}, "
                f"{len(self.config)} option(s) set)")

    # --- state, kept in the Session the engine is handed ------------------------------------
    def _state(name, doc):
        def get(self):
            return getattr(self._session, name)

        def set_(self, value):
            setattr(self._session, name, value)
            self._changed()
        return property(get, set_, doc=doc)

    storage = _state("storage", "The frontends, searched in order (a list)")
    config = _state("config", "Plugin options set on this context (a dict)")
    context_config = _state("context_config", "Context options (see superstrax.options)")
    _plugin_class_registry = _state("plugins", "data type -> plugin class")
    del _state

    @property
    def processors(self):
        """Processor name -> class, as strax's (every name means superstrax's one processor:
        see superstrax.processors); a get_iter(processor=name) must name one of them."""
        return self.__dict__.get("_processors") or dict(PROCESSORS)

    @processors.setter
    def processors(self, value):
        self._processors = resolve_processors(value)

    def _changed(self):
        self._session.changed()

    def set_config(self, config=None, mode="update", _check_known=True):
        """Set plugin options: mode 'update' (default), 'setdefault' or 'replace'."""
        check_config_mode(mode, "set_config")
        config = dict(config or {})
        if mode == "replace":
            self.config = {}
        if _check_known and self._plugin_class_registry:
            self._warn_unknown_options(config, stacklevel=3)
        for k, v in config.items():
            if mode == "setdefault":
                self.config.setdefault(k, v)
            else:
                self.config[k] = v
        self._changed()

    def _warn_unknown_options(self, config, stacklevel):
        for k in inspection.unused_options(self._session, config):
            warnings.warn(f"Unknown config option {k!r}: no registered plugin takes it; "
                          f"it will do nothing", UserWarning, stacklevel=stacklevel)

    def set_context_config(self, context_config=None, mode="update"):
        """Set context options (see CONTEXT_OPTIONS), e.g. {'write_superruns': True}."""
        self._session.set_context_config(context_config, mode, type(self).takes_config,
                                         stacklevel=3)

    def new_context(self, storage=(), config=None, register=None, deep_copy=False,
                    replace=False, processors=None, **context_config):
        """A new context like this one, with storage added and config updated.

        With replace=True (as in strax) the new context has only what is given here: no
        plugins, storage, config or context options of this one.
        """
        if storage is None:
            storage = []
        elif not isinstance(storage, (list, tuple)):
            storage = [storage]
        if replace:
            return Context(storage=list(storage), config=config, register=register,
                           processors=processors, **context_config)
        new = Context.__new__(Context)
        new.__dict__.update(self.__dict__)
        new._session = self._session.derived(
            list(self.storage) + list(storage),
            copy.deepcopy(self.config) if deep_copy else dict(self.config),
            dict(self.context_config), dict(self._plugin_class_registry))
        if processors is not None:
            new.processors = processors
        if context_config:
            new.set_context_config(context_config)
        if config:
            new.set_config(config)
        if register:
            new.register(register)
        return new

    def show_config(self, data_type=None, pattern="*", run_id="0"):
        """A DataFrame of every option: its default, current value and the plugins using it."""
        return inspection.show_config(self._session, data_type, pattern)

    # --- plugins -----------------------------------------------------------------------------
    def register(self, plugin_class):
        """Register a plugin class (or a list of them); later registrations win.

        A plugin with per-run defaults (`default_by_run`) in a context without
        use_per_run_defaults raises InvalidConfiguration, as in strax, but stays registered:
        st.set_config of those options, or use_per_run_defaults=True, makes it usable (until
        then loading its data raises the same error).
        """
        return self._session.register(plugin_class)

    def register_all(self, module):
        """Register every Plugin subclass in a module, also ones it imports (or a list of modules)."""
        if isinstance(module, (list, tuple)):
            for m in module:
                self.register_all(m)
            return
        refused = []
        for plugin_class in plugin_classes_in(module):
            try:
                self.register(plugin_class)
            except InvalidConfiguration as e:   # registered all the same (see register)
                refused.append(str(e))
        if refused:
            raise InvalidConfiguration("\n".join(refused))

    def register_cut_list(self, cut_list):
        """Register a CutList (or a list/tuple of them) and the cuts it is made of, nested
        CutLists with their own cuts, as strax does; later registrations win."""
        for plugin_class in plugins_of_cut_list(cut_list):
            self.register(plugin_class)

    def get_single_plugin(self, run_id, data_type, chunk_number=None):
        run_id = run_id_text(run_id)
        self.get_save_when(data_type)
        plugin = self._session.make_plugin(self._session.plugin_class(data_type, run_id), run_id)
        if chunk_number is not None:
            self._session.assign_chunk_number(plugin, run_id, chunk_number)
        return plugin

    def provided_dtypes(self):
        return {d: cls for d, cls in self._plugin_class_registry.items()}

    def data_info(self, data_type):
        """Field name, numpy type and description of each field of data_type."""
        # As strax, from a plugin that is not set up: setup may need resources (a database)
        # that a plugin's dtype does not.
        return inspection.field_table(
            self._get_plugins((data_type,), "0")[data_type].dtype_for(data_type))

    def search_field(self, pattern, include_code_usage=True, return_matches=False):
        """Which data types have fields matching a glob pattern, and which plugin methods
        mention them. Printed, or returned as ({field: [(data type, plugin class)]},
        {field: ['Class.method']}) with return_matches=True."""
        fields, code = inspection.search_field(self._session, pattern, include_code_usage)
        if return_matches:
            return fields, code
        inspection.print_search(fields, code)

    def search_field_usage(self, search_string, plugin=None):
        """'Class.method' of each plugin method whose source mentions search_string."""
        return inspection.field_usage_in(self._session, search_string, plugin)

    def data_itemsize(self, data_type):
        """Bytes of one row of data_type."""
        return self._get_plugins((data_type,), "0")[data_type].dtype_for(data_type).itemsize

    # --- the plugin tree (no data needed) ----------------------------------------------------
    tree = property(lambda self: inspection.tree(self._session),
                    doc="{data type: [data types it is made from]}")
    inversed_tree = property(lambda self: inspection.inversed_tree(self._session),
                             doc="{data type: [data types made from it]}")
    root_data_types = property(lambda self: inspection.root_data_types(self._session),
                               doc="Data types made from nothing")
    tree_levels = property(lambda self: inspection.tree_levels(self._session),
                           doc="{False: levels by longest path, True: by shortest}; per data "
                               "type its level, class, index and order")

    def get_dependencies(self, data_type):
        """Every data type data_type is made from (a set)."""
        return inspection.get_dependencies(self._session, data_type)

    def get_dependency_plugins(self, target, run_id, chunk_number=None):
        """{data type: plugin} of everything needed to make target (target excluded); the
        plugins are not set up, as strax's."""
        return inspection.dependency_plugins(self._session, target, run_id_text(run_id),
                                             chunk_number)

    def get_data_kinds(self):
        """({data kind: [data types]}, {data type: data kind})."""
        return inspection.get_data_kinds(self._session)

    def get_save_when(self, target):
        """The save rule of target's plugin for target; ValueError if it is not a SaveWhen."""
        return inspection.get_save_when(self._session, target)

    def check_superrun(self):
        """ValueError if a plugin without allow_superrun is made from one with it."""
        inspection.check_superrun(self._session)

    def _get_plugins(self, targets, run_id, chunk_number=None):
        """{data type: plugin} for targets and what they are made from (not set up, as strax)."""
        return inspection.get_plugins(self._session, targets, run_id)

    def _context_hash(self):
        """Hash of config and plugin versions: the key of _fixed_plugin_cache."""
        return inspection.context_hash(self._session)

    @property
    def _fixed_plugin_cache(self):
        """strax's {context hash: {data type: plugin}} (plugins made on first read).
        Assigning None forgets the plugins made so far."""
        return inspection.FixedPluginCache(self._session)

    @_fixed_plugin_cache.setter
    def _fixed_plugin_cache(self, value):
        if value is not None:
            raise ValueError("_fixed_plugin_cache can only be reset (set to None)")
        self._session.plugin_instances.clear()

    def purge_unused_configs(self):
        """Drop options from config that no registered plugin takes (nor free_options)."""
        for k in inspection.unused_options(self._session):
            self.log.warning(f"Option {k} purged from the config: no plugin uses it")
            del self.config[k]
        self._changed()

    def deregister_plugins_with_missing_dependencies(self):
        """Deregister plugins made from data no registered plugin provides."""
        for d in inspection.plugins_with_missing_dependencies(self._session):
            self.log.info(f"Deregister {d}")
            del self._plugin_class_registry[d]
        self._changed()

    # --- lineage and keys ----------------------------------------------------------------------
    def lineage(self, run_id, data_type, chunk_number=None):
        return self._session.lineages.lineage(run_id_text(run_id), data_type,
                                              chunk_number=chunk_number)

    def key_for(self, run_id, data_type, chunk_number=None, combining=False):
        """The DataKey of data_type for run_id (superruns carry a hash of their definition)."""
        return self._session.key_for(run_id, data_type, combining=combining,
                                     chunk_number=chunk_number)

    def get_data_key(self, run_id, target, lineage, combining=False):
        """The DataKey of target for run_id under lineage (a superrun's with its subruns)."""
        return self._session.data_key(run_id, target, lineage, combining)

    # --- storage -------------------------------------------------------------------------------
    def is_stored(self, run_id, target, detailed=False, chunk_number=None, combining=False,
                  **kwargs):
        """True if target is stored for run_id (for a superrun: stored as superrun data)."""
        ctx, _ = self._for_call(kwargs, "is_stored")
        targets = target if isinstance(target, (list, tuple)) else (target,)
        return all(ctx._session.is_stored(run_id, t, combining=combining,
                                          chunk_number=chunk_number) for t in targets)

    def get_meta(self, run_id, target, chunk_number=None):
        """The stored metadata of target for run_id; when only a failed write of it is kept,
        that write's metadata (as strax; its `exception` field says what went wrong)."""
        md = self._session.get_meta(run_id, target, chunk_number=chunk_number,
                                    failed_too=True)
        # A copy: storage keeps the parsed metadata (parts shared between documents) for
        # later loads, which must not see what a caller edits in what it got.
        return copy.deepcopy(md)

    def merge_per_chunk_storage(self, run_id, target, per_chunked_dependency,
                                chunk_number_group=None, rechunk=True,
                                rechunk_to_mb=DEFAULT_CHUNK_SIZE_MB, target_frontend_id=None,
                                target_compressor=None, check_is_stored=True):
        """One stored copy of target made per chunk(s); see sources.merge_per_chunk_storage."""
        sources.merge_per_chunk_storage(
            self._session, str(run_id), target, per_chunked_dependency, chunk_number_group,
            rechunk, rechunk_to_mb, target_frontend_id, target_compressor, check_is_stored)

    get_metadata = get_meta

    def size_mb(self, run_id, target):
        """Megabytes the stored target of run_id takes in memory."""
        return sources.size_mb(self._session, run_id, target)

    @property
    def _find_options(self):
        """strax's find() options from the context (fuzzy matching is not done here)."""
        return {k: self.context_config.get(k) for k in
                ("fuzzy_for", "fuzzy_for_options", "allow_incomplete")}

    def _is_stored_in_sf(self, run_id, target, storage_frontend, chunk_number=None,
                         combining=False):
        return sources.is_stored_in(self._session, run_id, target, storage_frontend,
                                    combining=combining)

    def get_source_sf(self, run_id, target, should_exist=False, chunk_number=None):
        """The frontends holding target (several targets: those holding all of them)."""
        return sources.source_frontends(self._session, run_id, target, should_exist)

    def stored_dependencies(self, run_id, target, check_forbidden=True, _targets_stored=None):
        """{data type: stored?} of what target(s) would be made from; DataNotAvailable if
        they cannot be made."""
        return sources.stored_dependencies(self._session, run_id, target, check_forbidden,
                                           _targets_stored)

    def get_source(self, run_id, target, check_forbidden=True):
        """The stored data types target would be made from, or None if it cannot be made."""
        return sources.get_source(self._session, run_id, target, check_forbidden)

    def available_for_run(self, run_id, include_targets=None, exclude_targets=None,
                          pattern_type="fnmatch"):
        """A DataFrame (target, is_stored) of the data types of run_id that are ever saved."""
        return sources.available_for_run(self._session, run_id, include_targets,
                                         exclude_targets, pattern_type)

    def keys_for_runs(self, target, run_ids):
        """The DataKeys of target for each of run_ids."""
        return sources.keys_for_runs(self._session, target, run_ids)

    def compare_metadata(self, data1, data2, return_results=False):
        """Compare two data's metadata (or lineages when either is not stored). Each is a
        (run_id, data_type) pair, a metadata dict or a metadata JSON file's path. Prints the
        differences, or returns {metadata1, lineage1, metadata2, lineage2}."""
        return sources.compare_metadata(self._session, data1, data2, return_results)

    def copy_to_frontend(self, run_id, target, target_frontend_id=None,
                         target_compressor=None, rechunk=False, rechunk_to_mb=None):
        """Copy stored target of run_id to the frontend at index target_frontend_id of storage
        (default: every other writable frontend lacking it), optionally recompressed and
        rechunked."""
        sources.copy_to_frontends(self._session, run_id, target, target_frontend_id,
                                  target_compressor, rechunk, rechunk_to_mb)

    def to_absolute_time_range(self, run_id, targets=None, time_range=None, seconds_range=None,
                               time_within=None, full_range=None):
        """(start, end) in ns since the epoch from one way of giving a time range."""
        return sources.to_absolute_time_range(self._session, run_id, targets, time_range,
                                              seconds_range, time_within, full_range)

    def accumulate(self, run_id, targets, fields=None, function=None,
                   store_first_for_others=True, function_takes_fields=False, **kwargs):
        """Sums of fields (or of function(chunk data)) over the chunks get_iter gives, with
        start, end, n_chunks and n_rows. Takes get_iter's arguments."""
        if kwargs.get("allow_multiple"):
            raise CannotMergeKinds(
                f"accumulate sums over one stream of chunks, so it cannot take "
                f"allow_multiple=True (targets {targets!r}); accumulate each data kind apart")
        return sources.accumulate(self.get_iter(run_id, targets, **kwargs), fields, function,
                                  store_first_for_others, function_takes_fields)

    # --- runs and superruns --------------------------------------------------------------------
    def run_metadata(self, run_id, projection=None):
        """The run document of run_id (a superrun's holds sub_run_spec, start, end, livetime)."""
        return self._session.runs.metadata(run_id, projection=projection)

    def run_defaults(self, run_id):
        """The option defaults in run_id's document (its strax_defaults); {} unless the
        context has use_per_run_defaults, or when the run has no document."""
        return dict(self._session.lineages.run_defaults(str(run_id)) or {})

    def writable_storage(self):
        """The frontends of storage that are not readonly, in order."""
        return [fe for fe in self.storage if not fe.readonly]

    # For inspection (tests use them): the run registry's document and resolved subruns.
    def _run_doc(self, run_id):
        return self._session.runs.doc(run_id)

    def _subrun_specs(self, superrun_id):
        return self._session.runs.subrun_specs(superrun_id)

    def define_run(self, name, data, from_run=None):
        """Define a superrun: name (starting with '_') and its subruns.

        data: a list of run ids; a dict {run_id: 'all' | [(start, end), ...]} (ns); or an array /
        DataFrame of rows with time and endtime (and run_id, else give from_run), in which case
        the superrun is exactly the time ranges of those rows.
        """
        self._session.runs.define(name, data, from_run=from_run)
        self._changed()

    def scan_runs(self, store_fields=()):
        fields = tuple(store_fields) + tuple(self.context_config.get("store_run_fields") or ())
        self.runs = self._session.runs.scan(fields)
        return self.runs

    def select_runs(self, run_mode=None, run_id=None, include_tags=None, exclude_tags=None,
                    available=(), pattern_type="fnmatch", store_fields=(), progress_bar=None,
                    **kwargs):
        """A DataFrame of runs and superruns, filtered, with <type>_available columns."""
        self._check_kwargs(kwargs, "select_runs")
        df = self.scan_runs(store_fields)
        if run_mode is not None and len(df):
            df = self._session.runs.with_superrun_modes(df)
        df = runs.filter_runs(df, run_mode=run_mode, run_id=run_id, include_tags=include_tags,
                              exclude_tags=exclude_tags, pattern_type=pattern_type)
        self.runs = df = sources.with_availability(self._session, df, available, progress_bar)
        return df

    def list_available(self, target, runs=None, **kwargs):
        """Names of the runs (and superruns) for which target is stored."""
        self._check_kwargs(kwargs, "list_available")
        names = self.scan_runs()["name"].tolist() if runs is None else [run_id_text(r) for r in runs]
        available = sources.availability(self._session, names, target, False)
        return [n for n, ok in zip(names, available) if ok]

    # --- getting data ----------------------------------------------------------------------------
    def _check_kwargs(self, kwargs, where, stacklevel=3):
        """Warn, at the line calling the public method where, of arguments that do nothing."""
        for k in kwargs:
            if k not in ACCEPTED_GET_KWARGS:
                warnings.warn(f"{where}() got unknown argument {k!r}; it does nothing",
                              UserWarning, stacklevel=stacklevel)

    def _progress_enabled(self, progress_bar):
        return self._session.progress_enabled(progress_bar)

    def _for_call(self, kwargs, where):
        """(context, loading arguments) for one call of get_iter & co.

        A call may carry context settings (config=, register=, storage= or a context option):
        it then runs in a temporary context made with new_context. Unknown arguments are
        reported at the caller's line and dropped.
        """
        processor = kwargs.get("processor")
        if isinstance(processor, str) and processor not in self.processors:
            raise InvalidArgument(f"{where}(processor={processor!r}): this context's processors "
                                  f"are {sorted(self.processors)}")
        settings, rest, unknown = split_call_arguments(kwargs)
        self._check_kwargs(unknown, where, stacklevel=4)   # one frame deeper than the others
        return (self.new_context(**settings) if settings else self), rest

    def get_components(self, run_id, targets=(), save=(), combining=False, chunk_number=None,
                       **kwargs):
        """What making targets (of any kinds) of run_id would load, compute and save: an object
        with loaders, plugins, savers and targets as strax's, and the plan (nothing is read)."""
        self._check_kwargs(kwargs, "get_components")
        targets = loading.as_tuple(targets)
        plan = loading.plan(self._session, run_id, targets, save=save, combining=combining,
                            allow_multiple=True, chunk_number=chunk_number)
        return inspection.components(plan, targets, self._session)

    def estimate_run_start_and_end(self, run_id, targets=None):
        """(start, end) of a run in ns since the epoch, floored to whole seconds as strax does,
        so that seconds_range selects the same rows in both.

        From the run document, else from stored data of the targets (or of the data they are
        made from); without either, a warning and (0, inf).
        """
        return loading.estimate_run_start_and_end(self._session, run_id, targets)

    def get_iter(self, run_id, targets, save=(), max_workers=None, time_range=None,
                 seconds_range=None, time_within=None, time_selection="fully_contained",
                 selection=None, selection_str=None, keep_columns=None, drop_columns=None,
                 progress_bar=None, combining=False, add_run_id_field=False,
                 allow_multiple=False, chunk_number=None, **kwargs):
        """Chunks of targets for run_id (or each run of a list), in time order, made where
        not stored.

        time_range (ns), seconds_range (since the run's start, in whole seconds) or
        time_within (a row) select a time span, with time_selection 'fully_contained' or
        'touching'; selection is a query on the fields; keep_columns / drop_columns choose
        fields; add_run_id_field gives rows of several runs or of a superrun their run id.
        Other keyword arguments (config=, register=, storage=, context options) apply to this
        call only, through a temporary context, as in strax.
        """
        args = {k: v for k, v in locals().items() if k not in ("self", "kwargs")}
        ctx, rest = self._for_call(kwargs, "get_iter")
        return loading.iter_chunks(ctx._session, **args, **rest)

    def get_array(self, run_id, targets, save=(), max_workers=None, **kwargs):
        """One numpy array of targets for a run or a list of runs (then with a run_id field).

        Takes get_iter's arguments. With max_workers=N (or executor=) the runs, or a
        superrun's subruns, that must be made are made in parallel first. ignore_errors=True
        leaves out, with a warning, runs whose data is not available."""
        ignore_errors = kwargs.pop("ignore_errors", False)
        as_bytes = kwargs.pop("run_id_as_bytes", False)
        ctx, kwargs = self._for_call(kwargs, "get_array")
        dispatch.make_for_loading(ctx._session, run_id, targets, save, max_workers, kwargs)
        return loading.get_array(ctx._session, run_id, targets, save=save,
                                 ignore_errors=ignore_errors, run_id_as_bytes=as_bytes,
                                 **kwargs)

    def get_df(self, run_id, targets, save=(), max_workers=None, **kwargs):
        """A pandas DataFrame of targets; fields holding arrays become columns of arrays.

        Takes get_array's arguments."""
        extra = {k: kwargs.pop(k) for k in ("ignore_errors", "run_id_as_bytes") if k in kwargs}
        ctx, kwargs = self._for_call(kwargs, "get_df")
        dispatch.make_for_loading(ctx._session, run_id, targets, save, max_workers, kwargs)
        return output.to_dataframe(loading.get_array(ctx._session, run_id, targets, save=save,
                                                     **extra, **kwargs), log=self.log)

    def make(self, run_id, targets, save=(), max_workers=None, progress_bar=None,
             executor=None, **kwargs):
        """Make (and store) targets for a run or runs without keeping the data in memory.

        With max_workers=N the runs (a superrun's subruns) are made in N worker processes;
        with executor=<dask Client> (or the context option 'executor') on a Dask cluster.
        Failed runs are reported together in one RunsFailed, after every run was tried.
        Takes get_iter's arguments."""
        ctx, kwargs = self._for_call(kwargs, "make")
        dispatch.make(ctx._session, run_id, targets, save=save, max_workers=max_workers,
                      executor=executor, progress_bar=progress_bar, **kwargs)

    def get_dask(self, run_id, targets, time_range=None, seconds_range=None, time_within=None,
                 time_selection="fully_contained", selection=None, selection_str=None,
                 keep_columns=None, drop_columns=None, add_run_id_field=False, **kwargs):
        """A lazy dask.dataframe of stored targets: one partition per stored chunk, indexed
        by time with known divisions, for data larger than memory. `.compute()` equals
        get_df (with the time index: `.reset_index(drop=True)`). See superstrax.parallel.frames."""
        ctx, kwargs = self._for_call(kwargs, "get_dask")
        from .parallel.frames import get_dask
        return get_dask(ctx._session, run_id, targets, time_range=time_range,
                        seconds_range=seconds_range, time_within=time_within,
                        time_selection=time_selection, selection=selection,
                        selection_str=selection_str, keep_columns=keep_columns,
                        drop_columns=drop_columns, add_run_id_field=add_run_id_field, **kwargs)

    def get_zarr(self, run_ids, targets, storage="./strax_temp_data", progress_bar=False,
                 overwrite=True, **kwargs):
        """targets of run_ids appended chunk by chunk to persistent zarr arrays (one per
        target, attrs['RUNS'] telling each run's rows) in the group <context hash>/<hash of
        kwargs> of storage (a path, fsspec URL or zarr store). Needs zarr 2. See
        superstrax.zarr_arrays."""
        ctx, loading_args = self._for_call(kwargs, "get_zarr")
        from .zarr_arrays import get_zarr
        return get_zarr(ctx._session, run_ids, targets, storage=storage,
                        progress_bar=progress_bar, overwrite=overwrite, group_args=kwargs,
                        **loading_args)

    def __reduce__(self):
        # Pickled by value (plugins, options, storage), e.g. to ship it to worker processes.
        from .parallel.spec import ContextSpec
        return _context_from_spec, (ContextSpec.from_session(self._session),)


def _context_from_spec(spec):
    """A Context rebuilt from a ContextSpec (what unpickling a Context calls)."""
    session = spec.build()
    ctx = Context(storage=session.storage)
    ctx._session = session
    return ctx
