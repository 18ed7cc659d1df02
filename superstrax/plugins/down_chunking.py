"""DownChunkingPlugin: a compute() that yields several output chunks per input chunk."""
import types

from ..chunk import Chunk
from ..errors import PluginGaveWrongOutput
from .base import Plugin


class DownChunkingPlugin(Plugin):
    """compute() is a generator: each item is a Chunk (made with self.chunk) or, for several
    outputs, a dict {data_type: Chunk}. The chunks of one input chunk must follow each other
    without gaps and span it, so outputs are smaller chunks than inputs (e.g. for simulations
    that would not fit in memory otherwise)."""

    parallel = False

    def __init__(self):
        super().__init__()
        if self.parallel:
            raise NotImplementedError(
                f"{self.__class__.__name__} is a DownChunkingPlugin, which cannot run in "
                f"parallel (as in strax); set parallel = False")

    def _compute_step(self, chunk_i, inputs):
        arguments, start, end, subruns = self._compute_arguments(chunk_i, inputs)
        yield from self._yielded_outputs(self.compute(**arguments), subruns)

    def _source_outputs(self, result):
        yield from self._yielded_outputs(result, None)

    def _yielded_outputs(self, result, subruns):
        name = self.__class__.__name__
        if not isinstance(result, types.GeneratorType):
            raise PluginGaveWrongOutput(
                f"{name} (run {self.run_id}) is a DownChunkingPlugin: its compute must yield "
                f"chunks (a generator), but it returned {type(result).__name__}")
        for item in result:
            if isinstance(item, Chunk):
                if self.multi_output:
                    raise PluginGaveWrongOutput(
                        f"{name} (run {self.run_id}) provides {self.provides}, so its compute "
                        f"must yield dicts {{data_type: Chunk}}, not single chunks")
                item = {item.data_type: item}
            if not isinstance(item, dict) or \
                    not all(isinstance(c, Chunk) for c in item.values()):
                raise PluginGaveWrongOutput(
                    f"{name} (run {self.run_id}) must yield Chunks made with self.chunk(start=, "
                    f"end=, data=) (or dicts of them), got {type(item).__name__}")
            if set(item) != set(self.provides):
                raise PluginGaveWrongOutput(f"{name} (run {self.run_id}) yielded "
                                            f"{sorted(item)} but provides {self.provides}")
            fixed = {}
            for d, c in item.items():
                if subruns is not None and c.subruns is None:
                    c = c._replace(subruns=subruns)
                fixed[d] = self._as_chunk(d, c, c.start, c.end, c.subruns)
            yield fixed
