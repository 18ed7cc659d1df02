"""superstrax: strax-compatible processing of detector data, with fast superruns.

`import superstrax as strax` gives strax's public names; see docs/ for what differs.

Layers, lowest first; a module imports only from its own layer or lower ones
(superstrax/_layers.py is the map, tools/check_architecture.py checks it):

    base      errors, hashing, naming, options, validation, sort_enforcement, docstrings, compat, bounded_cache
    data      dtypes, kernels, chunk, config, progress, output, processing, utils, threaded_runs
    plugins   plugins (Plugin and its kinds, input syncing)
    storage   storage (DataKey, frontend/backend/saver contracts, files, memory, io), io, constants
    runs      runs (superruns, registry, listing), lineage, run_selection
    engine    session, planning, executor, loading, dispatch, parallel, inspection, sources, processors, zarr_arrays
    facade    context (Context: strax's API over a Session)
    tools     cli (commands, maintenance, demo, verification), testutils, testing
"""
from ._version import __version__

from .errors import (CannotSplit, ChunkError, DataCorrupted, DataExistsError, DataFileMissing,
                     DataNotAvailable, CannotMergeKinds, InvalidArgument, InvalidConfiguration, InvalidName,
                     PerChunkNotSupported, PluginError, PluginGaveWrongOutput,
                     RunMetadataNotAvailable, RunsFailed, StorageError, SuperrunError,
                     SuperstraxError, EmptyDataWarning, InvalidFolderNameFormat)
from .hashing import deterministic_hash, hashablize, NumpyJSONEncoder
from .dtypes import (endtime, hit_dtype, interval_dtype, peak_dtype, peak_interval_dtype,
                     record_dtype, time_dt_fields, time_fields, to_numpy_dtype)
from .dtypes import (DEFAULT_RECORD_LENGTH, DIGITAL_SUM_WAVEFORM_CHANNEL, hitlet_dtype,
                     hitlet_with_data_dtype, raw_record_dtype, record_length_from_dtype)
from .sort_enforcement import SortingError, stable_argsort, stable_sort
from .processing.general import (NoBreakFound, _find_break_i, abs_time_to_prev_next_interval,
                                 diff, from_break, fully_contained_in, overlap_indices,
                                 sort_by_time, split_array, split_by_containment,
                                 split_touching_windows, touching_windows)
from .processing.arrays import (apply_keep_columns, apply_selection, copy_to_buffer,
                                dict_to_rec, group_by_kind, iter_chunk_meta, merge_arrs,
                                merged_dtype, parse_selection, remove_titles_from_dtype,
                                set_nan_defaults, unpack_dtype)
from .utils import (compare_dict, convert_structured_array_to_df, convert_tuple_to_list,
                    count_tags, exporter, flatten_dict, formatted_exception, growing_result,
                    inherit_docstring_from, multi_run, print_record, profile_threaded,
                    set_keep_order, to_str_tuple)
from .constants import (DEFAULT_CHUNK_SIZE_MB, DEFAULT_CHUNK_SPLIT_NS, RUN_DEFAULTS_KEY,
                        RUN_METADATA_PATTERN)
from .io import DECOMPRESS_BUFFER_SIZE, dry_load_files, load_file, save_file
from . import io, processing, utils  # noqa: F401  (strax.io.X, strax.utils.X as attributes)
from .chunk import Chunk, Rechunker, continuity_check
from .config import OMITTED, Config, Option, combine_configs, takes_config
from .plugins import (CutList, CutPlugin, DownChunkingPlugin, ExhaustPlugin, LoopPlugin,
                      MergeOnlyPlugin, OverlapWindowPlugin, ParallelSourcePlugin, Plugin,
                      SaveWhen, camel_to_snake, get_accumulated_bool)
