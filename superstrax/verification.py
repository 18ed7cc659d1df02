"""Old home of superstrax.cli.verification, kept so that existing imports work."""
import sys

from .cli.verification import *  # noqa: F401,F403
from . import cli as _package

sys.modules[__name__] = getattr(_package, "verification")
