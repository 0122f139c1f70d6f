"""How a run computes: in memory, chunk by chunk with dask, or on a ``dask.distributed`` cluster.

The ``[compute]`` settings (:class:`~eicgeo.settings.ComputeSettings`) change how the raster
stages run, never what they give: :func:`session` sets up the scheduler for one run (a local
dask scheduler, or a :class:`distributed.Client` connected to ``compute.scheduler``) and
:func:`chunked` makes a layer dask-backed in the run's chunks. Cell-wise stages (warping,
criteria, MCDA, constraints, Monte Carlo, the per-cell travel times, the GeoTIFFs) then run
chunk by chunk; stages that need the whole region at once work on the reduced data they need
(the 1 km Degree-of-Urbanisation aggregate, boolean masks, percentiles over the allowed land).

:class:`Meter` samples this process's resident memory while a stage runs, for the per-stage
peak memory of ``manifest.json``.

Examples
--------
>>> from eicgeo.settings import ComputeSettings
>>> with session(ComputeSettings(chunks=64)) as run:
...     run.chunks, run.scheduler
(64, 'threads')
>>> with session(ComputeSettings()) as run:
...     run.chunks is None
True
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from eicgeo._errors import InputError
from eicgeo.settings import COMPUTE, LOCAL_SCHEDULERS, ComputeSettings

__all__ = ["Meter", "Session", "chunked", "current", "is_lazy", "persist", "release_memory", "session", "thread_map"]

#: The most threads :func:`thread_map` runs at once: each holds whole-grid temporaries (a
#: distance transform's indices, a travel-time surface), so more cores are not worth their memory.
MAX_THREADS = 4


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass
class Session:
    """The compute settings of a run as they apply: the chunk size (None: in memory), the
    scheduler, and the distributed client when there is one."""

    chunks: int | None = None
    scheduler: str = COMPUTE.scheduler
    client: Any = None
    workers: dict[str, Any] = field(default_factory=dict)
    #: Whether :func:`persist` holds layers in a temporary folder (``compute.spill``; chunked
    #: runs on this machine only).
    spill: bool = False

    @property
    def threads(self) -> int:
        """Threads for independent whole-grid work in this process (:func:`thread_map`): the
        cores this process may use, at most :data:`MAX_THREADS`; one with the ``synchronous``
        scheduler, which is for debugging, and in a run that spills its layers to disk."""
        if self.scheduler == "synchronous" or self.spill:
            return 1  # a spilling run bounds its memory: one whole-grid piece at a time (its chunks use every core)
        return min(_cores(), MAX_THREADS)

    def describe(self) -> dict[str, Any]:
        """What ``manifest.json`` records of how the run computed."""
        out: dict[str, Any] = {
            "mode": "in memory" if self.chunks is None else "chunked",
            "chunks": self.chunks,
            "scheduler": self.scheduler,
        }
        if self.chunks is not None:
            out["spill"] = self.spill
        if self.workers:
            out["workers"] = self.workers
        return out


_CURRENT = Session()


def current() -> Session:
    """The session of the run in progress (in memory outside one)."""
    return _CURRENT


@contextlib.contextmanager
def session(settings: ComputeSettings = COMPUTE) -> Iterator[Session]:
    """Set up how one run computes; everything is as it was afterwards.

    A ``compute.scheduler`` address is connected to within ``compute.connect_timeout_s``; a
    scheduler that cannot be reached is an :class:`~eicgeo.InputError` naming the setting, and
    the run stops before any stage. The client is closed at the end (the cluster keeps running).

    Raises
    ------
    InputError
        If the scheduler cannot be reached, or ``dask.distributed`` is not installed.
    """
    global _CURRENT
    import dask

    chunks = settings.chunk_size()
    scheduler = settings.scheduler
    timeout = settings.connect_timeout_s
    with contextlib.ExitStack() as stack:
        client = None
        workers: dict[str, Any] = {}
        if scheduler in LOCAL_SCHEDULERS:
            if chunks is not None and scheduler == "processes":
                # one pool for the run: dask would start one per computation otherwise
                pool = stack.enter_context(_process_pool())
                stack.enter_context(dask.config.set(scheduler=scheduler, pool=pool))
            elif chunks is not None:
                stack.enter_context(dask.config.set(scheduler=scheduler))
        else:
            client = _connect(scheduler, timeout)
            stack.callback(client.close)
            info = client.scheduler_info()
            workers = {
                "n_workers": len(info.get("workers", {})),
                "threads": sum(w.get("nthreads", 0) for w in info.get("workers", {}).values()),
                "memory_limit_mb": round(
                    sum(w.get("memory_limit", 0) for w in info.get("workers", {}).values()) / 2**20
                ),
            }
            stack.enter_context(dask.config.set(scheduler=client.get))
        previous = _CURRENT
        spill = settings.spill and chunks is not None and client is None
        _CURRENT = Session(chunks, scheduler, client, workers, spill)
        try:
            yield _CURRENT
        finally:
            _CURRENT = previous


def thread_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """``fn`` over ``items`` in the run's threads (:attr:`Session.threads`), the results in the
    order of ``items``.

    For independent pieces of work that spend their time in numpy, scipy's distance transforms
    or GDAL, which release the GIL: on two cores two travel-time surfaces take about the time
    of one. With one thread, or one item, ``fn`` runs in the calling thread.

    >>> list(thread_map(lambda x: x * x, range(5)))
    [0, 1, 4, 9, 16]
    """
    items = list(items)
    n = min(current().threads, len(items))
    if n <= 1:
        yield from (fn(item) for item in items)
        return
    with ThreadPoolExecutor(n, thread_name_prefix="eicgeo") as pool:
        yield from pool.map(fn, items)


def _process_pool() -> Any:
    """The process pool of a run with the ``processes`` scheduler, started as dask starts its own."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    import dask.multiprocessing as dmp

    if os.environ.get("PYTHONHASHSEED") in (None, "0"):
        os.environ["PYTHONHASHSEED"] = "6640"  # as dask does: the same hashes in every process
    initializer = partial(dmp.initialize_worker_process, user_initializer=None)
    return ProcessPoolExecutor(os.cpu_count() or 1, mp_context=dmp.get_context(), initializer=initializer)


