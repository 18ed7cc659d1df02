"""Lineage: which plugin versions and tracked options produced a data type for a run.

Lineages are cached. When no option in a data type's dependency tree can depend on the run
id, one lineage serves every run; otherwise it is resolved per run (per subrun for superruns).
"""
import numpy as np

from . import config as cfg
from .errors import (DataNotAvailable, InvalidArgument, InvalidConfiguration,
                     PerChunkNotSupported, RunMetadataNotAvailable, UnknownDataType)
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
        self._lineage_hashes = {}
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
    def lineage(self, run_id, data_type, chunk_number=None):
        """{data type: (plugin class name, version, tracked options)} of data_type and all it
        is made from. chunk_number ({dependency: [chunk numbers]}, per-chunk processing): the
        options of each plugin reading such a dependency also hold
        'chunk_number': {dependency: [...]}, so the data gets a key of its own (strax's rule)."""
        if chunk_number is not None:
            return self._per_chunk_lineage(run_id, data_type, chunk_number)
        cache_key = (data_type, None if self.run_independent(data_type) else run_id)
        if cache_key not in self._lineages:
            self._lineages[cache_key] = self._build_lineage(run_id, data_type)
        return self._lineages[cache_key]

    def lineage_hash(self, run_id, data_type):
        """deterministic_hash of lineage(run_id, data_type), computed once per lineage: the
        subruns of a superrun share one lineage, and hashing it per subrun key was a tenth of
        loading a thousand of them."""
        cache_key = (data_type, None if self.run_independent(data_type) else run_id)
        found = self._lineage_hashes.get(cache_key)
        if found is None:
            found = self._lineage_hashes[cache_key] = deterministic_hash(
                self.lineage(run_id, data_type))
        return found

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

    def _per_chunk_lineage(self, run_id, data_type, chunk_number):
        from .plugins.kinds import LoopPlugin, OverlapWindowPlugin
        if not isinstance(chunk_number, dict):
            raise InvalidArgument(f"chunk_number must be a dict {{data type: [chunk numbers]}}, "
                                  f"got {chunk_number!r}")
        lineage = dict(self.lineage(run_id, data_type))
        for provided, (name, version, options) in list(lineage.items()):
            cls = self.plugin_class(provided, run_id)
            selected = [d for d in cls.depends_on_tuple() if d in chunk_number]
            if not selected:
                continue
            if issubclass(cls, (LoopPlugin, OverlapWindowPlugin)):
                raise PerChunkNotSupported(
                    f"{cls.__name__} (making {provided} for run {run_id}) needs data across "
                    f"chunk boundaries, so it cannot be made from selected chunks of "
                    f"{selected} (chunk_number=); make {data_type} from the whole data")
            options = dict(options)
            per_chunk = dict(options.get("chunk_number", {}))
            for d in selected:
                numbers = _check_chunk_numbers(chunk_number[d], d)
                self._check_connector(cls, d, run_id)
                per_chunk[d] = numbers
            options["chunk_number"] = per_chunk
            lineage[provided] = (name, version, options)
        return lineage

    def _check_connector(self, cls, selected, run_id):
        """A plugin with several inputs made from selected chunks of one data type needs
        every input made from that data type, else its inputs would cover different times."""
        deps = cls.depends_on_tuple()
        if len(deps) < 2:
            return
        for c in deps:
            if c != selected and selected not in self.made_from(c):
                raise InvalidArgument(
                    f"chunk_number={{{selected!r}: ...}}: {cls.__name__} reads {c}, which is not "
                    f"made from {selected}, so its inputs would not cover the same chunks")

    def made_from(self, data_type):
        """Every data type data_type is made from, however indirectly (a set)."""
        seen, todo = set(), [data_type]
        while todo:
            for dep in self.plugin_class(todo.pop()).depends_on_tuple():
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen



def _check_chunk_numbers(numbers, data_type):
    """chunk numbers as strax takes them: a list of consecutive integers."""
    if not isinstance(numbers, (list, tuple)) or not numbers or not all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in numbers):
        raise InvalidArgument(f"chunk_number for {data_type} must be a non-empty list of "
                              f"integers, got {numbers!r}")
    numbers = [int(x) for x in numbers]
    if any(b - a != 1 for a, b in zip(numbers, numbers[1:])):
        raise InvalidArgument(f"chunk_number for {data_type} must be consecutive integers "
                              f"(one stretch of the run), got {numbers}")
    return numbers


def check_superrun_config(plugin_class, config, superrun_id):
    """A plugin computed over a superrun cannot use options whose value differs per subrun."""
    names = config.get("__subrun_dependent__")
    if names:
        raise InvalidConfiguration(
            f"{plugin_class.__name__} would run over superrun {superrun_id}, but options {names} "
            f"have different per-run defaults in its subruns. Set them explicitly with "
            f"st.set_config({{...}}) to compute over the superrun")
