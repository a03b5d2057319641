"""The one error type users see.

Every message is a single sentence that names the file (or folder) and says what to do,
in the spirit of librosa's ``ParameterError``. The CLI prints it and exits with status 2;
the GUI shows it in a dialog.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Bad input from the user: a missing file, an unknown layout, corrupt data."""


class NoFaceError(WorkbenchError):
    """No face was found in an image or a video clip."""


def describe(path: str | Path) -> str:
    """Quote a path the way every message does."""
    return f"'{Path(path)}'"