def _connect(address: str, timeout: float) -> Any:
    """A :class:`distributed.Client` of the scheduler at ``address``, or one clear error."""
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - distributed is a dependency
        msg = (
            f"compute.scheduler {address!r} needs dask.distributed, which is not installed; "
            'expected `pip install distributed`, or compute.scheduler = "threads"'
        )
        raise InputError(msg) from err
    import logging

    # distributed logs every failed connection attempt before it gives up; the error says it once.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        msg = (
            f"compute.scheduler: cannot reach a dask.distributed scheduler at {address!r} within "
            f"{timeout:g} s (compute.connect_timeout_s): {detail}; expected the address of a running "
            "scheduler (`dask scheduler` prints it, e.g. 'tcp://10.0.0.5:8786'), or a local scheduler: "
            + ", ".join(repr(s) for s in LOCAL_SCHEDULERS)
        )
        raise InputError(msg) from err
    finally:
        quiet.setLevel(level)


# --------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------
def is_lazy(layer: Any) -> bool:
    """Whether a layer (DataArray or array) is dask-backed."""
    data = layer.data if isinstance(layer, xr.DataArray) else layer
    return hasattr(data, "dask")


def chunked(layer: xr.DataArray, chunks: int | None = None) -> xr.DataArray:
    """``layer`` dask-backed in square chunks of ``chunks`` cells (the session's by default), or
    as it is when the run is in memory. Name, attributes and georeferencing are kept."""
    chunks = current().chunks if chunks is None else chunks
    if chunks is None or layer is None:
        return layer
    return layer.chunk({layer.dims[-2]: chunks, layer.dims[-1]: chunks})


def persist(*layers: Any) -> tuple[Any, ...]:
    """The dask-backed layers computed once and held in chunks (in this process, in the
    workers' memory on a cluster, or with ``compute.spill`` in a temporary folder, read back a
    chunk at a time); others as they are. Layers sharing inputs are computed in one pass."""
    import dask

    lazy = [i for i, layer in enumerate(layers) if layer is not None and is_lazy(layer)]
    if not lazy:
        return layers
    run = current()
    chosen = [layers[i] for i in lazy]
    if run.spill:
        done = _spilled(chosen)
    elif run.client is not None:
        done = run.client.persist(chosen)
    else:
        done = dask.persist(*chosen)
    out = list(layers)
    for i, layer in zip(lazy, done, strict=True):
        out[i] = layer
    return tuple(out)


class _SpillFolder:
    """A temporary folder of chunk files, removed when the last array reading it is gone (or
    when Python exits)."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="eicgeo-spill-")
        weakref.finalize(self, shutil.rmtree, self.path, True)


class _ChunkFiles:
    """The target of :func:`dask.array.store`: each chunk written to ``<row>_<col>.npy`` (its
    first row and column) in ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        rows, cols = key[-2:]
        path = os.path.join(self.folder, f"{rows.start}_{cols.start}.npy")
        np.save(path, np.ascontiguousarray(value), allow_pickle=False)


