"""Reusable test suites for code that plugs into superstrax (needs pytest).

    from superstrax.testing import FrontendConformance

    class TestMyFrontend(FrontendConformance):
        def make_frontend(self, tmp_path):
            return MyFrontend(tmp_path / "store")
"""
from .frontend import FrontendConformance

__all__ = ["FrontendConformance"]
