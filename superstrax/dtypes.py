"""Field specifications of the standard data types, and helpers that work on any of them.

The specs are plain lists of ``((title, name), type[, shape])`` entries rather than
``np.dtype`` objects, so users can extend them with ``+`` before building a dtype.
Titles, names, types and field order match strax exactly: the ``repr`` of a dtype's
``descr`` is written into data metadata, so any difference would make stored data
unreadable by strax (and strax's data unreadable here).
"""
import ast
import re
import typing as ty

import numpy as np

__all__ = [
    "time_fields", "time_dt_fields", "interval_dtype", "peak_interval_dtype",
    "record_dtype", "hit_dtype", "peak_dtype", "to_numpy_dtype", "endtime", "merged_dtype",
    "raw_record_dtype", "hitlet_dtype", "hitlet_with_data_dtype", "DIGITAL_SUM_WAVEFORM_CHANNEL",
    "DEFAULT_RECORD_LENGTH", "copy_to_buffer", "record_length_from_dtype",
]

# The channel number peaks carry: they are sums over all channels, not one channel's data.
DIGITAL_SUM_WAVEFORM_CHANNEL = -1
DEFAULT_RECORD_LENGTH = 110

_TIME = (("Start time since unix epoch [ns]", "time"), np.int64)
_LENGTH = (("Length of the interval in samples", "length"), np.int32)
_CHANNEL = (("Channel/PMT number", "channel"), np.int16)

time_fields = [
    _TIME,
    (("Exclusive end time since unix epoch [ns]", "endtime"), np.int64),
]

time_dt_fields = [
    _TIME,
    _LENGTH,
    (("Width of one sample [ns]", "dt"), np.int16),
]

interval_dtype = time_dt_fields + [_CHANNEL]

# Summed waveforms are downsampled, so their sample width can exceed what int16 holds.
peak_interval_dtype = [
    _TIME,
    _LENGTH,
    (("Width of one sample [ns]", "dt"), np.int32),
    _CHANNEL,
]


def raw_record_dtype(samples_per_record=DEFAULT_RECORD_LENGTH):
    """Field spec of waveform fragments as the digitizer gives them ('raw_records')."""
    return interval_dtype + [
        (("Length of pulse to which the record belongs (without zero-padding)", "pulse_length"),
         np.int32),
        (("Fragment number in the pulse", "record_i"), np.int16),
        (("Baseline determined by the digitizer (if this is supported)", "baseline"), np.int16),
        # Signed, so values stay representable after a baseline is subtracted.
        (("Waveform data in raw ADC counts", "data"), np.int16, samples_per_record),
    ]


def record_length_from_dtype(dtype) -> int:
    """Samples per record of a waveform dtype: the length of its 'data' field (strax's name;
    straxen's records plugins find their dtype from raw_records' with it)."""
    return int(np.dtype(dtype)["data"].shape[0])


def record_dtype(samples_per_record=DEFAULT_RECORD_LENGTH):
    """Field spec of fixed-length waveform fragments ('records')."""
    return interval_dtype + [
        (("Length of pulse to which the record belongs (without zero-padding)", "pulse_length"),
         np.int32),
        (("Fragment number in the pulse", "record_i"), np.int16),
        (("Integral in ADC counts x samples", "area"), np.int32),
        (("Level of data reduction applied (strax.ReductionLevel enum)", "reduction_level"),
         np.uint8),
        (("Baseline in ADC counts. data = int(baseline) - data_orig", "baseline"), np.float32),
        (("Baseline RMS in ADC counts. data = baseline - data_orig", "baseline_rms"), np.float32),
        (("Multiply data by 2**(this number). Baseline is unaffected.", "amplitude_bit_shift"),
         np.int16),
        (("Waveform data in raw counts above integer part of baseline", "data"),
         np.int16, samples_per_record),
    ]


