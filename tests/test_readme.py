"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the first example writes out/demo
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "out" / "demo" / "map.html").is_file()
    assert float(namespace["minutes"].max()) > 0 and namespace["ahp"].consistency_ratio == 0
    assert len(namespace["links"]) > 0 and int(namespace["smod"].max()) == 30


def test_readme_lists_every_notebook_and_the_command_to_run_them():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Notebooks\n", 1)[1].split("\n## ", 1)[0]
    notebooks = sorted(p.name for p in (README.parent / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 5
    for name in notebooks:
        assert re.search(rf"^\| `{re.escape(name)}` \| \w", section, flags=re.M), f"README's Notebooks lacks {name}"
    assert "make lab" in section and 'pip install "eicgeo[notebook]"' in section


def test_make_lab_installs_the_notebook_extra_and_starts_jupyterlab_in_notebooks():
    import configparser
    import shutil
    import subprocess

    extras = configparser.ConfigParser()
    extras.read(README.parent / "setup.cfg")
    notebook = extras["options.extras_require"]["notebook"].split()
    assert {"jupyterlab>=4.0", "ipywidgets>=8.0", "ipykernel>=6.25", "nbclient>=0.8"} <= set(notebook)
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    # -n prints the commands without running them, -B as on a fresh clone (no .venv yet)
    # (under `make test` the outer make's flags would make it print "Entering directory" lines)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "lab"],
        cwd=README.parent,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    lines = dry.stdout.splitlines()
    assert lines[0] == "python3 -m venv .venv"
    assert '.venv/bin/python -m pip --disable-pip-version-check -q install -e ".[notebook]"' in lines
    # as root (containers, CI) Jupyter needs --allow-root; otherwise nothing more
    root = " --allow-root" if os.geteuid() == 0 else ""
    assert lines[-1] == f"cd notebooks && {README.parent / '.venv' / 'bin' / 'jupyter'} lab{root}"
