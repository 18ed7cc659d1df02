"""Where data of a run is, or can be made from: stored dependencies, source frontends,
availability per data type, keys for many runs, sizes, and a few whole-run reductions
(accumulate, metadata comparison, copying stored data to another frontend). The Context's
get_source, stored_dependencies, available_for_run, copy_to_frontend ... forward here."""
import fnmatch
import json
import re

import numpy as np
import pandas as pd

from . import inspection, loading
from .chunk import DEFAULT_CHUNK_SIZE_MB, Rechunker
from .errors import DataNotAvailable, InvalidArgument
from .plugins.base import SaveWhen
from .progress import make_bar
from .utils import convert_tuple_to_list, dict_differences as differences


def _as_tuple(x) -> tuple:
    return (x,) if isinstance(x, str) else tuple(x)


def stored_dependencies(session, run_id, target, check_forbidden=True, _found=None) -> dict:
    """{data type: stored?} of target(s) and what they are made from, walking down only below
    data that is not stored. DataNotAvailable when a branch reaches data that is neither stored
    nor can be made (a source, or forbidden by forbid_creation_of with check_forbidden)."""
    found = {} if _found is None else _found
    forbidden = set(_as_tuple(session.option("forbid_creation_of") or ()))
    for t in _as_tuple(target):
        if t in found:
            continue
        found[t] = session.is_stored(run_id, t)
        if found[t]:
            continue
        deps = inspection.depends_on(session.plugin_class(t))
        if not deps:
            raise DataNotAvailable(f"{t} of run {run_id} is not stored, and it is made from "
                                   f"nothing (a source): store it first")
        if check_forbidden and (t in forbidden or "*" in forbidden):
            raise DataNotAvailable(f"{t} of run {run_id} is not stored and forbid_creation_of "
                                   f"forbids making it; pass check_forbidden=False to ignore")
        stored_dependencies(session, run_id, deps, check_forbidden, found)
    return found


def get_source(session, run_id, target, check_forbidden=True):
    """The stored data types target(s) would be made from (a set), or None if it cannot be."""
    try:
        found = stored_dependencies(session, run_id, target, check_forbidden)
    except DataNotAvailable:
        return None
    return {d for d, stored in found.items() if stored}


def is_stored_in(session, run_id, target, frontend, combining=False) -> bool:
    return frontend.is_stored(session.key_for(run_id, target, combining=combining))


def source_frontends(session, run_id, target, should_exist=False) -> list:
    """The frontends holding target of run_id (for several targets: those holding all)."""
    targets = _as_tuple(target)
    if not targets:
        raise ValueError("get_source_sf needs at least one data type")
    result = [fe for fe in session.storage
              if all(is_stored_in(session, run_id, t, fe) for t in targets)]
    if should_exist and not result:
        raise DataNotAvailable(f"{', '.join(targets)} of run {run_id} is in no frontend")
    return result


def _matches(name, patterns, pattern_type) -> bool:
    for p in _as_tuple(patterns):
        if (re.match(p, name) if pattern_type == "re" else fnmatch.fnmatch(name, p)):
            return True
    return False


def available_for_run(session, run_id, include_targets=None, exclude_targets=None,
                      pattern_type="fnmatch") -> pd.DataFrame:
    """A DataFrame (target, is_stored) of the data types of one run that are ever saved."""
    if not isinstance(run_id, str):
        raise ValueError(f"available_for_run takes one run id (a str), got {run_id!r}")
    if pattern_type not in ("fnmatch", "re"):
        raise ValueError(f"pattern_type must be 'fnmatch' or 're', got {pattern_type!r}")
    rows = {"target": [], "is_stored": []}
    for target in session.plugins:
        if inspection.get_save_when(session, target) == SaveWhen.NEVER:
            continue
        if exclude_targets and _matches(target, exclude_targets, pattern_type):
            continue
        if include_targets and not _matches(target, include_targets, pattern_type):
            continue
        rows["target"].append(target)
        rows["is_stored"].append(session.is_stored(run_id, target))
    return pd.DataFrame(rows)


def availability(session, names, target, progress_bar=None):
    """For each run (or superrun) name, whether target is stored for it (a bool array)."""
    enabled = session.progress_enabled(progress_bar)
    result = []
    for name in make_bar(names, enabled=enabled, desc="Checking data availability"):
        try:
            result.append(session.is_stored(name, target))
        except Exception:      # a run whose key cannot be built has nothing stored
            result.append(False)
    return np.array(result, dtype=bool)


def with_availability(session, runs_table, available=(), progress_bar=None):
    """runs_table with a <target>_available column for each target of available and of the
    check_available option, keeping only the runs where every one of available is stored
    (select_runs' table)."""
    if isinstance(available, str):
        available = (available,)
    for target in tuple(available) + tuple(session.context_config.get("check_available") or ()):
        col = f"{target}_available"
        runs_table[col] = availability(session, runs_table["name"].tolist(), target,
                                       progress_bar)
        if target in available:
            runs_table = runs_table[runs_table[col]].reset_index(drop=True)
    return runs_table


