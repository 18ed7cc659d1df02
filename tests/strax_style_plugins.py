"""Plugins written the way strax 2.2.3 code (straxen's) writes them: options as Config
descriptors (and an Option subclass overriding validate/fetch, as URLConfig does), options
from takes_config read as attributes, multi-output plugins declared with immutabledict, a
child plugin, a class named with an acronym and a DownChunkingPlugin.

Only `import superstrax as strax` ties this module to superstrax: the keys tests check were
recorded by importing it with `superstrax` bound to strax 2.2.3 itself.
"""
import numpy as np
from immutabledict import immutabledict

import superstrax as strax

PULSE_DTYPE = strax.time_fields + [
    (("Pulse amplitude", "amplitude"), np.float64),
    (("Channel the pulse was seen in", "channel"), np.int16),
]
CHUNK_NS = 100


class DoubledConfig(strax.Config):
    """Values written 'double:N' mean 2N: validate rewrites them before anything is hashed
    (so the lineage holds the number), and fetch hands the plugin the value plus a half."""

    def validate(self, config, run_id=None, run_defaults=None, set_defaults=True):
        super().validate(config, run_id, run_defaults, set_defaults)
        value = config.get(self.name)
        if isinstance(value, str) and value.startswith("double:"):
            config[self.name] = 2 * int(value[len("double:"):])

    def fetch(self, plugin):
        return super().fetch(plugin) + 0.5


class Pulses(strax.Plugin):
    """A source: n_chunks chunks of CHUNK_NS ns, rows_per_chunk pulses in each."""

    __version__ = "0.1.0"
    depends_on = ()
    provides = "pulses"
    data_kind = "pulses"
    dtype = PULSE_DTYPE

    n_chunks = strax.Config(default=3, track=False, help="how many chunks to make")
    rows_per_chunk = strax.Config(default=4, type=int, help="pulses per chunk")
    amplitude = strax.Config(default=1.5, infer_type=True, help="amplitude of the first pulse")
    channels = strax.Config(default_factory=lambda: [0, 1], help="channels, used in turn")

    def is_ready(self, chunk_i):
        return chunk_i < self.n_chunks

    def source_finished(self):
        return True

    def compute(self, chunk_i):
        n = self.rows_per_chunk
        r = np.zeros(n, self.dtype)
        r["time"] = chunk_i * CHUNK_NS + np.arange(n) * (CHUNK_NS // n)
        r["endtime"] = r["time"] + 5
        r["amplitude"] = self.amplitude * (1 + np.arange(n))
        r["channel"] = np.resize(np.asarray(self.channels), n)
        return self.chunk(start=chunk_i * CHUNK_NS, end=(chunk_i + 1) * CHUNK_NS, data=r)


@strax.takes_config(strax.Option("area_scale", default=2.0, type=float, help="area per amplitude"))
class PulseAreas(strax.Plugin):
    """Mixes both ways of declaring options and reads both as attributes."""

    __version__ = "0.0.2"
    depends_on = "pulses"
    provides = "pulse_areas"
    dtype = strax.time_fields + [(("Pulse area", "area"), np.float64)]

    offset = DoubledConfig(default="double:3", help="added to every area")

    def setup(self):
        # As in strax, the dtype is a numpy dtype by the time setup runs.
        self.names_at_setup = self.dtype.names

    def compute(self, pulses):
        out = np.zeros(len(pulses), self.dtype)
        out["time"] = pulses["time"]
        out["endtime"] = strax.endtime(pulses)
        out["area"] = pulses["amplitude"] * self.area_scale + self.offset
        return out


class PulseAreasChild(PulseAreas):
    """A child plugin: its own option replaces the parent's area_scale."""

    __version__ = "0.0.1"
    child_plugin = True
    provides = "pulse_areas_child"
    area_scale_child = strax.Config(default=5.0, child_option=True,
                                    parent_option_name="area_scale", help="child's scale")


class SplitByChannel(strax.Plugin):
    """Two outputs of two kinds, each saved and rechunked its own way."""

    __version__ = "1.0.0"
    depends_on = "pulses"
    provides = ("pulses_ch0", "pulses_ch1")
    data_kind = immutabledict(pulses_ch0="pulses_ch0", pulses_ch1="pulses_ch1")
    save_when = immutabledict(pulses_ch0=strax.SaveWhen.ALWAYS,
                              pulses_ch1=strax.SaveWhen.EXPLICIT)
    rechunk_on_save = immutabledict(pulses_ch0=False, pulses_ch1=True)

    def infer_dtype(self):
        return {d: self.deps["pulses"].dtype_for("pulses") for d in self.provides}

    def compute(self, pulses):
        return {f"pulses_ch{c}": pulses[pulses["channel"] == c] for c in (0, 1)}


class LEDCalibration(strax.Plugin):
    """No provides: the data type is named after the class, a run of capitals as one word."""

    __version__ = "0.0.0"
    depends_on = "pulses"
    dtype = strax.time_fields + [(("Pulses in the chunk", "n_pulses"), np.int32)]

    def compute(self, pulses, start, end):
        out = np.zeros(1, self.dtype)
        out["time"], out["endtime"], out["n_pulses"] = start, end, len(pulses)
        return out


class PulsePairs(strax.DownChunkingPlugin):
    """Yields one chunk per two pulses: more, smaller chunks than its input has."""

    __version__ = "0.0.1"
    depends_on = "pulses"
    provides = "pulse_pairs"
    dtype = PULSE_DTYPE
    rechunk_on_save = False

    def compute(self, pulses, start, end):
        t = start
        for i in range(0, len(pulses), 2):
            stop = end if i + 2 >= len(pulses) else int(pulses[i + 2]["time"])
            yield self.chunk(start=t, end=stop, data=pulses[i:i + 2])
            t = stop
        if not len(pulses):
            yield self.chunk(start=start, end=end, data=pulses)


ALL = [Pulses, PulseAreas, PulseAreasChild, SplitByChannel, LEDCalibration, PulsePairs]
