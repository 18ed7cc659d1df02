"""superstrax: strax-compatible processing of detector data, with fast superruns.

Public names are filled in as the layers land; see docs/internals.md for the layout.
"""
__version__ = "0.1.0"
