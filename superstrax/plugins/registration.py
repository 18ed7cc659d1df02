"""Which classes of a module `Context.register_all` registers."""
import types

from .base import Plugin


def plugin_classes_in(module: types.ModuleType) -> list:
    """Every Plugin subclass reachable as an attribute of module, in name order.

    As in strax, classes the module imports (re-exports) count, not only those it defines:
    packages such as straxen.plugins gather their plugins that way. superstrax's own base
    classes (Plugin, LoopPlugin, ...) provide nothing and are left out.
    """
    found = []
    for name in dir(module):
        x = getattr(module, name, None)
        if isinstance(x, type) and issubclass(x, Plugin) \
                and not x.__module__.startswith(__package__ + "."):
            found.append(x)
    return found
