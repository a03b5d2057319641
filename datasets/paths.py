"""Where the workbench keeps user data, generated demo data and caches."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The git-ignored folder for user data sets and generated demo data."""
    return Path(os.environ.get("WORKBENCH_DATA_DIR", PROJECT_ROOT / "data"))


def cache_dir() -> Path:
    """Parsed data sets and audio features are cached here (``WORKBENCH_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("WORKBENCH_CACHE_DIR", data_dir() / "cache"))


def demo_dir() -> Path:
    """The built-in synthetic demo data is generated here on first need."""
    return data_dir() / "demo"


def runs_dir() -> Path:
    """Trained models and their reports go here (``WORKBENCH_RUNS_DIR`` overrides)."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR", PROJECT_ROOT / "runs"))


def pretrained_dir() -> Path:
    """The starter models shipped with the workbench (``WORKBENCH_PRETRAINED_DIR`` overrides;
    the tests point it at an empty folder to see the window as without them)."""
    return Path(os.environ.get("WORKBENCH_PRETRAINED_DIR", PROJECT_ROOT / "pretrained"))