hit_dtype = interval_dtype + [
    (("Integral [ADC x samples]", "area"), np.float32),
    (("Index of sample in record in which hit starts", "left"), np.int16),
    (("Index of first sample in record just beyond hit (exclusive bound)", "right"), np.int16),
    (("For lone hits, index of sample in record where integration starts", "left_integration"),
     np.int16),
    (("For lone hits, index of first sample beyond integration region", "right_integration"),
     np.int16),
    (("Internal (temporary) index of fragment in which hit was found", "record_i"), np.int32),
    (("ADC threshold applied in order to find hits", "threshold"), np.float32),
    (("Maximum amplitude above baseline [ADC counts]", "height"), np.float32),
    (("Time when hit reach maximum amplitude [ns]", "max_time"), np.int64),
]


def hitlet_dtype():
    """Field spec of hitlets: hit-like intervals with peak-like shape properties."""
    return interval_dtype + [
        (("Total hit area in pe", "area"), np.float32),
        (("Maximum of the PMT pulse in pe/sample", "amplitude"), np.float32),
        (('Position of the Amplitude in ns (minus "time")', "time_amplitude"), np.int16),
        (("Width (in ns) of the central 50% area of the hitlet", "range_50p_area"), np.float32),
        (("Width (in ns) of the central 80% area of the hitlet", "range_80p_area"), np.float32),
        (("Position of the 25% area decile [ns]", "left_area"), np.float32),
        (("Position of the 10% area decile [ns]", "low_left_area"), np.float32),
    ]


def hitlet_with_data_dtype(n_samples=2):
    """hitlet_dtype plus a waveform of `n_samples` (enough for the longest hitlet) and the
    fields peak splitting reads."""
    if n_samples < 2:
        raise ValueError(f"hitlet_with_data_dtype needs n_samples >= 2, got {n_samples}")
    return hitlet_dtype() + [
        (("Hitlet data in PE/sample with ZLE (only the first length samples are filled)",
          "data"), np.float32, n_samples),
        (("Dummy max_gap required for splitting", "max_gap"), np.int32),
        (("Dummy max_diff required for splitting", "max_diff"), np.int32),
        (("Dummy min_diff required for splitting", "min_diff"), np.int32),
        (("Dummy first_channel required for splitting", "first_channel"), np.int16),
        (("Dummy last_channel required for splitting", "last_channel"), np.int16),
        (("Maximum interior goodness of split", "max_goodness_of_split"), np.float32),
    ]


def peak_dtype(n_channels=100, n_sum_wv_samples=200, n_widths=11, hits_timing=True,
               store_data_top=True, store_data_start=True):
    """Field spec of peaks (summed waveforms over channels)."""
    if n_channels == 1:
        # strax refuses this too; matching it keeps plugins written for strax behaving
        # the same here instead of producing peaks strax could never have made.
        raise ValueError("peak_dtype needs n_channels > 1: a single-channel detector "
                         "does not fit the per-channel fields of peaks")
    wv_title = "Waveform data in PE/sample (not PE/ns!)"
    fields = peak_interval_dtype + [
        (("Classification of the peak(let)", "type"), np.int8),
        (("Integral across channels [PE]", "area"), np.float32),
        (("Fraction of area seen by the top array", "area_fraction_top"), np.float32),
        (("Integral per channel [PE]", "area_per_channel"), np.float32, n_channels),
        # The trailing space is part of strax's title, and so of the stored dtype string.
        (("Number of hits contributing at least one sample to the peak ", "n_hits"), np.int32),
    ]
    # strax's order: data_top before data; data_start right after data_top when there is
    # one, else right after data.
    waveforms = [((wv_title, "data"), np.float32, n_sum_wv_samples)]
    if store_data_top:
        waveforms.insert(0, ((wv_title + ", top array", "data_top"), np.float32,
                             n_sum_wv_samples))
    if store_data_start:
        waveforms.insert(1, ((wv_title + ", starting not downsampled samples", "data_start"),
                             np.float32, n_sum_wv_samples))
    fields += waveforms + [
        (("Weighted average center time of the peak [ns]", "center_time"), np.int64),
        (("Weighted relative median time of the peak [ns]", "median_time"), np.float32),
        (("Peak widths in range of central area fraction [ns]", "width"), np.float32, n_widths),
        (("Peak widths: time between nth and 5th area decile [ns]", "area_decile_from_midpoint"),
         np.float32, n_widths),
        (("Does the channel reach ADC saturation?", "saturated_channel"), np.int8, n_channels),
        (("Total number of saturated channels", "n_saturated_channels"), np.int16),
        (("Channel within tight range of mean", "tight_coincidence"), np.int16),
        (("Largest gap between hits inside peak [ns]", "max_gap"), np.int32),
        (("Maximum interior goodness of split", "max_goodness_of_split"), np.float32),
    ]
    if hits_timing:
        fields += [
            (("Largest time difference between apexes of hits inside peak [ns]", "max_diff"),
             np.int32),
            (("Smallest time difference between apexes of hits inside peak [ns]", "min_diff"),
             np.int32),
            (("First channel/PMT number inside peak (sorted by apexes of hits)", "first_channel"),
             np.int16),
            (("Last channel/PMT number inside peak (sorted by apexes of hits)", "last_channel"),
             np.int16),
        ]
    return fields


