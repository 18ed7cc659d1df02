"""Stable sorting only: strax's `stable_sort` / `stable_argsort` and the error for other kinds.

Results must not depend on the sorting algorithm (rows with equal keys keep their input
order), or the same input could give differently ordered output, and so different hashes and
files, from one numpy version to the next. `stable_argsort` is usable inside numba code too.
"""
import numpy as np
from numba.extending import register_jitable

from .errors import SuperstraxError

__all__ = ["stable_sort", "stable_argsort", "SortingError", "UNSTABLE_SORT_MESSAGE"]

UNSTABLE_SORT_MESSAGE = (
    "Only kind='mergesort' (a stable sort) is accepted: quicksort and heapsort may order rows "
    "with equal keys differently between runs or numpy versions. Pass kind='mergesort' or "
    "leave kind out.")


class SortingError(SuperstraxError, ValueError):
    """A sort was asked for with an algorithm that does not keep equal keys in order."""


def stable_sort(arr, kind="mergesort", **kwargs):
    """``np.sort(arr, kind="mergesort", **kwargs)``; any other `kind` raises SortingError."""
    if kind != "mergesort":
        raise SortingError(UNSTABLE_SORT_MESSAGE)
    return np.sort(arr, kind="mergesort", **kwargs)


@register_jitable
def stable_argsort(arr, kind="mergesort"):
    """Indices that sort `arr` stably; from Python and from numba-compiled code alike."""
    if kind != "mergesort":
        raise SortingError(UNSTABLE_SORT_MESSAGE)
    return np.argsort(arr, kind="mergesort")
