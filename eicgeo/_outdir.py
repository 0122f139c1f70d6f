"""Output folders that never lose a user's file.

eicgeo knows the folders it wrote by their ``manifest.json``: a JSON object with an ``eicgeo``
version and an ``outputs`` table of every file it wrote, with its SHA-256. The rules:

- A new folder, an empty folder, or a folder that holds exactly the files its eicgeo manifest
  lists (unchanged) is replaced whole: the new outputs are built in a staging folder beside it,
  which is swapped with the target in one atomic ``renameat2(RENAME_EXCHANGE)`` (two renames
  where the system lacks it). Then the old outputs are deleted, file by listed file.
- A folder holding anything else (a file eicgeo did not write, or one it wrote that was changed
  since) is refused, unless ``overwrite=True``. Then eicgeo's outputs are moved in beside the
  other files, replacing only the files the old manifest lists; a file of the user's that has an
  output's name is still refused. Nothing eicgeo did not write is ever deleted or changed.
- A target that is a file is refused.
- Writers take a lock on the target (an ``flock``'d sibling ``.NAME.eicgeo-lock``), so two runs
  never interleave: the second is refused at once, naming the holder's process id.
- Staging folders carry a marker file, so the next run can tell its own debris from a user's
  folder. A run killed while it writes leaves the previous folder as it was and a staging
  folder, which the next run writing there deletes. A run killed while it moves outputs beside
  a user's files (``overwrite=True``) has recorded its plan first, and the next run finishes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from eicgeo._errors import EicgeoWarning, OutputFolderError

__all__ = ["MANIFEST", "FolderPlan", "folder_lock", "inspect_folder", "output_folder", "read_manifest"]

MANIFEST = "manifest.json"
_STAGE_MARK = ".eicgeo-stage"  # inside a staging folder: it is eicgeo's own
_COMMIT_MARK = ".eicgeo-commit"  # inside a staging folder whose outputs are being moved in (merge)
_LIST_LIMIT = 4  # foreign files named in a refusal

Mode = Literal["new", "replace", "merge"]


@dataclass
class FolderPlan:
    """What writing to ``out`` would do: ``mode`` and the files the old manifest owns."""

    out: Path
    mode: Mode
    owned: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    foreign: list[str] = field(default_factory=list)  # files eicgeo did not write (or changed)


# --------------------------------------------------------------------------------------------
def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The eicgeo manifest of ``folder``, or None when it has none (or one not eicgeo's)."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or "eicgeo" not in data or not isinstance(data.get("outputs"), dict):
        return None
    return data


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """Relative paths of the files and of the folders under ``folder``."""
    files, dirs = [], []
    for root, dirnames, filenames in os.walk(folder):
        rel = Path(root).relative_to(folder)
        dirs.extend((rel / d).as_posix() for d in dirnames)
        files.extend((rel / f).as_posix() for f in filenames)
    return sorted(files), sorted(dirs)


def inspect_folder(
    out: str | Path,
    *,
    overwrite: bool = False,
    names: Iterable[str] = (),
    protect: Iterable[str | Path] = (),
    label: str | None = None,
) -> FolderPlan:
    """How eicgeo may write ``out``, or the :class:`OutputFolderError` that refuses it.

    ``names`` are output file names known in advance (relative paths; a trailing ``/`` names a
    folder of outputs); a user's file among them is refused even with ``overwrite``.
    ``protect`` are files the run reads (its scenario and inputs): inside ``out`` they count as
    the user's, even where an eicgeo manifest lists them (a copied sample folder). ``label`` is
    how messages name the folder (default: ``out`` as given).
    """
    label = label if label is not None else str(out)
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        msg = f"output folder {label!r} is an existing file; expected a folder (choose a new or empty folder)"
        raise OutputFolderError(msg)
    if not out.exists():
        return FolderPlan(out, "new")
    manifest = read_manifest(out)
    owned = {str(k): str(v) for k, v in (manifest or {}).get("outputs", {}).items()}
    files, dirs = _entries(out)
    implied = {Path(rel).parent.as_posix() for rel in owned} | {"."}
    foreign = [rel for rel in files if rel != MANIFEST and rel not in owned]
    foreign += [f"{rel}/" for rel in dirs if rel not in implied]
    if manifest is None and MANIFEST in files:
        foreign.append(MANIFEST)
    # A file eicgeo wrote and the user changed since is the user's now, as is one the run reads.
    foreign += [rel for rel in owned if (out / rel).is_file() and _sha256(out / rel) != owned[rel]]
    for path in protect:
        path = Path(path).resolve()
        if path.is_relative_to(out) and path.relative_to(out).as_posix() in owned:
            foreign.append(path.relative_to(out).as_posix())
    owned = {rel: sha for rel, sha in owned.items() if rel not in foreign}
    if not foreign:
        return FolderPlan(out, "replace", owned)
    if not overwrite:
        listed = ", ".join(sorted(foreign)[:_LIST_LIMIT]) + (
            f" and {len(foreign) - _LIST_LIMIT} more" if len(foreign) > _LIST_LIMIT else ""
        )
        msg = (
            f"output folder {label!r} holds {len(foreign)} file(s) eicgeo did not write or that this run reads "
            f"({listed}); "
            "choose an empty or new folder, or pass --overwrite (overwrite=True) to write eicgeo's outputs "
            "beside them"
        )
        raise OutputFolderError(msg)
    _check_collisions(label, foreign, names)
    return FolderPlan(out, "merge", owned, foreign)


def _check_collisions(label: str, foreign: Iterable[str], names: Iterable[str]) -> None:
    names = list(names)
    for rel in sorted(foreign):
        clash = rel in names or any(n.endswith("/") and rel.startswith(n) for n in names)
        if clash or rel == MANIFEST:
            msg = (
                f"output folder {label!r}: {rel} was not written by eicgeo (or was changed since), and an "
                "output has that name; move it away or choose an empty or new folder"
            )
            raise OutputFolderError(msg)


# --------------------------------------------------------------------------------------------
class _Lock:
    """An exclusive lock on an output folder, held by this process (re-entrant within it)."""

    _held: ClassVar[dict[Path, tuple[int, int]]] = {}  # lock file -> (fd, depth)

    def __init__(self, out: Path, label: str):
        self.path = out.parent / f".{out.name}.eicgeo-lock"
        self.out = out
        self.label = label

    def __enter__(self) -> _Lock:
        if self.path in self._held:
            fd, depth = self._held[self.path]
            self._held[self.path] = (fd, depth + 1)
            return self
        self.out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                msg = (
                    f"output folder {self.label!r} is being written by another eicgeo run (process {holder}); "
                    "wait for it to finish or choose another folder"
                )
                raise OutputFolderError(msg)
            # The holder before us may have unlinked the file after we opened it: lock the
            # file that is at the path now.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._held[self.path] = (fd, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        fd, depth = self._held[self.path]
        if depth > 1:
            self._held[self.path] = (fd, depth - 1)
            return
        del self._held[self.path]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def folder_lock(out: str | Path) -> contextlib.AbstractContextManager[Any]:
    """Hold the output lock of ``out`` (what :func:`output_folder` takes) for a whole run."""
    return _Lock(Path(out).resolve(), str(out))


# --------------------------------------------------------------------------------------------
def _new_stage(out: Path) -> Path:
    stage = out.parent / f".{out.name}.eicgeo-stage-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir(mode=0o777)  # the umask applies, as for any folder the user makes
    (stage / _STAGE_MARK).write_text(str(os.getpid()), encoding="utf-8")
    return stage


def _remove_stage(stage: Path) -> None:
    """Delete a staging folder: every file in it is eicgeo's (it carries the stage marker)."""
    if not (stage / _STAGE_MARK).is_file():  # pragma: no cover - never called on other folders
        return
    files, dirs = _entries(stage)
    for rel in files:
        if rel != _STAGE_MARK:
            (stage / rel).unlink()
    for rel in sorted(dirs, key=len, reverse=True):
        (stage / rel).rmdir()
    (stage / _STAGE_MARK).unlink()
    stage.rmdir()


