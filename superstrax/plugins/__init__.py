"""Plugin base class and its specialised kinds."""
from .base import Plugin, SaveWhen, camel_to_snake
from .kinds import CutPlugin, ExhaustPlugin, LoopPlugin, MergeOnlyPlugin, OverlapWindowPlugin

__all__ = ["Plugin", "SaveWhen", "camel_to_snake", "CutPlugin", "ExhaustPlugin", "LoopPlugin",
           "MergeOnlyPlugin", "OverlapWindowPlugin"]
