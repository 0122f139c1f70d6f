"""The eicgeo command: one line per error, non-zero exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio

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
    proc = eicgeo("sample-data", "--out", str(tmp_path / "x"), "--size", "XXL")
    assert proc.returncode == 2
    assert "'XXL' is not one of 'S', 'M', 'L', 'XL'" in one_line_error(proc)


def test_main_returns_codes_in_process(tmp_path, capsys):
    assert main(["--version"]) == 0
    assert main(["validate", str(tmp_path / "missing.toml")]) == 1
    assert "missing.toml' does not exist" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["demo", "run", "validate", "compare", "sample-data"])
def test_help(command):
    proc = eicgeo(command, "--help")
    assert proc.returncode == 0 and "Usage: eicgeo" in proc.stdout


def test_validate_reports_each_kind_of_problem_with_its_key(tmp_path, capsys):
    (tmp_path / "lc.tif").write_bytes(b"")
    path = tmp_path / "bad.toml"
    path.write_text(
        textwrap.dedent("""
        [grid]
        crs = "EPSG:0"
        resolution = "100 m"
        [inputs]
        landcover = "lc.tif"
        population = "data/pop.tif"
        [criteria.road_access]
        wieght = 1
        [mcda]
        method = "owa"
        order_weights = [1, 0]
        [mcda.ahp]
        labels = ["road_access", "market_access", "landcover"]
        matrix = [[1, 9, 0.2], [0.1111111111, 1, 9], [5, 0.1111111111, 1]]
    """)
    )
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    problems = dict(line[len(f"{path}: ") :].split(": ", 1) for line in lines)
    assert problems["grid.crs"] == "cannot parse CRS 'EPSG:0'; expected 'auto', 'EPSG:XXXX' or WKT"
    assert problems["grid.resolution"] == "expected a number, got '100 m'"
    assert problems["inputs.population"] == f"file {str(tmp_path / 'data' / 'pop.tif')!r} does not exist"
    assert problems["criteria.road_access.wieght"].startswith("unknown key (did you mean 'weight'")
    assert problems["mcda.ahp.matrix"].startswith("consistency ratio ")
    assert problems["mcda.order_weights"].startswith("expected 3 numbers >= 0 (one per weighted criterion)")
    assert len(lines) == 6


def test_validate_with_a_preset(sample_dir, capsys):
    assert main(["validate", str(sample_dir / "scenario.toml"), "--preset", "balanced"]) == 0
    assert capsys.readouterr().out.strip().endswith("preset balanced)")
    assert main(["validate", str(sample_dir / "scenario.toml"), "--preset", "industriel"]) == 1
    assert "preset: unknown preset 'industriel'" in capsys.readouterr().out


def test_run_validates_first_and_does_no_work_on_an_invalid_file(tmp_path, monkeypatch, capsys):
    import eicgeo.pipeline

    def fail(*args, **kwargs):
        raise AssertionError("the pipeline ran on an invalid scenario")

    monkeypatch.setattr(eicgeo.pipeline, "_run", fail)
    (tmp_path / "lc.tif").write_bytes(b"")
    path = tmp_path / "bad.toml"
    path.write_text('[inputs]\nlandcover = "lc.tif"\n[zones]\nn = "ten"\n')
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"eicgeo: error: {path}: zones.n: expected an integer, got 'ten'"
    assert not (tmp_path / "out").exists()


def test_run_prints_stage_timings_and_quiet_silences_the_bars(sample_dir, tmp_path, capsys):
    args = ["run", "--landcover", str(sample_dir / "landcover.tif"), "--resolution", "1000"]
    assert main([*args, "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr()
    timings = [line for line in loud.out.splitlines() if line.startswith("stage seconds: ")]
    assert len(timings) == 1
    for stage in ("grid", "landcover", "roads", "criteria", "zones", "outputs"):
        assert f" {stage} " in timings[0]
    assert "(total " in timings[0]
    assert "eicgeo: " in loud.err and "stage" in loud.err, "the stage bar is drawn on stderr"
    assert main([*args, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    quiet = capsys.readouterr()
    # no bars; eicgeo's warnings (a land-cover-only run ranks weakly) are one line each
    assert all(line.startswith("eicgeo: warning: ") for line in quiet.err.splitlines()), quiet.err
    assert any(line.startswith("stage seconds: ") for line in quiet.out.splitlines())


def test_compare_two_presets_on_the_sample_region(sample_dir, tmp_path, capsys):
    """The industrial and regional presets on the sample region (at 250 m, to keep it short)."""
    inputs = "\n".join(
        f'{key} = "{sample_dir / name}"'
        for key, name in (
            ("landcover", "landcover.tif"),
            ("population", "population.tif"),
            ("roads", "roads.osm.bz2"),
            ("sources", "sources.gpkg"),
            ("firms", "firms.csv"),
        )
    )
    (tmp_path / "region.toml").write_text(f'name = "sample"\n[grid]\nresolution = 250\n[inputs]\n{inputs}\n')
    out = tmp_path / "cmp"
    args = ["compare", str(tmp_path / "region.toml"), "--preset-a", "industrial", "--preset-b", "regional"]
    code = main([*args, "--out", str(out), "--quiet", "--offline"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.md", "diff.tif", "manifest.json"]
    assert "A: sample (industrial), B: sample (regional)" in printed.out
    assert sum(line.startswith(("A stage seconds: ", "B stage seconds: ")) for line in printed.out.splitlines()) == 2
    md = (out / "compare.md").read_text()
    assert md.startswith("# Scenario comparison: sample (industrial) (A) and sample (regional) (B)")
    assert "| weight of labour_access | 0.200 | 0.200 |" in md
    assert "| weight of equal_access | 0.050 | 0.300 |" in md
    with rasterio.open(out / "diff.tif") as src:
        diff = src.read(1)
        assert src.res == (250.0, 250.0)
    # Regional moves weight from road and market access to equal access: B - A has both signs.
    assert np.nanmax(diff) > 0.05 and np.nanmin(diff) < -0.05
    assert "cdn.jsdelivr.net" not in (out / "compare.html").read_text()
