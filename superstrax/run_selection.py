"""strax's ``strax.run_selection`` names that have no other home here (selecting runs itself
is Context.select_runs, over runs/listing.py)."""
from .constants import RUN_DEFAULTS_KEY
from .utils import flatten_dict

__all__ = ["flatten_run_metadata"]

# Read whole by their users: per-run option defaults, a superrun's definition, the tag list.
KEPT_NESTED = (RUN_DEFAULTS_KEY, "sub_run_spec", "tags")


def flatten_run_metadata(md):
    """A run document on one level, nested keys joined by '.' ('source.type'), except the
    values of strax_defaults, sub_run_spec and tags, which stay as they are."""
    return flatten_dict(md, separator=".", keep=KEPT_NESTED)
