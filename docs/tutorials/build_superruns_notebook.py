"""Build docs/tutorials/superruns.ipynb from the cells below and save it executed.

    python docs/tutorials/build_superruns_notebook.py          # build, execute, write
    python docs/tutorials/build_superruns_notebook.py --no-run # write without outputs

The notebook is executed with nbclient in a scratch directory, with the 'python3' kernel of the
running Python (the one superstrax is installed in). Edit the cells here, not in the .ipynb,
and run this script again; tests/test_notebook.py executes the saved notebook.
"""
import argparse
import os
import sys
import tempfile
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "superruns.ipynb")

CELLS = []


def md(text):
    CELLS.append(new_markdown_cell(textwrap.dedent(text).strip()))


def code(text):
    CELLS.append(new_code_cell(textwrap.dedent(text).strip()))


md("""
# Superruns

A *superrun* is a run whose data are the data of other runs, its *subruns*, placed one after
the other in time. It has a name and a run document like any run, and every method that takes a
run id takes a superrun id too: you can load it, make data for it, list it, and store its data
as one new, rechunked dataset so that later loads read a few large chunks instead of many small
ones spread over many runs.

This notebook walks through that life cycle on a handful of tiny toy runs. It then defines
superruns made of *parts* of runs and superruns of superruns, and picks rows of superruns with
`time_range` and `selection`, noting on the way where superstrax does what strax 2.2.3 cannot.

Every step checks its result with an `assert`, so this notebook doubles as a test: it is executed
by `tests/test_notebook.py`.
""")

md("""
## A context and three toy runs

`superstrax.testutils` holds two tiny plugins made for demos like this one:

* `Records` is a data source: it writes 10 chunks, each one nanosecond long and holding
  10 empty records (one per channel). Its untracked option `secret_time_offset` shifts all of its
  times, so we can place each run somewhere else in time without changing its lineage.
* `Peaks` turns every record into a peak whose area is the `bonus_area` option (42 here).

The data go to a `DataDirectory` called `./strax_data` with `provide_run_metadata=True`, so the
same folder also keeps the run documents. We work in a fresh temporary folder, so running this
notebook again always starts from scratch.
""")

code("""
import datetime
import os
import tempfile
import time

import numpy as np
import superstrax as strax
from superstrax.testutils import Peaks, Records

start_dir = os.getcwd()
workdir = tempfile.mkdtemp(prefix='superruns-tutorial-')
os.chdir(workdir)

storage = strax.DataDirectory('./strax_data', provide_run_metadata=True)
st = strax.Context(storage=[storage],
                   register=[Records, Peaks],
                   config={'bonus_area': 42})
storage
""")

md("""
A run document tells superstrax when a run started and ended. Ours say that run `i` started
`20 * i` seconds after the Unix epoch and lasted 10 seconds, so between two runs there are
10 seconds in which the detector took no data. (Starting at the epoch keeps all times in
nanoseconds short and readable.) For each run we first make its records, shifted to the run's
start, then write its run document with `storage.write_run_metadata`.
""")

code("""
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
run_ids = ['0', '1', '2']

for i, run_id in enumerate(run_ids):
    run_start = epoch + datetime.timedelta(seconds=20 * i)
    run_end = run_start + datetime.timedelta(seconds=10)
    st.set_config({'secret_time_offset': 20 * i * 1_000_000_000})   # ns, untracked
    records = st.get_array(run_id, 'records')                       # made and stored
    storage.write_run_metadata(run_id, {'name': run_id, 'start': run_start, 'end': run_end})
    print(f'run {run_id}: {len(records)} records from t = {records["time"].min()} ns, '
          f'run document {run_start:%H:%M:%S} to {run_end:%H:%M:%S}')
    assert st.is_stored(run_id, 'records')
""")

md("""
## Keys and lineage

Stored data are found by their *key*: run id, data type and a hash of the lineage, the full
description of the plugins and options that produced the data. Since `secret_time_offset` is
untracked, all three runs share the same lineage, and the hashes are exactly the ones strax
computes for the same plugins.
""")

code("""
key = st.key_for('2', 'records')
assert str(key) == '2-records-j3nd2fjbiq'
print(key)
key.lineage
""")

md("""
The metadata of stored data describe the whole dataset and each of its chunks. Run `2` has
10 chunks of 10 records each, one nanosecond apart, starting 40 s after the epoch:
""")

code("""
meta = st.get_meta('2', 'records')
assert meta['lineage_hash'] == 'j3nd2fjbiq' and meta['run_id'] == '2'
assert len(meta['chunks']) == 10 and all(c['n'] == 10 for c in meta['chunks'])
assert (meta['start'], meta['end']) == (40_000_000_000, 40_000_000_010)
{k: meta[k] for k in ('run_id', 'data_type', 'data_kind', 'lineage_hash', 'compressor',
                      'start', 'end')}
""")

