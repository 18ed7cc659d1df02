"""The run registry: run documents from the frontends, and selecting runs in a DataFrame."""
import datetime
import fnmatch
import re

import numpy as np
import pandas as pd

from ..errors import RunMetadataNotAvailable
from ..naming import is_superrun_id

DEFAULT_RUN_FIELDS = ("name", "number", "mode", "source", "tags")


def run_metadata(frontends, run_id, projection=None):
    """The run document of run_id from the first frontend that provides run metadata."""
    tried = []
    for fe in frontends:
        if not fe.stores_run_documents:
            continue
        try:
            return fe.run_metadata(str(run_id), projection=projection)
        except RunMetadataNotAvailable:
            tried.append(repr(fe))
    where = ", ".join(tried) if tried else "no frontend has provide_run_metadata=True"
    raise RunMetadataNotAvailable(
        f"No run document for run {run_id} (looked in: {where}). Write one, or create the "
        f"storage with provide_run_metadata=True")


def _joined(value, key=None):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    items = []
    for v in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(v, dict):
            v = v.get(key or "name", "")
        if v not in ("", None) and str(v) not in items:
            items.append(str(v))
    return ",".join(items)


def scan_runs(frontends, store_fields=()):
    """One row per run (regular and superrun) known to any frontend, first frontend wins."""
    fields = set(DEFAULT_RUN_FIELDS) | set(store_fields)
    rows, seen = [], set()
    for fe in frontends:
        if not hasattr(fe, "scan_runs"):
            continue
        for doc in fe.scan_runs(fields):
            name = str(doc.get("name", ""))
            if not name or name in seen:
                continue
            seen.add(name)
            row = {"name": name}
            superrun = is_superrun_id(name)
            number = doc.get("number")
            if number is None and not superrun:
                try:
                    number = int(name)
                except ValueError:
                    number = None
            row["number"] = np.nan if number is None else number
            row["mode"] = _joined(doc.get("mode"))
            row["source"] = _joined(doc.get("source"))
            row["tags"] = _joined(doc.get("tags"), "name")
            for f in store_fields:
                if f in ("name", "number", "mode", "source", "tags"):
                    continue
                value = doc.get(f)
                if isinstance(value, datetime.datetime) and value.tzinfo is not None:
                    value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
                if f == "livetime" and value is None and "start" in doc and "end" in doc:
                    value = doc["end"] - doc["start"]
                elif f == "livetime" and isinstance(value, (int, float)):
                    value = datetime.timedelta(microseconds=value / 1e3)   # stored in ns
                row[f] = value
            rows.append(row)
    columns = ["name", "number", "mode", "source", "tags"] + [
        f for f in store_fields if f not in DEFAULT_RUN_FIELDS]
    df = pd.DataFrame(rows, columns=columns)
    if len(df) and df["number"].notna().all():
        df["number"] = df["number"].astype(np.int64)
    else:
        df["number"] = df["number"].astype(float)
    return df


def filter_runs(df, run_mode=None, run_id=None, include_tags=None, exclude_tags=None,
                pattern_type="fnmatch", superrun_modes=None):
    """Rows of df matching the filters; superruns match a mode if any subrun does."""
    def matches(value, pattern):
        if pattern_type == "re":
            return re.fullmatch(pattern, value) is not None
        return fnmatch.fnmatch(value, pattern)

    def any_match(values, patterns):
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        return any(matches(v, p) for v in values for p in patterns)

    keep = np.ones(len(df), dtype=bool)
    if run_mode is not None:
        keep &= np.array([any_match(m.split(",") if m else [""], run_mode) for m in df["mode"]],
                         dtype=bool)
    if run_id is not None:
        ids = [run_id] if isinstance(run_id, str) else [str(r) for r in run_id]
        keep &= np.array([any(matches(n, p) for p in ids) for n in df["name"]], dtype=bool)
    if include_tags is not None:
        keep &= np.array([any_match(t.split(",") if t else [], include_tags) for t in df["tags"]],
                         dtype=bool)
    if exclude_tags is not None:
        keep &= ~np.array([any_match(t.split(",") if t else [], exclude_tags)
                           for t in df["tags"]], dtype=bool)
    return df[keep].reset_index(drop=True)
