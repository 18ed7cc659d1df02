"""Runs and superruns: superruns.py (definitions, resolving, run documents of superruns,
what their keys hash), registry.py (RunRegistry: one session's run documents, cached per
version, and resolved superrun specs) and listing.py (run documents of a list of frontends
as a DataFrame, and filtering it)."""
from .listing import DEFAULT_RUN_FIELDS, _joined, filter_runs, run_metadata, scan_runs  # noqa: F401

__all__ = ["DEFAULT_RUN_FIELDS", "filter_runs", "run_metadata", "scan_runs"]
