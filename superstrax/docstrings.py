"""Parameter descriptions shared by docstrings; strax users import ``select_docs`` from
``strax.context`` to describe functions that take get_array's selection arguments."""

__all__ = ["select_docs"]

select_docs = """
:param selection: which rows to keep: a query string over the data's fields (for example
    "(area > 10) & (n_hits >= 3)"), a sequence of such strings (all must hold), or a function
    taking the structured array and returning a boolean mask.
:param keep_columns: field names to keep; all others are dropped.
:param drop_columns: field names to leave out (not together with keep_columns).
:param time_range: (start, end) in ns since the unix epoch; end is exclusive.
:param seconds_range: (start, end) in seconds since the start of the run.
:param time_within: a row of data (for example one event) whose time and endtime give the
    time range.
:param time_selection: how rows relate to the time range: 'fully_contained' (default; the
    row lies inside it), 'touching' (the row overlaps it) or 'skip' (no time selection).
:param chunk_number: a dict from data type to consecutive chunk numbers, to process only
    those stored chunks of an input; what is made from them is stored under a key of its own
    (see Context.merge_per_chunk_storage).
:param progress_bar: show a progress bar while loading.
:param multi_run_progress_bar: show a progress bar over the runs when loading several.
"""
