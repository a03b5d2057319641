"""A private virtual screen (Xvfb) for tests and screenshots on machines without a display."""

from __future__ import annotations

import os
import shutil
import subprocess


def start_xvfb(size: str = "1280x800x24") -> subprocess.Popen | None:
    """Start Xvfb on a free display number and point ``DISPLAY`` at it.

    Returns the server process (terminate it when done), or None when Xvfb is not
    installed or did not start.
    """
    if not shutil.which("Xvfb"):
        return None
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,  # else a pipe reader waits for Xvfb to exit too
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # Xvfb writes the display number once it is ready
    if not number:
        proc.kill()
        return None
    os.environ["DISPLAY"] = f":{number}"
    return proc
