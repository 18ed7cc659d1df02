"""Dask, imported only when asked for, with an install hint when it is missing."""
from __future__ import annotations

INSTALL_HINT = "pip install 'superstrax[dask]'"


def require(module: str = "dask.dataframe"):
    """Import a module of the dask extra, or say how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is needed for this ({e}); install the dask extra: "
                          f"{INSTALL_HINT}") from e


def is_dask_client(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and \
        hasattr(executor, "submit") and hasattr(executor, "gather")