def _normalise_field(entry):
    # (name, type, comment) is the plugin shorthand; numpy itself reads a third element
    # as a shape, never as a string, so a str in that slot is unambiguous.
    if (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str)
            and isinstance(entry[2], str)):
        name, type_, comment = entry
        return ((comment, name), type_)
    # A bare name, or a 1-tuple of one, is a field whose type was left out: strax makes it a
    # float.
    if isinstance(entry, str):
        return (entry, np.float64)
    if isinstance(entry, tuple) and len(entry) == 1 and isinstance(entry[0], str):
        return (entry[0], np.float64)
    return entry


def to_numpy_dtype(spec):
    """An ``np.dtype`` from a dtype, or from a list of field entries in any of the forms
    ``(name, type, comment)``, ``(name, type[, shape])`` or ``((title, name), type[, shape])``."""
    if isinstance(spec, np.dtype):
        return spec
    # A tuple such as ('<i2', (110,)) is one subarray type, not a list of fields.
    is_field_list = isinstance(spec, list) or (
        isinstance(spec, tuple) and len(spec) > 0
        and all(isinstance(e, (tuple, list)) for e in spec))
    if is_field_list:
        fields = [_normalise_field(tuple(e) if isinstance(e, list) else e) for e in spec]
        try:
            return np.dtype(fields)
        except (TypeError, ValueError) as e:
            # Find the culprit so the message points at one entry, not the whole list.
            for entry in fields:
                try:
                    np.dtype([entry])
                except (TypeError, ValueError):
                    raise type(e)(f"Invalid field specification {entry!r}: {e}") from e
            raise type(e)(f"Invalid dtype specification {spec!r}: {e}") from e
    try:
        return np.dtype(spec)
    except (TypeError, ValueError) as e:
        raise type(e)(f"Cannot make a numpy dtype from {spec!r}: {e}") from e


def endtime(x):
    """Exclusive end time of each row (array) or of one row (np.void).

    Uses the ``endtime`` field when there is one, else ``time + length * dt``. The
    product is taken in int64: length (int32) times dt (int16) would otherwise be
    computed in int32 and wrap for intervals of 2**31 ns (about 2 s) or more.
    """
    names = x.dtype.names or ()
    if "endtime" in names:
        return x["endtime"]
    if not ("time" in names and "length" in names and "dt" in names):
        raise ValueError(f"Cannot compute endtime: the dtype has neither an 'endtime' field "
                         f"nor 'time', 'length' and 'dt' (fields: {list(names)})")
    if isinstance(x, np.void):
        return np.int64(x["time"]) + np.int64(x["length"]) * np.int64(x["dt"])
    return (x["time"].astype(np.int64, copy=False)
            + x["length"].astype(np.int64) * x["dt"].astype(np.int64, copy=False))


