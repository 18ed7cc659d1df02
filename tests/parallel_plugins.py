"""The context of the tests of many runs at once. Its plugins (superstrax.testutils.Pulses and
Doubled, shared with benchmarks/parallel.py) are importable, so worker processes import them
by name, as users' plugins are; one test defines its own class to check plugins that cannot be
imported travel by value."""
import superstrax as sx
from superstrax.testutils import (CHUNK_NS, ROW_NS, RUN_SPAN, Doubled, Pulses,  # noqa: F401
                                  expected_pulses, write_run_document)


def context(path, **config):
    storage = sx.DataDirectory(str(path), provide_run_metadata=True)
    return sx.Context(storage=[storage], register=[Pulses, Doubled], config=config,
                      progress_bar=False)


def write_run_documents(st, runs, n_chunks=4):
    for run in runs:
        start = int(run) * RUN_SPAN
        write_run_document(st.storage[0], str(run), start, start + n_chunks * CHUNK_NS)
