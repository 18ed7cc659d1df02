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
from ..errors import DataNotAvailable, InvalidConfiguration
from ..executor import _clip, _cut_to_ranges, _intersect
from ..planning import ChainNode, LoadNode, MergeNode
from ..storage.common import _overlaps, parse_dtype
from ..validation import run_id_text
from .dask_support import require


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
    """One stored chunk, and how it is cut when it is part of a chained superrun."""
    frontend: object
    key: object
    chunk_i: int
    ranges: list = None          # the subrun's time ranges (chained superruns), else None
    hull: tuple = None
    superrun_id: str = None


def get_dask(ctx, run_id, targets, time_range=None, seconds_range=None, time_within=None,
             time_selection="fully_contained", selection=None, selection_str=None,
             keep_columns=None, drop_columns=None, add_run_id_field=False, combining=False,
             progress_bar=None, **ignored):
    """A lazy dask.dataframe of stored targets of run_id (see the module docstring)."""
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
    sources, metadata = _sources(ctx, plan, run_id, targets, time_range)
    options = FrameOptions(run_id, targets, time_range, time_selection,
                           selection if selection is not None else selection_str,
                           keep_columns, drop_columns, add_run_id_field,
                           ctx.context_config.get("apply_data_function"))
    dtype = parse_dtype(metadata[0], str(plan.key if isinstance(plan, LoadNode) else run_id))
    meta = _frame(_empty_chunk(dtype, run_id, targets), options, warn=True)
    if not sources:
        import dask
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_pandas(meta, npartitions=1)
    divisions = _divisions(sources, metadata)
    import dask
    # Columns stay as get_df makes them (numpy types, arrays as objects): Dask's default
    # would turn object columns into pyarrow strings.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(load_partition, sources, options=options, meta=meta,
                           divisions=divisions, enforce_metadata=False,
                           label=f"superstrax-{run_id}-{'+'.join(targets)}")


def load_partition(source: PartitionSource, options: FrameOptions):
    """The DataFrame of one stored chunk (runs in Dask workers)."""
    chunks = list(source.frontend.loader(source.key, chunk_numbers=[source.chunk_i]))
    chunk = chunks[0] if chunks else None
    if chunk is not None and source.ranges is not None:
        chunk = _cut_to_ranges(chunk, source.ranges, source.hull)
    if chunk is not None and source.superrun_id is not None:
        chunk = as_superrun_chunk(chunk, source.superrun_id)
    if chunk is not None and options.time_range is not None:
        chunk = _clip(chunk, options.time_range, options.time_selection)
    if chunk is None:
        md = source.frontend.get_metadata(source.key)
        chunk = _empty_chunk(parse_dtype(md, str(source.key)), options.run_id, options.targets)
    return _frame(chunk, options)


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


def _empty_chunk(dtype, run_id, targets):
    return Chunk(data_type=targets[0], data_kind=targets[0], dtype=dtype, run_id=run_id,
                 start=0, end=0, data=np.zeros(0, dtype))


def _sources(ctx, plan, run_id, targets, time_range):
    """(PartitionSources in time order, stored metadata of each) of a plan that only loads."""
    if isinstance(plan, LoadNode):
        md = plan.metadata
        infos = [i for i in md.get("chunks") or () if i.get("n")
                 and (time_range is None or _overlaps(i, time_range))]
        return ([PartitionSource(plan.frontend, plan.key, i["chunk_i"]) for i in infos],
                [md] + [i for i in infos])
    if isinstance(plan, ChainNode) and all(isinstance(p.node, LoadNode) for p in plan.parts):
        sources, infos, first_md = [], [], None
        for part in plan.parts:
            node = part.node
            md = node.metadata
            first_md = first_md or md
            # The same cuts the executor makes when chaining (executor.Processor._chain).
            ranges = [tuple(r) for r in part.ranges] if part.ranges is not None else None
            if time_range is not None:
                ranges = _intersect(ranges or [tuple(time_range)], time_range)
                if not ranges:
                    continue
            hull = (ranges[0][0], ranges[-1][1]) if ranges else None
            for info in md.get("chunks") or ():
                if not info.get("n") or (hull is not None and not _overlaps(info, hull)):
                    continue
                sources.append(PartitionSource(node.frontend, node.key, info["chunk_i"],
                                               ranges, hull, plan.run_id))
                infos.append(info)
        if first_md is None:
            first_md = plan.parts[0].node.metadata
        return sources, [first_md] + infos
    if isinstance(plan, MergeNode):
        raise InvalidConfiguration(
            f"get_dask loads one data type at a time; got {list(targets)} for run {run_id}. "
            f"Frame each and join them (their rows line up by time)")
    raise DataNotAvailable(
        f"{'+'.join(targets)} for {run_id} is not stored (or its subruns' data is not), and "
        f"get_dask only reads stored data. Make it first: st.make({run_id!r}, "
        f"{targets[0] if len(targets) == 1 else list(targets)!r}, max_workers=N) or "
        f"executor=<dask Client>")


def _divisions(sources, metadata):
    infos = metadata[1:]
    lows = [int(i.get("first_time", i["start"])) for i in infos]
    # Chunks of a chain are in time order, but a lower bound must never decrease.
    for k in range(1, len(lows)):
        lows[k] = max(lows[k], lows[k - 1])
    last = infos[-1]
    high = max(int(last.get("last_time", last["end"])), lows[-1])
    return tuple(lows) + (high,)
