"""Checks of what users and plugins hand in, at the boundaries where it enters the library.

Pure functions: each returns the value in the form the library uses (a str run id, a tuple
of int ns), or raises InvalidArgument (a ValueError) naming the run, the data type and what
to pass instead. Callers (loading, the Context, DataDirectory, plugins) call them in one line.
"""
import math
import numbers

import numpy as np

from .errors import InvalidArgument, PluginError

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
# File systems limit one name to 255 bytes. The longest entry made for a key is its temp
# folder '<key>_temp-<12 hex>' (or '<key>.replaced-<8 hex>'), 18 bytes more than the key.
MAX_NAME_BYTES = 255
KEY_NAME_MARGIN = 18

__all__ = ["run_id_text", "check_run_id", "check_run_ids", "check_targets", "check_time_range",
           "seconds_to_time_range", "check_key_name_length", "check_output_rows", "check_acyclic", "INT64_MIN",
           "INT64_MAX"]


def _what(run_id, data_type):
    parts = []
    if run_id is not None:
        parts.append(f"run {run_id}")
    if data_type:
        try:
            t = data_type if isinstance(data_type, str) else "+".join(map(str, data_type))
        except TypeError:
            t = repr(data_type)
        parts.append(t)
    return " ".join(parts) or "this call"


def run_id_text(run_id) -> str:
    """A run id as text: bytes (strax's run_id_as_bytes arrays hold them) decoded as UTF-8
    (so b'0' is run '0'), anything else as str()."""
    if isinstance(run_id, (bytes, np.bytes_)):
        try:
            return bytes(run_id).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(f"run id {run_id!r} is bytes that are not UTF-8 text; pass "
                                  f"the run's name as a string") from None
    return str(run_id)


def check_run_id(run_id, data_type=None) -> str:
    """A run id as the str the library uses: a non-empty str, an int (strax allows numeric
    ids) or bytes of UTF-8 text (decoded, as strax's get_iter does); anything else (None, '',
    floats, bools, objects) is refused."""
    if isinstance(run_id, (bytes, np.bytes_)):
        run_id = run_id_text(run_id)
    if isinstance(run_id, (bool, np.bool_)) or run_id is None:
        raise InvalidArgument(f"run id {run_id!r} ({_what(None, data_type)}) is not a run id; "
                              f"pass the run's name as a string, e.g. '012345'")
    if isinstance(run_id, (numbers.Integral, np.integer)):
        run_id = str(int(run_id))
    if isinstance(run_id, np.str_):
        run_id = str(run_id)
    if not isinstance(run_id, str):
        raise InvalidArgument(f"run id {run_id!r} ({_what(None, data_type)}) is a "
                              f"{type(run_id).__name__}; pass the run's name as a string")
    if not run_id.strip():
        raise InvalidArgument(f"run id {run_id!r} ({_what(None, data_type)}) is empty; pass "
                              f"the run's name")
    if "\0" in run_id:
        raise InvalidArgument(f"run id {run_id!r} contains a NUL character; pass the run's name")
    return run_id


def check_run_ids(run_ids, data_type=None) -> list:
    """Each run id of a list (tuple, array) as check_run_id gives it, all checked before any
    is used; the error names the list, the bad entry and its position."""
    checked = []
    for i, r in enumerate(run_ids):
        try:
            checked.append(check_run_id(r, data_type))
        except InvalidArgument:
            plain = [x.item() if isinstance(x, np.generic) else x for x in run_ids]
            shown, r = plain[:6] + (["..."] if len(plain) > 6 else []), plain[i]
            why = (f"a {type(r).__name__}" if not isinstance(r, str)
                   else "it is empty" if not r.strip() else "it holds a NUL character")
            raise InvalidArgument(f"run ids {shown!r} ({_what(None, data_type)}): entry {i} "
                                  f"({r!r}) is not a run id ({why}); pass a list of run names "
                                  f"as strings, e.g. ['012345', '012346']") from None
    return checked


def check_targets(targets, run_id=None, allow_empty=False) -> tuple:
    """Data type names as a tuple of str."""
    if isinstance(targets, str):
        targets = (targets,)
    try:
        targets = tuple(targets)
    except TypeError:
        raise InvalidArgument(f"{_what(run_id, None)}: data types {targets!r} are not a name or "
                              f"a list of names; pass e.g. 'peaks' or ('peaks', 'events')") from None
    bad = [t for t in targets if not isinstance(t, str) or not t]
    if bad or (not targets and not allow_empty):
        raise InvalidArgument(f"{_what(run_id, None)}: {targets!r} is not a data type name or a "
                              f"list of them; pass e.g. 'peaks' or ('peaks', 'events')")
    return targets


