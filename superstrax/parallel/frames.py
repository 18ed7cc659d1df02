"""get_dask: stored data as a lazy dask.dataframe, one partition per stored chunk.

For data larger than memory (a superrun of a thousand runs): nothing is read until the frame
is computed, and each partition reads one chunk, so a worker holds a chunk at a time.

The rows are indexed by their `time` (ns since the epoch) and the divisions are known without
reading data: each partition starts at the `first_time` its chunk's metadata records (the
chunk's `start` for metadata without it), and the frame ends at the last chunk's `last_time`.
`frame.loc[t0:t1]` so reads only the chunks of that time range. `frame.compute()` equals
get_df with the same arguments, apart from the index: `.reset_index(drop=True)` gives get_df's.

What can be framed: data stored for a run, stored superrun data, and superruns chained from
their subruns' stored data. Data that would have to be made is refused with how to make it
(st.make(..., max_workers=N) makes many runs in parallel).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .. import output
from ..chunk import Chunk, as_superrun_chunk
from ..errors import DataNotAvailable
from ..executor import _clip, _cut_to_ranges, part_cut
from ..planning import ChainNode, LoadNode, MergeNode
from ..storage.common import _overlaps, parse_dtype
from ..validation import run_id_text
from .dask_support import require
from .spec import with_absolute_paths


@dataclass
class FrameOptions:
    """What every partition applies to its chunk, in get_df's order."""
    run_id: str
    targets: tuple
    time_range: tuple = None
    time_selection: str = "fully_contained"
    selection: object = None
    keep_columns: object = None
    drop_columns: object = None
    add_run_id_field: bool = False
    functions: object = None


@dataclass
class PartitionSource:
    """One stored chunk of the first target, and how it is cut when it is part of a chained
    superrun. With several targets, `others` holds for each further target the stored chunks
    that overlap it: their rows are the same rows (one data kind), cut to this chunk's span
    and joined field-wise, as get_df joins them."""
    frontend: object
    key: object
    chunk_i: int
    ranges: list = None          # the subrun's time ranges (chained superruns), else None
    hull: tuple = None
    superrun_id: str = None
    others: tuple = ()           # (frontend, key, chunk numbers) per further target


def get_dask(ctx, run_id, targets, time_range=None, seconds_range=None, time_within=None,
             time_selection="fully_contained", selection=None, selection_str=None,
             keep_columns=None, drop_columns=None, add_run_id_field=False, combining=False,
             progress_bar=None, **ignored):
    """A lazy dask.dataframe of stored targets of run_id (see the module docstring): one
    data type, or several of one data kind joined field-wise as get_df joins them."""
    from .. import loading
    dd = require("dask.dataframe")
    if ignored:
        warnings.warn(f"get_dask() got unknown arguments {sorted(ignored)}; they do nothing",
                      UserWarning, stacklevel=3)
    run_id = run_id_text(run_id)
    targets = loading.as_tuple(targets)
    time_range = loading.absolute_time_range(ctx, run_id, targets, time_range, seconds_range,
                                             time_within)
    plan = loading.plan(ctx, run_id, targets, combining=combining)
    sources, infos, dtypes = _sources(plan, run_id, targets, time_range)
    options = FrameOptions(run_id, targets, time_range, time_selection,
                           selection if selection is not None else selection_str,
                           keep_columns, drop_columns, add_run_id_field,
                           ctx.context_config.get("apply_data_function"))
    meta = _frame(_empty_chunk(dtypes, run_id, targets), options, warn=True)
    if not sources:
        import dask
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_pandas(meta, npartitions=1)
    divisions = _divisions(infos)
    import dask
    # Columns stay as get_df makes them (numpy types, arrays as objects): Dask's default
    # would turn object columns into pyarrow strings.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(load_partition, sources, options=options, meta=meta,
                           divisions=divisions, enforce_metadata=False,
                           label=f"superstrax-{run_id}-{'+'.join(targets)}")


def load_partition(source: PartitionSource, options: FrameOptions):
    """The DataFrame of one stored chunk (runs in Dask workers)."""
    chunk = _load_chunk(source.frontend, source.key, [source.chunk_i])
    if chunk is not None and source.others:
        parts = [chunk]
        for frontend, key, numbers in source.others:
            other = _load_chunk(frontend, key, numbers)
            parts.append(_within(other, chunk.start, chunk.end, chunk))
        # Partitions follow the first target's chunks; fields are joined as get_df joins
        # them, in the order of the sorted data type names (as strax).
        chunk = Chunk.merge(sorted(parts, key=lambda c: c.data_type), data_type=chunk.data_type)
    if chunk is not None and source.ranges is not None:
        chunk = _cut_to_ranges(chunk, source.ranges, source.hull)
    if chunk is not None and source.superrun_id is not None:
        chunk = as_superrun_chunk(chunk, source.superrun_id)
    if chunk is not None and options.time_range is not None:
        chunk = _clip(chunk, options.time_range, options.time_selection)
    if chunk is None:
        dtypes = [parse_dtype(source.frontend.get_metadata(source.key), str(source.key))]
        dtypes += [parse_dtype(fe.get_metadata(key), str(key)) for fe, key, _ in source.others]
        chunk = _empty_chunk(dtypes, options.run_id, options.targets)
    return _frame(chunk, options)


def _load_chunk(frontend, key, numbers):
    chunks = list(frontend.loader(key, chunk_numbers=list(numbers))) if numbers else []
    return Chunk.concatenate(chunks) if chunks else None


