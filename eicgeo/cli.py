"""The ``eicgeo`` command (thin: every command calls the Python API).

Errors print one line, ``eicgeo: error: ...``, and exit 1 (2 for usage errors), with no
traceback.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import click

from eicgeo._errors import EicgeoError, EicgeoWarning, ScenarioError

__all__ = ["INTERNAL_ERROR", "main"]


def _compute_options(command):
    """``--chunks`` and ``--scheduler``: the ``[compute]`` settings from the command line."""
    command = click.option(
        "--scheduler",
        help="Where the chunks run: threads, processes, synchronous, or a dask.distributed scheduler "
        "address such as tcp://host:8786 ([compute] scheduler).",
    )(command)
    return click.option(
        "--chunks",
        help="Run the raster stages chunk by chunk, in square chunks of this many cells (2048 is a good "
        "start) or 'auto' ([compute] chunks).",
    )(command)


def _compute(chunks: str | None, scheduler: str | None) -> dict:
    """The ``[compute]`` keys the flags give (validated with the scenario, as its own keys)."""
    out: dict = {}
    if chunks is not None:
        text = chunks.strip()
        out["chunks"] = int(text) if text.lstrip("+-").isdigit() else text
    if scheduler is not None:
        out["scheduler"] = scheduler
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eicgeo")
@click.option("--debug", is_flag=True, help="With an error, print its traceback too (anywhere on the line).")
def cli(debug: bool) -> None:
    """Site Eco-Industrial Clusters on the urban-rural fringe."""


@cli.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option(
    "--offline/--online",
    default=True,
    show_default=True,
    help="Self-contained map.html (Leaflet inlined), or CDN links.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Write into a folder that holds other files, beside them (eicgeo never deletes a file it did not write).",
)
@_compute_options
def demo(out: Path, offline: bool, quiet: bool, overwrite: bool, chunks: str | None, scheduler: str | None) -> None:
    """Run the synthetic peri-urban sample region end to end."""
    from eicgeo.datasets import load_sample

    s = load_sample()
    flags = _compute(chunks, scheduler)
    if flags:
        s = s.replace(compute=flags)
    _run_and_report(s, out, offline=offline, quiet=quiet, overwrite=overwrite)


@cli.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--landcover", type=click.Path(dir_okay=False, path_type=Path), help="Land-cover raster (class codes).")
@click.option("--legend", help="esa_worldcover, corine, or a CSV legend.")
@click.option(
    "--population", type=click.Path(dir_okay=False, path_type=Path), help="Population raster (people per cell)."
)
@click.option(
    "--roads",
    type=click.Path(dir_okay=False, path_type=Path),
    help="OSM .osm/.osm.bz2/.osm.pbf, .graphml, or a line layer with a highway column.",
)
@click.option("--sources", type=click.Path(dir_okay=False, path_type=Path), help="Raw-material sources (vector).")
@click.option("--firms", type=click.Path(dir_okay=False, path_type=Path), help="Firm register (CSV or vector).")
@click.option("--resolution", type=float, help="Cell size in metres.")
@click.option("--crs", help="Analysis CRS (projected) or 'auto' for local UTM.")
@click.option("--preset", help="Preset under the file's keys (instead of the one it names); default balanced.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--offline", is_flag=True, help="Self-contained map.html (no CDN).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Write into a folder that holds other files, beside them (eicgeo never deletes a file it did not write).",
)
@_compute_options
def run(scenario: Path | None, out: Path, offline: bool, quiet: bool, overwrite: bool, **flags: object) -> None:
    """Run a scenario file, flags, or both (flags override the file)."""
    from eicgeo.scenario import Scenario, read_scenario

    compute = _compute(flags.pop("chunks"), flags.pop("scheduler"))
    if scenario is not None:
        # Validation comes first: an invalid scenario stops here, before any data is read.
        s = read_scenario(scenario, preset=flags.pop("preset"))
        changed = {k: v for k, v in flags.items() if v is not None}
        if compute:
            changed["compute"] = compute
        if changed:
            s = s.replace(**changed)
    else:
        data: dict = {"inputs": {}, "grid": {}}
        for key in ("landcover", "population", "roads", "sources", "firms", "legend"):
            if flags.get(key) is not None:
                data["inputs"][key] = str(flags[key])
        for key in ("resolution", "crs"):
            if flags.get(key) is not None:
                data["grid"][key] = flags[key]
        if flags.get("preset"):
            data["preset"] = flags["preset"]
        if compute:
            data["compute"] = compute
        data["name"] = Path(str(flags.get("landcover") or "run")).name.split(".")[0]
        s = Scenario.from_dict(data, base_dir=Path.cwd())
    _run_and_report(s, out, offline=offline, quiet=quiet, overwrite=overwrite)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", help="Preset under the file's keys (instead of the one it names).")
def validate(scenario: Path, preset: str | None) -> None:
    """Check a scenario file and its inputs as `run` does before its heavy stages; list every
    problem with its key; exit 1 if any."""
    from eicgeo.pipeline import check
    from eicgeo.scenario import read_scenario

    try:
        s = read_scenario(scenario, preset=preset)
    except ScenarioError as err:
        for key, message in err.problems:
            click.echo(f"{scenario}: {key}: {message}")
        sys.exit(1)
    found = check(s)
    for key, message in found.problems:
        click.echo(f"{scenario}: {key}: {' '.join(message.split())}")
    if not found.ok:
        sys.exit(1)
    skipped = dict(found.skipped)
    used = [name for name in s.weights() if name not in skipped]
    click.echo(f"{scenario}: ok ({len(used)} weighted criteria: {', '.join(used)}; preset {s.preset})")
    for name, why in found.skipped:
        click.echo(f"{scenario}: will skip {name}: {why}")
    hows = dict.fromkeys(how for _, how in found.estimated)
    for how in hows:
        names = ", ".join(name for name, h in found.estimated if h == how)
        click.echo(f"{scenario}: will estimate {names}: {how}")
    for note in found.notes:
        click.echo(f"{scenario}: note: {note}")


@cli.command()
@click.argument("scenario_a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("scenario_b", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset-a", help="Preset under A's keys (instead of the one A names).")
@click.option("--preset-b", help="Preset under B's keys (instead of the one B names).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--min-iou", type=float, default=0.1, show_default=True, help="Overlap for two zones to be the same.")
@click.option("--offline", is_flag=True, help="Self-contained compare.html (no CDN).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Write into a folder that holds other files, beside them (eicgeo never deletes a file it did not write).",
)
@_compute_options
def compare(
    scenario_a: Path,
    scenario_b: Path | None,
    preset_a: str | None,
    preset_b: str | None,
    out: Path,
    min_iou: float,
    offline: bool,
    quiet: bool,
    overwrite: bool,
    chunks: str | None,
    scheduler: str | None,
) -> None:
    """Run two scenarios and compare them: zone overlap, rank changes, suitability difference.

    B defaults to A, so `eicgeo compare region.toml --preset-a industrial --preset-b
    environmental` compares two presets on one region. Writes diff.tif, compare.html and
    compare.md.
    """
    from eicgeo import io
    from eicgeo.compare import COMPARE_FILES
    from eicgeo.compare import compare as compare_results
    from eicgeo.scenario import read_scenario

    # Both scenarios and the output folder are checked before either runs.
    a = read_scenario(scenario_a, preset=preset_a)
    b = read_scenario(scenario_b or scenario_a, preset=preset_b)
    flags = _compute(chunks, scheduler)
    if flags:
        a, b = a.replace(compute=flags), b.replace(compute=flags)
    with io.folder_lock(out):
        io.inspect_folder(out, overwrite=overwrite, names=COMPARE_FILES, protect=a.input_paths() + b.input_paths())
        t0 = time.perf_counter()
        result_a = _run_quietly(a, quiet=quiet)
        result_b = _run_quietly(b, quiet=quiet)
        comparison = compare_results(result_a, result_b, min_iou=min_iou)
        comparison.save(out, offline=offline, overwrite=overwrite)
    name_a, name_b = comparison.names
    st = comparison.stats()
    click.echo(f"\nA: {name_a}, B: {name_b}")
    click.echo(
        f"{len(comparison.matches)} zones in both, {len(comparison.only_a)} in A only, "
        f"{len(comparison.only_b)} in B only; suitability B - A: mean {st['mean_diff']:+.3f}, "
        f"mean absolute {st['mean_abs_diff']:.3f}"
    )
    if len(comparison.matches):
        click.echo(comparison.matches.round(3).to_string(index=False))
    click.echo(f"A {_timings_line(result_a.timings)}")
    click.echo(f"B {_timings_line(result_b.timings)}")
    click.echo(f"done in {time.perf_counter() - t0:.1f} s; outputs in {out}/ — open {out / 'compare.html'}")


@cli.command("sample-data")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option(
    "--size",
    type=click.Choice(["S", "M", "L", "XL"]),
    default="S",
    show_default=True,
    help="S 48 km, M 96 km, L 192 km, XL 384 km square (L and XL are for benchmarks).",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the committed sample's).")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Write into a folder that holds other files, beside them (eicgeo never deletes a file it did not write).",
)
def sample_data(out: Path, size: str, seed: int | None, overwrite: bool) -> None:
    """Regenerate the synthetic peri-urban sample region."""
    from eicgeo.datasets.synth import generate

    t0 = time.perf_counter()
    kwargs = (
        {"size": size, "overwrite": overwrite} if seed is None else {"size": size, "seed": seed, "overwrite": overwrite}
    )
    folder = generate(out, **kwargs)
    click.echo(f"sample region ({size}) written to {folder} in {time.perf_counter() - t0:.1f} s")


def _run_and_report(scenario, out: Path, *, offline: bool, quiet: bool, overwrite: bool = False) -> None:
    import pandas as pd

    t0 = time.perf_counter()
    result = _run_quietly(scenario, quiet=quiet, out=out, offline=offline, overwrite=overwrite)
    elapsed = time.perf_counter() - t0
    table = result.summary()
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 40):
        click.echo(f"\nRanked candidate EIC zones ({scenario.name}):\n{table.to_string()}\n")
    for key, why in result.skipped:
        click.echo(f"skipped {key}: {why}")
    click.echo(_timings_line(result.timings))
    click.echo(_memory_line(result))
    click.echo(f"done in {elapsed:.1f} s; outputs in {out}/ — open {out / 'map.html'} in a browser")


def _run_quietly(scenario, *, quiet: bool, out: Path | None = None, offline: bool = False, overwrite: bool = False):
    """Run the pipeline, printing eicgeo's warnings as one line each (no Python warning noise)."""
    from eicgeo.pipeline import run as run_pipeline

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EicgeoWarning)
        result = run_pipeline(scenario, out=out, progress=not quiet, offline=offline, overwrite=overwrite)
    for w in caught:
        if issubclass(w.category, EicgeoWarning):
            click.echo(f"eicgeo: warning: {w.message}", err=True)
    return result


