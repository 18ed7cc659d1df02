"""Old home of superstrax.runs.superruns, kept so that existing imports work."""
import sys

from .runs.superruns import *  # noqa: F401,F403
from . import runs as _package

sys.modules[__name__] = getattr(_package, "superruns")