from .storage.common import DataKey, Saver, StorageBackend, StorageFrontend
from .storage.files import DataDirectory, FileSaver, FileSystemBackend, FileSytemBackend
from .storage.file_rechunker import rechunker
from .storage.zipfiles import ZipDirectory, ZipFileBackend
from .storage.layout import dirname_to_prefix
from .storage.strax_style import StorageType
from .storage.common import MongoFrontend
from .runs.superruns import SubrunSpec
from . import run_selection  # noqa: F401 (strax.run_selection.X as an attribute)
from .run_selection import flatten_run_metadata
from . import superruns  # noqa: F401 (sx.superruns, its old home, stays an attribute)
from .processors import PROCESSORS, BaseProcessor, SingleThreadProcessor
from .context import Context
from .compat import bind_as_strax

__all__ = [
    "__version__", "CannotSplit", "ChunkError", "DataCorrupted", "DataExistsError",
    "DataFileMissing", "DataNotAvailable", "InvalidConfiguration", "PluginError", "PluginGaveWrongOutput",
    "RunMetadataNotAvailable", "InvalidArgument", "StorageError", "RunsFailed",
    "SuperrunError", "SuperstraxError", "deterministic_hash", "hashablize", "NumpyJSONEncoder",
    "endtime", "hit_dtype", "interval_dtype", "peak_dtype", "peak_interval_dtype",
    "record_dtype", "time_dt_fields", "time_fields", "to_numpy_dtype", "Chunk", "Rechunker",
    "continuity_check", "Config", "Option", "takes_config", "OMITTED", "CutPlugin", "CutList",
    "get_accumulated_bool", "DownChunkingPlugin", "ExhaustPlugin", "LoopPlugin",
    "MergeOnlyPlugin", "OverlapWindowPlugin", "Plugin", "SaveWhen", "camel_to_snake",
    "DataKey", "Saver", "StorageBackend", "StorageFrontend", "DataDirectory", "SubrunSpec",
    "Context", "InvalidName", "bind_as_strax", "FileSystemBackend", "FileSytemBackend",
    "StorageType", "MongoFrontend", "ParallelSourcePlugin", "CannotMergeKinds",
    "PerChunkNotSupported", "PROCESSORS", "BaseProcessor", "SingleThreadProcessor",
    "rechunker", "dirname_to_prefix", "ZipDirectory", "ZipFileBackend",
    # strax's array utilities and module-level names
    "DEFAULT_RECORD_LENGTH", "DIGITAL_SUM_WAVEFORM_CHANNEL", "hitlet_dtype",
    "hitlet_with_data_dtype", "raw_record_dtype", "record_length_from_dtype", "SortingError",
    "stable_argsort", "stable_sort",
    "NoBreakFound", "_find_break_i", "abs_time_to_prev_next_interval", "diff", "from_break",
    "fully_contained_in", "overlap_indices", "sort_by_time", "split_array", "split_by_containment",
    "split_touching_windows", "touching_windows", "apply_keep_columns", "apply_selection",
    "copy_to_buffer", "dict_to_rec", "group_by_kind", "iter_chunk_meta", "merge_arrs",
    "merged_dtype", "parse_selection", "remove_titles_from_dtype", "set_nan_defaults",
    "unpack_dtype", "convert_structured_array_to_df", "convert_tuple_to_list", "count_tags",
    "exporter", "flatten_dict", "formatted_exception", "growing_result",
    "inherit_docstring_from", "print_record", "profile_threaded", "set_keep_order",
    "to_str_tuple", "DEFAULT_CHUNK_SIZE_MB", "DEFAULT_CHUNK_SPLIT_NS", "RUN_DEFAULTS_KEY",
    "RUN_METADATA_PATTERN", "DECOMPRESS_BUFFER_SIZE", "dry_load_files", "load_file",
    "save_file",
    # strax's helpers and names kept for code that uses them
    "EmptyDataWarning", "InvalidFolderNameFormat", "FileSaver", "combine_configs",
    "compare_dict", "flatten_run_metadata", "multi_run",
]
