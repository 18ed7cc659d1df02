"""Code that users copy must run: the seed tutorial (shared/seed/superruns-tutorial.txt), every
step, with the import swapped, and the README's usage block.

The tutorial's code statements are kept as written, in one temporary working directory; the
asserts (and the captured prints) check the outputs the tutorial shows.
"""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xxhash


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_seed_tutorial_steps_1_to_21(in_tmp, capsys):
    # [1]
    import superstrax as strax

    # [3]
    from superstrax.testutils import Records, Peaks

    superrun_name = '_superrun_test'
    st = strax.Context(storage=[strax.DataDirectory('./strax_data',
                                                    provide_run_metadata=True,
                                                    readonly=False,
                                                    deep_scan=True)],
                       register=[Records, Peaks],
                       config={'bonus_area': 42}
                       )
    st.set_context_config({'use_per_run_defaults': False})

    # [4]
    import datetime
    import pytz

    import numpy as np

    import json
    from bson import json_util

    def _write_run_doc(context, run_id, time, endtime):
        """Tutorial helper: a run document holding only name, start and end."""
        run_doc = {'name': run_id, 'start': time, 'end': endtime}
        with open(context.storage[0]._run_meta_path(str(run_id)), 'w') as fp:
            json.dump(run_doc, fp, sort_keys=True, indent=4, default=json_util.default)

    offset_between_subruns = 10

    now = datetime.datetime.now()
    now.replace(tzinfo=pytz.utc)
    subrun_ids = [str(r) for r in range(3)]

    for run_id in subrun_ids:
        rr = st.get_array(run_id, 'records')
        time = np.min(rr['time'])
        endtime = np.max(strax.endtime(rr))

        _write_run_doc(st,
                       run_id,
                       now + datetime.timedelta(0, int(time)),
                       now + datetime.timedelta(0, int(endtime)),
                       )

        st.set_config({'secret_time_offset': endtime + offset_between_subruns})
        assert st.is_stored(run_id, 'records')

    # [5]
    capsys.readouterr()
    print(st.key_for('2', 'records'))
    assert capsys.readouterr().out == '2-records-j3nd2fjbiq\n'
    st.key_for('2', 'records').lineage
    assert str(st.key_for('2', 'records')) == '2-records-j3nd2fjbiq'
    assert st.key_for('2', 'records').lineage == {
        'records': ('Records', '0.0.0', {'crash': False, 'dummy_tracked_option': 42})}

    # [6]
    meta = st.get_meta('2', 'records')
    assert meta['chunk_target_size_mb'] == 200
    assert meta['compressor'] == 'blosc'
    assert meta['data_kind'] == meta['data_type'] == 'records'
    assert meta['lineage'] == {'records': ['Records', '0.0.0',
                                           {'crash': False, 'dummy_tracked_option': 42}]}
    assert meta['lineage_hash'] == 'j3nd2fjbiq'
    assert meta['run_id'] == '2' and meta['start'] == 40 and meta['end'] == 50
    assert meta['dtype'] == repr(np.dtype(strax.record_dtype()).descr)
    assert "(('Waveform data in raw counts above integer part of baseline', 'data'), '<i2', (110,))" \
        in meta['dtype']
    assert meta['writing_ended'] >= meta['writing_started']
    assert len(meta['chunks']) == 10
    folder = in_tmp / 'strax_data' / '2-records-j3nd2fjbiq'
    for i, c in enumerate(meta['chunks']):
        assert c == {'chunk_i': i, 'end': 41 + i, 'filename': f'records-j3nd2fjbiq-{i:06d}',
                     'filesize': (folder / f'records-j3nd2fjbiq-{i:06d}').stat().st_size,
                     'first_endtime': 41 + i, 'first_time': 40 + i, 'last_endtime': 41 + i,
                     'last_time': 40 + i, 'n': 10, 'nbytes': 2570, 'run_id': '2',
                     'start': 40 + i, 'subruns': None,
                     # superstrax's content checksum of the file (strax ignores the field)
                     'checksum': 'xxh3_64:' + xxhash.xxh3_64_hexdigest(
                         (folder / f'records-j3nd2fjbiq-{i:06d}').read_bytes())}

    # [7]
    st.define_run(superrun_name, subrun_ids)
    print('superrun_name: ', superrun_name, '\n'
          'subrun_ids: ', subrun_ids
          )
    printed = capsys.readouterr().out
    assert printed.splitlines() == ['superrun_name:  _superrun_test ',
                                    "subrun_ids:  ['0', '1', '2']"]

    # [8]
    md = st.run_metadata('_superrun_test')
    assert md['sub_run_spec'] == {'0': 'all', '1': 'all', '2': 'all'}
    assert list(md['sub_run_spec']) == ['0', '1', '2']
    assert md['livetime'] == 30000000000.0
    assert md['name'] == '_superrun_test'
    assert set(md) == {'sub_run_spec', 'start', 'end', 'livetime', 'name'}
    assert (md['end'] - md['start']).total_seconds() == pytest.approx(50, abs=1e-3)

    # [9]
    runs = st.select_runs()
    assert list(runs['name']) == ['0', '1', '2', '_superrun_test']
    assert runs['number'].tolist()[:3] == [0.0, 1.0, 2.0]
    assert np.isnan(runs['number'].tolist()[3])
    assert {'name', 'number', 'mode', 'tags'} <= set(runs.columns)

    # [10]
    sub_runs = st.get_array(subrun_ids, 'records')
    superrun = st.get_array(superrun_name, 'records')
    assert np.all(sub_runs['time'] == superrun['time'])
    assert len(superrun) == 300

    # [11]
    sub_runs = st.get_array(subrun_ids, 'records')
    superrun = st.get_array(superrun_name, 'records', _check_lineage_per_run_id=False)
    assert np.all(sub_runs['time'] == superrun['time'])

    # [12]
    st.set_context_config({'write_superruns': True})
    # [13]
    assert st.is_stored(superrun_name, 'records') is False
    # [14]
    st.make(superrun_name, 'records')
    assert st.is_stored(superrun_name, 'records') is True

    # [15]
    sub_runs = st.get_array(subrun_ids, 'records')
    superrun = st.get_array(superrun_name, 'records', _check_lineage_per_run_id=False)
    assert np.all(sub_runs['time'] == superrun['time'])

    # [16]
    available = st.select_runs(available=('records', ))
    assert list(available['name']) == ['0', '1', '2', '_superrun_test']
    assert available['records_available'].tolist() == [True] * 4

    # [17]
    assert st.is_stored(subrun_ids[0], 'peaks') is False
    # [18]
    st.make(superrun_name, 'peaks')
    assert st.is_stored(subrun_ids[0], 'peaks') is True
    # [19]
    peaks = st.get_array(superrun_name, 'peaks')
    assert len(peaks) == 300 and np.all(peaks['area'] == 42)
    assert np.all(peaks['time'] == sub_runs['time'])

    # [20]
    for chunk in st.get_iter(superrun_name, 'records'):
        chunk
    assert (chunk.subruns, chunk.run_id) == ({'0': {'end': 10, 'start': 0},
                                              '1': {'end': 30, 'start': 20},
                                              '2': {'end': 50, 'start': 40}},
                                             '_superrun_test')

    # [21]
    chunks = st.get_meta(superrun_name, 'records')['chunks']
    folder = in_tmp / 'strax_data' / f'{st.key_for(superrun_name, "records")}'
    assert folder.name == '_superrun_test_xasmpdqviq-records-j3nd2fjbiq'
    assert chunks == [{'chunk_i': 0, 'end': 50,
                       'filename': 'records-j3nd2fjbiq-000000',
                       'filesize': (folder / 'records-j3nd2fjbiq-000000').stat().st_size,
                       'first_endtime': 1, 'first_time': 0, 'last_endtime': 50, 'last_time': 49,
                       'n': 300, 'nbytes': 77100, 'run_id': '_superrun_test', 'start': 0,
                       'subruns': {'0': {'end': 10, 'start': 0},
                                   '1': {'end': 30, 'start': 20},
                                   '2': {'end': 50, 'start': 40}},
                       'checksum': 'xxh3_64:' + xxhash.xxh3_64_hexdigest(
                           (folder / 'records-j3nd2fjbiq-000000').read_bytes())}]


def _readme_python_blocks():
    root = Path(__file__).resolve().parent.parent
    text = (root / 'README.md').read_text(encoding='utf-8')
    return re.findall(r'^```python\n(.*?)^```$', text, flags=re.S | re.M)


def test_readme_usage_runs_as_written(in_tmp, capsys):
    """The README's usage block, executed as it stands in a fresh folder: README drift fails CI."""
    blocks = _readme_python_blocks()
    assert len(blocks) == 1, 'the README should hold one python usage block'
    exec(compile(blocks[0], 'README.md', 'exec'), {'__name__': '__readme__'})
    assert capsys.readouterr().out.splitlines()[0] == '0-records-j3nd2fjbiq'
    assert (in_tmp / 'strax_data' / '_week1-metadata.json').is_file()
    assert (in_tmp / 'strax_data' / '_week1_xasmpdqviq-peaks-xia2iit6vb').is_dir()
