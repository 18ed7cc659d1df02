"""Record strax 2.2.3's dtypes and constants into strax_dtypes.json (the test compares).

Run with a Python that has strax installed (not the project's test environment):
    /work/venv-strax/bin/python tests/data/record_strax_dtypes.py
"""
import json
import os

import numpy as np
import strax

SPECS = {
    "time_fields": lambda: strax.time_fields,
    "time_dt_fields": lambda: strax.time_dt_fields,
    "interval_dtype": lambda: strax.interval_dtype,
    "peak_interval_dtype": lambda: strax.peak_interval_dtype,
    "hit_dtype": lambda: strax.hit_dtype,
    "raw_record_dtype()": lambda: strax.raw_record_dtype(),
    "raw_record_dtype(50)": lambda: strax.raw_record_dtype(50),
    "record_dtype()": lambda: strax.record_dtype(),
    "record_dtype(20)": lambda: strax.record_dtype(20),
    "hitlet_dtype()": lambda: strax.hitlet_dtype(),
    "hitlet_with_data_dtype()": lambda: strax.hitlet_with_data_dtype(),
    "hitlet_with_data_dtype(7)": lambda: strax.hitlet_with_data_dtype(7),
}
for top in (True, False):
    for start in (True, False):
        for timing in (True, False):
            key = f"peak_dtype(n_channels=4, n_sum_wv_samples=8, n_widths=3, hits_timing={timing}, store_data_top={top}, store_data_start={start})"
            SPECS[key] = (lambda t=top, s=start, h=timing: strax.peak_dtype(
                n_channels=4, n_sum_wv_samples=8, n_widths=3, hits_timing=h,
                store_data_top=t, store_data_start=s))
SPECS["peak_dtype()"] = lambda: strax.peak_dtype()

facts = {
    "strax_version": strax.__version__,
    "dtypes": {k: repr(np.dtype(f()).descr) for k, f in SPECS.items()},
    "constants": {n: getattr(strax, n) for n in (
        "DIGITAL_SUM_WAVEFORM_CHANNEL", "DEFAULT_RECORD_LENGTH", "RUN_METADATA_PATTERN",
        "RUN_DEFAULTS_KEY", "DEFAULT_CHUNK_SIZE_MB", "DEFAULT_CHUNK_SPLIT_NS")},
    "dtypes_all": sorted(strax.dtypes.__all__),
    "general_all": sorted(strax.processing.general.__all__),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "strax_dtypes.json")
with open(out, "w") as f:
    json.dump(facts, f, indent=1, sort_keys=True)
print("wrote", out)