def merged_dtype(dtypes):
    """One dtype holding the fields of all of ``dtypes`` (dtypes or specs), in order of
    first appearance. A field present in several inputs is taken from the first one, as
    data types of one kind share fields such as ``time`` and ``endtime``."""
    seen = set()
    fields = []
    for spec in dtypes:
        dt = to_numpy_dtype(spec)
        for name in dt.names or ():
            if name in seen:
                continue
            seen.add(name)
            info = dt.fields[name]
            field_type = info[0]
            title = info[2] if len(info) > 2 else None
            fields.append(((title, name), field_type) if title is not None else (name, field_type))
    return np.dtype(fields)


# Rows from which copy_to_buffer compiles a row-by-row copy: numpy copies one field at a
# time through strided views (slow for wide, unaligned rows), a compiled loop copies each row
# in one pass, but compiling costs about a second, which only pays off on large arrays or on
# a copy that has been compiled already.
COMPILE_COPY_FROM_ROWS = 100_000
_compiled_copies: dict = {}


def copy_to_buffer(source: np.ndarray, buffer: np.ndarray, func_name: str,
                   field_names: ty.Optional[ty.Tuple[str, ...]] = None):
    """Copy the fields `field_names` (default: all fields both have) of `source` into
    `buffer`, row for row, converting types as assignment does.

    `func_name` must start with ``_``, as strax requires. strax compiles one copy function
    per name and buffer dtype; here one is compiled per (source dtype, buffer dtype, fields),
    whatever the name, once an array is large enough for that to pay (smaller ones are copied
    with numpy, with the same result). So the fields asked for are always the fields copied.
    """
    if np.shape(source) != np.shape(buffer):
        raise ValueError(f"copy_to_buffer: the source has shape {np.shape(source)} but the "
                         f"buffer {np.shape(buffer)}; they must be the same length")
    if not isinstance(func_name, str) or not func_name.startswith("_"):
        raise ValueError(f"copy_to_buffer: func_name {func_name!r} must start with '_'")
    if field_names is None:
        field_names = tuple(n for n in source.dtype.names if n in buffer.dtype.names)
    field_names = tuple(field_names)
    missing = [n for n in field_names if n not in buffer.dtype.names]
    if missing:
        raise ValueError(f"copy_to_buffer: fields {missing} are not in the buffer's dtype "
                         f"(its fields are {list(buffer.dtype.names)})")
    for name in field_names:
        if source.dtype[name].shape != buffer.dtype[name].shape:
            raise ValueError(f"copy_to_buffer: field {name!r} has shape "
                             f"{source.dtype[name].shape} in the source but "
                             f"{buffer.dtype[name].shape} in the buffer")
    key = (source.dtype, buffer.dtype, field_names)
    compiled = _compiled_copies.get(key)
    if compiled is None and len(source) >= COMPILE_COPY_FROM_ROWS and _compilable(key):
        compiled = _compiled_copies[key] = _compile_copy(buffer.dtype, field_names)
    if compiled is not None and np.ndim(source) == 1:
        compiled(source, buffer)
    else:
        copy_fields_numpy(source, buffer, field_names)


def copy_fields_numpy(source, buffer, field_names):
    """The numpy twin of the compiled copy: one assignment per field."""
    for name in field_names:
        buffer[name] = source[name]


def _compilable(key):
    source_dtype, buffer_dtype, _ = key
    return all(not dt.hasobject and all(dt[n].base.isnative for n in dt.names)
               for dt in (source_dtype, buffer_dtype))


def _compile_copy(buffer_dtype, field_names):
    """A numba function copying `field_names` row by row. Record fields are only addressable
    by literal names in numba, so the loop body is written out for these fields; the names
    are validated field names and go in as repr() literals."""
    import numba
    body = ["def copy(source, buffer):",
            "    for i in range(len(source)):",
            "        s = source[i]",
            "        b = buffer[i]"]
    for name in field_names:
        target = f"b[{name!r}][:]" if buffer_dtype[name].shape else f"b[{name!r}]"
        body.append(f"        {target} = s[{name!r}]")
    if not field_names:
        body.append("        pass")
    namespace: dict = {}
    exec(compile("\n".join(body), "<copy_to_buffer>", "exec"), namespace)
    return numba.njit(nogil=True)(namespace["copy"])


