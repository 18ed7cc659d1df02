"""The README's main job: the demo makes runs and a superrun in a directory, twice over."""
import os

from superstrax.demo import run_demo


def test_demo_runs_in_a_directory_and_again_on_its_own_output(tmp_path):
    lines = []
    assert run_demo(str(tmp_path / "d"), out=lines.append) == 0
    text = "\n".join(lines)
    assert "0-records-j3nd2fjbiq" in text
    assert "_demo_superrun_xasmpdqviq-peaks-xia2iit6vb" in text
    assert "livetime 3000000 ns" in text
    names = set(os.listdir(tmp_path / "d"))
    assert "_demo_superrun-metadata.json" in names
    assert "_demo_superrun_xasmpdqviq-peaks-xia2iit6vb" in names
    # A second run finds everything stored and still succeeds.
    assert run_demo(str(tmp_path / "d"), out=lambda *_: None) == 0
