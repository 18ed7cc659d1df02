"""strax's dtype names give byte-identical dtypes (titles, names, types, order, shapes) to
strax 2.2.3's; the reference values were recorded from strax by data/record_strax_dtypes.py."""
import json
from pathlib import Path

import numpy as np
import pytest

import superstrax as strax
import superstrax.dtypes

FACTS = json.loads((Path(__file__).parent / "data" / "strax_dtypes.json").read_text())


def _ours(key):
    # The keys are the expressions that made strax's values; evaluate them against ours.
    spec = eval(key, {**vars(superstrax.dtypes)})
    return repr(np.dtype(spec).descr)


@pytest.mark.parametrize("key", sorted(FACTS["dtypes"]))
def test_dtype_is_strax_identical(key):
    assert _ours(key) == FACTS["dtypes"][key]


def test_recorded_facts_come_from_strax_2_2_3():
    assert FACTS["strax_version"] == "2.2.3"


@pytest.mark.parametrize("name", sorted(FACTS["constants"]))
def test_constant_has_strax_value(name):
    assert getattr(strax, name) == FACTS["constants"][name]


def test_dtypes_module_has_strax_names():
    for name in FACTS["dtypes_all"]:
        assert getattr(superstrax.dtypes, name) is not None, name
    from superstrax.dtypes import DIGITAL_SUM_WAVEFORM_CHANNEL, copy_to_buffer
    assert DIGITAL_SUM_WAVEFORM_CHANNEL == -1
    assert copy_to_buffer is strax.copy_to_buffer


def test_general_module_has_strax_names():
    import superstrax.processing.general as general
    for name in FACTS["general_all"]:
        assert hasattr(general, name), name
        assert getattr(strax, name) is getattr(general, name), name


def test_hitlet_with_data_needs_two_samples():
    with pytest.raises(ValueError, match="n_samples"):
        strax.hitlet_with_data_dtype(1)
