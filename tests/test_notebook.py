"""The superruns tutorial notebook runs green in a real Jupyter kernel, with clean outputs that
match the ones saved in it; progress bars behave in terminals, in notebooks, and when switched
off."""
import copy
import importlib.util
import os
import re
import sys
import tempfile
import time

import pytest

import superstrax as sx
from superstrax import progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "docs", "tutorials", "superruns.ipynb")
BUILDER = os.path.join(ROOT, "docs", "tutorials", "build_superruns_notebook.py")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROGRESS_CELL_MARK = "progress_bar=True"
# our loading bars ("desc: |####  | 42% [00:01<00:01]") and the runs bar of a parallel make,
# in tqdm's own format ("Making peaks of 4 runs: 100%|####| 4/4 [00:02<00:00]")
PROGRESS_BAR_TEXT = re.compile(r"\| *\d+% \[|\d+%\|")


def _texts(output):
    """Every text an output holds: stream text, text data, error name/value/traceback."""
    if output.get("output_type") == "stream":
        yield output.get("text", "")
    for mime, value in (output.get("data") or {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            yield value if isinstance(value, str) else str(value)
    if output.get("output_type") == "error":
        yield output.get("ename", "") + ": " + output.get("evalue", "")
        yield from output.get("traceback", [])


def _problems(nb):
    """Reasons why the outputs of nb are not clean, one per offending output."""
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            where = f"cell {i} ({cell.source.splitlines()[0][:50]!r})"
            if out.get("output_type") == "error":
                problems.append(f"{where}: error {out.get('ename')}: {out.get('evalue')}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"{where}: wrote to stderr: {out.get('text', '')[:300]!r}")
            for text in _texts(out):
                if ANSI.search(text) or "\x1b" in text:
                    problems.append(f"{where}: ANSI escape codes in {text[:200]!r}")
                if "\r" in text:
                    problems.append(f"{where}: carriage returns (progress garbage) in "
                                    f"{text[:200]!r}")
                if "IProgress not found" in text:
                    problems.append(f"{where}: tqdm's 'IProgress not found' warning")
    return problems


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# What legitimately differs between two executions of the notebook, and its stand-in.
VARYING = [
    (re.compile(r"\[\d+:\d\d(?::\d\d)?<[^\]]*\]"), "[<elapsed>]"),     # progress bar times
    (re.compile(r"\d+(?:\.\d+)?\s?(?:it/s|s/it)\b"), "<rate>"),
    (re.compile(r"(['\"]writing_(?:started|ended)['\"]:\s*)[-+.\deE]+"), r"\1<time>"),
    (re.compile(r"(['\"]filesize['\"]:\s*)\d+"), r"\1<bytes>"),   # depends on the c-blosc build
    (re.compile(r" at 0x[0-9a-fA-F]+"), " at 0x<address>"),
    (re.compile(r"[^\s'\"]*superruns-tutorial-[\w.]+"), "<workdir>"),
    (re.compile(re.escape(tempfile.gettempdir()) + r"[^\s'\"]*"), "<tmp>"),
]


def _normalised(text):
    for pattern, stand_in in VARYING:
        text = pattern.sub(stand_in, text)
    return text


def _shown(nb):
    """Per code cell, what a reader sees: each stream's text (however the kernel split it into
    messages) and the text/plain of results and displays, with VARYING parts masked."""
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outs, streams = [], {}
        for out in cell.outputs:
            kind = out.get("output_type")
            if kind == "stream":
                kind = "stream " + out.get("name", "")
                if kind in streams:
                    i = streams[kind]
                    outs[i] = (kind, outs[i][1] + out.get("text", ""))
                else:
                    streams[kind] = len(outs)
                    outs.append((kind, out.get("text", "")))
            elif kind in ("execute_result", "display_data"):
                data = out.get("data") or {}
                text = "<widget>" if WIDGET_MIME in data else data.get("text/plain", "")
                text = text if isinstance(text, str) else "".join(text)
                if kind == "display_data" and PROGRESS_CELL_MARK not in cell.source \
                        and (text == "<widget>" or PROGRESS_BAR_TEXT.search(text)):
                    continue   # a bar appears wherever a load outlasts the delay (a busy machine)
                outs.append((kind, text))
            elif kind == "error":
                outs.append((kind, out.get("ename", "") + ": " + out.get("evalue", "")))
        shown.append((cell.source, [(kind, _normalised(text)) for kind, text in outs]))
    return shown


def _progress_outputs(nb):
    cells = [c for c in nb.cells if c.cell_type == "code" and PROGRESS_CELL_MARK in c.source]
    assert len(cells) == 1, "the tutorial should have one cell showing a progress bar"
    return [t for out in cells[0].outputs if out.get("output_type") == "display_data"
            for t in _texts(out)]


@pytest.fixture(scope="module")
def nbformat():
    return pytest.importorskip("nbformat")


@pytest.fixture
def isolated_jupyter(tmp_path, monkeypatch):
    """Kernel specs and IPython profiles of the user and of JUPYTER_PATH are out of play, so the
    'python3' kernel is the one of this Python (ipykernel's own, or its environment's, whose
    'python' command jupyter_client runs as sys.executable)."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    monkeypatch.delenv("JUPYTER_PREFER_ENV_PATH", raising=False)
    return tmp_path


def test_tutorial_notebook_runs_green_with_clean_outputs(nbformat, isolated_jupyter):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    tmp_path = isolated_jupyter
    saved = nbformat.read(NOTEBOOK, as_version=4)
    nb = copy.deepcopy(saved)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    nbformat.write(nb, str(tmp_path / "superruns.ipynb"))

    client = nbclient.NotebookClient(nb, timeout=60, startup_timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail("a tutorial cell failed:\n" + ANSI.sub("", str(e)), pytrace=False)

    prefix_cell = nb.cells.pop()
    assert prefix_cell.outputs[0]["text"].strip() == sys.prefix, \
        "the notebook ran in another Python than the tests"
    assert _problems(nb) == []
    bar = _progress_outputs(nb)
    assert any("Loading _superrun_test records" in t for t in bar), \
        f"the progress cell should show a bar, got {bar}"
    assert not (tmp_path / "strax_data").exists(), "the notebook should work in its own folder"
    # Saved outputs must be what the saved code gives now: stale outputs fail here.
    assert len(_shown(nb)) == len(_shown(saved))
    for (source, fresh), (_, kept) in zip(_shown(nb), _shown(saved)):
        assert fresh == kept, (
            f"the saved outputs of the cell starting {source.splitlines()[0]!r} are stale: "
            f"run python docs/tutorials/build_superruns_notebook.py\n"
            f"saved: {kept}\nnow:   {fresh}")


def test_saved_notebook_has_clean_outputs_and_matches_its_builder(nbformat):
    saved = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(saved)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "save the notebook executed"
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2
    assert _problems(saved) == []
    assert any("Loading _superrun_test records" in t for t in _progress_outputs(saved))
    # The builder script is the source of the notebook: the two must not drift apart.
    spec = importlib.util.spec_from_file_location("build_superruns_notebook", BUILDER)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    built = builder.build()
    assert [(c.cell_type, c.source) for c in built.cells] == \
        [(c.cell_type, c.source) for c in saved.cells], \
        "docs/tutorials/superruns.ipynb differs from its builder: run " \
        "python docs/tutorials/build_superruns_notebook.py"


# --- progress bars ------------------------------------------------------------------------------
class _C:
    def __init__(self, end):
        self.end = end


def _slow(ends, pause=0.0):
    for e in ends:
        time.sleep(pause)
        yield _C(e)


def test_disabled_progress_prints_nothing(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0)
    out = list(progress.with_progress(_slow([10, 20, 30]), 0, 30, desc="x", enabled=False))
    assert [c.end for c in out] == [10, 20, 30]
    assert capsys.readouterr() == ("", "")


def test_quick_operations_print_nothing(capsys):
    list(progress.with_progress(_slow([10, 20, 30]), 0, 30, desc="quick"))
    list(progress.with_progress(_slow([10, 20, 30]), desc="quick"))
    assert capsys.readouterr() == ("", "")


def test_terminal_bar_goes_to_stderr_and_finishes(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0)
    bars = []
    real = progress.make_bar

    def spy(*a, **kw):
        bars.append(real(*a, **kw))
        return bars[-1]

    monkeypatch.setattr(progress, "make_bar", spy)
    # the data end before the run does: the bar still ends full, in exact integer steps
    list(progress.with_progress(_slow([10, 20, 25]), 0, 30, desc="Loading x"))
    out, err = capsys.readouterr()
    assert out == "" and "Loading x" in err
    assert bars[0].n == bars[0].total == 30


def test_notebook_without_widgets_draws_text_in_place(capsys, monkeypatch):
    """In a kernel without ipywidgets: one display, then updates of it; no stream output."""
    pytest.importorskip("IPython")
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj, **kw):
            calls.append(("update", obj["text/plain"]))

    def display(obj, **kw):
        assert kw.get("display_id") is True and kw.get("raw") is True
        calls.append(("display", obj["text/plain"]))
        return Handle()

    monkeypatch.setattr(progress, "DELAY", 0)
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr(progress, "_widgets", False)
    monkeypatch.setattr(IPython.display, "display", display)
    assert progress.bar_class() is progress.DisplayTextBar
    list(progress.with_progress(_slow([10, 20, 30], pause=0.01), 0, 30, desc="Loading nb"))
    assert capsys.readouterr() == ("", "")
    assert calls[0][0] == "display" and all(kind == "update" for kind, _ in calls[1:])
    assert "Loading nb" in calls[-1][1] and "100%" in calls[-1][1]
    assert not any("\r" in text or "\x1b" in text for _, text in calls)


def test_outside_jupyter_bars_are_text():
    assert progress.in_jupyter_kernel() is False
    assert progress.bar_class() is progress.text_tqdm


def test_context_progress_option_silences_loading(tmp_path, capsys, monkeypatch):
    from superstrax.testutils import Records
    monkeypatch.setattr(progress, "DELAY", 0)
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path / "d"))], register=[Records],
                    progress_bar=False)
    st.get_array("0", "records")
    assert capsys.readouterr().err == ""
    st.get_array("0", "records", progress_bar=True)
    assert "Loading 0 records" in capsys.readouterr().err
