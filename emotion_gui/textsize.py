"""Larger text for the back row of a classroom: View ▸ Larger text (Ctrl++; Ctrl+- goes back).

Tk's named fonts are enlarged in place, so every label, button, menu, list and entry
follows at once. The workbench's own fonts (the banner, bold headings, small notes) are
named fonts made from them here, so they follow too; a widget must use one of these
names, never a (family, size) tuple, or it keeps its size. The charts scale their text
themselves (``ChartRenderer.set_text_scale``).
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

LARGER = 1.3  # 10 pt → 13 pt: readable from the back of a classroom on a projector
TK_FONTS = (
    "TkDefaultFont",
    "TkTextFont",
    "TkHeadingFont",
    "TkMenuFont",
    "TkFixedFont",
    "TkCaptionFont",
    "TkSmallCaptionFont",
    "TkIconFont",
    "TkTooltipFont",
)
# The workbench's own named fonts: (name, size in points, weight), from TkDefaultFont.
BANNER, BOLD, SMALL = "WorkbenchBanner", "WorkbenchBold", "WorkbenchSmall"
OWN_FONTS = ((BANNER, 11, "bold"), (BOLD, 10, "bold"), (SMALL, 8, "normal"))


def own_font(root: tk.Misc, name: str) -> str:
    """The workbench font ``name`` (BANNER, BOLD or SMALL), made on first use."""
    if name not in tkfont.names(root):
        size, weight = next((s, w) for n, s, w in OWN_FONTS if n == name)
        family = tkfont.nametofont("TkDefaultFont", root).actual("family")
        # Made in Tcl: a tkinter ``Font`` would delete it once garbage.
        root.tk.call("font", "create", name, "-family", family, "-size", size, "-weight", weight)
    return name


def scaled(size: int, scale: float) -> int:
    """A Tk font size times ``scale``; negative sizes are pixels and stay negative."""
    return round(abs(size) * scale) * (1 if size >= 0 else -1)


class TextSize:
    """The size of every named font of ``root``: normal (1.0) or ``LARGER``."""

    def __init__(self, root: tk.Misc) -> None:
        self.root = root
        for name, _size, _weight in OWN_FONTS:
            own_font(root, name)
        names = (*TK_FONTS, *(name for name, _s, _w in OWN_FONTS))
        self.fonts = {name: tkfont.nametofont(name, root) for name in names}
        self.base = {name: font.cget("size") for name, font in self.fonts.items()}
        self.scale = 1.0
        style = ttk.Style(root)
        self.base_rowheight = int(style.lookup("Treeview", "rowheight") or 20)

    def set(self, scale: float) -> None:
        """Every named font at ``scale`` times its size at start."""
        self.scale = scale
        for name, font in self.fonts.items():
            font.configure(size=scaled(self.base[name], scale))
        # A list's rows do not grow with their font by themselves.
        rows = round(self.base_rowheight * scale)
        ttk.Style(self.root).configure("Treeview", rowheight=rows)
        # For what is sized in pixels (a list's columns): ``bind_all("<<TextSize>>", …)``.
        self.root.event_generate("<<TextSize>>")
