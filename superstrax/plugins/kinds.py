"""The specialised plugin kinds: loop, overlap window, exhaust, merge-only and cut."""
from collections.abc import Mapping

import numpy as np

from ..chunk import Chunk
from ..errors import PluginError, PluginGaveWrongOutput
from .base import Plugin, SaveWhen, camel_to_snake
from .sync import split_all


class LoopPlugin(Plugin):
    """Calls compute_loop(row, **things_of_row) for each row of the `loop_over` kind.

    Rows of the other kinds are passed when they lie fully inside the row's [time, endtime)
    (time_selection "fully_contained"), or overlap it by more than touching_window ns
    ("touching"). compute_loop returns {field: value}; a plugin with several outputs returns
    {data_type: {field: value}}, one row of each output per base row.
    """

    loop_over = None                  # default: the kind of the first dependency
    time_selection = "fully_contained"
    touching_window = 0

    def compute_loop(self, base, **kwargs):
        raise NotImplementedError

    def compute(self, **kwargs):
        from ..dtypes import endtime
        base_kind = self.loop_over or self._first_kind(kwargs)
        if not isinstance(base_kind, str) or base_kind not in kwargs:
            raise PluginError(f"{self.__class__.__name__}: loop_over must name one of the kinds "
                              f"it gets ({sorted(kwargs)}), got {base_kind!r}")
        if self.time_selection not in ("fully_contained", "touching"):
            raise PluginError(f"{self.__class__.__name__}: time_selection must be "
                              f"'fully_contained' or 'touching', got {self.time_selection!r}")
        base = kwargs[base_kind]
        for kind, things in kwargs.items():
            if len(things) > 1 and np.any(np.diff(things["time"]) < 0):
                raise ValueError(f"{self.__class__.__name__} (run {self.run_id}): {kind} must "
                                 f"be sorted by time")
        base_end = endtime(base) if len(base) else np.zeros(0, np.int64)
        if len(base) > 1 and np.any(base["time"][1:] < base_end[:-1]):
            raise ValueError(f"{self.__class__.__name__} (run {self.run_id}): the {base_kind} "
                             f"it loops over overlap in time")
        bounds = {}
        for kind, things in kwargs.items():
            if kind == base_kind:
                continue
            t, e = things["time"], endtime(things) if len(things) else np.zeros(0, np.int64)
            if self.time_selection == "touching":
                # things starting before the row ends and ending after it starts
                w = int(self.touching_window)
                lo = np.searchsorted(np.maximum.accumulate(e) if len(e) else e,
                                     base["time"] - w, side="right")
                hi = np.searchsorted(t, base_end + w, side="left")
            else:
                lo = np.searchsorted(t, base["time"], side="left")
                hi = np.searchsorted(t, base_end, side="left")
            bounds[kind] = (things, e, lo, hi)
        outputs = self.provides
        results = {d: np.zeros(len(base), dtype=self.dtype_for(d)) for d in outputs}
        returned = {d: set() for d in outputs}
        for i in range(len(base)):
            inside = {}
            for kind, (things, e, lo, hi) in bounds.items():
                part = things[lo[i]:hi[i]]
                if self.time_selection == "fully_contained":
                    part = part[e[lo[i]:hi[i]] <= base_end[i]]
                else:
                    part = part[e[lo[i]:hi[i]] > base["time"][i] - self.touching_window]
                inside[kind] = part
            row = self.compute_loop(base[i], **inside)
            if not isinstance(row, Mapping):
                raise PluginGaveWrongOutput(f"{self.__class__.__name__}: compute_loop must "
                                            f"return a dict, got {type(row).__name__}")
            rows = row if self.multi_output else {outputs[0]: row}
            for d, values in rows.items():
                for name, value in values.items():
                    results[d][name][i] = value
                returned[d].update(values)
        for d, result in results.items():
            names = result.dtype.names or ()
            for name in ("time", "endtime", "length", "dt"):
                if name in names and name not in returned[d] and name in (base.dtype.names or ()):
                    result[name] = base[name]
            if "endtime" in names and "endtime" not in returned[d] \
                    and "endtime" not in (base.dtype.names or ()):
                result["endtime"] = base_end
        return results if self.multi_output else results[outputs[0]]

    def _first_kind(self, kwargs):
        if self.depends_on and self.deps.get(self.depends_on[0]) is not None:
            return self.deps[self.depends_on[0]].data_kind_for(self.depends_on[0])
        return next(iter(kwargs))


