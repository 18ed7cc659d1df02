"""Plugin options: declaring them (Option, takes_config) and resolving their values for a run.

Resolution follows strax 2.x so that lineages hash alike: an explicitly set value wins, then
the run document's `strax_defaults` (with `use_per_run_defaults`), then `default`,
`default_factory()` and `default_by_run`.
"""
import builtins
import numbers
import warnings

from immutabledict import immutabledict

from .errors import InvalidConfiguration, check_config_mode
from .naming import is_superrun_id


# strax marks "no value given" with this string (None can be a real default), and code
# written for strax imports it from here (straxen's URLConfig does), so it is the same value.
OMITTED = "<OMITTED>"


class Option:
    """One configuration option of a plugin."""

    taken_by = "a plugin"   # the class that declared it; set by takes_config / Config

    def __init__(self, name, type=OMITTED, default=OMITTED, default_factory=OMITTED,
                 default_by_run=OMITTED, child_option=False, parent_option_name=None,
                 track=True, infer_type=False, help=""):
        self.name = name
        self.type = type
        self.default = default
        self.default_factory = default_factory
        self.default_by_run = default_by_run
        self.track = track
        self.help = help
        self.child_option = child_option
        self.parent_option_name = parent_option_name
        if bool(child_option) != bool(parent_option_name):
            raise InvalidConfiguration(f"Option {name}: a child option needs both "
                                       f"child_option=True and parent_option_name")
        given = [x is not OMITTED for x in (default, default_factory, default_by_run)]
        if sum(given) > 1:
            raise InvalidConfiguration(f"Option {name}: give at most one of default, "
                                       f"default_factory and default_by_run")
        if default_by_run is not OMITTED:
            if callable(default_by_run):
                raise InvalidConfiguration(
                    f"Option {name}: default_by_run must be a list of (first_run_number, value) "
                    f"pairs; functions of the run id are not supported (nor by strax 2.x)")
            pairs = list(default_by_run)
            if not pairs or any(len(p) != 2 for p in pairs):
                raise InvalidConfiguration(f"Option {name}: default_by_run must be a non-empty "
                                           f"list of (first_run_number, value) pairs")
            self.default_by_run = pairs
        if infer_type and type is OMITTED and default is not OMITTED:
            # As strax: numbers are typed by their abstract class, so numpy scalars pass.
            if isinstance(default, numbers.Integral):
                self.type = numbers.Integral
            elif isinstance(default, numbers.Number):
                self.type = numbers.Number
            else:
                self.type = builtins.type(default)

    def __setstate__(self, state):
        # OMITTED is compared by identity, and an unpickled copy of the string is another
        # object: a plugin class sent to a worker by value would otherwise find every
        # omitted default "given".
        self.__dict__.update({k: OMITTED if isinstance(v, str) and v == OMITTED else v
                              for k, v in state.items()})

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
        raise InvalidConfiguration(f"Missing option {self.name} required by {self.taken_by}: "
                                   f"it has no default, so set it with "
                                   f"st.set_config({{{self.name!r}: ...}})")

    def validate(self, config, run_id=None, run_defaults=None, set_defaults=True):
        """Check this option's value in config (a dict) and put the default there if unset.

        The context calls this for every option of a plugin, with the context's config copied,
        before anything is hashed: subclasses (straxen's URLConfig) override it to rewrite
        values first. A value of the wrong type warns, as in strax (it never fails).
        """
        if self.name in config:
            self._check_type(config[self.name])
        elif set_defaults:
            config[self.name] = self.get_default(run_id, run_defaults)

    def _check_type(self, value):
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
            warnings.warn(f"Option {self.name} of {self.taken_by} should be {self.type}, "
                          f"got {value!r}", UserWarning, stacklevel=5)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class Config(Option):
    """An option declared in the class body: `threshold = Config(default=5, help=...)`.

    The attribute's name is the option's name; the plugin's `takes_config` gets it (and keeps
    its parents' options). On a set-up plugin, `self.threshold` gives `fetch(self)`: the
    resolved value. Subclasses override `fetch` (and `validate`) to compute values from URLs.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("name", "")     # the real name arrives with __set_name__
        super().__init__(**kwargs)

    def __set_name__(self, owner, name):
        self.name = name
        self.taken_by = owner.__name__
        # Not in place: the parent's takes_config must stay as it is.
        owner.takes_config = immutabledict({**getattr(owner, "takes_config", {}), name: self})

    def __get__(self, plugin, owner=None):
        if plugin is None:        # looked up on the class: the declaration itself
            return self
        return self.fetch(plugin)

    def __set__(self, plugin, value):
        raise AttributeError(f"{self.name} is an option of {type(plugin).__name__}: set it with "
                             f"st.set_config({{{self.name!r}: ...}}), not by assignment")

    def fetch(self, plugin):
        """The value the plugin sees: its resolved config, else the default."""
        config = getattr(plugin, "config", None)
        if config is None:
            raise AttributeError(f"{type(plugin).__name__} is not configured yet, so option "
                                 f"{self.name} has no value; get the plugin from a context "
                                 f"(st.get_single_plugin(run_id, data_type))")
        if self.name in config:
            return config[self.name]
        return self.get_default(getattr(plugin, "run_id", None))


class RunNumberNeeded(InvalidConfiguration, ValueError):
    """A per-run default asked of a run id that is not a number (strax fails too: never
    tolerated, not even for lineages)."""


def run_number(run_id, option_name="?"):
    """The run number used by default_by_run: underscores removed, as an int."""
    try:
        return int(str(run_id).replace("_", ""))
    except ValueError:
        raise RunNumberNeeded(
            f"Option {option_name} has per-run defaults, which need a numeric run id; run "
            f"{run_id!r} is not one. Set {option_name} explicitly with st.set_config") from None


def takes_config(*options):
    """Class decorator declaring a plugin's options; the class keeps those it inherits.

    As in strax, the inherited options are the class's own `takes_config` attribute (the first
    base's), so lineages hash alike; an option given again replaces the inherited one.
    """
    for o in options:
        if not isinstance(o, Option):
            raise InvalidConfiguration(f"takes_config takes Option objects, got {o!r}")

    def wrapped(cls):
        for o in options:
            o.taken_by = cls.__name__
            if isinstance(o, Config):
                # A Config given to the decorator is an attribute as well, as if declared
                # in the class body.
                setattr(cls, o.name, o)
        cls.takes_config = immutabledict({**getattr(cls, "takes_config", {}),
                                          **{o.name: o for o in options}})
        return cls

    return wrapped


def resolve_config(plugin_class, context_config, run_id, use_per_run_defaults=False,
                   run_defaults=None, for_what=None, tolerant=False):
    """The option values of plugin_class for run_id, given the context's config dict.

    Each option's `validate` hook fills in (or rewrites) its value in a copy of the context's
    config, as strax does, so Option subclasses see the same calls they get from strax.
    tolerant=True (for lineages, as strax): an option whose validate raises
    InvalidConfiguration (e.g. no value and no default) is left out instead of raising;
    `require_complete` raises for it once the plugin is really needed.
    """
    run_id = str(run_id)
    if is_superrun_id(run_id):
        run_id = run_id[1:]
    for_what = for_what or plugin_class.__name__
    options = plugin_class.takes_config
    config = dict(context_config)
    defaults = (run_defaults or {}) if use_per_run_defaults else {}
    for name, option in options.items():
        if name not in config and option.per_run and not use_per_run_defaults:
            raise InvalidConfiguration(
                f"Option {name} of {for_what} is specified as a per-run default, which the "
                f"context does not allow; set use_per_run_defaults=True or set {name}")
        try:
            option.validate(config, run_id=run_id, run_defaults=defaults, set_defaults=True)
        except InvalidConfiguration as e:
            if not tolerant or isinstance(e, RunNumberNeeded):
                raise
    result = {name: config[name] for name in options if name in config}
    if getattr(plugin_class, "child_plugin", False):
        # A child option replaces its parent's: the inherited code reads the parent's name.
        for name, option in options.items():
            if option.child_option:
                if name not in result:          # tolerated as missing
                    continue
                if option.parent_option_name not in options:
                    raise InvalidConfiguration(
                        f"{for_what}: child option {name} names parent option "
                        f"{option.parent_option_name!r}, which the plugin does not take")
                result[option.parent_option_name] = result[name]
    return result


def require_complete(plugin_class, config, run_id=None):
    """Raise InvalidConfiguration for the first option of plugin_class missing from config
    (a tolerant resolution left it out): a plugin cannot run without it."""
    for name, option in plugin_class.takes_config.items():
        if name not in config:
            option.validate(dict(config), run_id=run_id, set_defaults=True)   # raises why
            raise InvalidConfiguration(f"Option {name} of {plugin_class.__name__} has no value "
                                       f"for run {run_id}; set it with st.set_config")


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


def option_defaults(options) -> dict:
    """{name: default} of a {name: Option} mapping (the Context's takes_config): the
    default, else what default_factory makes, else None (context options are never per run)."""
    defaults = {}
    for name, opt in options.items():
        default = opt.default
        if default is OMITTED and opt.default_factory is not OMITTED:
            default = opt.default_factory()
        defaults[name] = None if default is OMITTED else default
    return defaults


def combine_configs(old_config, new_config=None, mode="update"):
    """A config from two, as set_config combines them (strax.config.combine_configs): 'update'
    a copy of old_config with new_config's values set, 'setdefault' old_config's values set
    only where new_config has none (a copy of new_config), 'replace' new_config itself."""
    check_config_mode(mode, "combine_configs")
    new_config = {} if new_config is None else new_config
    if mode == "replace":
        return new_config
    if mode == "setdefault":
        old_config, new_config = new_config, old_config
    combined = old_config.copy()
    combined.update(new_config)
    return combined


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