def _within(chunk, start, end, like):
    """chunk's rows in [start, end), as a chunk spanning exactly that (the span of `like`, the
    first target's chunk, whose boundaries no row of this data kind straddles)."""
    if chunk is None:
        raise DataNotAvailable(f"no stored chunk of another target holds the rows of "
                               f"{like.data_type} in [{start}, {end}) of {like.run_id}")
    if chunk.start < start:
        _, chunk = chunk.split(start)
    if chunk.end > end:
        chunk, _ = chunk.split(end)
    return chunk


def _frame(chunk, options: FrameOptions, warn=False):
    [chunk] = output.shape_chunks([chunk], options.run_id, options.targets, options.selection,
                                  None, None, False, options.functions)
    data = chunk.data
    index = np.asarray(data["time"]) if "time" in (data.dtype.names or ()) else None
    new_dtype = output.column_dtype(data.dtype, options.keep_columns, options.drop_columns,
                                    what="+".join(options.targets))
    if new_dtype is not None:
        data = output.project(data, new_dtype)
    if options.add_run_id_field:
        data = output.with_run_ids(chunk, data)
    df = output.to_dataframe(data, log=None if warn else False)   # once per frame, not per part
    if index is not None:
        df.index = index
    return df


def _empty_chunk(dtypes, run_id, targets):
    by_name = sorted(zip(targets, dtypes), key=lambda pair: pair[0])
    chunks = [Chunk(data_type=t, data_kind=targets[0], dtype=d, run_id=run_id, start=0, end=0,
                    data=np.zeros(0, d)) for t, d in by_name]
    return chunks[0] if len(chunks) == 1 else Chunk.merge(chunks, data_type=targets[0])


def _stored_parts(plan, targets):
    """[(chained part or None, {target: LoadNode})] of a plan that only loads stored data (a
    target, several of one kind, or chains of them over a superrun's subruns); else None."""
    if isinstance(plan, LoadNode):
        return [(None, {targets[0]: plan})]
    if isinstance(plan, ChainNode):
        if all(isinstance(p.node, LoadNode) for p in plan.parts):
            return [(p, {targets[0]: p.node}) for p in plan.parts]
        return None
    if isinstance(plan, MergeNode):
        inputs = [plan.inputs[t] for t in targets]
        if all(isinstance(n, LoadNode) for n in inputs):
            return [(None, dict(zip(targets, inputs)))]
        if all(isinstance(n, ChainNode) for n in inputs):
            first = inputs[0].parts
            if all(len(n.parts) == len(first) and all(
                    isinstance(p.node, LoadNode) and p.run_id == q.run_id
                    and p.ranges == q.ranges for p, q in zip(n.parts, first)) for n in inputs):
                return [(part, {t: n.parts[k].node for t, n in zip(targets, inputs)})
                        for k, part in enumerate(first)]
    return None


def _sources(plan, run_id, targets, time_range):
    """(PartitionSources in time order, the first target's chunk metadata of each, the stored
    dtype of each target) of a plan that only loads."""
    parts = _stored_parts(plan, targets)
    if parts is None:
        raise DataNotAvailable(
            f"{'+'.join(targets)} for {run_id} is not stored (or its subruns' data is not), "
            f"and get_dask only reads stored data. Make it first: st.make({run_id!r}, "
            f"{targets[0] if len(targets) == 1 else list(targets)!r}, max_workers=N) or "
            f"executor=<dask Client>")
    first_loads = parts[0][1]
    dtypes = [parse_dtype(first_loads[t].metadata, str(first_loads[t].key)) for t in targets]
    # Partitions are read in Dask workers, whose working directory may not be ours: they get
    # the frontends with absolute paths (one copy of each per frame).
    shipped = {}

    def frontend_of(node):
        if id(node.frontend) not in shipped:
            shipped[id(node.frontend)] = with_absolute_paths(node.frontend)
        return shipped[id(node.frontend)]

    sources, infos = [], []
    for part, loads in parts:
        if part is None:
            ranges, hull = None, time_range
        else:
            cut = part_cut(part, time_range)
            if cut is None:
                continue
            ranges, hull = cut
        main = loads[targets[0]]
        for info in main.metadata.get("chunks") or ():
            if not info.get("n") or (hull is not None and not _overlaps(info, hull)):
                continue
            others = tuple((frontend_of(n), n.key, _overlapping(n.metadata, info))
                           for n in (loads[t] for t in targets[1:]))
            sources.append(PartitionSource(
                frontend_of(main), main.key, info["chunk_i"], ranges, hull,
                plan.run_id if part is not None else None, others))
            infos.append(info)
    return sources, infos, dtypes


def _overlapping(metadata, info):
    """Numbers of the stored chunks (of another target) holding rows in info's span."""
    return tuple(c["chunk_i"] for c in metadata.get("chunks") or ()
                 if c.get("n") and c["start"] < info["end"] and c["end"] > info["start"])


def _divisions(infos):
    lows = [int(i.get("first_time", i["start"])) for i in infos]
    # Chunks of a chain are in time order, but a lower bound must never decrease.
    for k in range(1, len(lows)):
        lows[k] = max(lows[k], lows[k - 1])
    last = infos[-1]
    high = max(int(last.get("last_time", last["end"])), lows[-1])
    return tuple(lows) + (high,)
