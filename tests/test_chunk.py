"""Chunk validation, splitting, slicing, merging, concatenation, continuity and rechunking."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superstrax import kernels as K
from superstrax.chunk import Chunk, Rechunker, as_superrun_chunk, continuity_check
from superstrax.errors import CannotSplit, ChunkError

SETTINGS = settings(max_examples=100, deadline=None)

INTERVAL = np.dtype([(("Start time", "time"), "<i8"), (("End time", "endtime"), "<i8"),
                     ("area", "<f4")])
RECORD = np.dtype([("time", "<i8"), ("length", "<i4"), ("dt", "<i2"), ("channel", "<i2")])


def rows(time, endtime, dtype=INTERVAL):
    time = np.asarray(time, dtype=np.int64)
    d = np.zeros(len(time), dtype=dtype)
    d["time"] = time
    if "endtime" in dtype.names:
        d["endtime"] = endtime
        d["area"] = np.arange(len(time))
    else:
        d["length"] = np.asarray(endtime) - time
        d["dt"] = 1
        d["channel"] = np.arange(len(time))
    return d


def chunk(data, start, end, run_id="run0", data_type="peaks", subruns=None, **kw):
    return Chunk(data_type=data_type, data_kind=kw.pop("data_kind", data_type), dtype=data.dtype,
                 run_id=run_id, start=start, end=end, data=data, subruns=subruns, **kw)


@st.composite
def random_chunk(draw, max_rows=40, dtype=INTERVAL):
    n = draw(st.integers(0, max_rows))
    steps = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    durations = draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n))
    time = np.cumsum(np.array(steps, dtype=np.int64)) + draw(st.integers(0, 500))
    endtime = time + np.array(durations, dtype=np.int64)
    start = int(time[0]) - draw(st.integers(0, 100)) if n else draw(st.integers(0, 100))
    start = max(start, 0)
    end = max(int(endtime.max()) if n else start, start) + draw(st.integers(0, 100))
    return chunk(rows(time, endtime, dtype), start, end)


# --- construction -----------------------------------------------------------------------

def test_constructor_rejects_bad_chunks():
    d = rows([10, 20], [15, 30])
    chunk(d, 10, 30)
    with pytest.raises(ChunkError, match="before the chunk start"):
        chunk(d, 11, 30)
    with pytest.raises(ChunkError, match="after the chunk end"):
        chunk(d, 0, 29)
    with pytest.raises(ChunkError, match="not sorted"):
        chunk(rows([20, 10], [25, 15]), 0, 30)
    with pytest.raises(ChunkError, match="dtype"):
        Chunk(data_type="peaks", data_kind="peaks", dtype=RECORD, run_id="r", start=0, end=30,
              data=d)
    with pytest.raises(ChunkError, match="integer"):
        chunk(d, 0.0, 30)
    with pytest.raises(ChunkError, match="integer"):
        chunk(d, 0, True)
    with pytest.raises(ChunkError, match="start <= end"):
        chunk(rows([], []), 5, 4)
    with pytest.raises(ChunkError, match="start <= end"):
        chunk(rows([], []), -1, 4)
    # length * dt is computed without int32 overflow when checking the end.
    big = rows([0], [2**33], RECORD)
    big["length"], big["dt"] = 2**30, 8
    with pytest.raises(ChunkError, match="after the chunk end"):
        chunk(big, 0, 2**33 - 1)
    assert chunk(big, 0, 2**33).end == 2**33


def test_repr_and_properties():
    d = rows(np.arange(300) // 6, np.arange(300) // 6)
    c = chunk(d, 0, 50, run_id="_sr", data_type="records",
              subruns={"a": {"start": 0, "end": 10}, "b": {"start": 20, "end": 30},
                       "c": {"start": 40, "end": 50}})
    assert repr(c) == "Chunk(_sr/records, [0, 50) ns, 300 rows, 6.0 kB, 3 subruns (a, b, c))"
    assert c.is_superrun and c.first_subrun == {"run_id": "a", "start": 0, "end": 10}
    assert repr(chunk(rows([], []), 3, 3)) == "Chunk(run0/peaks, [3, 3) ns, 0 rows, 0 B)"
    assert len(c) == 300 and c.duration == 50 and c.nbytes == 6000


# --- split / concatenate ------------------------------------------------------------------

@SETTINGS
@given(random_chunk(), st.data(), st.booleans())
def test_split_concatenate_round_trip(c, data, record_dtype):
    if record_dtype:
        et = K.endtimes(c.data)
        c = chunk(rows(c.data["time"], et, RECORD), c.start, c.end)
    t = data.draw(st.integers(c.start, c.end))
    try:
        left, right = c.split(t)
    except CannotSplit:
        left, right = c.split(t, allow_early_split=True)
        assert left.end < t
    else:
        assert left.end == t
    assert left.start == c.start and right.end == c.end and left.end == right.start
    assert left.end <= t
    back = Chunk.concatenate([left, right])
    assert (back.start, back.end) == (c.start, c.end)
    np.testing.assert_array_equal(back.data, c.data)


def test_split_errors_and_early_split():
    c = chunk(rows([10, 20, 30], [25, 28, 35]), 0, 40, run_id="r7")
    with pytest.raises(CannotSplit, match="r7/peaks"):
        c.split(26)
    left, right = c.split(26, allow_early_split=True)
    assert (left.end, len(left), right.start, len(right)) == (10, 0, 10, 3)
    with pytest.raises(ChunkError, match="outside"):
        c.split(41)
    with pytest.raises(ChunkError, match="integer"):
        c.split(20.0)
    left, right = c.split(40)
    assert len(left) == 3 and len(right) == 0 and (right.start, right.end) == (40, 40)


def test_split_clips_subruns():
    subruns = {"a": {"start": 0, "end": 10}, "b": {"start": 20, "end": 30}}
    c = chunk(rows([0, 25], [5, 30]), 0, 30, run_id="_s", subruns=subruns)
    left, right = c.split(15)
    assert left.subruns == {"a": {"start": 0, "end": 10}}
    assert right.subruns == {"b": {"start": 20, "end": 30}}
    left, right = c.split(22)
    assert left.subruns == {"a": {"start": 0, "end": 10}, "b": {"start": 20, "end": 22}}
    assert right.subruns == {"b": {"start": 22, "end": 30}}
    left, right = c.split(30)
    assert right.subruns is None and left.subruns == c.subruns


# --- slice --------------------------------------------------------------------------------

def test_slice():
    c = chunk(rows([10, 20, 30, 40], [15, 32, 30, 45]), 0, 50,
              run_id="_s", subruns={"a": {"start": 0, "end": 25}, "b": {"start": 30, "end": 50}})
    s = c.slice(18, 35)
    assert (s.start, s.end) == (18, 35) and s.data["time"].tolist() == [20, 30]
    assert s.subruns == {"a": {"start": 18, "end": 25}, "b": {"start": 30, "end": 35}}
    s = c.slice(25, 31, selection="touching")
    # Rows sticking out of the range widen the bounds so the chunk stays valid.
    assert s.data["time"].tolist() == [20, 30] and (s.start, s.end) == (20, 32)
    s = c.slice(-5, 100)
    assert (s.start, s.end) == (0, 50) and len(s) == 4
    s = c.slice(60, 70)
    assert (s.start, s.end, len(s), s.subruns) == (50, 50, 0, None)
    s = chunk(rows([10], [15]), 5, 50).slice(0, 3)
    assert (s.start, s.end, len(s)) == (5, 5, 0)
    zero = chunk(rows([10, 10], [10, 12]), 0, 20)
    assert len(zero.slice(10, 20, selection="touching")) == 2
    with pytest.raises(ValueError, match="selection"):
        c.slice(0, 10, selection="nearby")


# --- merge --------------------------------------------------------------------------------

def _other_type(c, data_type, fields):
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")] + fields)
    d = np.zeros(len(c), dtype=dtype)
    d["time"], d["endtime"] = c.data["time"], c.data["endtime"]
    for name, _ in fields:
        d[name] = 7
    return Chunk(data_type=data_type, data_kind=c.data_kind, dtype=dtype, run_id=c.run_id,
                 start=c.start, end=c.end, data=d)


def test_merge_joins_fields_in_order():
    a = chunk(rows([1, 5], [3, 9]), 0, 10)
    b = _other_type(a, "peak_basics", [("width", "<f8"), ("area", "<i4")])
    m = Chunk.merge([a, b])
    assert m.dtype.names == ("time", "endtime", "area", "width")
    assert m.dtype.fields["time"][2] == "Start time"     # titles kept
    assert m.dtype["area"] == np.float32                 # first occurrence wins
    assert m.data["width"].tolist() == [7, 7] and m.data["area"].tolist() == [0, 1]
    assert m.data_type == "peaks" and Chunk.merge([a, b], data_type="both").data_type == "both"


def _field_groups(c, names):
    """Chunks of c's data types 'part<i>', each holding time/endtime and some other fields."""
    parts = []
    for i, group in enumerate(names):
        fields = ["time", "endtime"] + list(group)
        dtype = np.dtype([c.dtype.descr[c.dtype.names.index(f)] for f in fields])
        data = np.zeros(len(c), dtype)
        for f in fields:
            data[f] = c.data[f]
        parts.append(c._replace(data_type=f"part{i}", dtype=dtype, data=data))
    return parts