code("""
meta['chunks'][0]   # every chunk's entry; 'subruns' is None for a regular run
""")

md("""
## Defining a superrun

`st.define_run(name, subruns)` defines a superrun. Its name must start with an underscore and
may hold only letters, digits, `_` and `.` (it names files and folders); its subruns here are a
list of run ids.
No data type is involved: a superrun is a run, and any data type can be loaded for it.
""")

code("""
superrun = '_superrun_test'
st.define_run(superrun, run_ids)
""")

md("""
The definition is written as the superrun's run document, next to the other run documents:
""")

code("""
doc = st.run_metadata(superrun)
assert doc['sub_run_spec'] == {'0': 'all', '1': 'all', '2': 'all'}
assert doc['livetime'] == 30_000_000_000.0
doc
""")

md("""
* `sub_run_spec` lists the subruns, in time order; `'all'` means the whole run.
* `start` and `end` are the start of the first subrun and the end of the last one, rounded
  outwards to whole milliseconds (the precision of dates in run documents). They are
  timezone-aware (UTC) datetimes.
* `livetime` is the sum of the subruns' durations, in **nanoseconds** (a float), without any
  correction for dead time.

Livetime is not `end - start`: the superrun spans 50 s, but the detector took data only during
the three 10 s runs; the two 10 s gaps between runs belong to no subrun.
""")

code("""
span_ns = (doc['end'] - doc['start']).total_seconds() * 1e9
print(f"end - start: {span_ns / 1e9:.0f} s, livetime: {doc['livetime'] / 1e9:.0f} s")
assert span_ns == 50e9 and doc['livetime'] < span_ns
""")

md("""
Superruns are listed among the runs (superruns have no run number):
""")

code("""
runs = st.select_runs()
assert list(runs['name']) == ['0', '1', '2', '_superrun_test']
runs
""")

md("""
## Loading a superrun on the fly

Nothing is stored for the superrun yet. Loading it loads its subruns, one after the other (and
would first make any subrun data that do not exist). The result is the same as loading the three
runs one by one. (strax 2.2.3 would refuse this: there, only data types whose plugin sets
`allow_superrun = True` can be loaded for a superrun, and `Records` does not.)
""")

code("""
from_subruns = st.get_array(run_ids, 'records')
from_superrun = st.get_array(superrun, 'records')
assert len(from_superrun) == 300
assert np.array_equal(from_subruns['time'], from_superrun['time'])
""")

md("""
strax code that passes `_check_lineage_per_run_id=False` to speed up superrun loading runs
unchanged: the option is accepted, and changes nothing, since superstrax works out a superrun's
lineage once anyway where it can:
""")

code("""
fast = st.get_array(superrun, 'records', _check_lineage_per_run_id=False)
assert np.array_equal(fast, from_superrun)
""")

md("""
Chunks loaded for a superrun carry the superrun's id as their `run_id`, and `subruns` says which
part of which subrun each chunk holds. A chunk's repr shows run, data type, time span, rows,
size and subruns:
""")

code("""
chunks = list(st.get_iter(superrun, 'records'))
assert all(c.run_id == superrun for c in chunks)
print(len(chunks), 'chunks')
chunks[0]
""")

code("""
last = chunks[-1]
assert last.last_subrun == {'run_id': '2', 'start': 40_000_000_009, 'end': 40_000_000_010}
last.subruns, chunks[0].first_subrun, last.last_subrun
""")

md("""
### Progress bars

Loading shows a progress bar over data time for anything that takes more than a second (quicker
loads print nothing, and `progress_bar=False`, per call or as a context option, turns bars off).
In Jupyter the bar is a widget when `ipywidgets` is installed, and otherwise a line of text that
is redrawn in place. Here the loop works slowly on each chunk so that the bar appears:
""")

code("""
for chunk in st.get_iter(superrun, 'records', progress_bar=True):
    time.sleep(0.06)   # stands for real work on each chunk
""")

md("""
## Storing a superrun

Loading a superrun on the fly reads every subrun's chunks. When a superrun is loaded often,
store it: with the context option `write_superruns=True`, making data for a superrun writes them
as a dataset of its own, rechunked into large chunks.
""")

code("""
st.set_context_config({'write_superruns': True})
assert not st.is_stored(superrun, 'records')
st.make(superrun, 'records')
assert st.is_stored(superrun, 'records')
st.key_for(superrun, 'records')
""")

