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


class NoSoundError(WorkbenchError):
    """A recording or a clip has no sound to hear: no sound track, or one that is silent
    or too short. ``reason`` says which in a few words ("it has no sound track and no
    matching RAVDESS 03- recording"), for a video's face-only answer to quote."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def describe(path: str | Path) -> str:
    """Quote a path the way every message does."""
    return f"'{Path(path)}'"


def permission_denied(path: str | Path) -> WorkbenchError:
    """The one sentence for a file or folder this user may not read."""
    return WorkbenchError(
        f"{describe(path)} cannot be read (permission denied); check its permissions, or "
        "copy it somewhere you can read."
    )


def require_readable(path: str | Path) -> Path:
    """``path``, once this process has shown it may read it (a file opened, a folder
    listed): permission denied is one sentence saying so, never "corrupt" or "not a
    video" from the library that would read it next. Other problems (a missing file)
    are left to the reader, which words them for its kind of file."""
    import os
    import stat

    path = Path(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(path):
                pass
        elif stat.S_ISREG(mode):
            with open(path, "rb"):
                pass
        else:  # a pipe or a device: opening one could block until a writer comes
            raise WorkbenchError(
                f"{describe(path)} is not a regular file (a pipe or a device); save what it "
                "carries as a file and pass that."
            )
    except PermissionError:
        raise permission_denied(path) from None
    except OSError:
        pass  # missing, a dangling link…: the reader names it
    return path


def write_atomically(path: str | Path, write) -> None:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, then rename it into
    place: a kill or a full disk never leaves a truncated file that looks finished, and
    an earlier ``path`` stays whole until the new one is complete. A failure is a
    ``WorkbenchError`` naming ``path`` (the disk is full, permission denied, …); the
    temporary file is removed."""
    import errno
    import os
    import shutil
    import threading

    path = Path(path)
    # Unique per process and thread (caches are written from worker threads); the same
    # suffix, as numpy adds .npy/.npz to a name without one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch.save says RuntimeError for a full disk
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        code = getattr(exc, "errno", None)
        try:
            full = code == errno.ENOSPC or shutil.disk_usage(path.parent).free < 1 << 20
        except OSError:
            full = False
        if full:
            why = "the disk is full; free some space or choose another disk"
        elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = "permission denied; choose a folder you can write to"
        elif isinstance(exc, OSError):
            why = f"{exc.strerror or exc}; choose another folder"
        else:
            raise
        raise WorkbenchError(f"Cannot write {describe(path)}: {why}.") from exc
    except BaseException:  # any other failure (a refused self-check, Ctrl+C): no temporary left
        tmp.unlink(missing_ok=True)
        raise
