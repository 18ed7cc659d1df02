"""The StorageFrontend contract itself: capabilities under both spellings, clear errors."""
import pytest

import superstrax as sx
from superstrax.errors import DataNotAvailable, InvalidConfiguration


class NothingStored(sx.StorageFrontend):
    def _find(self, key):
        raise DataNotAvailable(f"{key} is not here")


class StraxStyle(NothingStored):
    # how strax subclasses declare capabilities
    provide_run_metadata = True
    provide_superruns = True


def test_the_base_classes_are_abstract():
    for cls in (sx.StorageFrontend, sx.StorageBackend, sx.Saver):
        with pytest.raises(TypeError):
            cls()


def test_capabilities_answer_to_strax_names_too():
    fe = NothingStored()
    assert (fe.stores_data, fe.stores_run_documents, fe.stores_superruns, fe.readonly) == \
        (True, False, False, False)
    assert StraxStyle().stores_run_documents and StraxStyle().stores_superruns
    assert StraxStyle().provide_run_metadata and StraxStyle().can_define_runs
    fe = NothingStored(readonly=True, provide_run_metadata=True, take_only="peaks")
    assert fe.provide_run_metadata and fe.readonly and not fe.can_define_runs
    assert fe.take_only == ("peaks",) and fe.exclude == () and fe.overwrite == "if_broken"
    fe.provide_superruns = True
    assert fe.stores_superruns


def test_writing_a_run_document_where_none_can_be_stored_says_so():
    with pytest.raises(InvalidConfiguration, match="does not store run documents"):
        NothingStored().write_run_metadata("1", {"name": "1"})
    with pytest.raises(InvalidConfiguration, match="readonly"):
        NothingStored(readonly=True, provide_run_metadata=True).write_run_metadata("1", {})


def test_a_frontend_told_of_changes_gets_new_versions():
    fe = StraxStyle()
    assert fe.run_document_version("1") is None          # never told: cannot be cached
    fe.run_document_changed("1")
    first = fe.run_document_version("1")
    fe.run_document_changed("1")
    assert fe.run_document_version("1") not in (None, first)
