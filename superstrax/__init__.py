"""superstrax: strax-compatible processing of detector data, with fast superruns.

`import superstrax as strax` gives strax's public names; see docs/ for what differs.

Layers, lowest first; a module imports only from its own layer or lower ones
(superstrax/_layers.py is the map, tools/check_architecture.py checks it):

    base      errors, hashing, naming, options (every setting, with help), validation
    data      dtypes, kernels, chunk, config, progress, output
    plugins   plugins (Plugin and its kinds, input syncing)
    storage   storage (DataKey, the frontend/backend/saver contracts, files, memory, io)
    runs      runs (superruns, registry, listing), lineage
    engine    session (what the engine is handed), planning, executor, loading
    facade    context (Context: strax's API over a Session)
    tools     cli (commands, maintenance, demo), verification, testutils, testing
"""
from ._version import __version__

from .errors import (CannotSplit, ChunkError, DataCorrupted, DataExistsError, DataNotAvailable,
                     InvalidArgument, InvalidConfiguration, InvalidName, PluginError,
                     RunMetadataNotAvailable, StorageError, SuperrunError, SuperstraxError)
from .hashing import deterministic_hash, hashablize, NumpyJSONEncoder
from .dtypes import (endtime, hit_dtype, interval_dtype, peak_dtype, peak_interval_dtype,
                     record_dtype, time_dt_fields, time_fields, to_numpy_dtype)
from .chunk import Chunk, Rechunker, continuity_check
from .config import Option, takes_config
from .plugins import (CutPlugin, ExhaustPlugin, LoopPlugin, MergeOnlyPlugin,
                      OverlapWindowPlugin, Plugin, SaveWhen, camel_to_snake)
from .storage.common import DataKey, Saver, StorageBackend, StorageFrontend
from .storage.files import DataDirectory
from .runs.superruns import SubrunSpec
from . import superruns  # noqa: F401 (sx.superruns, its old home, stays an attribute)
from .context import Context

__all__ = [
    "__version__", "CannotSplit", "ChunkError", "DataCorrupted", "DataExistsError",
    "DataNotAvailable", "InvalidConfiguration", "PluginError", "RunMetadataNotAvailable",
    "InvalidArgument", "StorageError",
    "SuperrunError", "SuperstraxError", "deterministic_hash", "hashablize", "NumpyJSONEncoder",
    "endtime", "hit_dtype", "interval_dtype", "peak_dtype", "peak_interval_dtype",
    "record_dtype", "time_dt_fields", "time_fields", "to_numpy_dtype", "Chunk", "Rechunker",
    "continuity_check", "Option", "takes_config", "CutPlugin", "ExhaustPlugin", "LoopPlugin",
    "MergeOnlyPlugin", "OverlapWindowPlugin", "Plugin", "SaveWhen", "camel_to_snake",
    "DataKey", "Saver", "StorageBackend", "StorageFrontend", "DataDirectory", "SubrunSpec",
    "Context", "InvalidName",
]