def keys_for_runs(session, target, run_ids) -> list:
    """The DataKeys of target for each run (lineages are resolved once unless options can
    depend on the run)."""
    return [session.key_for(r, target) for r in _as_tuple(run_ids)]


def size_mb(session, run_id, target) -> float:
    """Megabytes the stored data takes in memory (its chunks' nbytes)."""
    return sum(c["nbytes"] for c in session.get_meta(run_id, target)["chunks"]) / 1e6


def to_absolute_time_range(session, run_id, targets=None, time_range=None, seconds_range=None,
                           time_within=None, full_range=None):
    """(start, end) in ns since the epoch for one of the ways of giving a time range (None if
    none is given)."""
    given = sum(x is not None for x in (time_range, seconds_range, time_within, full_range))
    if given > 1:
        raise ValueError("Give at most one of time_range, seconds_range, time_within and "
                         "full_range")
    if full_range:
        return loading.estimate_run_start_and_end(session, run_id, targets)
    return loading.absolute_time_range(session, run_id, targets, time_range=time_range,
                                       seconds_range=seconds_range, time_within=time_within)


def accumulate(chunks, fields=None, function=None, store_first_for_others=True,
               function_takes_fields=False) -> dict:
    """Sums over chunks: per field (of function(data) when given, a record array or dict), or
    'result' (when it gives a scalar or flat array); plus start, end, n_chunks, n_rows and the
    first value of each field not summed (store_first_for_others)."""
    fields = None if fields is None else _as_tuple(fields)
    result = {"n_rows": 0}
    n_chunks, seen = 0, False
    for chunk in chunks:
        data = chunk.data
        if n_chunks == 0:
            result["start"] = chunk.start
            if fields is None:
                fields = tuple(n for n in data.dtype.names if n not in ("time", "endtime"))
        if store_first_for_others and not seen and len(data):
            for name in data.dtype.names:
                if name not in fields:
                    result[name] = data[0][name]
            seen = True
        result["end"] = chunk.end
        result["n_rows"] += len(data)
        if function is not None:
            data = function(data, fields) if function_takes_fields else function(data)
        if data is None:
            pass
        elif isinstance(data, dict) or (isinstance(data, np.ndarray) and data.dtype.names):
            for f in fields:
                result[f] = result.get(f, 0) + np.sum(data[f], axis=0)
        else:
            result["result"] = result.get("result", 0) + np.sum(data, axis=0)
        n_chunks += 1
    result["n_chunks"] = n_chunks
    return result


def metadata_and_lineage(session, data):
    """(metadata or None, lineage) of (run_id, data type), a metadata dict or a JSON path.
    Lineages come with tuples as lists, as read back from JSON, so that any two compare."""
    if isinstance(data, (tuple, list)):
        run_id, target = data
        if session.is_stored(run_id, target):
            md = session.get_meta(run_id, target)
            return md, convert_tuple_to_list(md["lineage"])
        return None, convert_tuple_to_list(session.key_for(run_id, target).lineage)
    if isinstance(data, str):
        with open(data) as f:
            data = json.load(f)
    if isinstance(data, dict):
        return data, convert_tuple_to_list(data["lineage"])
    raise ValueError(f"compare_metadata takes (run_id, data_type), a metadata dict or the "
                     f"path of a metadata JSON file, got {data!r}")


def compare_metadata(session, data1, data2, return_results=False):
    """The Context's compare_metadata: {metadata1, lineage1, metadata2, lineage2}, or the
    differences printed (of the metadata when both are stored, else of the lineages)."""
    md1, lin1 = metadata_and_lineage(session, data1)
    md2, lin2 = metadata_and_lineage(session, data2)
    if return_results:
        return {"metadata1": md1, "lineage1": lin1, "metadata2": md2, "lineage2": lin2}
    if md1 is not None and md2 is not None:
        diff = differences(md1, md2)
    else:
        diff = differences({"lineage": lin1}, {"lineage": lin2})
    print("\n".join(diff) if diff else "No differences")


def copy_to_frontends(session, run_id, target, target_frontend_id=None,
                      target_compressor=None, rechunk=False, rechunk_to_mb=None) -> list:
    """Copy to storage[target_frontend_id], or (None) to every writable frontend lacking the
    data; the frontends written to."""
    _refuse_fuzzy(session, "copy_to_frontend", run_id, target)
    key = session.key_for(run_id, target)
    if target_frontend_id is None:
        targets = [fe for fe in session.storage if not fe.readonly and not fe.is_stored(key)]
    else:
        targets = [session.storage[target_frontend_id]]
    for fe in targets:
        copy_to_frontend(session, run_id, target, fe, target_compressor, rechunk, rechunk_to_mb)
    return targets


