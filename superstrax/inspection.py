"""Questions about a session's plugins that need no data: the dependency tree and its levels,
data kinds, save rules, fields and where code uses them, plugin instances per run, and the
hash of everything that decides them. The Context's tree, tree_levels, search_field,
get_data_kinds, _get_plugins, _context_hash ... forward here."""
import fnmatch
import os
import inspect
import types
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from .hashing import deterministic_hash
from .naming import is_superrun_id


def _registry(session) -> dict:
    return session.plugins


def _classes(session):
    """Each registered plugin class once, in registration order."""
    return list(dict.fromkeys(_registry(session).values()))


def depends_on(cls) -> tuple:
    return tuple(cls.depends_on_tuple())


def tree(session) -> dict:
    """{data type: [data types it is made from]} of every registered plugin."""
    result = {}
    for cls in _classes(session):
        for d in cls.provides_tuple():
            result.setdefault(d, []).extend(depends_on(cls))
    return result


def inversed_tree(session) -> dict:
    """{data type: [data types made from it]}."""
    result = {}
    for cls in _classes(session):
        for d in depends_on(cls):
            result.setdefault(d, []).extend(cls.provides_tuple())
    return result


def root_data_types(session) -> set:
    return {d for d, cls in _registry(session).items() if not depends_on(cls)}


def get_dependencies(session, data_type: str) -> set:
    """Every data type data_type is made from, directly or not."""
    seen, todo = set(), list(depends_on(session.plugin_class(data_type)))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(depends_on(session.plugin_class(d)))
    return seen


def tree_levels(session) -> dict:
    """{False: levels by longest path from a root, True: by shortest}; each
    {data type: {'level', 'class', 'index', 'order'}} with order the rank by (level, class,
    index in provides), as strax gives it."""
    registry = _registry(session)
    out = {}
    for shortest in (False, True):
        pick = min if shortest else max
        levels: dict = {}

        def level(d, stack=()):
            if d not in levels:
                if d in stack:
                    raise ValueError(f"Dependency cycle through {d!r}: {' -> '.join(stack)}")
                deps = depends_on(session.plugin_class(d))
                levels[d] = pick(level(x, stack + (d,)) for x in deps) + 1 if deps else 0
            return levels[d]

        rows = {d: {"level": level(d), "class": cls.__name__,
                    "index": cls.provides_tuple().index(d)} for d, cls in registry.items()}
        ordered = sorted(rows.items(), key=lambda kv: (kv[1]["level"], kv[1]["class"],
                                                       kv[1]["index"]))
        for order, (_, row) in enumerate(ordered):
            row["order"] = order
        out[shortest] = dict(ordered)
    return out


def check_superrun(session) -> None:
    """ValueError if a plugin that cannot run over superruns is made from one that can (its
    superrun data would then be made from chained subrun data of a superrun-wide input)."""
    registry = _registry(session)
    below = inversed_tree(session)
    for d, cls in registry.items():
        if not cls.allow_superrun:
            continue
        todo, seen = list(below.get(d, ())), set()
        while todo:
            x = todo.pop()
            if x in seen or x not in registry:
                continue
            seen.add(x)
            if not registry[x].allow_superrun:
                raise ValueError(f"{d} allows superruns, but {x}, which is made from it, does "
                                 f"not: set allow_superrun on {registry[x].__name__} too")
            todo.extend(below.get(x, ()))


def get_data_kinds(session):
    """({data kind: [data types]}, {data type: data kind}) of the registered data types."""
    by_kind, of_type = {}, {}
    for d in _registry(session):
        kind = session.kind_of(d)
        by_kind.setdefault(kind, []).append(d)
        of_type[d] = kind
    return by_kind, of_type


def get_save_when(session, data_type: str):
    """The save rule of data_type (strax's SaveWhen or an int); ValueError when it is neither."""
    cls = session.plugin_class(data_type)
    rule = cls.save_when
    if isinstance(rule, Mapping):
        rule = rule[data_type]
    if not isinstance(rule, (IntEnum, int)) or isinstance(rule, bool):
        raise ValueError(f"save_when of {cls.__name__} is {rule!r}: use a SaveWhen value, or "
                         f"an immutabledict of them per output")
    return rule


# --- plugin instances ------------------------------------------------------------------------
def get_plugins(session, targets, run_id) -> dict:
    """{data type: plugin instance} for targets and everything they are made from (one
    instance per plugin class, listed under each output the registry gives it): configured,
    dtypes fixed, not set up (as strax's _get_plugins)."""
    run_id = str(run_id)
    if is_superrun_id(run_id):
        run_id = session.runs.subrun_specs(run_id)[0].run_id
    instances: dict = {}
    plugins = {}
    todo = [targets] if isinstance(targets, str) else list(targets)
    while todo:
        d = todo.pop()
        if d in plugins:
            continue
        cls = session.plugin_class(d, run_id)
        plugin = session.make_plugin(cls, run_id, instances, setup=False)   # strax: not set up
        for out in cls.provides_tuple():
            if _registry(session).get(out) is cls:
                plugins[out] = plugin
        todo.extend(plugin.depends_on)
    return plugins