def _remove_owned(folder: Path, owned: dict[str, str], *, keep: Iterable[str] = ()) -> list[str]:
    """Delete the files of ``owned`` from ``folder`` that still hold what eicgeo wrote, then the
    folders they leave empty. Returns the paths left because they changed."""
    keep = set(keep)
    left = []
    for rel, sha in owned.items():
        path = folder / rel
        if rel in keep or not path.is_file():
            continue
        if _sha256(path) != sha:
            left.append(rel)
            continue
        path.unlink()
    manifest = folder / MANIFEST
    if MANIFEST not in keep and manifest.is_file() and read_manifest(folder) is not None:
        manifest.unlink()
    for parent in sorted({Path(rel).parent for rel in owned if Path(rel).parent != Path(".")}, key=str, reverse=True):
        with contextlib.suppress(OSError):
            (folder / parent).rmdir()  # only when empty
    return left


def _finish_manifest(stage: Path) -> dict[str, str]:
    """Write the stage's manifest with ``outputs`` listing every file in it; return that list."""
    files, _ = _entries(stage)
    outputs = {rel: _sha256(stage / rel) for rel in files if rel not in (MANIFEST, _STAGE_MARK, _COMMIT_MARK)}
    manifest: dict[str, Any] = {}
    if (stage / MANIFEST).is_file():
        manifest = json.loads((stage / MANIFEST).read_text(encoding="utf-8"))
    if "eicgeo" not in manifest:
        from eicgeo import __version__

        manifest = {"eicgeo": __version__, **manifest}
    manifest["outputs"] = outputs
    tmp = stage / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, stage / MANIFEST)
    return outputs


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _recover(out: Path) -> None:
    """Clear what a killed run left beside ``out``.

    A marked staging folder is unfinished (deleted) or, with its commit record, a merge to
    finish. An unmarked one with an eicgeo manifest, or such an ``eicgeo-old`` folder, is a
    previous output folder on its way out: put back if ``out`` is missing (a run killed between
    two renames), else its listed files are deleted. Anything else is left alone.
    """
    debris = sorted(out.parent.glob(f".{out.name}.eicgeo-stage-*")) + sorted(
        out.parent.glob(f".{out.name}.eicgeo-old-*")
    )
    for folder in debris:
        if not folder.is_dir():
            continue
        if (folder / _COMMIT_MARK).is_file() and (folder / _STAGE_MARK).is_file():
            _merge_from(folder, out, json.loads((folder / _COMMIT_MARK).read_text(encoding="utf-8")))
        elif (folder / _STAGE_MARK).is_file():
            _remove_stage(folder)
        elif read_manifest(folder) is None:
            continue  # not eicgeo's: a user's folder that happens to have such a name
        elif not out.exists():
            os.replace(folder, out)
        else:
            _remove_owned(folder, (read_manifest(folder) or {}).get("outputs", {}))
            with contextlib.suppress(OSError):
                folder.rmdir()


