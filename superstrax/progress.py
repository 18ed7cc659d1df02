"""Progress bars over data time: notebook widgets in Jupyter, text in terminals, silent on request."""
from tqdm.auto import tqdm


def with_progress(chunks, start=None, end=None, desc="", enabled=True):
    """Pass chunks through, advancing a bar by the data time they cover.

    The bar shows only for operations that last more than a second, so quick loads print nothing.
    """
    if not enabled:
        yield from chunks
        return
    total = (end - start) / 1e9 if start is not None and end is not None and end > start else None
    bar = tqdm(total=total, desc=desc, unit="s" if total else " chunks", delay=1.0, leave=False,
               bar_format="{desc}: |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]"
               if total else None)
    done = start
    try:
        for chunk in chunks:
            if total:
                step = (min(chunk.end, end) - done) / 1e9
                if step > 0:
                    bar.update(step)
                    done = min(chunk.end, end)
            else:
                bar.update(1)
            yield chunk
    finally:
        bar.close()
