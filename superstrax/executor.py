"""Executor: turn a plan into one stream of chunks; savers are sinks along the way.

(strax's `strax.processing` is a package of array algorithms; the executor has its own name so
that `superstrax.processing` can be that package.)

Streams are built eagerly (every consumer of a shared node is registered before the first
chunk is pulled) and run lazily: nothing is read or computed until the caller iterates.
"""
from __future__ import annotations

import threading
import warnings
from collections import deque
from typing import TYPE_CHECKING

from .chunk import Rechunker, as_superrun_chunk, continuity_check
from .errors import NoInputChunks
from .planning import ChainNode, ComputeNode, LoadNode, MergeNode, MultiNode, OutputNode
from .plugins.sync import sync_inputs

if TYPE_CHECKING:
    from .planning import Node
    from .session import Session
    from .storage.common import Arena


class SaveSink:
    """Writes a stream through a Saver, rechunked when asked; opened at the first chunk."""

    def __init__(self, target):
        self.target = target
        self.saver = None
        self.rechunker = Rechunker(target.target_size_mb) if target.rechunk else None
        self.chunk_i = 0
        self.closed = False

    def _open(self):
        self.saver = self.target.frontend.saver(self.target.key, dict(self.target.metadata))
        # The Processor calls settle() once the stream's savers are all closed: a saver that
        # waits for another writer waits then, after this stream's own data is committed.
        self.saver.settles_later = True

    def _write(self, chunk):
        if self.saver is None:
            self._open()
        self.saver.save(chunk, chunk_i=self.chunk_i)
        self.chunk_i += 1

    def receive(self, chunk):
        if self.rechunker is None:
            self._write(chunk)
        else:
            for c in self.rechunker.receive(chunk):
                self._write(c)

    def close(self, exception=None):
        if self.closed:
            return
        self.closed = True
        if exception is None and self.rechunker is not None:
            for c in self.rechunker.flush():
                self._write(c)
        stopped = isinstance(exception, GeneratorExit)
        if self.saver is None and not stopped:
            # A stream without chunks is still a result: store it, so that it is found and
            # loaded (as no rows) instead of being made again on every request. A failure
            # before the first chunk is recorded as a failed write (its metadata holds the
            # exception, as strax records it for the failing type and those made from it).
            try:
                self._open()
            except Exception:
                if exception is None:
                    raise
                return      # the original error matters more than the failure to record it
        if self.saver is not None:
            # A stream closed by its reader (a break out of get_iter) was stopped on purpose:
            # the partial copy is of no use for inspection, so it is not left behind.
            self.saver.close(exception=exception, discard=stopped)

    def settle(self) -> bool:
        """Let the saver wait for data it left to another writer; False if it still has to
        (this process holds claims of a stream this one runs inside)."""
        return self.saver is None or self.saver.settle() is not False


class _Broadcaster:
    """Runs one plugin once and hands each output to all of its consumers and savers."""

    def __init__(self, processor, node):
        self.node = node
        self.queues = {}
        self.sinks = {d: [processor._sink(t) for t in targets]
                      for d, targets in node.saves.items()}
        inputs = {d: processor._stream(n) for d, n in node.inputs.items()}
        plugin = node.plugin
        kind_of = {d: processor.session.kind_of(d) for d in node.inputs}
        steps = sync_inputs(list(plugin.depends_on), kind_of.get, inputs) if inputs else iter(())
        if inputs:
            steps = _at_least_one_step(steps, plugin)
        self.outputs = plugin.iter_outputs(steps)
        self.finished = False

    def consumer(self, data_type):
        q = deque()
        self.queues.setdefault(data_type, []).append(q)
        return self._consume(q)

    def _consume(self, q):
        while True:
            if not q:
                if self.finished or not self._advance():
                    return
                continue
            yield q.popleft()

    def _advance(self):
        try:
            result = next(self.outputs)
        except StopIteration:
            self.finished = True
            for sinks in self.sinks.values():
                for sink in sinks:
                    sink.close()
            self.node.plugin.cleanup()
            return False
        for d, chunk in result.items():
            for sink in self.sinks.get(d, ()):
                sink.receive(chunk)
            for q in self.queues.get(d, ()):
                q.append(chunk)
        return True


