"""On-disk caches keyed by what the cached value was made from.

A key covers each source file's resolved path, size and modification time plus the
parameters used, so editing a file or changing a parameter can never return stale data.
Writes go to a temporary name and are renamed into place, so an interrupted run leaves
no half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import paths


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
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError:
        # A read-only or full cache folder only costs speed, never correctness.
        tmp.unlink(missing_ok=True)


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays uncompressed (fast to load) via a temporary file and an atomic rename."""
    _atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write one array like ``save_npz``."""
    _atomic_write(path, lambda tmp: np.save(tmp, array))


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays from ``save_npz``, or None when the entry is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def load_npy(path: Path) -> np.ndarray | None:
    """The array from ``save_npy``, or None when missing or unreadable."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