# --- reading a dtype back from metadata ------------------------------------------------------
# Metadata stores a dtype as the text of its description (repr of a list of tuples of strings
# and integers). ast.literal_eval of a ~100-field description takes ~1.5 ms, most of a fresh
# process's first load of small data; a tokenizer for just those literals takes a tenth.
_DESCR_TOKEN = re.compile(r"""\s*(?:('[^'\\]*'|"[^"\\]*")|(-?(?:0|[1-9][0-9]*))|([()\[\],])|(\S))""")


def descr_literal(text: str):
    """The Python value of a dtype description's text, exactly as ast.literal_eval gives it.
    Lists, tuples, plain strings and integers are read here; anything else (escapes, other
    literals, odd spacing of commas) is handed to ast.literal_eval, which also raises for
    text that is no literal."""
    try:
        if isinstance(text, str) and not text[:1].isspace():
            fields = _plain_fields(text)
            return fields if fields is not None else _read_descr(text)
    except _NotPlain:
        pass
    return ast.literal_eval(text)


# One field of a description as repr writes it: ('name', 'type') or (('title', 'name'),
# 'type'), optionally with a shape, '(110,)' or '(2, 3)'; strings without quotes or escapes.
_S = r"'([^'\\\n]*)'"
_N = r"(?:0|[1-9][0-9]*)"
_PLAIN_FIELD = re.compile(rf"\((?:{_S}|\({_S}, {_S}\)), {_S}"
                          rf"(?:, \((?:({_N}),|({_N}(?:, {_N})+))\))?\)(, |\]$)")


def _plain_fields(text):
    """The description read one field per match, when every field has the plain form (all
    that superstrax and strax write); None otherwise."""
    if not text.startswith("[(") or not text.endswith(")]"):
        return None
    out, pos, match = [], 1, _PLAIN_FIELD.match
    while True:
        m = match(text, pos)
        if m is None:
            return None
        name, title, name2, kind, dim, dims, sep = m.groups()
        name = name if name is not None else (title, name2)
        if dim is not None:
            out.append((name, kind, (int(dim),)))
        elif dims is not None:
            out.append((name, kind, tuple(int(d) for d in dims.split(", "))))
        else:
            out.append((name, kind))
        if sep == "]":
            return out
        pos = m.end()


class _NotPlain(Exception):
    pass


def _read_descr(text):
    stack = []                       # [items, closing bracket, comma seen] per open bracket
    items, closer, comma = [], None, False
    expect_item = True               # after '(' '[' or ',': an item or a closing bracket
    done, result = False, None
    for string, number, punct, other in _DESCR_TOKEN.findall(text):
        if other or done:
            raise _NotPlain
        if string or number:
            if not expect_item or not stack:
                raise _NotPlain
            items.append(string[1:-1] if string else int(number))
            expect_item = False
        elif punct in "([":
            if not expect_item:
                raise _NotPlain
            stack.append((items, closer, comma))
            items, closer, comma = [], ")" if punct == "(" else "]", False
            expect_item = True
        elif punct == ",":
            if expect_item or not stack:
                raise _NotPlain
            comma, expect_item = True, True
        else:                        # ')' or ']'
            if punct != closer:      # (a trailing comma, as in '(110,)', is fine)
                raise _NotPlain
            if closer == "]":
                value = items
            elif comma or not items:
                value = tuple(items)
            else:
                value = items[0]     # '(x)' is x, as in Python
            items, closer, comma = stack.pop()
            if stack:
                items.append(value)
                expect_item = False
            else:
                done, result = True, value
    if not done:
        raise _NotPlain
    return result


def dtype_from_text(text: str) -> np.dtype:
    """The numpy dtype of a description's text as metadata stores it (repr of descr)."""
    return np.dtype(descr_literal(text))
