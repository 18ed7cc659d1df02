"""Lineage: which plugin versions and tracked options produced a data type for a run.

Lineages are cached. When no option in a data type's dependency tree can depend on the run
id, one lineage serves every run; otherwise it is resolved per run (per subrun for superruns).
"""
from . import config as cfg
from .errors import (DataNotAvailable, InvalidConfiguration, RunMetadataNotAvailable,
                     UnknownDataType)
from .hashing import deterministic_hash
from .naming import is_superrun_id  # noqa: F401 (its old home; kept for importers)
from .validation import check_acyclic


class LineageResolver:
    """Resolves plugin configs and lineages for one state of a context (config + registry)."""

    def __init__(self, registry, config, context_config, run_metadata, subruns_of):
        self.registry = registry
        self.config = config
        self.use_per_run_defaults = bool(context_config.get("use_per_run_defaults", False))
        self._run_metadata = run_metadata    # run_id, projection -> dict
        self._subruns_of = subruns_of        # superrun id -> list of regular run ids
        self._lineages = {}
        self._configs = {}
        self._run_independent = {}
        self._run_defaults = {}

    # --- plugins ---------------------------------------------------------------------------
    def plugin_class(self, data_type, run_id=None):
        try:
            return self.registry[data_type]
        except KeyError:
            known = ", ".join(sorted(self.registry)) or "none"
            where = f" for run {run_id}" if run_id is not None else ""
            raise UnknownDataType(
                f"No plugin provides '{data_type}'{where}. Registered data types: {known}. "
                f"Register the plugin that provides it with st.register(...)") from None

    def run_independent(self, data_type):
        """True if no option in the dependency tree of data_type can vary with the run id."""
        if data_type not in self._run_independent:
            check_acyclic(data_type, lambda d: self.plugin_class(d).depends_on_tuple())
            cls = self.plugin_class(data_type)
            own = not cfg.per_run_dependent_options(cls, self.config, self.use_per_run_defaults)
            self._run_independent[data_type] = own and all(
                self.run_independent(d) for d in cls.depends_on_tuple())
        return self._run_independent[data_type]

    # --- configuration -----------------------------------------------------------------------
    def run_defaults(self, run_id):
        if not self.use_per_run_defaults:
            return None
        if run_id not in self._run_defaults:
            try:
                doc = self._run_metadata(run_id, projection=["strax_defaults"])
            except RunMetadataNotAvailable:
                doc = {}
            self._run_defaults[run_id] = doc.get("strax_defaults") or {}
        return self._run_defaults[run_id]

    def config_for(self, plugin_class, run_id, tolerant=False):
        """The resolved option values of plugin_class for run_id (a superrun: see below).

        tolerant=True (lineages, as strax): options that cannot be resolved are left out;
        otherwise they raise InvalidConfiguration.
        """
        result = self._tolerant_config(plugin_class, run_id)
        if not tolerant:
            cfg.require_complete(plugin_class, result, run_id)
        return result

    def _tolerant_config(self, plugin_class, run_id):
        run_key = None if not cfg.per_run_dependent_options(
            plugin_class, self.config, self.use_per_run_defaults) else run_id
        cache_key = (plugin_class, run_key)
        if cache_key in self._configs:
            return self._configs[cache_key]
        if run_key is not None and is_superrun_id(run_id):
            result = self._superrun_config(plugin_class, run_id)
        else:
            result = cfg.resolve_config(plugin_class, self.config, str(run_id),
                                        use_per_run_defaults=self.use_per_run_defaults,
                                        run_defaults=self.run_defaults(run_id),
                                        for_what=plugin_class.__name__, tolerant=True)
        self._configs[cache_key] = result
        return result

    def _superrun_config(self, plugin_class, superrun_id):
        """Per-run options of a superrun: the subruns' common value, or a marker if they differ."""
        subruns = self._subruns_of(superrun_id)
        per_sub = [cfg.resolve_config(plugin_class, self.config, r,
                                      use_per_run_defaults=self.use_per_run_defaults,
                                      run_defaults=self.run_defaults(r),
                                      for_what=plugin_class.__name__, tolerant=True)
                   for r in subruns]
        result = dict(per_sub[0])
        for name in list(result):
            values = [c.get(name, cfg.OMITTED) for c in per_sub]
            if any(v != values[0] for v in values[1:]):
                option = plugin_class.takes_config[name]
                result[name] = ("<SUBRUN-DEPENDENT:"
                                + deterministic_hash([values, subruns]) + ">")
                result.setdefault("__subrun_dependent__", []).append(option.name)
        return result

    # --- lineage -----------------------------------------------------------------------------
    def lineage(self, run_id, data_type):
        cache_key = (data_type, None if self.run_independent(data_type) else run_id)
        if cache_key not in self._lineages:
            self._lineages[cache_key] = self._build_lineage(run_id, data_type)
        return self._lineages[cache_key]

    def _build_lineage(self, run_id, data_type):
        cls = self.plugin_class(data_type, run_id)
        config = self.config_for(cls, run_id, tolerant=True)
        config = {k: v for k, v in config.items() if k != "__subrun_dependent__"}
        tracked = cfg.tracked_config(cls, config)
        if getattr(cls, "child_plugin", False):
            for base in cls.__bases__:
                if hasattr(base, "version"):
                    tracked[base.__name__] = base.version()
        lineage = {cls.provides_tuple()[-1]: (cls.__name__, cls.version(), tracked)}
        for dep in cls.depends_on_tuple():
            lineage.update(self.lineage(run_id, dep))
        return lineage

    def lineage_hash(self, run_id, data_type):
        return deterministic_hash(self.lineage(run_id, data_type))


def check_superrun_config(plugin_class, config, superrun_id):
    """A plugin computed over a superrun cannot use options whose value differs per subrun."""
    names = config.get("__subrun_dependent__")
    if names:
        raise InvalidConfiguration(
            f"{plugin_class.__name__} would run over superrun {superrun_id}, but options {names} "
            f"have different per-run defaults in its subruns. Set them explicitly with "
            f"st.set_config({{...}}) to compute over the superrun")
