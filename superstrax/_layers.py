"""The layer map: every module of the package and the layer it belongs to, lowest first.

A module may import modules of its own layer or of lower ones, never of a higher one, and
imports may not form a cycle (tools/check_architecture.py checks both, in the test suite).
A name covers a package and everything in it. A new module is added here, in the lowest
layer whose modules it does not need to import from above.
"""
LAYERS = (
    ("base", ("errors", "_version", "_layers", "hashing", "naming", "options", "validation",
              "docstrings", "sort_enforcement", "compat", "bounded_cache")),
    ("data", ("dtypes", "kernels", "chunk", "config", "progress", "output",
              "processing", "utils", "threaded_runs")),
    ("plugins", ("plugins",)),
    ("storage", ("storage", "io", "constants")),
    ("runs", ("runs", "lineage", "run_selection")),
    ("engine", ("session", "planning", "executor", "loading", "parallel", "inspection",
                "sources", "processors", "zarr_arrays", "dispatch")),
    ("facade", ("context",)),
    ("tools", ("cli", "testutils", "testing")),
    # the package itself, and old module paths kept as aliases of moved modules
    ("package", ("__init__", "__main__", "superruns", "run_registry", "demo", "maintenance",
                 "verification")),
)


def layer_of(module: str):
    """(index, name) of the layer of a module given relative to the package ('runs.registry');
    None for a module the map does not name."""
    for i, (name, members) in enumerate(LAYERS):
        for m in members:
            if module == m or module.startswith(m + "."):
                return i, name
    return None