def _as_ns(value, which, run_id, data_type):
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{_what(run_id, data_type)}: time_range {which} {value!r} is a "
                              f"bool; give ns since the epoch as an integer")
    if isinstance(value, (numbers.Integral, np.integer)):
        ns = int(value)
    elif isinstance(value, (numbers.Real, np.floating)):
        f = float(value)
        if not math.isfinite(f):
            raise InvalidArgument(f"{_what(run_id, data_type)}: time_range {which} is {f}; "
                                  f"give a finite time in ns")
        if not f.is_integer():
            raise InvalidArgument(f"{_what(run_id, data_type)}: time_range {which} {f!r} is not "
                                  f"a whole number of ns; round it (times are integer ns)")
        ns = int(f)
    else:
        raise InvalidArgument(f"{_what(run_id, data_type)}: time_range {which} {value!r} is a "
                              f"{type(value).__name__}; give ns since the epoch as an integer")
    if not INT64_MIN <= ns <= INT64_MAX:
        raise InvalidArgument(f"{_what(run_id, data_type)}: time_range {which} {ns} does not fit "
                              f"in int64 ns")
    return ns


def _pair(value, name, run_id, data_type):
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        raise InvalidArgument(f"{_what(run_id, data_type)}: {name} must be a pair (start, end), "
                              f"got {value!r}")
    if len(value) != 2:
        raise InvalidArgument(f"{_what(run_id, data_type)}: {name} must be a pair (start, end), "
                              f"got {len(value)} values: {value!r}")
    return value[0], value[1]


def check_time_range(time_range, run_id=None, data_type=None):
    """None, or (start, end) in int ns with start <= end."""
    if time_range is None:
        return None
    a, b = _pair(time_range, "time_range", run_id, data_type)
    start = _as_ns(a, "start", run_id, data_type)
    end = _as_ns(b, "end", run_id, data_type)
    if end < start:
        raise InvalidArgument(f"{_what(run_id, data_type)}: time_range ({start}, {end}) ends "
                              f"before it starts")
    return start, end


def seconds_to_time_range(seconds_range, run_start, run_id=None, data_type=None):
    """(start, end) ns of a seconds_range counted from run_start (ns)."""
    a, b = _pair(seconds_range, "seconds_range", run_id, data_type)
    out = []
    for which, s in (("start", a), ("end", b)):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (numbers.Real, np.number)):
            raise InvalidArgument(f"{_what(run_id, data_type)}: seconds_range {which} {s!r} is "
                                  f"not a number of seconds")
        if not math.isfinite(float(s)):
            raise InvalidArgument(f"{_what(run_id, data_type)}: seconds_range {which} is "
                                  f"{float(s)}; give a finite number of seconds")
        if isinstance(s, (numbers.Integral, np.integer)):
            ns = run_start + 1_000_000_000 * int(s)
        else:
            approx = run_start + 1e9 * float(s)
            ns = int(approx) if math.isfinite(approx) and abs(approx) < 2.0 ** 63 else None
            if ns is not None:
                ns = run_start + int(1e9 * float(s))
        if ns is None or not INT64_MIN <= ns <= INT64_MAX:
            raise InvalidArgument(f"{_what(run_id, data_type)}: seconds_range {which} {s!r} is "
                                  f"beyond the int64 ns time axis (about 292 years)")
        out.append(ns)
    return check_time_range(tuple(out), run_id, data_type)


def check_key_name_length(name: str, run_id=None, data_type=None):
    """Refuse keys whose entries would exceed the file system's limit on one name."""
    size = len(name.encode("utf-8", "surrogateescape"))
    excess = size + KEY_NAME_MARGIN - MAX_NAME_BYTES
    if excess > 0:
        raise InvalidArgument(
            f"{_what(run_id, data_type)}: its data folder name ({size} bytes) with the suffixes "
            f"of its temp folder would exceed the file system's {MAX_NAME_BYTES}-byte limit "
            f"on one name; use a run id at least {excess} characters shorter")
    return name


def check_output_rows(data, plugin, data_type):
    """Rows a plugin returns must have an end at or after their start."""
    if not isinstance(data, np.ndarray) or not len(data) or not data.dtype.names:
        return
    names = data.dtype.names
    if "length" in names:
        bad = np.flatnonzero(data["length"] < 0)
        what = "a negative length"
    elif "endtime" in names and "time" in names:
        bad = np.flatnonzero(data["endtime"] < data["time"])
        what = "an endtime before its time"
    else:
        return
    if len(bad):
        raise PluginError(f"{type(plugin).__name__} (run {getattr(plugin, 'run_id', '?')}) "
                          f"returned {data_type} with {len(bad)} row(s) of {what} (first: row "
                          f"{bad[0]}); fix the plugin's compute()")


def check_acyclic(data_type, depends_on):
    """Raise PluginError naming the cycle if data_type depends (through the plugins that
    provide its inputs, `depends_on(d) -> names`) on itself. Iterative: deep chains are fine."""
    path, on_path, done = [], set(), set()
    stack = [(data_type, iter(depends_on(data_type)))]
    path.append(data_type)
    on_path.add(data_type)
    while stack:
        node, deps = stack[-1]
        for d in deps:
            if d in on_path:
                cycle = path[path.index(d):] + [d]
                raise PluginError(f"{data_type}: the plugins' dependencies form a cycle "
                                  f"({' -> '.join(cycle)}); a data type cannot be made from "
                                  f"itself. Fix depends_on of one of these plugins")
            if d not in done:
                try:
                    children = iter(depends_on(d))
                except Exception:        # unknown data type: reported where it is used
                    done.add(d)
                    continue
                stack.append((d, children))
                path.append(d)
                on_path.add(d)
                break
        else:
            stack.pop()
            on_path.discard(path.pop())
            done.add(node)
