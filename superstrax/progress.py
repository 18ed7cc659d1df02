"""Progress bars over data time: widgets or in-place text in Jupyter, text in terminals, silent
on request.

Which bar is used is decided when a bar is made, not at import:

- in a Jupyter kernel with ipywidgets importable: tqdm's notebook widget;
- in a Jupyter kernel without ipywidgets: a text bar redrawn in place through an IPython
  display handle (no carriage returns or escape codes end up in the cell's output, and tqdm's
  "IProgress not found" warning is never triggered);
- anywhere else: tqdm's plain text bar on stderr.

Bars appear only for operations lasting longer than DELAY seconds, so quick loads print
nothing; `enabled=False` prints nothing at all.
"""
import math
import sys
import warnings

from tqdm.std import TqdmWarning
from tqdm.std import tqdm as text_tqdm

# Seconds an operation must last before its bar appears.
DELAY = 1.0

# tqdm.auto (used directly by some callers) warns "IProgress not found" when it is first
# imported in a Jupyter kernel without ipywidgets, then falls back to text bars. Import it here
# once, silently, so that warning never reaches a notebook.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)
    import tqdm.auto  # noqa: F401,E402

_widgets = None


def _widgets_available():
    """Whether ipywidgets can be imported (checked once)."""
    global _widgets
    if _widgets is None:
        try:
            import ipywidgets  # noqa: F401
            _widgets = True
        except Exception:
            _widgets = False
    return _widgets


def in_jupyter_kernel():
    """True inside a Jupyter kernel (notebook, lab, VS Code), False in terminals and IPython."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class DisplayTextBar(text_tqdm):
    """tqdm's text bar, drawn into one notebook output that is replaced on every refresh.

    Nothing is written to any stream: the bar's text goes to an IPython display handle, so a
    notebook (live or saved) shows one clean line instead of carriage-return updates.
    """

    def __init__(self, *args, **kwargs):
        self._handle = None
        kwargs["file"] = _NullFile()
        kwargs.setdefault("ascii", False)
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        text = self.__str__() if msg is None else msg
        bundle = {"text/plain": text}
        if self._handle is None:
            if not text:
                return True
            from IPython.display import display
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        return True


class _NullFile:
    """Where DisplayTextBar's inherited stream writes (a newline or '\\r' on close) go."""
    encoding = "utf-8"

    def write(self, s):
        return len(s)

    def flush(self):
        pass


def bar_class():
    """The tqdm class to use here (see the module docstring)."""
    if in_jupyter_kernel():
        if _widgets_available():
            from tqdm.notebook import tqdm as widget_tqdm
            return widget_tqdm
        return DisplayTextBar
    return text_tqdm


def make_bar(iterable=None, enabled=True, **kwargs):
    """A tqdm bar of the right kind for here, appearing after DELAY seconds.

    enabled=False gives a disabled bar (prints nothing). In Jupyter a bar that appeared is left
    in its final state, as the record of the cell's work; in terminals it is cleared when done
    unless leave=True is given.
    """
    kwargs.setdefault("delay", DELAY)
    if not enabled:
        return text_tqdm(iterable, disable=True, **kwargs)
    cls = bar_class()
    if cls is not text_tqdm:
        kwargs["leave"] = True
    else:
        kwargs.setdefault("leave", False)
    return cls(iterable, **kwargs)


def with_progress(chunks, start=None, end=None, desc="", enabled=True):
    """Pass chunks through, advancing a bar by the data time they cover.

    With start and end (ns) the bar shows the fraction of [start, end) done; without them it
    counts chunks. The bar shows only for operations that last more than DELAY seconds, so quick
    loads print nothing; with enabled=False nothing is ever printed.
    """
    if not enabled:
        yield from chunks
        return
    timed = (start is not None and end is not None and end > start
             and math.isfinite(start) and math.isfinite(end))
    # The total is in integer ns so the bar reaches exactly 100% (float seconds could stop just
    # short, which a notebook widget shows as a failed, red bar). Units are not displayed.
    bar = make_bar(total=int(end - start) if timed else None, desc=desc,
                   unit="ns" if timed else " chunks",
                   bar_format="{desc}: |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]"
                   if timed else None)
    done = int(start) if timed else None
    finished = False
    try:
        for chunk in chunks:
            if timed:
                reached = min(int(chunk.end), int(end))
                if reached > done:
                    bar.update(reached - done)
                    done = reached
            else:
                bar.update(1)
            yield chunk
        finished = True
    finally:
        if finished and timed and done < end:
            bar.update(int(end) - done)   # data can end before the run does
        bar.close()
