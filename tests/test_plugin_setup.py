"""Which plugins are set up, as in strax: only those that compute (and get_single_plugin's).

straxen's plugins read databases and resource files in setup(); offline, data made from them
must still be found, loaded and inspected, as strax allows. These tests need no straxen: the
compatibility job checks straxen's own plugins (tests/test_straxen_compat.py).
"""
import numpy as np
import pytest

import superstrax as sx


class DatabaseOffline(Exception):
    pass


@sx.takes_config(sx.Option("database_reachable", default=True, track=False,
                           help="False: setup fails, as straxen's does offline"))
class Calibrated(sx.Plugin):
    """A source whose setup needs a database."""
    provides = "calibrated"
    depends_on = ()
    dtype = sx.time_fields + [("gain", np.float64)]
    rechunk_on_save = False

    def setup(self):
        if not self.config["database_reachable"]:
            raise DatabaseOffline("no database here")
        self.gain = 2.0

    def source_finished(self):
        return True

    def is_ready(self, chunk_i):
        return chunk_i < 2

    def compute(self, chunk_i):
        d = np.zeros(3, self.dtype)
        d["time"] = chunk_i * 10 + np.arange(3)
        d["endtime"] = d["time"] + 1
        d["gain"] = self.gain
        return self.chunk(start=chunk_i * 10, end=chunk_i * 10 + 10, data=d)


class Doubled(sx.Plugin):
    provides = "doubled_gain"
    depends_on = "calibrated"
    dtype = sx.time_fields + [("twice", np.float64)]

    def compute(self, calibrated):
        d = np.zeros(len(calibrated), self.dtype)
        d["time"], d["endtime"] = calibrated["time"], calibrated["endtime"]
        d["twice"] = 2 * calibrated["gain"]
        return d


def _context(path, reachable):
    return sx.Context(storage=[sx.DataDirectory(str(path))], register=[Calibrated, Doubled],
                      progress_bar=False, config={"database_reachable": reachable})


def test_data_made_from_a_plugin_that_cannot_be_set_up_here_loads_and_is_made(tmp_path):
    _context(tmp_path, True).make("0", "calibrated")
    offline = _context(tmp_path, False)
    # stored: loaded without setting up its plugin
    assert offline.get_array("0", "calibrated")["gain"].tolist() == [2.0] * 6
    # made from stored data: only the plugin that computes is set up
    assert offline.get_array("0", "doubled_gain")["twice"].tolist() == [4.0] * 6
    assert offline.data_info("calibrated")["Field name"].tolist() == ["time", "endtime", "gain"]
    assert set(offline._get_plugins(("doubled_gain",), "0")) == {"calibrated", "doubled_gain"}
    # what has to be computed still needs its setup, and says why
    with pytest.raises(DatabaseOffline):
        offline.get_array("1", "calibrated")
    with pytest.raises(DatabaseOffline):
        offline.get_single_plugin("0", "calibrated")


def test_a_plugin_of_one_output_gives_its_dtype_under_any_name(tmp_path):
    # as strax's dtype_for (straxen's high-energy peaks ask peaklets_he's plugin for 'peaklets')
    plugin = _context(tmp_path, True).get_single_plugin("0", "calibrated")
    assert plugin.dtype_for("something_else") == plugin.dtype_for("calibrated")


def test_record_length_from_dtype():
    assert sx.record_length_from_dtype(sx.record_dtype(110)) == 110
    assert sx.record_length_from_dtype(sx.raw_record_dtype(64)) == 64


class Unresolvable(sx.Config):
    """Like straxen's URLConfig offline: resolving the value needs a database."""

    def fetch(self, plugin):
        raise AttributeError("the database that resolves this URL is not reachable")


class UsesUrl(sx.Plugin):
    provides = "uses_url"
    depends_on = ()
    dtype = sx.time_fields
    gains = Unresolvable(default="db://gains?version=ONLINE", track=False)

    def setup(self):
        self.resolved = self.gains


def test_an_option_that_cannot_be_resolved_raises_instead_of_giving_its_url(tmp_path):
    st = sx.Context(storage=[sx.DataDirectory(str(tmp_path))], register=[UsesUrl])
    with pytest.raises(AttributeError, match="not reachable"):
        st.get_single_plugin("0", "uses_url")
