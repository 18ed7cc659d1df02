import numpy as np
import pytest

from superstrax.dtypes import (endtime, hit_dtype, interval_dtype, merged_dtype, peak_dtype,
                               peak_interval_dtype, record_dtype, time_dt_fields, time_fields,
                               to_numpy_dtype)

# Copied from the dtype line of the seed tutorial's get_meta('2', 'records') output.
TUTORIAL_RECORD_DTYPE = (
    "[(('Start time since unix epoch [ns]', 'time'), '<i8'), "
    "(('Length of the interval in samples', 'length'), '<i4'), "
    "(('Width of one sample [ns]', 'dt'), '<i2'), "
    "(('Channel/PMT number', 'channel'), '<i2'), "
    "(('Length of pulse to which the record belongs (without zero-padding)', 'pulse_length'), '<i4'), "
    "(('Fragment number in the pulse', 'record_i'), '<i2'), "
    "(('Integral in ADC counts x samples', 'area'), '<i4'), "
    "(('Level of data reduction applied (strax.ReductionLevel enum)', 'reduction_level'), '|u1'), "
    "(('Baseline in ADC counts. data = int(baseline) - data_orig', 'baseline'), '<f4'), "
    "(('Baseline RMS in ADC counts. data = baseline - data_orig', 'baseline_rms'), '<f4'), "
    "(('Multiply data by 2**(this number). Baseline is unaffected.', 'amplitude_bit_shift'), '<i2'), "
    "(('Waveform data in raw counts above integer part of baseline', 'data'), '<i2', (110,))]")


def test_record_dtype_string_matches_tutorial():
    assert repr(np.dtype(record_dtype()).descr) == TUTORIAL_RECORD_DTYPE


def test_tutorial_file_has_that_dtype_string():
    # Guards the constant above against typos by checking it against the seed file itself.
    from pathlib import Path
    seed = Path("/work/shared/seed/superruns-tutorial.txt")
    if not seed.exists():
        pytest.skip("seed tutorial not available")
    assert TUTORIAL_RECORD_DTYPE in seed.read_text()


def test_specs_are_lists_that_extend_with_plus():
    for spec in (time_fields, time_dt_fields, interval_dtype, peak_interval_dtype, hit_dtype,
                 record_dtype(), peak_dtype()):
        assert isinstance(spec, list)
    extended = np.dtype(record_dtype() + [(("My extra field", "extra"), np.float64)])
    assert extended.names[-1] == "extra"
    assert extended.itemsize == 257 + 8
    # Calling again must give a fresh list, so extending one never leaks into others.
    assert len(record_dtype()) == 12


@pytest.mark.parametrize("spec, size", [
    (time_fields, 16), (time_dt_fields, 14), (interval_dtype, 16), (peak_interval_dtype, 18),
    (hit_dtype, 48), (record_dtype(), 257), (peak_dtype(), 3055),
])
def test_itemsizes(spec, size):
    assert np.dtype(spec).itemsize == size


def test_time_fields_titles():
    dt = np.dtype(time_fields)
    assert dt.names == ("time", "endtime")
    assert dt.fields["time"][2] == "Start time since unix epoch [ns]"
    assert dt.fields["endtime"][2] == "Exclusive end time since unix epoch [ns]"
    assert np.dtype(time_dt_fields).names == ("time", "length", "dt")
    assert np.dtype(time_dt_fields)["dt"] == np.int16
    assert np.dtype(peak_interval_dtype)["dt"] == np.int32


def test_record_dtype_samples():
    dt = np.dtype(record_dtype(200))
    assert dt["data"].shape == (200,)
    assert dt.itemsize == 257 + 2 * 90


def test_hit_dtype_fields():
    dt = np.dtype(hit_dtype)
    assert dt.names == ("time", "length", "dt", "channel", "area", "left", "right",
                        "left_integration", "right_integration", "record_i", "threshold",
                        "height", "max_time")
    assert dt["record_i"] == np.int32 and dt["area"] == np.float32


