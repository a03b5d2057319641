"""Screenshots of the real window, for the README: ``make screenshots``.

Starts a private Xvfb screen (1280x800, like a classroom laptop) unless a display is set,
opens the workbench on the built-in demo data, waits for each view to be ready and saves
``screenshots/*.png``.
"""

from __future__ import annotations

import os
import sys
import time
import tkinter as tk
from pathlib import Path

from PIL import ImageGrab

from datasets.sources import demo_sources, ensure_demo

from .app import WorkbenchApp
from .xvfb import start_xvfb

OUT = Path(__file__).resolve().parent.parent / "screenshots"


def settle(root: tk.Tk, until=lambda: True, timeout: float = 120.0) -> None:
    """Run the event loop until ``until()`` holds, then a little longer for drawing."""
    end = time.monotonic() + timeout
    while not until() and time.monotonic() < end:
        root.update()
        time.sleep(0.02)
    for _ in range(25):
        root.update()
        time.sleep(0.02)


def grab(root: tk.Tk, name: str) -> Path:
    """Save the window's area of the screen."""
    x, y = root.winfo_rootx(), root.winfo_rooty()
    w, h = root.winfo_width(), root.winfo_height()
    path = OUT / f"{name}.png"
    ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ["DISPLAY"]).save(path)
    return path


def main() -> int:
    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb = start_xvfb()
        if xvfb is None:
            sys.exit("Screenshots need a display or Xvfb (apt-get install xvfb).")
    try:
        ensure_demo()
        OUT.mkdir(exist_ok=True)
        root = tk.Tk()
        app = WorkbenchApp(root, demo_sources())
        settle(root, lambda: app.loaded is not None)
        print(grab(root, "main-window-demo"))
        app.close()
    finally:
        if xvfb:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