def _at_least_one_step(steps, plugin):
    """Pass the input steps of a plugin with dependencies through; raise if there are none.

    An input stream without a single chunk (a source that produced nothing, not even an
    empty chunk) gives no time span to compute over, so what the plugin would output is
    undefined; strax refuses it too (NoInputChunks is the ValueError and RuntimeError it
    raises, by processor).
    """
    any_step = False
    for step in steps:
        any_step = True
        yield step
    if not any_step:
        raise NoInputChunks(
            f"{plugin.__class__.__name__} (run {plugin.run_id}) got no chunk at all of its "
            f"inputs {list(plugin.depends_on)}: the source they come from produced no chunks. "
            f"A source must return at least one chunk per run (an empty one, "
            f"self.chunk(start=..., end=..., data=<no rows>), when there is no data)")


# The Processors being iterated in this thread, innermost last: a stream run inside another
# (a plugin calling get_array in compute) leaves its unsettled savers to the one around it.
_RUNNING = threading.local()


def _running() -> list:
    if not hasattr(_RUNNING, "stack"):
        _RUNNING.stack = []
    return _RUNNING.stack


class Processor:
    """Builds the chunk stream of one plan; closes every saver when the stream ends."""

    def __init__(self, session: Session, plan: Node, time_range: tuple | None = None,
                 selection: str = "fully_contained", arena: Arena | None = None):
        self.session = session
        self.arena = arena
        self.selection = selection
        self.sinks = []
        self._inherited = []      # unsettled sinks of streams that ran inside this one
        self._broadcasters = {}
        self.time_range = time_range
        self._stream_root = self._stream(plan, time_range)

    def _sink(self, target):
        sink = SaveSink(target)
        self.sinks.append(sink)
        return sink

    def _stream(self, node, pushdown=None):
        if isinstance(node, LoadNode):
            stream = continuity_check(node.loader(time_range=pushdown, arena=self.arena))
            if node.copies and pushdown is None and self.time_range is None:
                stream = self._copied(stream, [self._sink(t) for t in node.copies])
            return stream
        if isinstance(node, OutputNode):
            if id(node.compute) not in self._broadcasters:
                self._broadcasters[id(node.compute)] = _Broadcaster(self, node.compute)
            return continuity_check(self._broadcasters[id(node.compute)].consumer(node.data_type))
        if isinstance(node, ChainNode):
            return continuity_check(self._chain(node, pushdown))
        if isinstance(node, MergeNode):
            streams = {d: self._stream(n, pushdown) for d, n in node.inputs.items()}
            if pushdown is not None:
                # A stored input starts at its first chunk touching the range, a computed one
                # at the run's start: cut all to the range so their rows line up for joining.
                streams = {d: self._clipped(s, pushdown) for d, s in streams.items()}
            return (next(iter(step.values()))
                    for step in sync_inputs(list(node.data_types), node.kinds.get, streams))
        if isinstance(node, MultiNode):
            streams = {d: self._stream(n, pushdown) for d, n in node.inputs.items()}
            main = streams.pop(node.main)
            return self._alongside(main, list(streams.values()))
        if isinstance(node, ComputeNode):
            raise TypeError("a ComputeNode is reached through its OutputNodes")
        raise TypeError(f"unknown plan node {node!r}")

    def _chain(self, node, pushdown):
        # A computed part's stream is made now, so that every consumer of its plugin is
        # registered before the first chunk (see _Broadcaster). A stored part is read by this
        # chain alone: its stream is made when the chain reaches it, so a chain of 10,000
        # subruns holds one reader at a time, not 10,000 waiting ones.
        computed = {}
        for i, part in node.parts.held():
            if not isinstance(part.node, LoadNode):
                cut = part_cut(part, pushdown)
                if cut is not None:
                    computed[i] = self._stream(part.node, cut[1])
        sink = self._sink(node.save) if node.save is not None and pushdown is None else None
        return self._chain_chunks(node.run_id, self._part_streams(node, pushdown, computed),
                                  sink)

    def _part_streams(self, node, pushdown, computed):
        """(ranges, hull, stream) of each part of a chain that lies in pushdown, in order."""
        parts = node.parts
        for i in range(len(parts)):
            cut = part_cut(parts.spec(i), pushdown)     # (a part outside is never made)
            if cut is None:
                continue
            ranges, hull = cut
            stream = computed.pop(i, None)
            yield ranges, hull, (self._stream(parts[i].node, hull) if stream is None else stream)

    def _clipped(self, stream, time_range):
        for chunk in stream:
            chunk = _clip(chunk, time_range, self.selection)
            if chunk is not None:
                yield chunk

    @staticmethod
    def _alongside(main, others):
        """main's chunks; after each, one chunk of every other stream is pulled (and dropped)
        so that all advance together: chunks shared through a plugin's broadcast queues are
        taken as they are made, and memory stays bounded."""
        for chunk in main:
            yield chunk
            others = [s for s in others if next(s, None) is not None]
        for stream in others:
            for _ in stream:
                pass

    @staticmethod
    def _copied(stream, sinks):
        for chunk in stream:
            for sink in sinks:
                sink.receive(chunk)
            yield chunk
        for sink in sinks:
            sink.close()

    @staticmethod
    def _chain_chunks(superrun_id, parts, sink):
        for ranges, hull, stream in parts:
            for chunk in stream:
                if ranges is not None:
                    chunk = _cut_to_ranges(chunk, ranges, hull)
                    if chunk is None:
                        continue
                chunk = as_superrun_chunk(chunk, superrun_id)
                if sink is not None:
                    sink.receive(chunk)
                yield chunk
        if sink is not None:
            sink.close()

    def __iter__(self):
        running = _running()
        running.append(self)
        try:
            yield from self._run()
        finally:
            running.remove(self)
        self._settle(running)

    def _run(self):
        exception = None
        try:
            for chunk in self._stream_root:
                if self.time_range is not None:
                    chunk = _clip(chunk, self.time_range, self.selection)
                    if chunk is None:
                        continue
                yield chunk
        except BaseException as e:      # GeneratorExit too: an abandoned stream is incomplete
            exception = e
            raise
        finally:
            for sink in self.sinks:
                if not sink.closed:
                    sink.close(exception=exception or RuntimeError(
                        "processing stopped before this data was complete"))

    def _settle(self, running):
        """Every saver of the stream has committed or let its claim go: data left to other
        writers meanwhile is waited for now, so a make returns with all of it stored. While
        a stream around this one still holds claims, that one waits instead."""
        unsettled = [s for s in self.sinks + self._inherited if not s.settle()]
        if not unsettled:
            return
        if running:
            running[-1]._inherited.extend(unsettled)
            return
        what = ", ".join(str(s.target.key) for s in unsettled)
        warnings.warn(f"{what}: another writer is storing this data, and this process could "
                      f"not wait for it while it holds claims of writes outside this call; "
                      f"check st.is_stored later", UserWarning, stacklevel=3)