WIDE = np.dtype([(("Start time", "time"), "<i8"), (("End time", "endtime"), "<i8"),
                 ("a", "<f4"), ("b", "<i2"), ("c", "<f8", (3,)), ("d", "<u1")])


@SETTINGS
@given(random_chunk(dtype=INTERVAL), st.permutations(["a", "b", "c", "d"]),
       st.integers(1, 3), st.data())
def test_merge_of_field_groups_rebuilds_the_rows(c, order, n_cuts, data):
    wide = np.zeros(len(c), WIDE)
    wide["time"], wide["endtime"] = c.data["time"], c.data["endtime"]
    rng = np.random.default_rng(len(c))
    for f in "abcd":
        wide[f] = rng.integers(0, 100, size=wide[f].shape)
    c = c._replace(dtype=WIDE, data=wide)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, 3), min_size=n_cuts, max_size=n_cuts))))
    groups = [order[i:j] for i, j in zip([0] + cuts, cuts + [4]) if order[i:j]]
    merged = Chunk.merge(_field_groups(c, groups), data_type="all")
    assert set(merged.dtype.names) == set(WIDE.names)
    for f in WIDE.names:
        np.testing.assert_array_equal(merged.data[f], c.data[f])
        assert merged.dtype.fields[f][2:] == WIDE.fields[f][2:]       # titles kept
    assert (merged.start, merged.end, merged.data_type) == (c.start, c.end, "all")
    # merging and splitting commute: split each part at t, merge the halves
    t = data.draw(st.integers(c.start, c.end))
    halves = [p.split(t, allow_early_split=True) for p in _field_groups(c, groups)]
    if len({h[0].end for h in halves}) == 1:
        left = Chunk.merge([h[0] for h in halves])
        whole_left, _ = merged.split(left.end)
        for f in WIDE.names:
            np.testing.assert_array_equal(left.data[f], whole_left.data[f])


