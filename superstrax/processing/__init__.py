"""strax's ``strax.processing``: algorithms on arrays of time intervals.

``general`` holds the interval and array utilities (``sort_by_time``, ``touching_windows``,
``split_by_containment``, ...). strax's physics algorithms (hit finding, peak building and
splitting, pulse processing, data reduction) are not implemented yet; their module paths
exist so that code importing them fails with a message saying so (see
docs/migrating-from-strax.md).
"""
from . import general  # noqa: F401  (``strax.processing.general`` is a path user code imports)
from . import peak_splitting  # noqa: F401  (reached as an attribute in strax, no import needed)
