"""Output folders never lose a user's file: refusal, --overwrite beside user files, a run killed
mid-write, recovery of what a killed run left, and two writers at once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import eicgeo
from eicgeo import io
from eicgeo._errors import EicgeoError, OutputFolderError
from eicgeo._outdir import MANIFEST

EXE = Path(sys.executable).with_name("eicgeo")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) with its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write(out: Path, files: dict[str, str], **kwargs) -> None:
    with io.output_folder(out, **kwargs) as stage:
        for rel, text in files.items():
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).write_text(text)


@pytest.fixture
def project(tmp_path: Path, sample_dir: Path) -> Path:
    """A planner's project folder: the sample inputs, a scenario, notes and a QGIS project."""
    folder = tmp_path / "my_project"
    shutil.copytree(sample_dir, folder)
    (folder / MANIFEST).unlink(missing_ok=True)  # a copy of the inputs is the user's own
    (folder / "notes.txt").write_text("field visit 3 May\n")
    (folder / "region.qgz").write_bytes(b"PK\x03\x04 not really a zip")
    return folder


# ------------------------------------------------------------------------------ refusal
def test_run_into_a_project_folder_is_refused_and_touches_nothing(project: Path) -> None:
    before = snapshot(project)
    proc = subprocess.run(
        [str(EXE), "run", str(project / "scenario.toml"), "--out", str(project), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(
        f"eicgeo: error: output folder '{project}' holds 8 file(s) eicgeo did not write or that this run reads"
    )
    assert "choose an empty or new folder, or pass --overwrite" in lines[0]
    assert snapshot(project) == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["my_project"]


def test_out_dot_in_a_project_folder_is_refused(project: Path) -> None:
    before = snapshot(project)
    proc = subprocess.run(
        [str(EXE), "run", "scenario.toml", "--out", ".", "--quiet"],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "eicgeo: error: output folder '.' holds 8 file(s) eicgeo did not write or that this run reads" in proc.stderr
    assert snapshot(project) == before


def test_overwrite_writes_beside_the_users_files_and_replaces_only_its_own(project: Path) -> None:
    before = snapshot(project)
    scenario = eicgeo.read_scenario(project / "scenario.toml")
    eicgeo.run(scenario, out=project, overwrite=True, progress=False)
    after = snapshot(project)
    assert {k: after[k] for k in before} == before, "a user's file changed"
    manifest = json.loads((project / MANIFEST).read_text())
    assert set(manifest["outputs"]).isdisjoint(before)
    assert set(after) == set(before) | set(manifest["outputs"]) | {MANIFEST}
    # A second run replaces its own outputs, and removes those it no longer writes.
    stale = project / "criteria" / "material_access-clay.tif"
    assert stale.is_file()
    no_sources = scenario.replace(name="no sources", without=["sources"])
    eicgeo.run(no_sources, out=project, overwrite=True, progress=False)
    assert not stale.exists()
    assert {k: snapshot(project)[k] for k in before} == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["my_project"]


def test_an_output_name_taken_by_a_users_file_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my own report")
    with pytest.raises(OutputFolderError, match=r"report.md was not written by eicgeo .* move it away"):
        io.inspect_folder(out, overwrite=True, names=["report.md", "map.html"])
    with pytest.raises(OutputFolderError, match="report.md was not written by eicgeo"):
        write(out, {"report.md": "eicgeo's"}, overwrite=True)
    assert (out / "report.md").read_text() == "my own report"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]


def test_a_file_eicgeo_wrote_and_the_user_changed_is_the_users(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, {"report.md": "v1", "map.html": "m1"})
    (out / "report.md").write_text("v1 with my edits")
    with pytest.raises(
        OutputFolderError, match=r"holds 1 file\(s\) eicgeo did not write or that this run reads \(report.md\)"
    ):
        write(out, {"report.md": "v2", "map.html": "m2"})
    with pytest.raises(OutputFolderError, match="report.md was not written by eicgeo"):
        write(out, {"report.md": "v2", "map.html": "m2"}, overwrite=True)
    assert (out / "report.md").read_text() == "v1 with my edits"
    write(out, {"map.html": "m2"}, overwrite=True)
    assert (out / "report.md").read_text() == "v1 with my edits" and (out / "map.html").read_text() == "m2"


def test_save_onto_an_existing_file_is_refused_and_leaves_it(tmp_path: Path, sample_result) -> None:
    target = tmp_path / "keep_me.txt"
    target.write_text("precious")
    with pytest.raises(OutputFolderError, match="'.*keep_me.txt' is an existing file; expected a folder") as err:
        sample_result.save(target)
    assert isinstance(err.value, EicgeoError)
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep_me.txt"]


def test_empty_folder_new_folder_and_own_folder_are_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, {"a.txt": "1"})
    write(tmp_path / "new" / "deeper", {"a.txt": "1"})
    out = tmp_path / "own"
    write(out, {"a.txt": "1", "criteria/x.tif": "x"})
    write(out, {"b.txt": "2"})  # replaced whole: a.txt and criteria/ go
    assert sorted(snapshot(out)) == ["b.txt", MANIFEST]
    assert (tmp_path / "new" / "deeper" / "a.txt").is_file() and (empty / "a.txt").is_file()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["outputs"] == {"b.txt": hashlib.sha256(b"2").hexdigest()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "new", "own"]


def test_a_failing_block_leaves_the_previous_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, {"a.txt": "1"})
    before = snapshot(out)

    def fail() -> None:
        with io.output_folder(out) as stage:
            (stage / "a.txt").write_text("partial")
            raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError, match="stage failed"):
        fail()
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ------------------------------------------------------------------------------ killed runs
_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from eicgeo import io
    with io.output_folder(sys.argv[1], overwrite=sys.argv[2] == "1") as stage:
        for i in range(50):
            (stage / f"part{i}.txt").write_text("x" * 1000)
            if i == 3:
                print("writing", flush=True)
            time.sleep(0.1)
