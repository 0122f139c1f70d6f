"""The eicgeo command: one line per error, non-zero exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eicgeo.cli import main


def eicgeo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed command in a subprocess, as a user would."""
    exe = Path(sys.executable).with_name("eicgeo")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("eicgeo: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_validate_lists_every_problem_and_exits_1(tmp_path):
    (tmp_path / "lc.tif").write_bytes(b"")
    path = tmp_path / "bad.toml"
    path.write_text(
        textwrap.dedent("""
        [grid]
        resolutoin = 100
        [inputs]
        landcover = "lc.tif"
        roads = "nowhere.osm.pbf"
    """)
    )
    proc = eicgeo("validate", str(path))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert any("grid.resolutoin: unknown key (did you mean 'resolution'?)" in line for line in lines)
    assert any("inputs.roads: file" in line and "nowhere.osm.pbf' does not exist" in line for line in lines)


def test_validate_good_file(sample_dir):
    proc = eicgeo("validate", str(sample_dir / "scenario.toml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout


def test_run_with_a_missing_input_prints_one_line(tmp_path):
    proc = eicgeo("run", "--landcover", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "inputs.landcover: file" in line and "nope.tif' does not exist" in line
    assert not (tmp_path / "out").exists()


def test_run_with_a_corrupt_raster_leaves_no_output(tmp_path):
    (tmp_path / "lc.tif").write_bytes(b"\x00garbage")
    proc = eicgeo("run", "--landcover", str(tmp_path / "lc.tif"), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 1
    assert "lc.tif' cannot be read as a raster" in one_line_error(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lc.tif"]


def test_usage_errors_exit_2_with_one_line(tmp_path):
    proc = eicgeo("run", "--frobnicate", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "No such option '--frobnicate'" in one_line_error(proc)
    proc = eicgeo("sample-data", "--out", str(tmp_path / "x"), "--size", "XL")
    assert proc.returncode == 2
    assert "'XL' is not one of 'S', 'M', 'L'" in one_line_error(proc)


def test_main_returns_codes_in_process(tmp_path, capsys):
    assert main(["--version"]) == 0
    assert main(["validate", str(tmp_path / "missing.toml")]) == 1
    assert "missing.toml' does not exist" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["demo", "run", "validate", "sample-data"])
def test_help(command):
    proc = eicgeo(command, "--help")
    assert proc.returncode == 0 and "Usage: eicgeo" in proc.stdout
