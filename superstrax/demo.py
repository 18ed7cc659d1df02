"""Old home of superstrax.cli.demo, kept so that existing imports work."""
import sys

from .cli.demo import *  # noqa: F401,F403
from . import cli as _package

sys.modules[__name__] = getattr(_package, "demo")
