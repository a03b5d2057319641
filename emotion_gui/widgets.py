"""Small Tk helpers the views share."""

from __future__ import annotations

from tkinter import ttk


def wrap_to_width(label: ttk.Label, margin: int = 16) -> ttk.Label:
    """Let ``label``'s text wrap at its own width (less ``margin`` px), so long lines such
    as model paths wrap instead of being cut off or widening the window."""
    label.bind("<Configure>", lambda e: label.configure(wraplength=max(200, e.width - margin)))
    return label
