"""Small Tk helpers the views share."""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

from .textsize import BANNER, own_font


def wrap_to_width(label: ttk.Label, margin: int = 16) -> ttk.Label:
    """Let ``label``'s text wrap at its own width (less ``margin`` px), so long lines such
    as model paths wrap instead of being cut off or widening the window."""
    label.bind("<Configure>", lambda e: label.configure(wraplength=max(200, e.width - margin)))
    return label


def widen_popdown(combobox: ttk.Combobox) -> ttk.Combobox:
    """Let ``combobox``'s drop-down list be as wide as its longest choice, so a narrow
    field (the side panel's) still lists every name whole."""
    style = ttk.Style(combobox)

    def before_posting() -> None:
        font = tkfont.nametofont(str(combobox.cget("font")) or "TkTextFont", combobox)
        widest = max((font.measure(str(v)) for v in combobox.cget("values")), default=0)
        extra = max(0, widest + 2 * font.measure("0") - combobox.winfo_width())
        style.configure("Wide.TCombobox", postoffset=(0, 0, extra, 0))

    combobox.configure(style="Wide.TCombobox", postcommand=before_posting)
    return combobox


def banner_and_status_bar(root: tk.Misc) -> tuple[tk.StringVar, tk.StringVar, ttk.Progressbar]:
    """The window's top banner (the data in use) and its bottom bar (status text and a
    progress bar); pack them before the body so the body takes the room between."""
    banner_var = tk.StringVar(value="Data: preparing…")
    ttk.Label(
        root,
        textvariable=banner_var,
        anchor="w",
        padding=(10, 5),
        font=own_font(root, BANNER),
    ).pack(side=tk.TOP, fill=tk.X)
    status = ttk.Frame(root, padding=(8, 3))
    status.pack(side=tk.BOTTOM, fill=tk.X)
    status_var = tk.StringVar(value="Ready")
    ttk.Label(status, textvariable=status_var, anchor="w").pack(
        side=tk.LEFT, fill=tk.X, expand=True
    )
    progress = ttk.Progressbar(status, length=240, maximum=1.0)
    progress.pack(side=tk.RIGHT)
    return banner_var, status_var, progress
