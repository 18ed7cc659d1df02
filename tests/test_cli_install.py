"""The `superstrax` console script as pip installs it, and the demo run through the command
line into a real directory."""
import importlib.metadata
import os
import subprocess
import sys

import pytest

import superstrax as sx

from test_cli import cli, subprocess_env


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`superstrax demo DIR` once; (DIR, the finished process)."""
    path = tmp_path_factory.mktemp("demo") / "strax_data"
    return path, cli("demo", path)


def test_demo_through_the_command_line_then_verify(demo):
    path, r = demo
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"superstrax {sx.__version__} demo in {path}")
    assert "superrun _demo_superrun: subruns ['0', '1', '2']" in r.stdout
    assert "stored _demo_superrun peaks rechunked" in r.stdout
    assert "loading the stored superrun gives the same peaks" in r.stdout
    v = cli("verify", path)
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.splitlines()[-1].startswith("OK: ")
    listed = cli("runs", path)
    assert listed.returncode == 0, listed.stderr
    assert "3 run(s), 1 superrun(s)" in listed.stdout
    assert "superrun _demo_superrun" in listed.stdout
    assert "older definition" not in listed.stdout


def installed_script():
    """The console script pip put next to this interpreter, if superstrax is installed in its
    environment; a missing script then fails the test rather than skipping it."""
    # The source tree may hold a superstrax.egg-info of its own (from building it); only a
    # distribution installed into this interpreter's environment puts a script next to it.
    dists = [d for d in importlib.metadata.distributions()
             if (d.metadata["Name"] or "").lower() == "superstrax"]
    if not dists:
        pytest.skip("superstrax is not installed (tests run from the source tree); "
                    "`pip install .` into a venv to test its console script")
    prefix = os.path.realpath(sys.prefix)

    def location(d):
        return os.path.realpath(str(d.locate_file("")))

    here = [d for d in dists if os.path.commonpath([location(d), prefix]) == prefix]
    if not here:
        pytest.skip(f"superstrax is installed only outside this interpreter's environment "
                    f"{sys.prefix} ({', '.join(location(d) for d in dists)}), so its script "
                    f"is not next to {sys.executable}")
    dist = here[0]
    scripts = [ep for ep in dist.entry_points
               if ep.group == "console_scripts" and ep.name == "superstrax"]
    assert scripts, (f"the superstrax distribution installed in {location(dist)} declares no "
                     f"'superstrax' console script; [project.scripts] in pyproject.toml should")
    assert scripts[0].value == "superstrax.cli:main"
    path = os.path.join(os.path.dirname(sys.executable),
                        "superstrax.exe" if os.name == "nt" else "superstrax")
    assert os.path.isfile(path), (
        f"superstrax is installed in {sys.prefix} with a 'superstrax' console script entry "
        f"point, but the script {path} does not exist; reinstall it with pip")
    return path


def test_installed_console_script(demo):
    script = installed_script()
    path, _ = demo

    def run(*args):
        return subprocess.run([script, *map(str, args)], check=False, capture_output=True,
                              text=True, timeout=120, env=subprocess_env())

    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"superstrax {sx.__version__}"
    r = run("runs", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == cli("runs", path).stdout
    r = run("verify", path, "--run", "_nothing_here")
    assert r.returncode == 2 and "run _nothing_here is not in" in r.stderr
    r = run()
    assert r.returncode == 2 and r.stderr.startswith("usage: superstrax")