md("""
A superrun's key carries a hash of its definition instead of its run id alone, so a superrun
that is redefined with other subruns never finds the data stored for its old definition.
The stored data are the same as before:
""")

code("""
stored = st.get_array(superrun, 'records')
assert np.array_equal(stored, from_superrun)
""")

md("""
and `select_runs` now finds records for all four runs:
""")

code("""
available = st.select_runs(available=('records',))
assert available['records_available'].all() and len(available) == 4
available
""")

md("""
Asking a superrun for data that none of its subruns has makes them: making peaks for the
superrun makes (and stores) the peaks of every subrun, and then the superrun's own peaks.
""")

code("""
assert not st.is_stored('0', 'peaks')
st.make(superrun, 'peaks')
assert all(st.is_stored(r, 'peaks') for r in run_ids)
assert st.is_stored(superrun, 'peaks')

peaks = st.get_array(superrun, 'peaks')
assert len(peaks) == 300 and np.all(peaks['area'] == 42)
""")

md("""
## The chunks of a stored superrun

The 30 small chunks of the subruns were stored as one chunk. Its `subruns` records which span
of which subrun it contains, and `first_subrun` / `last_subrun` give the first and last of them:
""")

code("""
stored_chunks = list(st.get_iter(superrun, 'records'))
assert len(stored_chunks) == 1
chunk = stored_chunks[0]
assert chunk.run_id == superrun
assert chunk.subruns == {'0': {'start': 0, 'end': 10},
                         '1': {'start': 20_000_000_000, 'end': 20_000_000_010},
                         '2': {'start': 40_000_000_000, 'end': 40_000_000_010}}
chunk
""")

code("""
chunk.subruns, chunk.run_id
""")

code("""
chunk.first_subrun, chunk.last_subrun
""")

md("""
The same information is in the chunk's entry of the stored metadata:
""")

code("""
chunk_meta = st.get_meta(superrun, 'records')['chunks']
assert len(chunk_meta) == 1 and chunk_meta[0]['n'] == 300
assert chunk_meta[0]['subruns'] == chunk.subruns
chunk_meta
""")

md("""
## Parts of runs, superruns of superruns, and picking rows

strax 2.2.3 accepts both kinds of definition below: time ranges of runs, and superruns as
subruns. The differences lie in what happens next. In superstrax:

* livetime counts only the selected ranges (strax sums whole runs, or the spans of inner
  superruns);
* a superrun's data key follows the runs its inner superruns stand for, so redefining an inner
  superrun never brings back data stored for its old definition (in strax it can);
* `time_range`, `seconds_range` and `selection` work on every superrun (strax raises
  `NotImplementedError`);
* subruns are kept in time order (strax reads them in name order, so run `'10'` comes before
  run `'9'`).

### Superruns made of parts of runs

A subrun does not have to be whole: give a list of `(start, end)` time ranges (ns) instead of
`'all'`. This superrun holds 5 ns of run `0` and all of run `2`. (We switch `write_superruns`
off again, so the superruns below are loaded on the fly.) Its livetime counts only what it
contains, and it loads exactly the records that lie fully inside its ranges:
""")

code("""
st.set_context_config({'write_superruns': False})   # load on the fly again, store nothing new
st.define_run('_part', {'0': [(2, 7)], '2': 'all'})
part_doc = st.run_metadata('_part')
assert part_doc['livetime'] == 5 + 10e9
part_doc['sub_run_spec'], part_doc['livetime']
""")

code("""
part = st.get_array('_part', 'records')
run0, run2 = st.get_array('0', 'records'), st.get_array('2', 'records')
expected = np.concatenate([run0[(run0['time'] >= 2) & (strax.endtime(run0) <= 7)], run2])
assert np.array_equal(part, expected) and len(part) == 150
np.unique(part['time'] // 1_000_000_000, return_counts=True)   # seconds since epoch: 50 + 100
""")

md("""
### Superruns of superruns

A superrun can contain other superruns; they are resolved to their regular runs, in time order.
Here `_nested` combines `_part` with run `1`, which lies between `_part`'s two pieces:
""")

code("""
st.define_run('_nested', ['_part', '1'])
nested_doc = st.run_metadata('_nested')
assert nested_doc['livetime'] == part_doc['livetime'] + 10e9
nested = st.get_array('_nested', 'records')
run1 = st.get_array('1', 'records')
assert np.array_equal(nested['time'], np.sort(np.concatenate([part, run1])['time']))
nested_doc['sub_run_spec'], len(nested)
""")

md("""
The key of `_nested`'s data hashes the runs and ranges `_part` stands for, not just the name
`_part`. Redefine `_part` and `_nested` gets another key, so nothing stored for the old
definition can be loaded by mistake; define it back and the old key returns:
""")

