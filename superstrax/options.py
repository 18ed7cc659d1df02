"""Every setting a user can give, declared once with its help: context options
(Context(**options), set_context_config) and the per-call arguments of get_iter, get_array,
get_df and make.

    superstrax.options.context_options()   # a DataFrame: option, default, effect, help
    superstrax.options.call_options()
"""
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    # False: accepted because strax has it, so strax code moves over unchanged; does nothing
    effect: bool = True


CONTEXT_SETTINGS = (
    Setting("use_per_run_defaults", False,
            "Let options take per-run defaults (Option(default_by_run=...), run documents' "
            "strax_defaults); lineages are then resolved per run"),
    Setting("write_superruns", False,
            "Store data of superruns (otherwise it is chained from the subruns' data on every "
            "load)"),
    Setting("forbid_creation_of", (),
            "Data types that must be loaded, never made (DataNotAvailable otherwise)"),
    Setting("allow_rechunk", True, "Let savers join small chunks to chunk_target_size_mb"),
    Setting("check_available", (),
            "Data types select_runs always gives a <type>_available column for"),
    Setting("store_run_fields", (), "Run-document fields scan_runs/select_runs always show"),
    Setting("free_options", (),
            "Config options no registered plugin takes that set_config accepts silently"),
    Setting("apply_data_function", (),
            "Functions f(data, run_id, targets) applied to every loaded chunk"),
    Setting("storage_converter", False,
            "Copy data loaded from one frontend into writable frontends that lack it"),
    Setting("progress_bar", True, "Show a progress bar while loading or making"),
    Setting("fuzzy_for", (), "Data types whose stored data is used even when made with other "
            "plugin versions or options (nothing is stored while set)"),
    Setting("fuzzy_for_options", (), "Options whose values may differ in stored data that is "
            "used anyway (nothing is stored while set)"),
    Setting("executor", None, "A dask distributed.Client (or concurrent.futures.Executor) that "
            "make() sends one task per run to (see README, processing many runs)"),
) + tuple(Setting(name, default, "strax executor setting; superstrax has no use for it",
                  effect=False)
          for name, default in (
              ("allow_incomplete", False),
              ("max_messages", 4), ("timeout", 24 * 3600), ("allow_multiprocess", False),
              ("allow_shm", False), ("allow_lazy", True), ("saver_timeout", 900),
              ("use_parallel_plugins", False), ("deep_copy", False)))

# The context options that do something, with their defaults.
CONTEXT_OPTIONS = {s.name: s.default for s in CONTEXT_SETTINGS if s.effect}
# Accepted for strax compatibility; a warning says they change nothing.
NO_EFFECT_OPTIONS = frozenset(s.name for s in CONTEXT_SETTINGS if not s.effect)
# What a new context's context_config holds: every option, with strax's defaults for those
# that do nothing here (code written for strax reads them, e.g. context_config['timeout']).
ALL_CONTEXT_DEFAULTS = {s.name: s.default for s in CONTEXT_SETTINGS}

CALL_SETTINGS = (
    Setting("save", (), "Data types to store besides those their plugins save anyway"),
    Setting("max_workers", None, "Accepted as in strax; processing runs in this process"),
    Setting("time_range", None, "(start, end) in ns since the epoch: only rows in it"),
    Setting("seconds_range", None, "(start, end) in seconds since the run's start"),
    Setting("time_within", None, "A row (with time/endtime): only rows within its span"),
    Setting("time_selection", "fully_contained",
            "How rows relate to the time range: 'fully_contained' or 'touching'"),
    Setting("selection", None, "A query on the fields (pandas-style string or a list of them)"),
    Setting("selection_str", None, "strax's older name of selection"),
    Setting("keep_columns", None, "Only these fields"),
    Setting("drop_columns", None, "All fields but these"),
    Setting("progress_bar", None, "Show a progress bar (default: the context option)"),
    Setting("combining", False, "Superruns: the data of each subrun, not computed over the "
                                "superrun"),
    Setting("add_run_id_field", False, "Give every row a run_id field"),
    Setting("allow_multiple", False, "Targets of different data kinds in one pass (make and "
                                     "get_iter; get_iter yields the chunks of one of them)"),
    Setting("chunk_number", None, "{data type: [consecutive chunk numbers]}: process only "
                                  "those stored chunks of that dependency, under a key of "
                                  "their own"),
)
# The loading arguments of get_iter & co. (loading.iter_chunks takes exactly these).
LOADING_ARGS = frozenset(s.name for s in CALL_SETTINGS)

# Arguments that set up a temporary context for one call, as in strax.
CALL_CONTEXT_ARGS = {
    "config": "Plugin options for this call only",
    "register": "Plugins registered for this call only",
    "storage": "Frontends added for this call only",
    "deep_copy": "Deep-copy the config for the temporary context",
}

# Arguments of strax's get_iter & co. that are accepted and need nothing done here.
ACCEPTED_GET_KWARGS = frozenset({
    "_check_lineage_per_run_id", "multi_run_progress_bar", "_chunk_number",
    "processor", "ignore_errors", "run_id_as_bytes"})

# Loading options that select rows or columns: with any of them the result's size is unknown
# before loading, so an array cannot be preallocated for it.
PER_ROW_OPTIONS = ("time_range", "seconds_range", "time_within", "selection", "selection_str",
                   "keep_columns", "drop_columns")


def context_options():
    """A DataFrame of the context options: name, default, whether it does anything, help."""
    import pandas as pd
    return pd.DataFrame([{"option": s.name, "default": s.default, "effect": s.effect,
                          "help": s.help} for s in CONTEXT_SETTINGS])


def call_options():
    """A DataFrame of the per-call arguments of get_iter, get_array, get_df and make (context
    options and config=/register=/storage= are accepted too, for that call only)."""
    import pandas as pd
    rows = [{"option": s.name, "default": s.default, "help": s.help} for s in CALL_SETTINGS]
    rows += [{"option": name, "default": None, "help": text}
             for name, text in CALL_CONTEXT_ARGS.items()]
    return pd.DataFrame(rows)


def split_call_arguments(kwargs: dict):
    """(temporary-context settings, loading arguments, unknown names) of one call's kwargs."""
    settings, loading, unknown = {}, {}, []
    for k, v in kwargs.items():
        if k in CALL_CONTEXT_ARGS or k in NO_EFFECT_OPTIONS or \
                (k in CONTEXT_OPTIONS and k not in LOADING_ARGS):
            settings[k] = v
        elif k in LOADING_ARGS:
            loading[k] = v
        elif k in ACCEPTED_GET_KWARGS:
            continue
        else:
            unknown.append(k)
    return settings, loading, unknown
