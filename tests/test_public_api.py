"""What users call stays: the package's public names, the command line's subcommands, and the
options they can list."""
import inspect

import superstrax as sx
from superstrax import loading, options
from superstrax.cli import build_parser

PUBLIC_NAMES = [
    "__version__", "CannotSplit", "ChunkError", "DataCorrupted", "DataExistsError",
    "DataNotAvailable", "InvalidConfiguration", "PluginError", "RunMetadataNotAvailable",
    "SuperrunError", "SuperstraxError", "deterministic_hash", "hashablize", "NumpyJSONEncoder",
    "endtime", "hit_dtype", "interval_dtype", "peak_dtype", "peak_interval_dtype",
    "record_dtype", "time_dt_fields", "time_fields", "to_numpy_dtype", "Chunk", "Rechunker",
    "continuity_check", "Option", "takes_config", "CutPlugin", "ExhaustPlugin", "LoopPlugin",
    "MergeOnlyPlugin", "OverlapWindowPlugin", "Plugin", "SaveWhen", "camel_to_snake",
    "DataKey", "Saver", "StorageBackend", "StorageFrontend", "DataDirectory", "SubrunSpec",
    "Context", "InvalidName", "bind_as_strax", "Config", "DownChunkingPlugin",
    "PluginGaveWrongOutput", "FileSystemBackend", "FileSytemBackend", "StorageType",
    "MongoFrontend", "ParallelSourcePlugin", "CannotMergeKinds", "PerChunkNotSupported",
    "OMITTED", "PROCESSORS", "dirname_to_prefix", "rechunker", "ZipDirectory",
    "ZipFileBackend", "CutList", "get_accumulated_bool", "EmptyDataWarning",
    "InvalidFolderNameFormat", "FileSaver", "combine_configs", "compare_dict",
    "flatten_run_metadata", "multi_run",
]

CONTEXT_METHODS = [
    "set_config", "set_context_config", "new_context", "show_config", "register",
    "register_all", "get_single_plugin", "provided_dtypes", "data_info", "search_field",
    "lineage", "key_for", "is_stored", "get_meta", "get_metadata", "run_metadata",
    "define_run", "scan_runs", "select_runs", "list_available", "get_components",
    "estimate_run_start_and_end", "get_iter", "get_array", "get_df", "make",
    "merge_per_chunk_storage", "register_cut_list", "get_data_key", "get_dependency_plugins",
]

SUBCOMMANDS = ["runs", "define", "verify", "rechunk", "demo"]


def test_public_names_stay():
    missing = [n for n in PUBLIC_NAMES if n not in sx.__all__ or not hasattr(sx, n)]
    assert missing == []
    assert set(sx.__all__) >= set(PUBLIC_NAMES)


def test_context_methods_stay():
    assert [m for m in CONTEXT_METHODS if not callable(getattr(sx.Context, m, None))] == []
    st = sx.Context(progress_bar=False)
    assert st.storage == [] and st.config == {} and st.context_config["progress_bar"] is False


def test_cli_subcommands_stay():
    parser = build_parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert len(actions) == 1
    assert sorted(actions[0].choices) == sorted(SUBCOMMANDS)


def test_every_context_option_and_call_argument_is_listed_with_help():
    listed = options.context_options()
    assert set(listed["option"]) == set(options.CONTEXT_OPTIONS) | options.NO_EFFECT_OPTIONS
    assert listed["help"].str.len().min() > 10
    calls = options.call_options()
    assert set(calls["option"]) >= options.LOADING_ARGS | set(options.CALL_CONTEXT_ARGS)
    # declared once: get_iter's loading arguments are exactly those options.py declares
    named = set(inspect.signature(loading.iter_chunks).parameters) - {
        "session", "run_id", "targets", "_plan", "_arena"}
    assert named == options.LOADING_ARGS
    in_context = set(inspect.signature(sx.Context.get_iter).parameters) - {
        "self", "run_id", "targets", "kwargs"}
    assert in_context == options.LOADING_ARGS


def test_a_context_starts_with_the_declared_defaults():
    # every option, those that do nothing here with strax's defaults (strax code reads them)
    assert sx.Context().context_config == options.ALL_CONTEXT_DEFAULTS
    assert set(options.CONTEXT_OPTIONS) | options.NO_EFFECT_OPTIONS == \
        set(options.ALL_CONTEXT_DEFAULTS)
