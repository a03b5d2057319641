"""Which data the workbench uses: the user's FER-2013 / RAVDESS folders, or the demo data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import paths

DEMO_LABEL = "built-in synthetic demo data"


@dataclass(frozen=True)
class DataSources:
    """Where the face and speech data come from, and whether each is the synthetic demo."""

    fer: Path
    ravdess: Path
    fer_is_demo: bool = False
    ravdess_is_demo: bool = False

    def describe(self) -> str:
        """One line for the window's banner and the CLI, e.g. for the demo data:
        'built-in synthetic demo data (data/demo)'."""
        if self.fer_is_demo and self.ravdess_is_demo:
            return f"{DEMO_LABEL} ({self.fer.parent})"
        return f"faces: {self.describe_part('faces')} · speech: {self.describe_part('speech')}"

    def describe_part(self, part: str) -> str:
        """'FER-2013 at …' / 'RAVDESS at …' for ``part`` "faces" or "speech", or the demo label."""
        if part == "faces":
            return DEMO_LABEL if self.fer_is_demo else f"FER-2013 at {self.fer}"
        return DEMO_LABEL if self.ravdess_is_demo else f"RAVDESS at {self.ravdess}"


def user_data() -> tuple[Path | None, Path | None]:
    """``data/fer2013`` and ``data/ravdess`` when the user has put data there."""
    fer, rav = paths.data_dir() / "fer2013", paths.data_dir() / "ravdess"
    return (fer if fer.exists() else None, rav if rav.exists() else None)


def demo_sources() -> DataSources:
    """Where the demo data lives (generate it with ``ensure_demo`` before reading)."""
    root = paths.demo_dir()
    return DataSources(root / "fer2013", root / "ravdess", True, True)


def ensure_demo(progress: Callable[[str, float], None] | None = None) -> Path:
    """Generate the demo data if it is missing or out of date (about 20 s here).

    ``progress(message, fraction)`` reports the generation, as in ``make_demo_data``.
    """
    from .demo import ensure_demo_data

    return ensure_demo_data(paths.demo_dir(), progress=progress)


def default_sources() -> DataSources:
    """The user's data in ``data/`` where present, else the demo data for the missing part."""
    fer, rav = user_data()
    demo = demo_sources()
    return DataSources(fer or demo.fer, rav or demo.ravdess, fer is None, rav is None)