class _ChunkReader:
    """Reads a spilled layer's chunk (a task of :func:`dask.array.map_blocks`). Holding the
    folder keeps it; a copy sent to another process carries only its path."""

    def __init__(self, spill: _SpillFolder | None, folder: str) -> None:
        self.spill, self.folder = spill, folder

    def __call__(self, block_info: dict | None = None) -> np.ndarray:
        (r0, _), (c0, _) = block_info[None]["array-location"][-2:]
        return np.load(os.path.join(self.folder, f"{r0}_{c0}.npy"), allow_pickle=False)

    def __reduce__(self) -> tuple:
        return _ChunkReader, (None, self.folder)


def release_memory(*, collect: bool = True) -> None:
    """Return the memory freed by this process to the system: a garbage collection (with
    ``collect``), then glibc's ``malloc_trim`` (elsewhere, nothing more). Freed blocks of a few
    MB stay in the allocator's heaps otherwise, and whole-grid temporaries freed in threads keep
    the resident memory of a run at its high-water mark."""
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None on another C library."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _spilled(layers: list[xr.DataArray]) -> list[xr.DataArray]:
    """``layers`` computed once, in one pass, into chunk files in a new temporary folder (one
    sub-folder per layer), each returned reading its chunks back. The folder goes with the
    last array that reads it."""
    import dask.array as da

    spill = _SpillFolder()
    folders = [tempfile.mkdtemp(dir=spill.path) for _ in layers]
    da.store([layer.data for layer in layers], [_ChunkFiles(f) for f in folders], lock=False)
    release_memory(collect=False)  # the chunks' temporaries, freed in the scheduler's threads (no cycles)
    out = []
    for layer, folder in zip(layers, folders, strict=True):
        data = layer.data
        meta = np.empty((0,) * data.ndim, dtype=data.dtype)
        read = da.map_blocks(_ChunkReader(spill, folder), dtype=data.dtype, chunks=data.chunks, meta=meta)
        out.append(layer.copy(deep=False, data=read))
    return out


def blocks(layer: xr.DataArray) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """``((rows, cols), values)`` of each chunk of a dask-backed layer, row by row (numpy
    layers: one block). Only one chunk is in memory at a time."""
    data = layer.data
    if not is_lazy(layer):
        yield (slice(0, data.shape[-2]), slice(0, data.shape[-1])), np.asarray(data)
        return
    row_chunks, col_chunks = data.chunks[-2:]
    rows = np.cumsum((0, *row_chunks))
    cols = np.cumsum((0, *col_chunks))
    for i in range(len(row_chunks)):
        # a row of chunks at a time: one compute per row keeps the scheduler's overhead low
        strip = data[rows[i] : rows[i + 1]].compute()
        for j in range(len(col_chunks)):
            window = (slice(int(rows[i]), int(rows[i + 1])), slice(int(cols[j]), int(cols[j + 1])))
            yield window, np.asarray(strip[:, cols[j] : cols[j + 1]])


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------
class Meter:
    """Samples this process's resident set size (with ``children``, its child processes' too,
    which the ``processes`` scheduler uses; by default, when the current run's scheduler is that)
    every ``interval`` seconds in a background thread; each :meth:`stage` reports its peak and the
    RSS at its start and end, in MB.

    On a ``dask.distributed`` cluster the workers' memory is their own: :meth:`stage` adds the
    workers' total RSS at the stage's end, as the scheduler reports it.
    """

    def __init__(self, interval: float = 0.01, *, children: bool | None = None):
        import psutil

        self._process = psutil.Process()
        # by default, the children when the run's scheduler is the process pool
        self._children = current().scheduler == "processes" if children is None else children
        self._interval = interval
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="eicgeo-memory", daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        rss = self._process.memory_info().rss
        if not self._children:
            return rss
        with contextlib.suppress(Exception):
            for child in self._process.children(recursive=True):
                with contextlib.suppress(Exception):
                    rss += child.memory_info().rss
        return rss

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = self._rss()
            with self._lock:
                self._peak = max(self._peak, rss)
            time.sleep(self._interval)

    @contextlib.contextmanager
    def stage(self, into: dict[str, dict[str, float]], name: str) -> Iterator[None]:
        start = self._rss()
        with self._lock:
            self._peak = start
        try:
            yield
        finally:
            end = self._rss()
            with self._lock:
                peak = max(self._peak, end)
            row = {"rss_start_mb": _mb(start), "peak_rss_mb": _mb(peak), "rss_end_mb": _mb(end)}
            client = current().client
            if client is not None:
                with contextlib.suppress(Exception):
                    info = client.scheduler_info()
                    used = sum(w.get("metrics", {}).get("memory", 0) for w in info.get("workers", {}).values())
                    row["workers_rss_mb"] = _mb(used)
            into[name] = row

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


def _mb(n: int) -> float:
    return round(n / 2**20, 1)
