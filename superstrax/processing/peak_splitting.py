"""``strax.processing.peak_splitting``: the module path exists, its algorithms do not yet.

Peak splitting is one of strax's physics algorithms, which superstrax implements in a later
step. Code that imports names from here (straxen does, at import time) keeps importing;
calling any of them raises AlgorithmNotAvailable, so nothing ever runs on a stand-in. The
names are strax 2.2.3's public ones.
"""
from ..errors import AlgorithmNotAvailable

__all__ = ["split_peaks", "natural_breaks_gof", "symmetric_moving_average",
           "sum_squared_deviations", "PeakSplitter", "LocalMinimumSplitter",
           "NaturalBreaksSplitter"]


def _not_available(name):
    def unavailable(*args, **kwargs):
        raise AlgorithmNotAvailable(
            f"strax.processing.peak_splitting.{name} is a physics algorithm superstrax does "
            f"not implement yet. Run this plugin with strax, or leave it out of the targets "
            f"(computing lineages and keys with it registered works).")
    unavailable.__name__ = unavailable.__qualname__ = name
    unavailable.__doc__ = "Not implemented yet: calling it raises AlgorithmNotAvailable."
    return unavailable


split_peaks = _not_available("split_peaks")
natural_breaks_gof = _not_available("natural_breaks_gof")
symmetric_moving_average = _not_available("symmetric_moving_average")
sum_squared_deviations = _not_available("sum_squared_deviations")
PeakSplitter = _not_available("PeakSplitter")
LocalMinimumSplitter = _not_available("LocalMinimumSplitter")
NaturalBreaksSplitter = _not_available("NaturalBreaksSplitter")