def _merge_from(stage: Path, out: Path, old_owned: dict[str, str]) -> None:
    """Move the outputs of a complete stage into ``out`` beside the user's files (merge mode):
    first the new outputs, then delete the old outputs they do not replace, then the manifest.
    Each step can be redone, so a run killed here is finished by the next (:func:`_recover`)."""
    files, _ = _entries(stage)
    moving = [rel for rel in files if rel not in (MANIFEST, _STAGE_MARK, _COMMIT_MARK)]
    for rel in moving:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, target)
    new = set(json.loads((stage / MANIFEST).read_text(encoding="utf-8"))["outputs"])
    _remove_owned(out, {k: v for k, v in old_owned.items() if k not in new}, keep=[MANIFEST])
    os.replace(stage / MANIFEST, out / MANIFEST)
    (stage / _COMMIT_MARK).unlink()
    _remove_stage(stage)


@contextlib.contextmanager
def output_folder(
    out: str | Path, *, overwrite: bool = False, names: Iterable[str] = (), protect: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Yield a staging folder whose files become the output folder ``out`` if the block succeeds.

    See the module docstring for the rules. The block writes its files (and, if it likes, a
    ``manifest.json`` of its own facts) into the staging folder; the ``outputs`` table of the
    manifest is filled in here, from what the folder holds. If the block raises, the staging
    folder is deleted and ``out`` is left as it was.

    Raises
    ------
    OutputFolderError
        If ``out`` is a file, holds files eicgeo did not write or ``protect`` names (without
        ``overwrite``), holds one of those with an output's name, or is being written by another
        run.
    """
    label, out = str(out), Path(out).resolve()
    names, protect = list(names), list(protect)
    with _Lock(out, label):
        _recover(out)
        inspect_folder(out, overwrite=overwrite, names=names, protect=protect, label=label)
        stage = _new_stage(out)
        try:
            yield stage
            _commit(stage, out, overwrite=overwrite, protect=protect, label=label)
        except BaseException:
            if stage.exists():
                _remove_stage(stage)
            raise


def _commit(stage: Path, out: Path, *, overwrite: bool, protect: list[str | Path], label: str) -> None:
    files, _ = _entries(stage)
    written = [rel for rel in files if rel not in (MANIFEST, _STAGE_MARK)]
    plan = inspect_folder(out, overwrite=overwrite, names=[*written, MANIFEST], protect=protect, label=label)
    _finish_manifest(stage)
    if plan.mode == "merge":
        (stage / _COMMIT_MARK).write_text(json.dumps(plan.owned), encoding="utf-8")
        _merge_from(stage, out, plan.owned)
        return
    (stage / _STAGE_MARK).unlink()
    if plan.mode == "new" or not any(out.iterdir()):
        os.replace(stage, out)  # a rename onto an empty folder replaces it
        return
    if _exchange(stage, out):
        old = stage  # the staging path now holds the previous folder
    else:  # pragma: no cover - systems without renameat2
        old = out.parent / f".{out.name}.eicgeo-old-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(out, old)
        os.replace(stage, out)
    left = _remove_owned(old, plan.owned)
    try:
        old.rmdir()
    except OSError:
        import warnings

        msg = (
            f"output folder {label!r} was replaced; the previous folder kept files that changed while eicgeo "
            f"wrote ({', '.join(left) or 'unknown'}), left in {str(old)!r}"
        )
        warnings.warn(msg, EicgeoWarning, stacklevel=4)
