"""Many runs at once: worker processes on one machine, Dask on a cluster, and lazy Dask
frames over data larger than memory.

- many_runs.make_many: what st.make(..., max_workers=N | executor=client) does
- spec.ContextSpec: a Context by value, rebuilt in workers
- frames.get_dask: what st.get_dask does
"""
from .many_runs import make_many, wants_parallel
from .spec import ContextSpec

__all__ = ["ContextSpec", "make_many", "wants_parallel", "get_dask"]


def get_dask(*args, **kwargs):
    from .frames import get_dask as _get_dask
    return _get_dask(*args, **kwargs)