PEAK_FIELDS = [
    ("time", "<i8", "Start time since unix epoch [ns]"),
    ("length", "<i4", "Length of the interval in samples"),
    ("dt", "<i4", "Width of one sample [ns]"),
    ("channel", "<i2", "Channel/PMT number"),
    ("type", "|i1", "Classification of the peak(let)"),
    ("area", "<f4", "Integral across channels [PE]"),
    ("area_fraction_top", "<f4", "Fraction of area seen by the top array"),
    ("area_per_channel", "<f4", "Integral per channel [PE]"),
    ("n_hits", "<i4", "Number of hits contributing at least one sample to the peak "),
    ("data_top", "<f4", "Waveform data in PE/sample (not PE/ns!), top array"),
    ("data_start", "<f4",
     "Waveform data in PE/sample (not PE/ns!), starting not downsampled samples"),
    ("data", "<f4", "Waveform data in PE/sample (not PE/ns!)"),
    ("center_time", "<i8", "Weighted average center time of the peak [ns]"),
    ("median_time", "<f4", "Weighted relative median time of the peak [ns]"),
    ("width", "<f4", "Peak widths in range of central area fraction [ns]"),
    ("area_decile_from_midpoint", "<f4", "Peak widths: time between nth and 5th area decile [ns]"),
    ("saturated_channel", "|i1", "Does the channel reach ADC saturation?"),
    ("n_saturated_channels", "<i2", "Total number of saturated channels"),
    ("tight_coincidence", "<i2", "Channel within tight range of mean"),
    ("max_gap", "<i4", "Largest gap between hits inside peak [ns]"),
    ("max_goodness_of_split", "<f4", "Maximum interior goodness of split"),
    ("max_diff", "<i4", "Largest time difference between apexes of hits inside peak [ns]"),
    ("min_diff", "<i4", "Smallest time difference between apexes of hits inside peak [ns]"),
    ("first_channel", "<i2", "First channel/PMT number inside peak (sorted by apexes of hits)"),
    ("last_channel", "<i2", "Last channel/PMT number inside peak (sorted by apexes of hits)"),
]


def test_peak_dtype_fields_order_titles_types():
    dt = np.dtype(peak_dtype())
    assert len(dt.names) == 25
    assert list(dt.names) == [f[0] for f in PEAK_FIELDS]
    for name, type_str, title in PEAK_FIELDS:
        sub, _, got_title = dt.fields[name]
        assert got_title == title, name
        assert (sub.base if sub.shape else sub).str == type_str, name
    assert dt["area_per_channel"].shape == (100,)
    assert dt["saturated_channel"].shape == (100,)
    assert dt["data"].shape == dt["data_top"].shape == dt["data_start"].shape == (200,)
    assert dt["width"].shape == dt["area_decile_from_midpoint"].shape == (11,)


def test_peak_dtype_options():
    dt = np.dtype(peak_dtype(n_channels=10, n_sum_wv_samples=50, n_widths=3, hits_timing=False,
                             store_data_top=False, store_data_start=False))
    assert "data_top" not in dt.names and "data_start" not in dt.names
    assert "max_diff" not in dt.names and dt.names[-1] == "max_goodness_of_split"
    assert dt["area_per_channel"].shape == (10,)
    assert dt["data"].shape == (50,)
    assert dt["width"].shape == (3,)
    assert len(dt.names) == 25 - 2 - 4


def test_peak_dtype_single_channel_refused():
    with pytest.raises(ValueError, match="n_channels"):
        peak_dtype(n_channels=1)


def test_to_numpy_dtype_comment_triples():
    dt = to_numpy_dtype([("time", np.int64, "Start time"), ("area", np.float32, "Area [PE]")])
    assert dt.names == ("time", "area")
    assert dt.fields["time"][2] == "Start time"
    assert dt.descr == [(("Start time", "time"), "<i8"), (("Area [PE]", "area"), "<f4")]


def test_to_numpy_dtype_other_forms():
    dt = np.dtype(record_dtype())
    assert to_numpy_dtype(dt) is dt
    assert to_numpy_dtype(record_dtype()) == dt
    assert to_numpy_dtype([("a", np.int64), ("b", "<f4")]) == np.dtype([("a", "<i8"), ("b", "<f4")])
    # Third element a shape, not a comment: numpy's own meaning is kept.
    shaped = to_numpy_dtype([("w", np.int16, (3,)), (("t", "x"), np.int8, 2)])
    assert shaped["w"].shape == (3,) and shaped["x"].shape == (2,)
    assert shaped.fields["x"][2] == "t"
    # Mixed forms in one list.
    mixed = to_numpy_dtype(time_fields + [("flag", np.bool_, "A flag")])
    assert mixed.names == ("time", "endtime", "flag")
    assert mixed.fields["flag"][2] == "A flag"
    # Lists in place of tuples (e.g. after a JSON round trip).
    assert to_numpy_dtype([["a", "<i8", "comment"]]).fields["a"][2] == "comment"


def test_to_numpy_dtype_bad_entry_is_named():
    with pytest.raises(TypeError, match="nonsense"):
        to_numpy_dtype([("time", np.int64), ("x", "nonsense_type")])


def test_endtime_uses_endtime_field():
    x = np.zeros(3, time_fields)
    x["time"] = [1, 2, 3]
    x["endtime"] = [5, 6, 7]
    np.testing.assert_array_equal(endtime(x), [5, 6, 7])
    assert endtime(x[1]) == 6


def test_endtime_from_length_and_dt():
    x = np.zeros(3, interval_dtype)
    x["time"] = [10, 20, 30]
    x["length"] = [1, 2, 3]
    x["dt"] = [10, 10, 2]
    e = endtime(x)
    assert e.dtype == np.int64
    np.testing.assert_array_equal(e, [20, 40, 36])


