"""ParallelSourcePlugin: several plugins run as one, chunk by chunk, from one start.

strax uses it to run a chain of `parallel` plugins in one worker process (so their chunks are
not sent between processes). superstrax's executor needs no such thing, but code written for
strax builds one from get_components: `ParallelSourcePlugin.inline_plugins(components,
start_from, log)` gives components in which the chain is one plugin whose do_compute(chunk_i)
runs the start plugin and everything inlined after it.
"""
import dataclasses
import time

from immutabledict import immutabledict

from ..chunk import Chunk
from ..errors import PluginError
from .base import Plugin


class ParallelSourcePlugin(Plugin):
    """Plugins run as one: the start plugin, then every inlined plugin whose inputs are made."""

    parallel = "process"
    input_timeout = 300

    def __init__(self, depends_on=()):
        super().__init__()
        self.depends_on = tuple(depends_on)
        self.sub_plugins = {}
        self.sub_savers = {}        # strax inlines savers; superstrax's executor saves
        self.start_from = None

    # --- building one from components --------------------------------------------------------
    @classmethod
    def inline_plugins(cls, components, start_from, log):
        """Components in which start_from and the `parallel` plugins made (only) from it and
        from each other are one plugin. Unchanged if that would be one plugin anyway."""
        remaining = dict(components.plugins)
        start = remaining[start_from]
        sub = {}
        for d in start.provides:
            sub[d] = start
            remaining.pop(d, None)
        grew = True
        while grew:
            grew = False
            for p in list(dict.fromkeys(remaining.values())):
                if p.parallel and all(d in sub for d in p.depends_on):
                    for d in p.provides:
                        sub[d] = p
                        remaining.pop(d, None)
                    grew = True
        if len(set(map(id, sub.values()))) == 1:
            log.debug(f"Only {type(start).__name__} can start from {start_from}: not inlined")
            return components
        # What the inlined chain hands on: targets, inputs of plugins left outside it, and
        # everything to be saved (savers stay with the executor here).
        outputs = [d for d in sub if d in components.targets
                   or d in components.savers
                   or any(d in p.depends_on for p in remaining.values())]
        if not outputs:
            raise PluginError(f"Inlining from {start_from}: nothing made by "
                              f"{sorted(sub)} is a target, saved or read by another plugin")
        p = cls(depends_on=start.depends_on)
        p.run_id = start.run_id
        p.sub_plugins = sub
        p.start_from = start_from
        p.provides = tuple(outputs)
        p.lineage = getattr(start, "lineage", None)
        dtypes = {d: sub[d].dtype_for(d) for d in outputs}
        p._dtypes = dtypes
        p._kinds = {d: sub[d].data_kind_for(d) for d in outputs}
        p.dtype = dict(dtypes) if len(outputs) > 1 else dtypes[outputs[0]]
        p.data_kind = immutabledict(p._kinds) if len(outputs) > 1 else p._kinds[outputs[0]]
        loaded = getattr(components, "loader_plugins", {}) or {}
        p.deps = {d: remaining.get(d) or loaded.get(d) for d in p.depends_on}
        for d in outputs:
            remaining[d] = p
        log.debug(f"Inlined {sorted(sub)} from {start_from}; it hands on {outputs}")
        return dataclasses.replace(components, plugins=remaining)

    # --- computing -----------------------------------------------------------------------------
    def is_ready(self, chunk_i):
        return self.sub_plugins[self.start_from].is_ready(chunk_i)

    def source_finished(self):
        return self.sub_plugins[self.start_from].source_finished()

    def do_compute(self, chunk_i=None, **kwargs):
        """{data type: Chunk} of every output for one chunk of the start plugin's input."""
        start = self.sub_plugins[self.start_from]
        results = dict(start.do_compute(chunk_i=chunk_i, **kwargs))
        done = {id(start)}
        progress = True
        while progress:
            progress = False
            for p in dict.fromkeys(self.sub_plugins.values()):
                if id(p) in done or not all(d in results for d in p.depends_on):
                    continue
                inputs = {kind: (results[ds[0]] if len(ds) == 1 else
                                 Chunk.merge([results[d] for d in ds]))
                          for kind, ds in p.dependencies_by_kind().items()}
                results.update(p.do_compute(chunk_i=chunk_i, **inputs))
                done.add(id(p))
                progress = True
        missing = [d for d in self.provides if d not in results]
        if missing:
            raise PluginError(f"{type(self).__name__} from {self.start_from}: {missing} were "
                              f"not made (their inputs never were)")
        return {d: results[d] for d in self.provides}

    def iter_outputs(self, steps):
        if self.depends_on:
            for chunk_i, inputs in enumerate(steps):
                yield self.do_compute(chunk_i=chunk_i, **inputs)
            return
        chunk_i, waited = 0, 0.0
        while True:
            if self.is_ready(chunk_i):
                yield self.do_compute(chunk_i=chunk_i)
                chunk_i, waited = chunk_i + 1, 0.0
            elif self.source_finished():
                return
            elif waited > self.input_timeout:
                raise PluginError(f"{self.start_from} (run {self.run_id}): chunk {chunk_i} was "
                                  f"not ready after {self.input_timeout} s")
            else:
                time.sleep(0.05)
                waited += 0.05

    def cleanup(self, wait_for=None):
        for p in dict.fromkeys(self.sub_plugins.values()):
            p.cleanup(wait_for)