def dependency_plugins(session, target, run_id, chunk_number=None) -> dict:
    """{data type: plugin (not set up)} of everything target is made from, directly or not (not
    target itself), in strax's order: target's dependencies, then, for each in turn, what it
    is made from. chunk_number= is checked as for loading, and (as in strax) changes none of
    the plugins listed, whose lineages are those of whole runs."""
    run_id = str(run_id)
    plugin = session.make_plugin(session.plugin_class(target, run_id), run_id, setup=False)
    if chunk_number is not None:
        session.assign_chunk_number(plugin, run_id, chunk_number)
    below: dict = {}

    def made_from(p):
        key = p.provides
        if key not in below:
            found = dict(p.deps)
            for d, dep in p.deps.items():
                found.update((k, v) for k, v in made_from(dep).items() if k not in found)
            below[key] = found
        return below[key]

    return dict(made_from(plugin))


def context_hash(session) -> str:
    """A hash of the config and of each registered plugin's version and compressor: anything
    that changes a plugin instance changes it."""
    state = {k: v for k, v in session.config.items()}
    for d, cls in _registry(session).items():
        state[d] = (cls.__qualname__, str(cls.__version__), cls.compressor,
                    getattr(cls, "input_timeout", None))
    return deterministic_hash(state)


class FixedPluginCache(Mapping):
    """strax's `_fixed_plugin_cache` read-only view: {context hash: {data type: plugin for
    run '0'}}, made when first read. Only the current hash is present, and nothing when
    options can depend on the run (plugins then differ per run)."""

    def __init__(self, session):
        self._session = session

    def _current(self):
        if self._session.option("use_per_run_defaults"):
            return None
        return context_hash(self._session)

    def __getitem__(self, key):
        if key is None or key != self._current():
            raise KeyError(key)
        cache = self._session.plugin_instances
        if key not in cache:
            cache.clear()
            cache[key] = _LazyPlugins(self._session)
        return cache[key]

    def __iter__(self):
        current = self._current()
        return iter(() if current is None else (current,))

    def __len__(self):
        return sum(1 for _ in self)


class _LazyPlugins(Mapping):
    def __init__(self, session):
        self._session, self._plugins = session, {}

    def __getitem__(self, data_type):
        if data_type not in self._plugins:
            if data_type not in self._session.plugins:
                raise KeyError(data_type)
            self._plugins.update(get_plugins(self._session, (data_type,), "0"))
        return self._plugins[data_type]

    def __iter__(self):
        return iter(self._session.plugins)

    def __len__(self):
        return len(self._session.plugins)


# --- registry clean-up -------------------------------------------------------------------------
def unused_options(session, config=None) -> list:
    """The options of config (default: the session's) that no registered plugin takes and
    that are not among the free_options."""
    taken = set()
    for cls in _classes(session):
        taken.update(cls.takes_config)
    free = set(session.option("free_options") or ())
    return [k for k in (session.config if config is None else config)
            if k not in taken and k not in free]


def show_config(session, data_type=None, pattern="*"):
    """A DataFrame of every option (of data_type's plugins and what they are made from, if
    given) whose name matches pattern: its default, current value and the plugins using it."""
    import pandas as pd
    from .config import describe_options
    classes = _classes(session)
    if data_type is not None:
        wanted, todo = set(), [data_type]
        while todo:
            cls = session.plugin_class(todo.pop())
            if cls not in wanted:
                wanted.add(cls)
                todo.extend(cls.depends_on_tuple())
        classes = [c for c in classes if c in wanted]
    rows = [r for r in describe_options(classes, session.config)
            if fnmatch.fnmatch(r["option"], pattern)]
    return pd.DataFrame(rows)


def plugins_with_missing_dependencies(session) -> list:
    """Data types whose plugins depend, directly or not, on data no plugin provides."""
    registry = dict(_registry(session))
    dropped = []
    while True:
        provided = set(registry)
        bad = [d for d, cls in registry.items() if not set(depends_on(cls)) <= provided]
        if not bad:
            return dropped
        for d in bad:
            del registry[d]
        dropped.extend(bad)


# --- fields ------------------------------------------------------------------------------------
def field_table(dtype):
    """A DataFrame of a structured dtype's fields: name, numpy type (with the shape of an
    array field) and comment (the title), what the Context's data_info shows."""
    import pandas as pd
    rows = []
    for name in dtype.names:
        spec = dtype.fields[name]
        rows.append({"Field name": name, "Data type": str(spec[0].base) +
                     (str(spec[0].shape) if spec[0].shape else ""),
                     "Comment": spec[2] if len(spec) > 2 else ""})
    return pd.DataFrame(rows, columns=["Field name", "Data type", "Comment"])