def test_merge_errors_name_types():
    a = chunk(rows([1, 5], [3, 9]), 0, 10)
    b = _other_type(a, "peak_basics", [("width", "<f8")])
    with pytest.raises(ChunkError, match="peak_basics.*end"):
        Chunk.merge([a, b._replace(end=11)])
    with pytest.raises(ChunkError, match="rows"):
        Chunk.merge([a, b._replace(data=b.data[:1])])
    moved = b.data.copy()
    moved["time"][1] = 4
    with pytest.raises(ChunkError, match="different times"):
        Chunk.merge([a, b._replace(data=moved)])
    with pytest.raises(ChunkError, match="data_kind"):
        Chunk.merge([a, b._replace(data_kind="events")])
    with pytest.raises(ChunkError, match="run_id"):
        Chunk.merge([a, b._replace(run_id="run1")])
    with pytest.raises(ChunkError):
        Chunk.merge([])


# --- concatenate ------------------------------------------------------------------------

def test_concatenate_rules():
    a = chunk(rows([1], [3]), 0, 10)
    b = chunk(rows([12], [13]), 10, 20)
    assert Chunk.concatenate([a]) is a
    ab = Chunk.concatenate([a, b])
    assert (ab.start, ab.end, len(ab)) == (0, 20, 2)
    with pytest.raises(ChunkError, match="gap"):
        Chunk.concatenate([a, chunk(rows([], []), 11, 20)])
    with pytest.raises(ChunkError, match="overlap"):
        Chunk.concatenate([a, chunk(rows([], []), 9, 20)])
    with pytest.raises(ChunkError, match="one data type"):
        Chunk.concatenate([a, chunk(rows([], []), 10, 20, data_type="hits")])
    with pytest.raises(ChunkError, match="one run"):
        Chunk.concatenate([a, chunk(rows([], []), 10, 20, run_id="run1")])
    with pytest.raises(ChunkError, match="dtype"):
        Chunk.concatenate([a, chunk(rows([], [], RECORD), 10, 20)])
    with pytest.raises(ChunkError):
        Chunk.concatenate([])


