"""Synchronising input streams by time, so a plugin sees aligned chunks of every input."""
from ..chunk import Chunk
from ..errors import ChunkError


def common_split_time(chunks, t):
    """The latest time <= t at which every chunk can be split without cutting a row."""
    while True:
        t_new = t
        for c in chunks:
            if c.start < t_new < c.end:
                _, right = c.split(t_new, allow_early_split=True)
                t_new = min(t_new, right.start)
        if t_new == t:
            return t
        t = t_new


def split_all(chunks, t, allow_early_split=False):
    """Split every chunk of a dict at one common time; returns (lefts, rights, t_used)."""
    values = list(chunks.values())
    if allow_early_split:
        t = common_split_time(values, t)
    lefts, rights = {}, {}
    for k, c in chunks.items():
        tc = min(max(t, c.start), c.end)
        lefts[k], rights[k] = c.split(tc, allow_early_split=False)
    return lefts, rights, t


def sync_inputs(data_types, kind_of, streams):
    """Yield {kind: Chunk} steps covering the same time span for every input.

    data_types: the input types in dependency order; kind_of: data_type -> kind;
    streams: data_type -> iterator of Chunk. Types of one kind are merged into one chunk.
    """
    kinds = {}
    for d in data_types:
        kinds.setdefault(kind_of(d), []).append(d)
    if len(data_types) == 1:
        (d,) = data_types
        kind = kind_of(d)
        for chunk in streams[d]:
            yield {kind: chunk}
        return
    yield from _Synchroniser(data_types, kinds, streams).steps()


class _Synchroniser:
    def __init__(self, data_types, kinds, streams):
        self.data_types = list(data_types)
        self.kinds = kinds
        self.iters = {d: iter(streams[d]) for d in data_types}
        self.buffers = {d: None for d in data_types}
        self.exhausted = {d: False for d in data_types}

    def _pull(self, d):
        """Append the next chunk of d to its buffer; False when d has no more chunks."""
        if self.exhausted[d]:
            return False
        try:
            chunk = next(self.iters[d])
        except StopIteration:
            self.exhausted[d] = True
            return False
        buf = self.buffers[d]
        self.buffers[d] = chunk if buf is None else Chunk.concatenate([buf, chunk])
        return True

    def _fill(self):
        for d in self.data_types:
            if self.buffers[d] is None:
                self._pull(d)

    def steps(self):
        while True:
            self._fill()
            live = {d: b for d, b in self.buffers.items() if b is not None}
            if not live:
                return
            if len(live) < len(self.data_types):
                missing = sorted(set(self.data_types) - set(live))
                ends = {d: b.end for d, b in live.items()}
                raise ChunkError(
                    f"inputs {missing} ended while {sorted(live)} still have data up to {ends}; "
                    f"all inputs of a plugin must cover the same time span")
            t = common_split_time(list(live.values()), min(b.end for b in live.values()))
            start = min(b.start for b in live.values())
            if t <= start and any(b.end > t for b in live.values()):
                # No common split point yet: read more of the input that ends first.
                d = min(live, key=lambda x: live[x].end)
                if not self._pull(d):
                    others = [x for x in live if x != d and not self.exhausted[x]]
                    if not others or not any(self._pull(x) for x in others):
                        raise ChunkError(f"cannot align inputs {sorted(live)} by time: their "
                                         f"chunks end at {[b.end for b in live.values()]}")
                continue
            step = {}
            for d, b in live.items():
                tc = min(max(t, b.start), b.end)
                left, right = b.split(tc, allow_early_split=False)
                step[d] = left
                done = right.end == right.start and not len(right)
                self.buffers[d] = None if done else right
            yield {kind: (step[ds[0]] if len(ds) == 1 else Chunk.merge([step[d] for d in ds]))
                   for kind, ds in self.kinds.items()}
