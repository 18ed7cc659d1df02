"""Old home of superstrax.cli.maintenance, kept so that existing imports work."""
import sys

from .cli.maintenance import *  # noqa: F401,F403
from . import cli as _package

sys.modules[__name__] = getattr(_package, "maintenance")