def part_cut(part, time_range=None):
    """(ranges, hull) a chained part (a subrun: its SubrunPart or SubrunSpec) is read with: its
    own time ranges (None for the whole subrun) narrowed to time_range, and their hull; None
    when it lies outside time_range."""
    ranges = [tuple(r) for r in part.ranges] if part.ranges is not None else None
    if time_range is not None:
        ranges = _intersect(ranges or [tuple(time_range)], time_range)
        if not ranges:
            return None
    hull = (ranges[0][0], ranges[-1][1]) if ranges else None
    return ranges, hull


def _intersect(ranges, window):
    ws, we = window
    out = [(max(s, ws), min(e, we)) for s, e in ranges]
    return [(s, e) for s, e in out if e > s]


def _cut_to_ranges(chunk, ranges, hull):
    from .kernels import endtimes, ranges_mask
    import numpy as np
    start, end = max(chunk.start, hull[0]), min(chunk.end, hull[1])
    if end < start or (end == start and chunk.end > chunk.start):
        return None
    data = chunk.data
    if len(data):
        starts = np.array([r[0] for r in ranges], dtype=np.int64)
        stops = np.array([r[1] for r in ranges], dtype=np.int64)
        mask = ranges_mask(data["time"], endtimes(data), starts, stops, "fully_contained")
        data = data[mask]
    return chunk._replace(start=start, end=end, data=data)


def _clip(chunk, time_range, selection):
    start, end = time_range
    if chunk.end <= start and chunk.start < start or chunk.start >= end and chunk.end > end:
        return None
    if selection == "skip":
        return chunk
    return chunk.slice(start, end, selection=selection)


def arena_for(plan):
    """A preallocated result for a plan that loads whole stored data (sizes are in the
    metadata), or None when the size is only known after loading."""
    from .storage.common import Arena
    size = stored_size(plan)
    return Arena(*size) if size is not None else None


def stored_size(plan):
    """(rows, dtype) of what a plan that loads whole stored data yields, from the metadata;
    None when that is only known after loading."""
    if isinstance(plan, LoadNode):
        sizes = [plan.rows_and_dtype()]
    elif isinstance(plan, ChainNode) and plan.save is None:
        parts = plan.parts
        if any(parts.spec(i).ranges is not None for i in range(len(parts))) or \
                any(not isinstance(p.node, LoadNode) for _, p in parts.held()):
            return None
        sizes = parts.sizes()
    else:
        return None
    total, dtype = 0, None
    for rows, node_dtype in sizes:
        if dtype is not None and node_dtype != dtype:
            return None
        dtype = node_dtype
        total += rows
    return total, dtype
