"""strax's small top-level helpers and names: multi_run, combine_configs, compare_dict,
flatten_run_metadata, FileSaver, EmptyDataWarning, InvalidFolderNameFormat; what each gives
was checked against strax 2.2.3."""
import logging
import os
import threading
import warnings

import numpy as np
import pytest

import superstrax as sx


def rows(run_id, factor=1.0, **kwargs):
    """As many rows as the run id has characters, v = factor; kwargs are recorded."""
    rows.calls.append((run_id, kwargs))
    out = np.zeros(len(run_id), dtype=[("time", np.int64), ("v", np.float32)])
    out["v"] = factor
    return out


rows.calls = []


@pytest.fixture(autouse=True)
def _forget_calls():
    rows.calls.clear()


# --- multi_run ---------------------------------------------------------------------------------
def test_multi_run_results_in_run_id_order_with_a_run_id_field_first():
    result = sx.multi_run(rows, ["2", "10", "1"], 2.0, max_workers=2,
                          multi_run_progress_bar=False)
    assert [r["run_id"].tolist() for r in result] == [["1"], ["10", "10"], ["2"]]
    assert result[0].dtype.names == ("run_id", "time", "v")
    assert result[0].dtype["run_id"] == np.dtype("<U2")
    assert all((r["v"] == 2.0).all() for r in result)
    # each call got the run id and, unless given, progress_bar=False
    assert sorted(rows.calls) == [(r, {"progress_bar": False}) for r in ("1", "10", "2")]
    assert sx.utils.multi_run is sx.multi_run


def test_multi_run_options_for_the_run_id_field():
    as_bytes = sx.multi_run(rows, ["2", "10"], run_id_as_bytes=True,
                            multi_run_progress_bar=False)
    assert as_bytes[0]["run_id"].tolist() == [b"10", b"10"]
    assert as_bytes[0].dtype["run_id"] == np.dtype("S2")
    plain = sx.multi_run(rows, ["2", "10"], add_run_id_field=False, progress_bar=True,
                         multi_run_progress_bar=False)
    assert [r.dtype.names for r in plain] == [("time", "v")] * 2
    # superruns in the list: no run_id field unless asked for
    superrun = sx.multi_run(rows, ["_s", "10"], multi_run_progress_bar=False)
    assert [r.dtype.names for r in superrun] == [("time", "v")] * 2
    # the field options are not passed on; progress_bar=True given is
    assert all(kw == {"progress_bar": False} for _, kw in rows.calls[:2])
    assert all(kw == {"progress_bar": True} for _, kw in rows.calls[2:4])
    assert sx.multi_run(rows, [], multi_run_progress_bar=False) == []


def test_multi_run_failures_raise_or_are_left_out(caplog):
    def fails_for_bad(run_id, **kwargs):
        if run_id == "bad":
            raise ValueError("bad run")
        return rows(run_id)

    with pytest.raises(ValueError, match="bad run"):
        sx.multi_run(fails_for_bad, ["bad", "10"], multi_run_progress_bar=False)
    with caplog.at_level(logging.WARNING, logger="strax_multi_run"):
        kept = sx.multi_run(fails_for_bad, ["bad", "10"], ignore_errors=True,
                            multi_run_progress_bar=False)
    assert [r["run_id"].tolist() for r in kept] == [["10", "10"]]
    assert "bad" in caplog.text
    assert sx.multi_run(rows, ["1", "2"], throw_away_result=True,
                        multi_run_progress_bar=False) is None
    # "10" ran in both failing calls (it was in flight beside "bad"), then "1" and "2"
    assert sorted(r for r, _ in rows.calls) == ["1", "10", "10", "2"]


def test_multi_run_runs_in_parallel_threads_two_per_worker_at_most():
    in_flight, most, lock = [0], [0], threading.Lock()
    # only passes if two calls run at the same time: one worker would time out here
    barrier = threading.Barrier(2, timeout=10)

    def together(run_id, **kwargs):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            barrier.wait()
        finally:
            with lock:
                in_flight[0] -= 1
        return rows(run_id)

    result = sx.multi_run(together, [str(i) for i in range(6)], max_workers=2,
                          multi_run_progress_bar=False)
    assert len(result) == 6 and most[0] == 2


