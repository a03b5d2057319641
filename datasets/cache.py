"""On-disk caches keyed by what the cached value was made from.

A key covers each source file's resolved path, size and modification time plus the
parameters used, so editing a file or changing a parameter can never return stale data.
Writes go to a temporary name and are renamed into place, so an interrupted run leaves
no half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import paths
from .errors import WorkbenchError, write_atomically

log = logging.getLogger(__name__)


def file_signature(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, size in bytes, mtime in ns) of a file."""
    path = Path(path).resolve()
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def make_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:20]


def resolve_dir(cache_dir: str | Path | None, sub: str) -> Path:
    """The cache folder ``sub`` inside ``cache_dir`` (default: ``paths.cache_dir()``)."""
    return Path(cache_dir if cache_dir is not None else paths.cache_dir()) / sub


def _atomic_write(path: Path, write) -> None:
    """``write_atomically``, where a read-only or full cache folder only costs speed,
    never correctness: the entry is simply not kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, write)
    except (OSError, WorkbenchError):
        pass


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays uncompressed (fast to load) via a temporary file and an atomic rename."""
    _atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write one array like ``save_npz``."""
    _atomic_write(path, lambda tmp: np.save(tmp, array))


def load_npz(path: Path, check: Check | None = None) -> dict[str, np.ndarray] | None:
    """Arrays from ``save_npz``, or None when the entry is missing, unreadable, or not
    what ``check`` says was stored (see ``_checked``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            found = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return _checked(path, found, check)


def load_npy(path: Path, check: Check | None = None) -> np.ndarray | None:
    """The array from ``save_npy``, or None when missing, unreadable or failing ``check``."""
    try:
        found = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return _checked(path, found, check)


# ``check(value)`` says why a loaded entry is not what its maker stores, or None.
Check = Callable[[Any], "str | None"]


def _checked(path: Path, value, check: Check | None):
    """``value``, or None (a miss: the caller makes it again and stores it over the bad
    entry) when ``check`` finds it is not what was stored: a file that unpickles fine can
    still hold another shape, out-of-range labels or NaN (written by another version,
    damaged, or put there by hand), and must never be trained on."""
    if check is None:
        return value
    try:
        why = check(value)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        why = f"unreadable content ({exc})"
    if why is None:
        return value
    log.info("cache entry %s rejected (%s); making it again", path, why)
    try:
        path.unlink()
    except OSError:
        pass
    return None


def mismatch(
    name: str,
    a,
    *,
    shape: tuple[int | None, ...] | None = None,
    kind: str | None = None,
    low: float | None = None,
    high: float | None = None,
    finite: bool = False,
) -> str | None:
    """Why array ``a`` is not as expected, or None: its ``shape`` (None: any length on that
    axis), dtype ``kind`` ("u" unsigned, "i" signed, "f" float, "b" bool, "U" text), values
    within ``[low, high]``, all ``finite``."""
    if not isinstance(a, np.ndarray):
        return f"{name} is missing"
    if shape is not None and (
        a.ndim != len(shape) or any(n is not None and n != m for n, m in zip(shape, a.shape))
    ):
        return f"{name} has shape {a.shape}, not {shape}"
    if kind is not None and a.dtype.kind not in kind:
        return f"{name} is {a.dtype}"
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        return f"{name} holds NaN or infinite values"
    if a.size and low is not None and a.min() < low:
        return f"{name} goes below {low}"
    if a.size and high is not None and a.max() > high:
        return f"{name} goes above {high}"
    return None
