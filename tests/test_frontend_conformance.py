"""Every frontend of the package passes the storage contract (superstrax.testing)."""
import superstrax as sx
from superstrax.storage.memory import MemoryFrontend
from superstrax.testing import FrontendConformance


class TestDataDirectory(FrontendConformance):
    def make_frontend(self, tmp_path):
        return sx.DataDirectory(str(tmp_path / "data"), provide_run_metadata=True)


class TestDataDirectoryWithoutRunDocuments(FrontendConformance):
    def make_frontend(self, tmp_path):
        return sx.DataDirectory(str(tmp_path / "data"))


class TestMemoryFrontend(FrontendConformance):
    def make_frontend(self, tmp_path):
        return MemoryFrontend()


class TestMemoryFrontendWithoutSuperruns(FrontendConformance):
    def make_frontend(self, tmp_path):
        fe = MemoryFrontend(provide_run_metadata=False)
        fe.provide_superruns = False
        return fe
