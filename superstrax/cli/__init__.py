"""The `superstrax` command line: commands.py parses arguments and prints; the work is in
maintenance.py (runs, define, rechunk), verification.py (verify) and demo.py.

Each command imports the modules doing its work when it runs.
"""
from .commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SPLIT_NS, build_parser, main  # noqa: F401

__all__ = ["main"]
