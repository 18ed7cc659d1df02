"""Plugin base class and its specialised kinds."""
from .base import Plugin, SaveWhen, camel_to_snake
from .kinds import CutPlugin, ExhaustPlugin, LoopPlugin, MergeOnlyPlugin, OverlapWindowPlugin
from .cut_plugin import CutList, get_accumulated_bool
from .down_chunking import DownChunkingPlugin
from .parallel_source import ParallelSourcePlugin
from .registration import plugin_classes_in

__all__ = ["Plugin", "SaveWhen", "camel_to_snake", "CutPlugin", "CutList", "get_accumulated_bool",
           "ExhaustPlugin", "LoopPlugin",
           "MergeOnlyPlugin", "OverlapWindowPlugin", "DownChunkingPlugin", "ParallelSourcePlugin",
           "plugin_classes_in"]
