"""CutList: the booleans of several cut plugins as one data type, with their logical AND.

The module path is strax's (``strax.plugins.cut_plugin``), so imports from there keep working;
CutPlugin itself lives in kinds.py and is re-exported here.
"""
import inspect

import numpy as np

from ..processing.arrays import merged_dtype
from ..errors import InvalidArgument, PluginError
from .base import Plugin, SaveWhen, as_str_tuple
from .kinds import CutPlugin, MergeOnlyPlugin

__all__ = ["CutPlugin", "CutList", "get_accumulated_bool", "plugins_of_cut_list"]

# Fields of a CutList's input that are not cuts, so they take no part in the AND.
_NOT_CUTS = ("time", "endtime")


class CutList(MergeOnlyPlugin):
    """All fields of the plugins in `cuts` (cut plugins, or other CutLists), plus one boolean
    field named `accumulated_cuts_string`: the AND of them all, row by row.

    Unless a subclass sets depends_on, it is every data type the cuts provide, in order.
    Stored data matches strax's: saved when it is a target (and rechunked, as other saved
    data), fields in the order of the sorted dependency names, the AND last, described as
    "Boolean AND of all cuts in <name>". Register it, with its cuts, by
    ``st.register_cut_list(MyCutList)``.
    """

    __version__ = "0.0.0"
    save_when = SaveWhen.TARGET
    rechunk_on_save = True
    cuts = ()
    accumulated_cuts_string = None
    # What depends_on was set to (by a subclass or on an instance); empty: derive from cuts.
    _depends_on = ()

    # A property, as in strax, so code that reads or assigns plugin.depends_on works alike.
    @property
    def depends_on(self):
        if not self._depends_on:
            self._depends_on = self._cut_data_types()
        return self._depends_on

    @depends_on.setter
    def depends_on(self, value):
        self._depends_on = as_str_tuple(value)

    @classmethod
    def depends_on_tuple(cls):
        # The registry asks classes, not instances, and on a class the property is no tuple.
        declared = inspect.getattr_static(cls, "depends_on")
        if not isinstance(declared, property):      # a subclass wrote depends_on = (...)
            return as_str_tuple(declared)
        return as_str_tuple(cls._depends_on) or cls._cut_data_types()

    @classmethod
    def _cut_data_types(cls):
        types = []
        for cut in cls.cuts:
            if not (isinstance(cut, type) and issubclass(cut, Plugin)):
                raise PluginError(f"{cls.__name__}.cuts must hold plugin classes (CutPlugins "
                                  f"or CutLists), got {cut!r}")
            types.extend(cut.provides_tuple())
        return tuple(types)

    def _accumulated_name(self):
        name = self.accumulated_cuts_string
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.__class__.__name__} must set accumulated_cuts_string: "
                              f"the name of the field holding the AND of its cuts")
        return name

    def infer_dtype(self):
        kinds = self.dependencies_by_kind()
        if len(kinds) != 1:
            raise PluginError(f"{self.__class__.__name__}: the cuts of a CutList must all be of "
                              f"one data kind, got {dict(kinds)}")
        name = self._accumulated_name()
        # sorted, as strax merges same-kind inputs in the order of their names
        fields = merged_dtype([self.deps[d].dtype_for(d) for d in sorted(self.depends_on)])
        return fields + [((f"Boolean AND of all cuts in {name}", name), np.bool_)]

    def compute(self, **kwargs):
        cuts = self._merged_input(kwargs)
        out = np.zeros(len(cuts), dtype=self.dtype_for(self.provides[0]))
        for field in out.dtype.names:
            if field in cuts.dtype.names:
                out[field] = cuts[field]
        out[self._accumulated_name()] = get_accumulated_bool(cuts)
        return out


def get_accumulated_bool(array):
    """Per row, the AND of every field of array but time and endtime (True without any)."""
    result = np.ones(len(array), dtype=bool)
    for field in array.dtype.names:
        if field not in _NOT_CUTS:
            result &= array[field]
    return result


def plugins_of_cut_list(cut_list) -> list:
    """The plugin classes Context.register_cut_list registers, in order: a CutList's cuts
    (a cut that is a CutList itself with its own cuts before it), then the list; a list or
    tuple of CutLists gives each one's in turn."""
    if isinstance(cut_list, str):
        raise InvalidArgument(f"register_cut_list takes a CutList class or a list/tuple of "
                              f"them, not the string {cut_list!r}")
    if not isinstance(cut_list, type):
        if not isinstance(cut_list, (list, tuple)):
            raise InvalidArgument(f"register_cut_list takes a CutList class or a list/tuple of "
                                  f"them, got {type(cut_list).__name__}")
        return [p for one in cut_list for p in plugins_of_cut_list(one)]
    if not issubclass(cut_list, CutList):
        raise InvalidArgument(f"{cut_list.__name__} is not a CutList; register it with "
                              f"st.register")
    found = []
    for cut in cut_list.cuts:
        if isinstance(cut, type) and issubclass(cut, CutList):
            found.extend(plugins_of_cut_list(cut))
        else:
            found.append(cut)
    found.append(cut_list)
    return found
