"""A dict-like cache that keeps only the entries used most recently.

A context caches what it parsed of each file it looked at (metadata, run documents), so that
a second call skips reading them again. Unbounded, such a cache grows with every run a
context has ever touched: a superrun of 10,000 subruns left ~4 KB of parsed documents per
subrun in memory for as long as the context lived, and that, not the data, made the peak
memory of a make grow with the number of subruns. Bounded, the cache keeps a second call
over up to `max_entries` runs as fast as before; above that, entries are read again.
"""
from collections import OrderedDict

__all__ = ["BoundedCache"]


class BoundedCache:
    """get/set/pop/clear over at most max_entries entries; the least recently used go first."""

    __slots__ = ("max_entries", "_entries")

    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError(f"a BoundedCache needs room for at least one entry, got "
                             f"{max_entries}")
        self.max_entries = int(max_entries)
        self._entries = OrderedDict()

    def get(self, key, default=None):
        try:
            value = self._entries[key]
        except KeyError:
            return default
        self._entries.move_to_end(key)
        return value

    def __setitem__(self, key, value):
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    def __contains__(self, key):
        return key in self._entries

    def __len__(self):
        return len(self._entries)

    def pop(self, key, default=None):
        return self._entries.pop(key, default)

    def clear(self):
        self._entries.clear()