def test_concatenate_superrun_chunks_unites_subruns():
    a = as_superrun_chunk(chunk(rows([1], [3]), 0, 10, run_id="r1"), "_s")
    b = as_superrun_chunk(chunk(rows([12], [13]), 10, 20, run_id="r1"), "_s")
    c = as_superrun_chunk(chunk(rows([50], [55]), 40, 60, run_id="r2"), "_s")
    abc = Chunk.concatenate([a, b, c])
    assert (abc.start, abc.end, len(abc)) == (0, 60, 3)
    assert abc.subruns == {"r1": {"start": 0, "end": 20}, "r2": {"start": 40, "end": 60}}
    with pytest.raises(ChunkError, match="time order"):
        Chunk.concatenate([c, a])


def test_as_superrun_chunk():
    c = chunk(rows([1], [3]), 0, 10, run_id="r1")
    s = as_superrun_chunk(c, "_super")
    assert s.run_id == "_super" and s.subruns == {"r1": {"start": 0, "end": 10}}
    assert s.is_superrun and not c.is_superrun
    again = as_superrun_chunk(s, "_other")
    assert again.run_id == "_other" and again.subruns == s.subruns


# --- continuity_check ---------------------------------------------------------------------

def test_continuity_check_regular_runs():
    a = chunk(rows([], []), 0, 10)
    b = chunk(rows([], []), 10, 20)
    gap = chunk(rows([], []), 21, 30)
    assert list(continuity_check([a, b])) == [a, b]
    with pytest.raises(ChunkError, match=r"run run0, data type peaks.*20.*21"):
        list(continuity_check([a, b, gap]))
    with pytest.raises(ChunkError, match="overlap"):
        list(continuity_check([b, a]))
    # A new run starts a new check.
    other = chunk(rows([], []), 500, 600, run_id="run1")
    assert len(list(continuity_check([a, b, other]))) == 3


def test_continuity_check_superruns():
    def sub(run_id, start, end):
        return as_superrun_chunk(chunk(rows([], []), start, end, run_id=run_id), "_s")
    chained = [sub("r1", 0, 10), sub("r1", 10, 20), sub("r2", 100, 150), sub("r2", 150, 160),
               sub("r3", 300, 400)]
    assert len(list(continuity_check(chained))) == 5
    # A merged chunk covering the gap between subruns, then its continuation.
    joined = Chunk.concatenate(chained[:3])
    assert len(list(continuity_check([joined, chained[3], chained[4]]))) == 3
    with pytest.raises(ChunkError, match="subrun r1 ended at 10.*12"):
        list(continuity_check([sub("r1", 0, 10), sub("r1", 12, 20)]))
    # An empty leftover without subruns does not break the chain.
    left, right = sub("r1", 0, 10).split(10)
    assert right.subruns is None
    assert len(list(continuity_check([left, right, sub("r1", 10, 20)]))) == 3


# --- Rechunker ----------------------------------------------------------------------------

def _stream(data, start, end, cut_times, run_id="run0"):
    """data cut into chunks at the given times (moved back where a row straddles)."""
    whole = chunk(data, start, end, run_id=run_id)
    out = []
    for t in sorted(cut_times):
        t = min(max(t, whole.start), whole.end)
        left, whole = whole.split(t, allow_early_split=True)
        out.append(left)
    return out + [whole]