class OverlapWindowPlugin(Plugin):
    """A plugin whose result at time t depends on inputs within get_window_size() ns of t.

    Inputs near a chunk boundary are kept and computed again with the next chunk, and
    results are only emitted once every input that could change them has been seen.
    """

    def get_window_size(self):
        raise NotImplementedError

    def iter_outputs(self, steps):
        window = int(self.get_window_size())
        if window < 0:
            raise PluginError(f"{self.__class__.__name__}: window size must be >= 0, got {window}")
        cache = None          # {kind: Chunk} of inputs still needed for later results
        emitted_until = None  # results before this time were already emitted
        tail = None           # results after emitted_until from the latest computation
        for chunk_i, inputs in enumerate(steps):
            if cache:
                inputs = {k: Chunk.concatenate([cache[k], c]) for k, c in inputs.items()}
            if emitted_until is None:
                emitted_until = min(c.start for c in inputs.values())
            end = max(c.end for c in inputs.values())
            outputs = self.do_compute(chunk_i=chunk_i, **_align_starts(inputs))
            outputs = {d: _drop_before(c, emitted_until) for d, c in outputs.items()}
            target = end - window
            if target > emitted_until:
                left, tail, t_emit = split_all(outputs, target, allow_early_split=True)
                if t_emit > emitted_until:
                    yield left
                    emitted_until = t_emit
                else:
                    tail = outputs
            else:
                tail = outputs
            t_keep = emitted_until - window
            _, cache, _ = split_all(inputs, max(t_keep, min(c.start for c in inputs.values())),
                                    allow_early_split=True)
        if tail is not None:
            yield tail


def _align_starts(inputs):
    """Give all inputs the earliest start so outputs computed from them fit in the chunk."""
    start = min(c.start for c in inputs.values())
    return {k: c if c.start == start else c._replace(start=start) for k, c in inputs.items()}


def _drop_before(chunk, t):
    if chunk.start >= t:
        return chunk
    keep = chunk.data["time"] >= t if len(chunk.data) else np.zeros(0, bool)
    return chunk._replace(start=t, end=max(t, chunk.end), data=chunk.data[keep])


class ExhaustPlugin(Plugin):
    """Sees all of its input (a whole run, or a whole superrun) in one compute call."""

    def iter_outputs(self, steps):
        steps = list(steps)
        if not steps:
            return
        merged = {kind: Chunk.concatenate([s[kind] for s in steps]) for kind in steps[0]}
        yield self.do_compute(chunk_i=0, **merged)


class MergeOnlyPlugin(Plugin):
    """Joins the fields of several data types of one kind; nothing is computed. As strax's:
    saved only when named in save= (SaveWhen.EXPLICIT), fields in the order of the sorted
    dependency names (straxen's event_info is one, so its stored dtype must match)."""

    save_when = SaveWhen.EXPLICIT

    def infer_dtype(self):
        from ..dtypes import merged_dtype
        return merged_dtype([self.deps[d].dtype_for(d) for d in sorted(self.depends_on)])

    def compute(self, **kwargs):
        data = self._merged_input(kwargs)
        dtype = self.dtype_for(self.provides[0])
        if data.dtype == dtype:
            return data
        out = np.zeros(len(data), dtype=dtype)
        for name in dtype.names:
            out[name] = data[name]
        return out

    def _merged_input(self, kwargs):
        """The one input array, holding the fields of every dependency (one kind)."""
        if len(kwargs) != 1:
            raise PluginError(f"{self.__class__.__name__}: all dependencies of a MergeOnlyPlugin "
                              f"must be of one data kind, got kinds {sorted(kwargs)}")
        return next(iter(kwargs.values()))


class CutPlugin(Plugin):
    """Computes one boolean cut per row of its input: implement cut_by(**inputs).

    As in strax (so stored dtypes match): saved when it is a target; the field is named
    cut_name (default: the data type), described by cut_description (default: "Cut by
    <name>", or the name with spaces for '_' when it already holds "cut_").
    """

    cut_name = None
    cut_description = None
    save_when = SaveWhen.TARGET

    def infer_dtype(self):
        from ..dtypes import time_fields
        name = self._field_name()
        description = self.cut_description
        if description is None:
            base = camel_to_snake(type(self).__name__)
            description = " ".join(base.split("_")) if "cut_" in base else f"Cut by {base}"
        return list(time_fields) + [((description, name), np.bool_)]

    def cut_by(self, **kwargs):
        raise NotImplementedError

    def compute(self, **kwargs):
        from ..dtypes import endtime
        data = next(iter(kwargs.values()))
        cut = np.asarray(self.cut_by(**kwargs), dtype=bool)
        if cut.shape != (len(data),):
            raise PluginError(f"{self.__class__.__name__} (run {self.run_id}): cut_by returned "
                              f"shape {cut.shape}, expected ({len(data)},)")
        out = np.zeros(len(data), dtype=self.dtype_for(self.provides[0]))
        out["time"] = data["time"]
        out["endtime"] = endtime(data)
        out[self._field_name()] = cut
        return out

    def _field_name(self):
        return self.cut_name or camel_to_snake(type(self).__name__)
