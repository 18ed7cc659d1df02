"""Plugin options: declaring them (Option, takes_config) and resolving their values for a run.

Resolution follows strax 2.x so that lineages hash alike: an explicitly set value wins, then
the run document's `strax_defaults` (with `use_per_run_defaults`), then `default`,
`default_factory()` and `default_by_run`.
"""
import builtins
import numbers
import warnings
from types import MappingProxyType

from .errors import InvalidConfiguration
from .naming import is_superrun_id


class _Omitted:
    def __repr__(self):
        return "OMITTED"

    def __reduce__(self):
        return "OMITTED"


OMITTED = _Omitted()


class Option:
    """One configuration option of a plugin."""

    def __init__(self, name, type=OMITTED, default=OMITTED, default_factory=OMITTED,
                 default_by_run=OMITTED, track=True, infer_type=False, help="",
                 child_option=False, parent_option_name=None):
        self.name = name
        self.type = type
        self.default = default
        self.default_factory = default_factory
        self.default_by_run = default_by_run
        self.track = track
        self.help = help
        self.child_option = child_option
        self.parent_option_name = parent_option_name
        if child_option and not parent_option_name:
            raise InvalidConfiguration(f"Option {name}: a child option needs parent_option_name")
        given = [x is not OMITTED for x in (default, default_factory, default_by_run)]
        if sum(given) > 1:
            raise InvalidConfiguration(f"Option {name}: give at most one of default, "
                                       f"default_factory and default_by_run")
        if default_by_run is not OMITTED:
            pairs = list(default_by_run)
            if not pairs or any(len(p) != 2 for p in pairs):
                raise InvalidConfiguration(f"Option {name}: default_by_run must be a non-empty "
                                           f"list of (first_run_number, value) pairs")
            self.default_by_run = pairs
        if infer_type and type is OMITTED and default is not OMITTED and default is not None:
            self.type = builtins.type(default)

    @property
    def per_run(self):
        return self.default_by_run is not OMITTED

    @property
    def has_default(self):
        return (self.default is not OMITTED or self.default_factory is not OMITTED
                or self.default_by_run is not OMITTED)

    def get_default(self, run_id=None, run_defaults=None):
        """The default value for run_id; run_defaults is the run document's strax_defaults."""
        if run_defaults and self.name in run_defaults:
            return run_defaults[self.name]
        if self.default is not OMITTED:
            return self.default
        if self.default_factory is not OMITTED:
            return self.default_factory()
        if self.default_by_run is not OMITTED:
            number = run_number(run_id, self.name)
            value, found = None, False
            for first, v in sorted(self.default_by_run, key=lambda p: p[0]):
                if first <= number:
                    value, found = v, True
            if not found:
                raise InvalidConfiguration(f"Option {self.name} has no per-run default for run "
                                           f"{run_id} (first entry starts later)")
            return value
        raise InvalidConfiguration(f"Missing option {self.name}: it has no default, so set it "
                                   f"with st.set_config({{{self.name!r}: ...}})")

    def validate(self, value, for_what=""):
        """Warn (never fail) when value does not have the declared type, as strax does."""
        if self.type is OMITTED or value is None:
            return
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        # numpy scalars are fine where Python numbers are declared (np.int64 for int).
        types = tuple({int: numbers.Integral, float: numbers.Real}.get(t, t) for t in types)
        try:
            ok = isinstance(value, types)
        except TypeError:     # a non-class 'type' (e.g. typing alias): nothing to check
            return
        if not ok:
            where = f" of {for_what}" if for_what else ""
            warnings.warn(f"Option {self.name}{where} should be {self.type}, got {value!r}",
                          UserWarning, stacklevel=4)

    def __repr__(self):
        return f"Option({self.name!r})"


def run_number(run_id, option_name="?"):
    """The run number used by default_by_run: underscores removed, as an int."""
    try:
        return int(str(run_id).replace("_", ""))
    except ValueError:
        raise InvalidConfiguration(
            f"Option {option_name} has per-run defaults, which need a numeric run id; run "
            f"{run_id!r} is not one. Set {option_name} explicitly with st.set_config") from None


def takes_config(*options):
    """Class decorator declaring a plugin's options (inherited from base classes)."""
    for o in options:
        if not isinstance(o, Option):
            raise InvalidConfiguration(f"takes_config takes Option objects, got {o!r}")

    def wrapped(cls):
        result = {}
        for base in reversed(cls.__mro__[1:]):
            result.update(getattr(base, "takes_config", {}) or {})
        for o in options:
            result[o.name] = o
        cls.takes_config = MappingProxyType(result)
        return cls

    return wrapped


def resolve_config(plugin_class, context_config, run_id, use_per_run_defaults=False,
                   run_defaults=None, for_what=None):
    """The option values of plugin_class for run_id, given the context's config dict."""
    run_id = str(run_id)
    if is_superrun_id(run_id):
        run_id = run_id[1:]
    for_what = for_what or plugin_class.__name__
    result = {}
    for name, option in plugin_class.takes_config.items():
        if name in context_config:
            value = context_config[name]
        else:
            if option.per_run and not use_per_run_defaults:
                raise InvalidConfiguration(
                    f"Option {name} of {for_what} is specified as a per-run default, which the "
                    f"context does not allow; set use_per_run_defaults=True or set {name}")
            value = option.get_default(run_id, run_defaults if use_per_run_defaults else None)
        option.validate(value, for_what)
        result[name] = value
    if getattr(plugin_class, "child_plugin", False):
        # A child option replaces its parent's: the inherited code reads the parent's name.
        for name, option in plugin_class.takes_config.items():
            if option.child_option:
                result[option.parent_option_name] = result[name]
    return result


def check_per_run_defaults(plugin_class, config, use_per_run_defaults):
    """Registering a plugin with per-run defaults needs use_per_run_defaults (or the option set)."""
    if use_per_run_defaults:
        return
    for name, option in plugin_class.takes_config.items():
        if option.per_run and name not in config:
            raise InvalidConfiguration(
                f"Option {name} of {plugin_class.__name__} is specified as a per-run default, "
                f"which is not allowed by the context: set use_per_run_defaults=True or give "
                f"{name} a value with st.set_config({{{name!r}: ...}})")


def per_run_dependent_options(plugin_class, config, use_per_run_defaults):
    """Names of options whose value may differ between runs."""
    if not use_per_run_defaults:
        return []
    # With per-run defaults on, a run document's strax_defaults may set any unset option.
    return [name for name in plugin_class.takes_config if name not in config]


def tracked_config(plugin_class, config):
    """The part of a resolved config that enters the lineage."""
    options = plugin_class.takes_config
    tracked = {k: v for k, v in config.items() if k in options and options[k].track}
    if getattr(plugin_class, "child_plugin", False):
        for o in options.values():
            if o.child_option and o.parent_option_name in tracked:
                del tracked[o.parent_option_name]
    return tracked


def describe_options(classes, config):
    """One row per option of each class: defaults, current value, whether it is tracked."""
    rows = []
    for cls in classes:
        for name, o in cls.takes_config.items():
            if o.default is not OMITTED:
                default = o.default
            elif o.default_by_run is not OMITTED:
                default = o.default_by_run
            elif o.default_factory is not OMITTED:
                default = o.default_factory()
            else:
                default = OMITTED
            rows.append({"option": name, "default": default,
                         "current": config.get(name, OMITTED),
                         "applies_to": cls.provides_tuple(), "help": o.help,
                         "track": o.track})
    return rows