def _check_rechunked(inputs, outputs, target_rows, split_ns):
    assert outputs
    back = Chunk.concatenate(outputs)
    np.testing.assert_array_equal(back.data, Chunk.concatenate(inputs).data)
    assert (back.start, back.end) == (inputs[0].start, inputs[-1].end)
    list(continuity_check(outputs))
    # Exactly the cuts the offline rule makes on the whole stream.
    sizes = np.cumsum([len(c) for c in outputs])[:-1]
    expect = K.gap_split_indices(back.data["time"], K.endtimes(back.data), target_rows, split_ns)
    np.testing.assert_array_equal(sizes, expect)
    assert all(len(c) for c in outputs[:-1]) or len(outputs) == 1


@SETTINGS
@given(st.data(), st.integers(1, 12), st.sampled_from([0, 100, 1000]))
def test_rechunker_matches_offline_cuts(data, target_rows, split_ns):
    c = data.draw(random_chunk(max_rows=60))
    cut_times = data.draw(st.lists(st.integers(c.start, c.end), max_size=8))
    inputs = _stream(c.data, c.start, c.end, cut_times)
    r = Rechunker(target_rows * INTERVAL.itemsize / 1e6, split_ns=split_ns)
    outputs, as_emitted = [], []
    for x in inputs:
        new = r.receive(x)
        outputs += new
        as_emitted += [c.data.copy() for c in new]
    outputs += r.flush()
    _check_rechunked(inputs, outputs, target_rows, split_ns)
    assert r.flush() == []
    # A piece's rows are a slice of the rechunker's buffer: later chunks never write over them.
    for c, rows_then in zip(outputs, as_emitted):
        np.testing.assert_array_equal(c.data, rows_then)


def test_rechunker_keeps_copies_of_rows_not_the_arrays_it_was_given():
    # Many small chunks (a superrun's output, one per subrun) would otherwise be held twice
    # when a piece is cut: as they came, and concatenated.
    import weakref
    r = Rechunker(100 * INTERVAL.itemsize / 1e6, split_ns=0)
    given, pieces = [], []
    for i in range(60):
        data = rows([10 * i, 10 * i + 5], [10 * i + 2, 10 * i + 7])
        given.append(weakref.ref(data))
        pieces += r.receive(chunk(data, 10 * i, 10 * i + 10))
        del data
    assert not any(ref() is not None for ref in given)
    pieces += r.flush()
    assert [len(p) for p in pieces] == [100, 20]
    np.testing.assert_array_equal(np.concatenate([p.data["time"] for p in pieces]),
                                  np.ravel([[10 * i, 10 * i + 5] for i in range(60)]))


def test_rechunker_strax_example_and_streaming_bound():
    # 100 rows of 16 B every 2 µs, target 160 B: ten chunks of ten rows.
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    d = np.zeros(100, dtype=dtype)
    d["time"] = np.arange(100) * 2000
    d["endtime"] = d["time"] + 500
    inputs = [Chunk(data_type="peaks", data_kind="peaks", dtype=dtype, run_id="r", start=0,
                    end=200_000, data=d)]
    r = Rechunker(160e-6)
    out = r.receive(inputs[0]) + r.flush()
    assert [len(c) for c in out] == [10] * 10
    assert [(c.start, c.end) for c in out][:2] == [(0, 19250), (19250, 39250)]
    # Fed one row at a time, the buffer never exceeds the target plus one chunk.
    r = Rechunker(160e-6)
    whole = inputs[0]
    pieces = []
    for t in range(2000, 200_000, 2000):
        left, whole = whole.split(t)
        pieces += r.receive(left)
        assert r._rows <= 11
    pieces += r.receive(whole) + r.flush()
    assert [len(c) for c in pieces] == [10] * 10


def test_rechunker_cut_at_chunk_end_leaves_rows_at_that_time_right():
    # A zero-length row at the chunk's end time belongs after a cut there (hypothesis found
    # this: the piece took it, one row more than the offline rule).
    c = chunk(rows([0, 1], [0, 1]), 0, 1)
    r = Rechunker(INTERVAL.itemsize / 1e6, split_ns=0)
    out = r.receive(c) + r.flush()
    _check_rechunked([c], out, target_rows=1, split_ns=0)
    assert [len(x) for x in out] == [1, 1]