def copy_to_frontend(session, run_id, target, frontend, target_compressor=None,
                     rechunk=False, rechunk_to_mb=None) -> None:
    """Copy stored data of target to frontend (optionally recompressed and rechunked),
    chunk by chunk, written under a temporary name until complete."""
    _refuse_fuzzy(session, "copy_to_frontend", run_id, target)
    key = session.key_for(run_id, target)
    source = session.find_frontend(key)
    if source is None:
        raise DataNotAvailable(f"{key} is not stored, so it cannot be copied; make it first")
    md = dict(source.get_metadata(key))
    md.pop("chunks", None)
    if target_compressor is not None:
        md["compressor"] = target_compressor
    saver = frontend.saver(key, md)
    rechunker = Rechunker(rechunk_to_mb or md.get("chunk_target_size_mb", 200)) \
        if rechunk else None
    _save_all(saver, source.loader(key), rechunker)


def _refuse_fuzzy(session, what, run_id, target):
    """Copies are written under this context's exact key; with fuzzy_for set, the data found
    may be of another lineage (strax would write it under the wrong key)."""
    if session.fuzzy_options():
        raise InvalidArgument(
            f"{what}({run_id!r}, {target!r}) writes under this context's exact key, but the "
            f"context has fuzzy_for / fuzzy_for_options set, so the data it finds may be of "
            f"another lineage. Use a context without them (st.new_context(fuzzy_for=(), "
            f"fuzzy_for_options=()))")


def _save_all(saver, chunks, rechunker=None):
    """Save chunks (rechunked when a Rechunker is given) and close the saver; a failure on
    the way closes it as failed and is raised."""
    try:
        for chunk in chunks:
            for out in (rechunker.receive(chunk) if rechunker else [chunk]):
                saver.save(out)
        for out in (rechunker.flush() if rechunker else []):
            saver.save(out)
    except BaseException as e:
        saver.close(exception=e)
        raise
    saver.close()


def merge_per_chunk_storage(session, run_id, target, dependency, chunk_number_group=None,
                            rechunk=True, rechunk_to_mb=DEFAULT_CHUNK_SIZE_MB,
                            target_frontend_id=None, target_compressor=None,
                            check_is_stored=True) -> None:
    """Write target of run_id, stored per group of chunks of `dependency`
    (make(..., chunk_number={dependency: group})), as one copy: under target's ordinary key
    when the groups cover every chunk of the dependency, else under the key of all their
    chunks together. The groups are read in time order, optionally rechunked and
    recompressed, and written through the frontends' savers (visible once complete)."""
    _refuse_fuzzy(session, "merge_per_chunk_storage", run_id, target)
    if not isinstance(target, str):
        raise ValueError(f"merge_per_chunk_storage takes one target at a time, got {target!r}")
    if check_is_stored and session.is_stored(run_id, target):
        raise ValueError(f"{target} of run {run_id} is stored already "
                         f"({session.key_for(run_id, target)}); nothing to merge")
    if target_frontend_id is not None and target_frontend_id >= len(session.storage):
        raise ValueError(f"target_frontend_id={target_frontend_id}, but the context has only "
                         f"{len(session.storage)} storage frontend(s)")
    n_chunks = len(session.get_meta(run_id, dependency)["chunks"])
    if chunk_number_group is None:
        groups = [[i] for i in range(n_chunks)]
    else:
        groups = sorted((list(g) for g in chunk_number_group), key=lambda g: min(g))
    numbers = sorted(n for g in groups for n in g)
    if len(numbers) != len(set(numbers)):
        raise ValueError(f"chunk_number_group {chunk_number_group} names a chunk twice")
    if numbers != list(range(numbers[0], numbers[-1] + 1)):
        raise ValueError(f"chunk_number_group {chunk_number_group} leaves gaps: the merged "
                         f"data would not be one stretch of run {run_id}")
    whole = numbers[0] == 0 and numbers[-1] == n_chunks - 1
    merged = None if whole else {dependency: numbers}
    key = session.key_for(run_id, target, chunk_number=merged)
    if session.find_frontend(key) is not None:
        raise ValueError(f"{key} is stored already; nothing to merge")
    parts = []
    for group in groups:
        part_key = session.key_for(run_id, target, chunk_number={dependency: group})
        found = session.find_frontend(part_key)
        if found is None:
            raise DataNotAvailable(
                f"{target} of run {run_id} made from chunks {group} of {dependency} is not "
                f"stored ({part_key}); make it first: st.make({run_id!r}, {target!r}, "
                f"chunk_number={{{dependency!r}: {group}}})")
        parts.append((found, part_key))
    if target_frontend_id is None:
        frontends = [fe for fe in session.frontends_for(key)
                     if not fe.readonly and not fe.is_stored(key)]
    else:
        frontends = [session.storage[target_frontend_id]]
    cls = session.plugin_class(target, run_id)
    dtype = session.single_plugin(run_id, target).dtype_for(target)
    md = session.data_metadata(key, cls, dtype, run_id)
    if target_compressor is not None:
        md["compressor"] = target_compressor
    if rechunk:
        md["chunk_target_size_mb"] = rechunk_to_mb
    for fe in frontends:
        saver = fe.saver(key, dict(md))
        rechunker = Rechunker(rechunk_to_mb) if rechunk else None
        chunks = (c for source, part_key in parts for c in source.loader(part_key))
        _save_all(saver, chunks, rechunker)
