"""Superruns: named runs made of subruns (whole runs or time ranges of them).

Definitions (normalise_definition, superrun_document: the run document define_run writes),
resolving (a possibly nested definition turned into regular runs with time ranges, ordered
by start) and keys (key_spec: what a superrun's data is named by). Planning a superrun's
data is the planner's job (planning.Planner).
"""
import datetime
import json
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from ..errors import RunMetadataNotAvailable, SuperrunError
from ..naming import check_superrun_name, is_superrun_id

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_ns(when):
    """ns since the unix epoch of a datetime (naive ones are UTC) or a number of ns."""
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return (when - _EPOCH) // datetime.timedelta(microseconds=1) * 1000
    return int(when)


def from_ns(ns):
    return _EPOCH + datetime.timedelta(microseconds=int(ns) // 1000)


_MS = 1_000_000


def span_fields(resolved):
    """start, end (dates) and livetime (ns, float) of a superrun's resolved SubrunSpecs."""
    start, end = bounds_as_dates(min(s.start for s in resolved), max(s.end for s in resolved))
    return {"start": start, "end": end, "livetime": float(sum(s.livetime for s in resolved))}


def bounds_as_dates(start_ns, end_ns):
    """Run-document dates covering [start_ns, end_ns): documents keep milliseconds, so the
    start is rounded down and the end up, and the data always lies inside them."""
    return from_ns(start_ns // _MS * _MS), from_ns(-(-end_ns // _MS) * _MS)


@dataclass(frozen=True, slots=True)     # one per subrun: no per-instance dict
class SubrunSpec:
    """One regular run inside a superrun: the whole run (ranges None) or sorted time ranges."""
    run_id: str
    ranges: tuple = None
    start: int = 0          # ns; first range start, or the run's start
    end: int = 0

    @property
    def livetime(self):
        if self.ranges is None:
            return self.end - self.start
        return sum(e - s for s, e in self.ranges)


# --- normalising what users pass to define_run ------------------------------------------------
def _ns(value):
    """A time in integer ns; a float that is not a whole number (or a bool) is refused rather
    than silently cut, since 64-bit ns times do not survive a trip through floats."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer() \
            and abs(value) < 2 ** 53:
        return int(value)
    raise ValueError(f"{value!r} is not a whole number of ns")


def _ranges_of(value, superrun, run_id):
    if isinstance(value, str):
        if value != "all":
            raise SuperrunError(f"superrun {superrun}: subrun {run_id} has spec {value!r}; use "
                                f"'all' or a list of (start, end) time ranges in ns")
        return None
    try:
        ranges = [(_ns(s), _ns(e)) for s, e in value]
    except (TypeError, ValueError):
        raise SuperrunError(f"superrun {superrun}: subrun {run_id} has spec {value!r}; use 'all' "
                            f"or a list of (start, end) pairs of integers (ns)") from None
    if not ranges:
        raise SuperrunError(f"superrun {superrun}: subrun {run_id} has an empty list of ranges")
    ranges.sort()
    for s, e in ranges:
        if e <= s:
            raise SuperrunError(f"superrun {superrun}: range ({s}, {e}) of subrun {run_id} "
                                f"does not end after it starts")
    for (s0, e0), (s1, e1) in zip(ranges, ranges[1:]):
        if s1 < e0:
            raise SuperrunError(f"superrun {superrun}: ranges ({s0}, {e0}) and ({s1}, {e1}) of "
                                f"subrun {run_id} overlap")
    return ranges


def normalise_definition(name, data, from_run=None):
    """{run_id: 'all' | [(start, end), ...]} from a list of runs, a dict, or an array/DataFrame."""
    if isinstance(data, (str, bytes)):
        data = [data]
    if hasattr(data, "to_records") and hasattr(data, "columns"):      # pandas DataFrame
        data = data.to_records(index=False)
    if isinstance(data, np.ndarray) and data.dtype.names:
        return _definition_from_rows(name, data, from_run)
    if isinstance(data, dict):
        return {str(r): ("all" if _ranges_of(v, name, r) is None else _ranges_of(v, name, r))
                for r, v in data.items()}
    if isinstance(data, (list, tuple, np.ndarray)):
        runs = [str(r) for r in data]
        seen, repeated = set(), set()
        for r in runs:          # one pass: list.count per run made 10,000 runs take a second
            (repeated if r in seen else seen).add(r)
        duplicates = sorted(repeated)
        if duplicates:
            raise SuperrunError(f"superrun {name}: subruns {duplicates} are listed more than once")
        return {r: "all" for r in runs}
    raise SuperrunError(f"superrun {name}: cannot define subruns from {type(data).__name__}; pass "
                        f"a list of run ids, a dict of time ranges or an array with time/endtime")


def _definition_from_rows(name, rows, from_run):
    from ..kernels import endtimes
    names = rows.dtype.names
    if "time" not in names or not ("endtime" in names or ("length" in names and "dt" in names)):
        raise SuperrunError(f"superrun {name}: rows need 'time' and 'endtime' (or length and dt)")
    if "run_id" in names:
        # strax can give run ids as bytes (run_id_as_bytes=True)
        run_ids = [r.decode() if isinstance(r, bytes) else str(r) for r in rows["run_id"]]
    elif from_run is not None:
        run_ids = [str(from_run)] * len(rows)
    else:
        raise SuperrunError(f"superrun {name}: the rows have no run_id field; pass from_run=...")
    ends = endtimes(rows)
    spec = {}
    for r, s, e in zip(run_ids, rows["time"], ends):
        spec.setdefault(r, []).append((int(s), int(e)))
    return {r: _merge_touching(sorted(v), name, r) for r, v in spec.items()}


def _merge_touching(ranges, name, run_id):
    """Rows (events) may overlap; their union is the superrun's time selection."""
    merged = []
    for s, e in ranges:
        if e <= s:
            raise SuperrunError(f"superrun {name}: a row of run {run_id} at {s} has no duration")
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# --- resolving -----------------------------------------------------------------------------------
def _intersect(ranges, start, end):
    out = [(max(s, start), min(e, end)) for s, e in ranges]
    return [(s, e) for s, e in out if e > s]


def resolve(run_doc, superrun_id, spec=None, _stack=()):
    """Regular-run SubrunSpecs of a superrun, ordered by start; nested superruns expanded.

    run_doc(run_id) returns a run document (raises RunMetadataNotAvailable if unknown).
    """
    if superrun_id in _stack:
        chain = " -> ".join(_stack + (superrun_id,))
        raise SuperrunError(f"superrun {superrun_id} contains itself ({chain}); remove the cycle")
    if spec is None:
        doc = run_doc(superrun_id)
        spec = doc.get("sub_run_spec")
        if not spec:
            raise SuperrunError(f"run {superrun_id} starts with '_' but its run document has no "
                                f"sub_run_spec; define it with st.define_run({superrun_id!r}, [...])")
    result = []
    for run_id, value in spec.items():
        run_id = str(run_id)
        ranges = _ranges_of(value, superrun_id, run_id)
        if is_superrun_id(run_id):
            try:
                inner_specs = resolve(run_doc, run_id, None, _stack + (superrun_id,))
            except RunMetadataNotAvailable:
                raise SuperrunError(
                    f"superrun {superrun_id}: subrun {run_id} is unknown (no superrun of that "
                    f"name is defined). Define it first with st.define_run({run_id!r}, [...])"
                ) from None
            if ranges is not None and inner_specs:
                _check_inside(ranges, inner_specs[0].start, inner_specs[-1].end,
                              superrun_id, f"superrun {run_id}")
            for inner in inner_specs:
                result.extend(_restrict(inner, ranges))
            continue
        try:
            doc = run_doc(run_id)
        except RunMetadataNotAvailable:
            raise SuperrunError(
                f"superrun {superrun_id}: subrun {run_id} is unknown (no run document in any "
                f"frontend with provide_run_metadata=True). Check the run id, or write its run "
                f"document first") from None
        start, end = _doc_bounds(doc, run_id)
        if ranges is None:
            result.append(SubrunSpec(run_id, None, start, end))
            continue
        _check_inside(ranges, start, end, superrun_id, f"subrun {run_id}")
        result.append(SubrunSpec(run_id, tuple(ranges), ranges[0][0], ranges[-1][1]))
    result.sort(key=lambda s: (s.start, s.end))
    for a, b in zip(result, result[1:]):
        if a.run_id == b.run_id:
            raise SuperrunError(f"superrun {superrun_id} contains run {a.run_id} more than once")
        if _overlap(a, b):
            raise SuperrunError(
                f"superrun {superrun_id}: subruns {a.run_id} [{a.start}, {a.end}) and "
                f"{b.run_id} [{b.start}, {b.end}) overlap in time; a superrun's subruns must not")
    return result


def _check_inside(ranges, start, end, superrun_id, what):
    for s, e in ranges:
        if s < start or e > end:
            raise SuperrunError(
                f"superrun {superrun_id}: range ({s}, {e}) lies outside {what}, which runs "
                f"from {start} to {end} ns; choose ranges inside it")


_NESTING = {}      # id(spec) -> (spec, answer, length): the specs asked about most recently


def contains_superruns(sub_run_spec):
    """Whether a sub_run_spec names superruns, whose own definitions may change later.

    One load or key of a superrun asks this several times of the same document's spec; for
    ten thousand subruns each pass costs milliseconds, so the answer is kept per spec object
    (the spec itself is held, so its id cannot be reused while the entry lives).
    """
    if not sub_run_spec:
        return False
    hit = _NESTING.get(id(sub_run_spec))
    if hit is not None and hit[0] is sub_run_spec and len(sub_run_spec) == hit[2]:
        return hit[1]
    answer = _any_superrun_id(sub_run_spec)
    if len(_NESTING) > 32:
        _NESTING.clear()
    _NESTING[id(sub_run_spec)] = (sub_run_spec, answer, len(sub_run_spec))
    return answer


def _any_superrun_id(run_ids):
    """Whether any of run_ids is a superrun's (naming.is_superrun_id), at C speed for the
    string ids run documents hold (ten thousand of them cost a Python call each otherwise)."""
    ids = list(run_ids)
    if all(map(str.__instancecheck__, ids)):
        return any(map(str.startswith, ids, repeat("_")))
    return any(is_superrun_id(r) for r in ids)


def key_spec(sub_run_spec, resolve_specs):
    """What the key of superrun data hashes: its sub_run_spec, as strax does; for a superrun
    that contains superruns, the regular runs and ranges they resolve to, since an inner
    superrun can be redefined without this document changing. resolve_specs() gives the
    resolved SubrunSpecs."""
    if contains_superruns(sub_run_spec):
        return resolved_spec(resolve_specs())
    return sub_run_spec


def resolved_spec(specs):
    """A sub_run_spec of regular runs only, {run_id: 'all' | [[start, end], ...]}, from
    resolved SubrunSpecs (used to name data of superruns that contain superruns)."""
    return {s.run_id: "all" if s.ranges is None else [list(r) for r in s.ranges] for s in specs}


def _overlap(a, b):
    ra = a.ranges or ((a.start, a.end),)
    rb = b.ranges or ((b.start, b.end),)
    return any(s0 < e1 and s1 < e0 for s0, e0 in ra for s1, e1 in rb)


def _restrict(inner, ranges):
    if ranges is None:
        return [inner]
    own = inner.ranges or ((inner.start, inner.end),)
    kept = [r for s, e in own for r in _intersect(ranges, s, e)]
    if not kept:
        return []
    return [SubrunSpec(inner.run_id, tuple(kept), kept[0][0], kept[-1][1])]


def _doc_bounds(doc, run_id):
    if "start" not in doc or "end" not in doc:
        raise SuperrunError(f"run {run_id}: its run document has no start/end, which a superrun "
                            f"needs to order and check its subruns; add them to the document")
    return to_ns(doc["start"]), to_ns(doc["end"])


# --- defining --------------------------------------------------------------------------------------
GATHERED_FIELDS = ("mode", "source", "tags", "comments")


def superrun_document(run_doc, name, data, from_run=None):
    """The run document of a new superrun; raises SuperrunError on any invalid definition."""
    check_superrun_name(name)
    spec = normalise_definition(name, data, from_run)
    if not spec:
        raise SuperrunError(f"superrun {name} has no subruns; pass at least one run id")
    if name in spec:
        raise SuperrunError(f"superrun {name} cannot contain itself")
    resolved = resolve(run_doc, name, spec)
    if not resolved:
        raise SuperrunError(f"superrun {name}: the given ranges select nothing of its subruns")
    # Top-level entries in time order, so the document reads in order and chains in order.
    first_start = {}
    for s in resolved:
        first_start.setdefault(s.run_id, s.start)
    def entry_start(run_id):
        if is_superrun_id(run_id):
            inner = resolve(run_doc, run_id)
            return inner[0].start if inner else 0
        return first_start.get(run_id, 0)
    ordered = sorted(spec, key=entry_start)
    doc = {
        "name": name,
        "sub_run_spec": {r: (spec[r] if spec[r] == "all" else [list(x) for x in spec[r]])
                         for r in ordered},
        **span_fields(resolved),
    }
    docs = [run_doc(s.run_id) for s in resolved]
    for field in GATHERED_FIELDS:
        values, seen = [], set()
        for d in docs:
            v = d.get(field)
            for item in (v if isinstance(v, list) else [v] if v not in (None, "") else []):
                if item in ("", {"name": ""}, {"comment": ""}):
                    continue
                # Items may be dicts (tags): a canonical text stands for each in the set, so
                # gathering stays one pass over the subruns.
                mark = json.dumps(item, sort_keys=True, default=str)
                if mark not in seen:
                    seen.add(mark)
                    values.append(item)
        if values:
            doc[field] = values
    return doc