def test_endtime_does_not_overflow():
    x = np.zeros(2, record_dtype())
    x["time"] = [0, 10**18]
    x["length"] = 2**30
    x["dt"] = 4
    # strax computes this in int32 and gets 0 for the first row.
    np.testing.assert_array_equal(endtime(x), [2**32, 10**18 + 2**32])
    assert endtime(x[0]) == 2**32
    assert endtime(x[1]) == 10**18 + 2**32


def test_endtime_on_single_record():
    x = np.zeros(1, record_dtype())
    x["time"] = 100
    x["length"] = 110
    x["dt"] = 10
    row = x[0]
    assert isinstance(row, np.void)
    e = endtime(row)
    assert e == 1200 and isinstance(e, np.int64)
    rec = x.view(np.recarray)[0]
    assert endtime(rec) == 1200


def test_endtime_needs_fields():
    with pytest.raises(ValueError, match="endtime"):
        endtime(np.zeros(2, [("time", np.int64)]))


def test_merged_dtype_first_occurrence_wins():
    a = np.dtype(time_fields + [(("Area [PE]", "area"), np.float32)])
    b = np.dtype(time_fields + [(("Other area", "area"), np.float64),
                                (("Waveform", "wf"), np.int16, (4,)), ("plain", np.int8)])
    m = merged_dtype([a, b])
    assert m.names == ("time", "endtime", "area", "wf", "plain")
    assert m["area"] == np.float32
    assert m.fields["area"][2] == "Area [PE]"
    assert m["wf"].shape == (4,) and m.fields["wf"][2] == "Waveform"
    assert len(m.fields["plain"]) == 2  # no title
    assert merged_dtype([record_dtype()]) == np.dtype(record_dtype())


# --- reading a dtype's text from metadata (dtype_from_text) ----------------------------------
import ast  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402

from superstrax.dtypes import descr_literal, dtype_from_text  # noqa: E402

_names = hst.text(hst.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                  max_size=12)
_kinds = hst.sampled_from(["<i8", "<i4", "<i2", "|u1", "<f4", "<f8", "|b1", "<U7", "|S3",
                           "<m8[ns]", "<M8[ns]"])
_shapes = hst.one_of(hst.just(()), hst.tuples(hst.integers(1, 300)),
                     hst.tuples(hst.integers(1, 5), hst.integers(1, 5)))


@hst.composite
def _dtypes(draw, depth=0):
    n = draw(hst.integers(1, 6))
    names = draw(hst.lists(_names, min_size=n, max_size=n, unique=True))
    fields = []
    for name in names:
        titled = draw(hst.booleans())
        title = draw(_names.filter(lambda t, n=name: t != n and t not in names)) \
            if titled else None
        if depth < 1 and draw(hst.integers(0, 6)) == 0:
            kind = draw(_dtypes(depth=depth + 1))
        else:
            kind = np.dtype(draw(_kinds))
        fields.append(((title, name) if title is not None else name, kind,
                       draw(_shapes)))
    try:
        return np.dtype([f if f[2] else f[:2] for f in fields])
    except (ValueError, TypeError):      # e.g. a title equal to another field's title
        return np.dtype([("x", "<i8")])


@settings(max_examples=300, deadline=None)
@given(_dtypes())
def test_dtype_text_reads_back_as_literal_eval_reads_it(dtype):
    # Metadata holds repr(dtype.descr); the fast reader must agree with Python's parser on
    # every description, with titles holding quotes, backslashes, unicode, nested fields.
    text = repr(dtype.descr)
    assert descr_literal(text) == ast.literal_eval(text)
    assert dtype_from_text(text) == np.dtype(ast.literal_eval(text))


@pytest.mark.parametrize("text", [
    "[('a', '<i8')]", "[(('t x', 'a'), '<i8', (3,))]", "[('a', [('b', '<f4', (2, 3))])]",
    "()", "[]", "(5)", "[1,]", "[(1,),]", "[('a\\'b', '<i8')]", "[(\"it's\", '<i8')]",
    "['a' 'b']", "[0, -3]", "[True]", "[1.5]", "[b'a']", " [1]", "[1] ", "'a'", "5",
    "[u'a']", "[None]", "[-0]", "[- 1]", "[('a', '<i8', (0,))]", "[('a', '<i8'),('b', '<i8')]",
    "[('a', '<i8') , ('b', '<i8')]", "[(('a', 'b'), '<i8', (2, 3))]", "[('a', '<i8')]\n"])
def test_descriptions_read_as_python_reads_them(text):
    assert descr_literal(text) == ast.literal_eval(text)
    assert type(descr_literal(text)) is type(ast.literal_eval(text))


@pytest.mark.parametrize("text", ["[010]", "[1 2]", "[,1]", "[(,)]", "[1,,2]", "[1", "[1]]",
                                  "[)", "[1] [2]", "[('a', '<i8')", "[('a' '<i8'))]", ""])
def test_text_that_is_no_literal_is_refused_as_python_refuses_it(text):
    with pytest.raises(Exception) as ours:
        descr_literal(text)
    with pytest.raises(Exception) as theirs:
        ast.literal_eval(text)
    assert type(ours.value) is type(theirs.value)