def test_multi_run_of_many_runs_suggests_bytes():
    runs = [str(i) for i in range(71)]
    with pytest.warns(UserWarning, match="run_id_as_bytes"):
        sx.multi_run(rows, runs, max_workers=4, multi_run_progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sx.multi_run(rows, runs, max_workers=4, run_id_as_bytes=True,
                     multi_run_progress_bar=False)


def test_multi_run_over_get_array(tmp_path):
    from superstrax.testutils import Records
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=Records,
                    config={"n_chunks": 2}, progress_bar=False)
    arrays = sx.multi_run(st.get_array, ["1", "0"], "records", max_workers=2,
                          multi_run_progress_bar=False)
    assert [a["run_id"][0] for a in arrays] == ["0", "1"]
    for a, run in zip(arrays, ("0", "1")):
        expected = st.get_array(run, "records")
        assert len(a) == len(expected) > 0 and (a["run_id"] == run).all()
        assert all(np.array_equal(a[f], expected[f]) for f in expected.dtype.names)


# --- configs, dicts, run documents -------------------------------------------------------------
def test_combine_configs():
    old, new = {"x": 1, "y": 2}, {"y": 3, "z": 4}
    updated = sx.combine_configs(old, new, mode="update")
    assert updated == {"x": 1, "y": 3, "z": 4} and updated is not old
    assert sx.combine_configs(old, new, mode="setdefault") == {"x": 1, "y": 2, "z": 4}
    assert sx.combine_configs(old, new, mode="replace") is new
    assert sx.combine_configs(old) == old and old == {"x": 1, "y": 2}
    with pytest.raises(RuntimeError):
        sx.combine_configs(old, new, mode="merge")
    assert sx.config.combine_configs is sx.combine_configs


def test_compare_dict_prints_each_difference(capsys):
    sx.compare_dict({"a": 1, "b": {"c": 2, "d": [1]}, "e": 0},
                    {"a": 1, "b": {"c": 3, "d": [1]}, "f": 0, "g": np.arange(2)})
    assert capsys.readouterr().out.splitlines() == [
        "b.c: 2 != 3", "e: only in first", "f: only in second", "g: only in second"]
    sx.compare_dict({"a": np.arange(3)}, {"a": np.arange(3)})
    assert capsys.readouterr().out == ""
    assert sx.utils.compare_dict is sx.compare_dict


def test_flatten_run_metadata_keeps_what_is_read_whole():
    md = {"name": "0", "source": {"type": "Rn", "x": {"y": 1}}, "tags": [{"name": "a"}],
          "strax_defaults": {"o": {"p": 1}}, "sub_run_spec": {"0": "all"}, "mode": "m"}
    assert sx.flatten_run_metadata(md) == {
        "name": "0", "source.type": "Rn", "source.x.y": 1, "tags": [{"name": "a"}],
        "strax_defaults": {"o": {"p": 1}}, "sub_run_spec": {"0": "all"}, "mode": "m"}
    assert sx.run_selection.flatten_run_metadata is sx.flatten_run_metadata


# --- names -------------------------------------------------------------------------------------
def test_file_saver_writes_a_folder_data_directory_reads(tmp_path):
    from superstrax.testutils import Records
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=Records,
                    config={"n_chunks": 1}, progress_bar=False)
    plugin = st.get_single_plugin("0", "records")
    md = plugin.metadata("0", "records")
    md["dtype"] = repr(md["dtype"].descr)   # as strax's backends hand it to their savers
    in_memory = sx.Context(storage=[], register=Records, config={"n_chunks": 1},
                           progress_bar=False)
    [chunk] = list(in_memory.get_iter("0", "records"))
    assert not st.is_stored("0", "records")
    saver = sx.FileSaver(os.path.join(str(tmp_path), str(st.key_for("0", "records"))), md)
    saver.save(chunk, chunk_i=0)
    saver.close()
    assert st.is_stored("0", "records")
    loaded = st.get_array("0", "records")
    assert len(loaded) == len(chunk.data) > 0
    assert all(np.array_equal(loaded[f], chunk.data[f]) for f in loaded.dtype.names)
    assert sx.storage.files.FileSaver is sx.FileSaver


def test_strax_warning_and_exception_classes():
    assert issubclass(sx.EmptyDataWarning, UserWarning)
    assert issubclass(sx.InvalidFolderNameFormat, Exception)
    with pytest.raises(sx.InvalidFolderNameFormat):
        raise sx.InvalidFolderNameFormat("not-a-key")
    # and at the module paths strax defines them in
    from superstrax.storage.common import EmptyDataWarning
    from superstrax.storage.files import InvalidFolderNameFormat
    assert EmptyDataWarning is sx.EmptyDataWarning
    assert InvalidFolderNameFormat is sx.InvalidFolderNameFormat