def field_usage_in(session, name: str, plugin=None) -> list:
    """field_usage over the registered plugin classes, or over plugin: a class, an instance,
    or a list or tuple of either."""
    if plugin is None:
        return field_usage(_classes(session), name)
    plugins = plugin if isinstance(plugin, (list, tuple)) else [plugin]
    return field_usage([p if isinstance(p, type) else type(p) for p in plugins], name)


def field_usage(classes, name: str) -> list:
    """'Class.method' for each function defined in classes whose source mentions name."""
    found = []
    for cls in classes:
        for attr, value in vars(cls).items():
            if not isinstance(value, types.FunctionType):
                continue
            try:
                source = inspect.getsource(value)
            except (OSError, TypeError):   # made at run time: no source to read
                continue
            if name in source:
                found.append(f"{cls.__name__}.{attr}")
    return found


def search_field(session, pattern: str, include_code_usage: bool = True):
    """({field: [(data type, plugin class name)]}, {field: ['Class.method', ...]}) for the
    fields matching the glob pattern."""
    fields, code = defaultdict(list), {}
    plugins: dict = {}
    for d in sorted(_registry(session)):
        if d not in plugins:
            plugins.update(get_plugins(session, (d,), "0"))
        plugin = plugins[d]
        for name in plugin.dtype_for(d).names:
            if fnmatch.fnmatch(name, pattern):
                fields[name].append((d, type(plugin).__name__))
                if include_code_usage and name not in code:
                    used = field_usage(_classes(session), name)
                    if used:
                        code[name] = used
    return fields, code


def print_search(fields: dict, code: dict) -> None:
    for name, matches in fields.items():
        print()
        for d, cls_name in matches:
            print(f"{name} is part of {d} (provided by {cls_name})")
    for name, functions in code.items():
        print()
        for f in functions:
            print(f"{name} is used in {f}")


# --- what a plan loads, computes and saves ---------------------------------------------------------
@dataclass
class Components:
    """A plan read as strax's tests read get_components: data types loaded from storage
    (`loaders`, a superrun's chained subrun data counts as loaded), computed (`plugins`,
    data type -> plugin instance) and saved (`savers`, data type -> [PlannedSave]); `plan` is
    the plan itself and `session` the session it was made in (processors.PROCESSORS run it)."""
    targets: tuple
    plan: object
    session: object = None
    loaders: dict = field(default_factory=dict)
    plugins: dict = field(default_factory=dict)
    savers: dict = field(default_factory=dict)
    loader_plugins: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedSave:
    """One write a plan would make: the key, the frontend it goes to, and (as strax's file
    savers show it) the folder it ends up in when that frontend is a directory. Reads as
    its key's name."""
    key: object
    frontend: object = None

    @property
    def dirname(self):
        path = getattr(self.frontend, "path", None)
        return os.path.join(path, str(self.key)) if path is not None else None

    def __str__(self):
        return str(self.key)


def components(plan, targets, session=None) -> Components:
    # local import: planning's node classes, same layer
    from .planning import ChainNode, ComputeNode, LoadNode, MergeNode, MultiNode, OutputNode
    result = Components(tuple(targets), plan, session)
    seen, todo = set(), [plan]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, LoadNode):
            result.loaders[node.data_type] = node.key
            for copy in node.copies:
                result.savers.setdefault(node.data_type, []).append(
                    PlannedSave(copy.key, copy.frontend))
        elif isinstance(node, ChainNode):
            result.loaders[node.data_type] = node
            if node.save is not None:
                result.savers.setdefault(node.data_type, []).append(
                    PlannedSave(node.save.key, node.save.frontend))
        elif isinstance(node, OutputNode):
            todo.append(node.compute)
        elif isinstance(node, ComputeNode):
            for d in node.plugin.provides:
                result.plugins[d] = node.plugin
            for d, targets in node.saves.items():
                result.savers.setdefault(d, []).extend(
                    PlannedSave(t.key, t.frontend) for t in targets)
            todo.extend(node.inputs.values())
        elif isinstance(node, (MergeNode, MultiNode)):
            todo.extend(node.inputs.values())
    # strax's loader_plugins: the plugins whose data is loaded rather than computed
    if session is not None:
        for d in result.loaders:
            if d not in result.plugins and not d.startswith("_"):
                try:
                    result.loader_plugins[d] = session.single_plugin(plan_run_id(plan), d)
                except Exception:    # only for inspection: never fail get_components for it
                    pass
    return result


def plan_run_id(plan):
    from .planning import LoadNode, OutputNode
    if isinstance(plan, LoadNode):
        return plan.key.run_id
    if isinstance(plan, OutputNode):
        return plan.compute.run_id
    return plan.run_id
