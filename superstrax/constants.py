"""Constants strax has at top level, in one place: their values are part of the on-disk
format (file names, run-document keys) or defaults that plugins read."""
from .chunk import DEFAULT_CHUNK_SIZE_MB
from .storage.files import RUN_METADATA_PATTERN

__all__ = ["RUN_METADATA_PATTERN", "RUN_DEFAULTS_KEY", "DEFAULT_CHUNK_SIZE_MB",
           "DEFAULT_CHUNK_SPLIT_NS"]

# The key of a run document holding per-run option defaults (used with use_per_run_defaults).
RUN_DEFAULTS_KEY = "strax_defaults"

# The gap (ns) rechunking on save looks for, by default, to cut chunks between rows.
DEFAULT_CHUNK_SPLIT_NS = 1000
