"""The ``.complete`` marker of a demo folder: what it records, reading it, and whether a folder
holds the finished default demo set.

Light on purpose (json and pathlib only): the loaders ask whether a folder is demo data without
importing the generator.
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets.demo.config import DEFAULT_N_ACTORS, DEFAULT_N_FACES, DEMO_VERSION

MARKER_NAME = ".complete"


def marker_contents(seed: int, n_faces: int, n_actors: int, with_video: bool) -> dict:
    """What the marker of a finished set with these settings holds (``make_demo_data`` writes
    it as JSON; ``is_complete`` compares against it)."""
    return {
        "version": DEMO_VERSION,
        "seed": seed,
        "n_faces": n_faces,
        "n_actors": n_actors,
        "with_video": with_video,
    }


def read_marker(out_dir: Path) -> dict | None:
    """The ``.complete`` marker of a demo folder, or None when missing or unreadable."""
    try:
        data = json.loads((Path(out_dir) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(out_dir: Path, seed: int = 0) -> bool:
    """Whether ``out_dir`` holds a finished default-size demo set of this version and seed."""
    return read_marker(out_dir) == marker_contents(seed, DEFAULT_N_FACES, DEFAULT_N_ACTORS, True)
