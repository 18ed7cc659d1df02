"""Run-document dates are written as bson's json_util writes them (strax reads them with it),
without importing bson for the common case of UTC dates."""
import datetime
import json
import subprocess
import sys

from bson import json_util
from hypothesis import given, settings
from hypothesis import strategies as st

from superstrax.storage.files import _json_default

UTC = datetime.timezone.utc
naive_dates = st.datetimes(min_value=datetime.datetime(1900, 1, 1),
                           max_value=datetime.datetime(9999, 12, 31))
offsets = st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=2)),
                           datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))])


@settings(max_examples=300)
@given(naive_dates)
def test_naive_dates_are_written_as_json_util_writes_them(when):
    assert _json_default(when) == json_util.default(when)


@settings(max_examples=300)
@given(naive_dates, offsets)
def test_aware_dates_are_written_as_json_util_writes_them(when, tz):
    when = when.replace(tzinfo=tz)
    assert _json_default(when) == json_util.default(when)


def test_dates_round_trip_through_json_util():
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    text = json.dumps({"start": when}, default=_json_default)
    back = json_util.loads(text, json_options=json_util.JSONOptions(tz_aware=True, tzinfo=UTC))
    assert back["start"] == when.replace(microsecond=123000)


def test_other_values_go_to_json_util():
    from bson import ObjectId
    oid = ObjectId("0123456789ab0123456789ab")
    assert _json_default(oid) == {"$oid": "0123456789ab0123456789ab"}


def test_writing_a_run_document_with_dates_does_not_import_bson(tmp_path):
    code = (
        "import sys, datetime, superstrax as sx\n"
        f"fe = sx.DataDirectory({str(tmp_path)!r}, provide_run_metadata=True)\n"
        "t = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)\n"
        "fe.write_run_metadata('7', {'start': t, 'end': t, 'mode': 'x'})\n"
        "print('bson' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]
    doc = json_util.loads((tmp_path / "7-metadata.json").read_text())
    assert doc["start"] == datetime.datetime(2024, 1, 2, 3, 4, 5)