def test_rechunker_without_gaps_keeps_everything():
    c = chunk(rows(np.arange(50) * 10, np.arange(50) * 10 + 15), 0, 600)
    r = Rechunker(2 * INTERVAL.itemsize / 1e6)
    out = []
    for x in _stream(c.data, 0, 600, [100, 200, 300]):
        out += r.receive(x)
    assert out == []
    out = r.flush()
    assert len(out) == 1 and len(out[0]) == 50


def test_rechunker_absorbs_empty_chunks_and_superruns():
    def sub(run_id, start, end, times):
        times = np.asarray(times, dtype=np.int64)
        return as_superrun_chunk(chunk(rows(times, times + 10), start, end, run_id=run_id), "_s")
    inputs = [sub("r1", 0, 100, [0, 50]), sub("r1", 100, 100, []), sub("r1", 100, 200, [150]),
              sub("r2", 5000, 6000, [5000, 5500, 5990]), sub("r3", 9000, 9000, []),
              sub("r4", 12_000, 13_000, [12_500])]
    r = Rechunker(2 * INTERVAL.itemsize / 1e6, split_ns=20)
    out = []
    for c in inputs:
        out += r.receive(c)
    out += r.flush()
    assert [len(c) for c in out] == [2, 2, 2, 1]
    list(continuity_check(out))
    # Cuts sit in the middle of each gap (rounded up); subruns are clipped to each piece. A
    # cut falling between two superrun chunks leaves their bounds as they were.
    assert [(c.start, c.end) for c in out] == [(0, 105), (105, 5255), (5255, 9000),
                                               (12_000, 13_000)]
    assert out[1].subruns == {"r1": {"start": 105, "end": 200}, "r2": {"start": 5000, "end": 5255}}
    assert out[2].subruns == {"r2": {"start": 5255, "end": 6000}, "r3": {"start": 9000, "end": 9000}}
    assert Chunk.concatenate(out).subruns == {
        "r1": {"start": 0, "end": 200}, "r2": {"start": 5000, "end": 6000},
        "r3": {"start": 9000, "end": 9000}, "r4": {"start": 12_000, "end": 13_000}}
    np.testing.assert_array_equal(Chunk.concatenate(out).data, Chunk.concatenate(inputs).data)


def test_rechunker_rejects_foreign_chunks():
    r = Rechunker(1)
    r.receive(chunk(rows([1], [2]), 0, 10))
    with pytest.raises(ChunkError, match="gap"):
        r.receive(chunk(rows([], []), 11, 20))
    with pytest.raises(ValueError):
        Rechunker(0)


def _subruns_reference(subruns):
    items = sorted(((str(k), {"start": int(v["start"]), "end": int(v["end"])})
                    for k, v in subruns.items()), key=lambda kv: (kv[1]["start"], kv[1]["end"]))
    for (_, a), (_, b) in zip(items, items[1:]):
        if b["start"] < a["end"]:
            return "overlap"
    return list(items)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10), st.booleans()),
                max_size=8), st.booleans())
def test_subruns_of_a_chunk_are_ordered_and_checked_for_overlaps(bounds, shuffle):
    # Already ordered maps take a one-pass path; any other must come out as sorting gives.
    from superstrax.chunk import _sorted_subruns
    subruns = {}
    for i, (start, duration, numpy_ints) in enumerate(bounds):
        conv = np.int64 if numpy_ints else int
        # metadata written with sorted keys holds "end" before "start"
        subruns[f"{i:03d}"] = {"end": conv(start + duration), "start": conv(start)}
    if shuffle:
        subruns = dict(reversed(list(subruns.items())))
    expected = _subruns_reference(subruns)
    if expected == "overlap":
        with pytest.raises(ChunkError, match="overlap"):
            _sorted_subruns(subruns, "here")
        return
    got = _sorted_subruns(subruns, "here")
    assert list(got.items()) == expected
    assert all(list(v) == ["start", "end"] for v in got.values())      # as strax prints them
    assert all(type(v["start"]) is int and type(v["end"]) is int for v in got.values())