def _timings_line(timings: dict[str, float]) -> str:
    """``stage seconds: grid 0.1, ..., outputs 2.0 (total 14.2)``."""
    stages = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    return f"stage seconds: {stages} (total {sum(timings.values()):.1f})"


def _memory_line(result) -> str:
    """``peak memory (MB): ...`` per stage, and how the run computed."""
    stages = ", ".join(f"{k} {m['peak_rss_mb']:,.0f}" for k, m in result.memory.items())
    c = result.compute or {}
    how = "in memory"
    if c.get("mode") == "chunked":
        spilled = ", layers spilled to disk" if c.get("spill") else ""
        how = f"chunks {c['chunks']}, scheduler {c['scheduler']}{spilled}"
    return f"peak memory (MB): {stages} ({how})"


#: The start of the line the last-resort handler prints (the catalogue of bad inputs checks
#: that no bad input reaches it: each gets eicgeo's own message instead).
INTERNAL_ERROR = "eicgeo: internal error"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code.

    Every error prints one line, ``eicgeo: error: ...``, and returns 1 (2 for a usage error).
    ``--debug`` anywhere on the command line prints the traceback as well.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        cli.main(args=args, prog_name="eicgeo", standalone_mode=False)
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.Abort:
        click.echo("eicgeo: aborted", err=True)
        return 1
    except click.ClickException as err:
        click.echo(f"eicgeo: error: {err.format_message()}", err=True)
        return 2
    except EicgeoError as err:
        _traceback(debug)
        click.echo(f"eicgeo: error: {_one_line(err)}", err=True)
        return 1
    except OSError as err:
        _traceback(debug)
        click.echo(f"eicgeo: error: {_one_line(err)}", err=True)
        return 1
    except SystemExit as err:
        return int(err.code or 0)
    except KeyboardInterrupt:
        click.echo("eicgeo: interrupted", err=True)
        return 130
    except Exception as err:  # the last resort: a bug, not a bad input
        _traceback(debug)
        detail = f"{type(err).__name__}: {_one_line(err)}"
        click.echo(f"{INTERNAL_ERROR} ({detail}); run again with --debug for the traceback", err=True)
        return 1
    return 0


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _traceback(debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