code("""
key_before = st.key_for('_nested', 'records')
st.define_run('_part', {'0': [(2, 7)]})                  # run 2 left out now
key_after = st.key_for('_nested', 'records')
assert key_after != key_before
assert len(st.get_array('_nested', 'records')) == 5 * 10 + 100
st.define_run('_part', {'0': [(2, 7)], '2': 'all'})      # as before
assert st.key_for('_nested', 'records') == key_before
key_before, key_after
""")

md("""
### `time_range` and `selection` on superruns

Loading options that pick rows work on superruns whether their data are stored or not. Here on
the stored peaks of `_superrun_test`: a `time_range` across the end of run `1` and the start of
run `2`, and a `selection` string evaluated on each row:
""")

code("""
window = (20_000_000_005, 40_000_000_003)
in_window = st.get_array(superrun, 'peaks', time_range=window)
expected = peaks[(peaks['time'] >= window[0]) & (strax.endtime(peaks) <= window[1])]
assert np.array_equal(in_window, expected) and len(in_window) == 80
late = st.get_array(superrun, 'peaks', selection='time >= 40_000_000_000')   # only run 2
assert len(late) == 100
np.unique(in_window['time'], return_counts=True)
""")

md("""
and both together on `_nested`, which is not stored:
""")

code("""
assert not st.is_stored('_nested', 'records')
picked = st.get_array('_nested', 'records', time_range=(5, 20_000_000_005),
                      selection='channel < 3')
assert len(picked) == (2 + 5) * 3
np.unique(picked['channel'])
""")

md("""
### Which subrun did a row come from?

`add_run_id_field=True` adds a `run_id` field holding, for superruns, the subrun each row came
from:
""")

code("""
with_ids = st.get_array('_nested', 'records', add_run_id_field=True)
names, counts = np.unique(with_ids['run_id'], return_counts=True)
assert dict(zip(names.tolist(), counts.tolist())) == {'0': 50, '1': 100, '2': 100}
dict(zip(names.tolist(), counts.tolist()))
""")

md("""
## Many runs at once

`make` takes `max_workers=N` to make many runs in N worker processes, one run per task, into
the same storage and with the same keys as a serial make. (Inside Jupyter the workers come
from a fork server, so plugins must be importable or, like plugins defined in a notebook,
picklable by value with `cloudpickle`.)
""")

code("""
st.set_config({'secret_time_offset': 0})
more_runs = ['3', '4', '5', '6']
st.make(more_runs, 'peaks', max_workers=2)
assert all(st.is_stored(r, 'peaks') for r in more_runs)
[len(st.get_array(r, 'peaks')) for r in more_runs]
""")

md("""
On a cluster, `executor=client` sends the same tasks to a Dask client instead (here a
`LocalCluster` of two worker processes). `get_dask` gives stored data as a lazy
`dask.dataframe` with one partition per stored chunk, indexed by time, so an aggregate over a
superrun larger than memory is computed chunk by chunk on the workers. Here: two sums over
`_nested`, chained from its subruns' stored records (one partition per chunk they keep):
""")

code("""
import logging

import dask
from dask.distributed import Client, LocalCluster

with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=':0',
                  silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
    st.make(['7', '8'], 'peaks', executor=client)
    frame = st.get_dask('_nested', 'records', keep_columns=['time', 'channel'])   # lazy
    n_rows, channels = dask.compute(frame['time'].count(), frame['channel'].sum())

assert st.is_stored('7', 'peaks') and st.is_stored('8', 'peaks')
assert (n_rows, channels) == (250, 25 * sum(range(10)))
print(f'{frame.npartitions} partitions, {n_rows} rows, channel sum {channels}')
""")

md("""
## Cleaning up

All data of this tutorial live in the temporary folder made at the start; remove it.
""")

code("""
import shutil

os.chdir(start_dir)
shutil.rmtree(workdir)
""")


def build():
    nb = new_notebook(cells=CELLS)
    for i, cell in enumerate(nb.cells):     # stable ids: rebuilding changes only what changed
        cell.id = f"{cell.cell_type[:4]}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb, timeout=120):
    from nbclient import NotebookClient
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": tmp}}).execute()
    # Execution counts are kept; the language_info nbclient records carries the exact Python
    # version, which would change the file on every rebuild elsewhere: keep only the name.
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="write the notebook unexecuted")
    parser.add_argument("-o", "--output", default=OUT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    nb = build()
    if not args.no_run:
        execute(nb)
    nbformat.validate(nb)
    nbformat.write(nb, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