""")


def _kill_while_writing(out: Path, *, overwrite: bool) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(out), "1" if overwrite else "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_killed_mid_write_leaves_the_previous_folder_and_the_next_clears_the_debris(
    tmp_path: Path, overwrite: bool
) -> None:
    out = tmp_path / "out"
    if overwrite:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    write(out, {"report.md": "previous"}, overwrite=overwrite)
    before = snapshot(out)
    _kill_while_writing(out, overwrite=overwrite)
    assert snapshot(out) == before
    debris = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert any(".out.eicgeo-stage-" in name for name in debris), debris
    write(out, {"report.md": "next"}, overwrite=overwrite)
    assert (out / "report.md").read_text() == "next"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    if overwrite:
        assert (out / "notes.txt").read_text() == "mine"


def test_a_real_run_killed_while_writing_its_outputs(tmp_path: Path, sample_dir: Path) -> None:
    """``eicgeo run`` killed once its staging folder holds outputs: the previous folder stays."""
    out = tmp_path / "out"
    write(out, {"report.md": "the previous run"})
    before = snapshot(out)
    proc = subprocess.Popen(
        [str(EXE), "run", str(sample_dir / "scenario.toml"), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        stages = list(tmp_path.glob(".out.eicgeo-stage-*"))
        if stages and (stages[0] / "suitability.tif").exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it was killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert snapshot(out) == before
    write(out, {"report.md": "a later run"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_recovery_puts_back_a_folder_moved_aside_between_two_renames(tmp_path: Path) -> None:
    """Where renameat2 is missing, replacing takes two renames; a kill between them leaves the
    previous folder aside, and the next writer puts it back before it looks."""
    out = tmp_path / "out"
    write(out, {"a.txt": "previous"})
    aside = tmp_path / ".out.eicgeo-old-123-abcd"
    os.replace(out, aside)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("a user's")
    with pytest.raises(RuntimeError), io.output_folder(out):
        raise RuntimeError("look, then give up")
    assert (out / "a.txt").read_text() == "previous" and not aside.exists()
    assert (tmp_path / "mine" / "x.txt").read_text() == "a user's"


def test_recovery_finishes_a_merge_killed_while_moving(tmp_path: Path) -> None:
    """A merge records its plan before it moves files; a kill halfway is finished next time."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    write(out, {"old.txt": "old", "a.txt": "a1"}, overwrite=True)
    old_owned = json.loads((out / MANIFEST).read_text())["outputs"]
    # The state a kill leaves after the first of two moves: a.txt moved, b.txt still staged.
    stage = tmp_path / ".out.eicgeo-stage-99-beef"
    stage.mkdir()
    (stage / ".eicgeo-stage").write_text("99")
    (stage / "b.txt").write_text("b2")
    (out / "a.txt").write_text("a2")
    outputs = {"a.txt": hashlib.sha256(b"a2").hexdigest(), "b.txt": hashlib.sha256(b"b2").hexdigest()}
    (stage / MANIFEST).write_text(json.dumps({"eicgeo": "test", "outputs": outputs}))
    (stage / ".eicgeo-commit").write_text(json.dumps(old_owned))
    with pytest.raises(RuntimeError), io.output_folder(out, overwrite=True):
        raise RuntimeError("look, then give up")
    assert sorted(snapshot(out)) == ["a.txt", "b.txt", MANIFEST, "notes.txt"]
    assert json.loads((out / MANIFEST).read_text())["outputs"] == outputs
    assert not stage.exists()


def test_debris_of_another_folder_or_a_users_lookalike_is_left_alone(tmp_path: Path) -> None:
    lookalike = tmp_path / ".out.eicgeo-stage-mine"  # no stage marker: not eicgeo's staging
    lookalike.mkdir()
    (lookalike / "data.csv").write_text("a user's")
    other = tmp_path / ".other.eicgeo-stage-1-aaaa"
    other.mkdir()
    (other / ".eicgeo-stage").write_text("1")
    write(tmp_path / "out", {"a.txt": "1"})
    assert (lookalike / "data.csv").read_text() == "a user's"
    assert other.exists()


# ------------------------------------------------------------------------------ two writers
_HOLDER = textwrap.dedent("""
    import sys, time
    from eicgeo import io
    with io.folder_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputFolderError, match=rf"being written by another eicgeo run \(process {holder.pid}\)"):
            write(out, {"a.txt": "1"})
        assert not out.exists()
        proc = subprocess.run(
            [str(EXE), "demo", "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1
        assert proc.stderr.strip() == (
            f"eicgeo: error: output folder '{out}' is being written by another eicgeo run (process {holder.pid}); "
            "wait for it to finish or choose another folder"
        )
    finally:
        holder.kill()
        holder.wait()
    write(out, {"a.txt": "1"})  # the lock died with its holder
    assert (out / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with io.folder_lock(out):
        write(out, {"a.txt": "1"})
        write(out, {"a.txt": "2"})
    assert (out / "a.txt").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_runs_own_inputs_are_never_replaced_even_where_a_manifest_lists_them(tmp_path: Path, sample_dir) -> None:
    """The sample folder is the generator's (its manifest lists every file); copied as a
    project, it holds the run's inputs, which an output folder there must keep."""
    folder = tmp_path / "copy"
    shutil.copytree(sample_dir, folder)
    assert io.inspect_folder(folder).mode == "replace"  # as far as the manifest goes
    scenario = eicgeo.read_scenario(folder / "scenario.toml")
    with pytest.raises(OutputFolderError, match=r"holds 6 file\(s\) eicgeo did not write or that this run reads"):
        io.inspect_folder(folder, protect=scenario.input_paths())
    plan = io.inspect_folder(folder, overwrite=True, protect=scenario.input_paths())
    assert plan.mode == "merge" and plan.owned == {}
    before = snapshot(folder)
    proc = subprocess.run(
        [str(EXE), "run", str(folder / "scenario.toml"), "--out", str(folder), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "this run reads" in proc.stderr
    assert snapshot(folder) == before
