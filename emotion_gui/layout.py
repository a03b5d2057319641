"""The window's size and the side panel that scrolls: the workbench has to be usable on a
1024x768 classroom projector as well as on a laptop and a large screen.

``fit_to_screen`` chooses the opening size from the screen; ``ScrollPanel`` holds the
side buttons and settings and scrolls them (scroll bar and mouse wheel) when the window
is shorter than they are.
"""

from __future__ import annotations

import math
import tkinter as tk
from tkinter import ttk

# Screen height the window cannot use: its title bar, its menu bar (which X11 does not
# count in the window's height) and a desktop panel or task bar, about 30 px each.
RESERVED_HEIGHT = 96
# Width lost to the window manager's borders (and a little air), so the window's frame
# fits the screen too.
RESERVED_WIDTH = 24
# Larger than this the window stops getting better: lines of text get long and charts
# sparse. A large screen gets this size, centred.
LARGEST = (1600, 1000)
# Smallest sensible window: the side panel and a chart beside it. Below this height the
# side panel scrolls, so every button and setting stays reachable.
SMALLEST = (800, 540)
# X11 counts a laptop and a projector side by side ("extended desktop") as one wide
# screen: one wider than 16:9 is taken for that, and the window stays on its left part.
WIDEST = 16 / 9


def opening_geometry(screen_width: int, screen_height: int) -> tuple[str, tuple[int, int]]:
    """The window's geometry ("WxH+X+Y") and minimum size on a screen of that size.

    1024x768 (a projector): 1000x672; 1280x800 (a laptop): 1256x704; larger screens get
    ``LARGEST``. Centred, so the window's frame and a desktop panel fit around it; on two
    monitors side by side, centred on the left one's likely width.
    """
    monitor = min(screen_width, int(screen_height * WIDEST))
    width = max(1, min(monitor - RESERVED_WIDTH, LARGEST[0]))
    height = max(1, min(screen_height - RESERVED_HEIGHT, LARGEST[1]))
    x = max(0, (monitor - width) // 2)
    y = max(0, (screen_height - height - RESERVED_HEIGHT) // 2)
    smallest = (min(SMALLEST[0], width), min(SMALLEST[1], height))  # a tiny screen
    return f"{width}x{height}+{x}+{y}", smallest


def fit_to_screen(root: tk.Tk) -> None:
    """Open ``root`` at the size its screen allows (``opening_geometry``)."""
    geometry, smallest = opening_geometry(root.winfo_screenwidth(), root.winfo_screenheight())
    root.geometry(geometry)
    root.minsize(*smallest)


class ScrollPanel(ttk.Frame):
    """A column whose ``interior`` scrolls vertically when it is taller than the window.

    The scroll bar shows only when it is needed. The mouse wheel scrolls the panel
    wherever the pointer is over it, drop-downs and spin boxes included: there, turning
    the wheel to scroll must not change a setting by accident. A widget that gets the
    keyboard focus is scrolled into view, so Tab reaches every setting.
    """

    SCROLL_STEP = 20  # px per wheel click

    def __init__(self, master: tk.Misc, padding=(8, 0, 6, 4)) -> None:
        super().__init__(master)
        background = ttk.Style(self).lookup("TFrame", "background") or None
        self.canvas = tk.Canvas(
            self,
            highlightthickness=0,
            borderwidth=0,
            width=1,
            height=1,
            yscrollincrement=self.SCROLL_STEP,
            **({"background": background} if background else {}),
        )
        self.scrollbar = ttk.Scrollbar(self, orient=tk.VERTICAL, command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self.scrollbar.set)
        self.canvas.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        self.interior = ttk.Frame(self.canvas, padding=padding)
        self._item = self.canvas.create_window(0, 0, window=self.interior, anchor="nw")
        self.tag = f"ScrollPanel{id(self)}"  # the bind tag of every widget inside
        self.interior.bind("<Configure>", lambda _e: self._refit(), add=True)
        self.canvas.bind("<Configure>", lambda _e: self._refit(), add=True)
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.bind_class(self.tag, sequence, self._wheel)
        self.bind_class(self.tag, "<FocusIn>", lambda e: self.see(e.widget))

    @property
    def scrollable(self) -> bool:
        """The interior is taller than the panel shows."""
        return self.interior.winfo_reqheight() > self.canvas.winfo_height()

    def _refit(self) -> None:
        """The interior or the panel changed size: as wide as the interior, the scroll
        bar only when needed, and every widget inside answers the wheel."""
        width, height = self.interior.winfo_reqwidth(), self.interior.winfo_reqheight()
        if int(self.canvas.cget("width")) != width:
            self.canvas.configure(width=width)
        self.canvas.configure(scrollregion=(0, 0, width, height))
        if self.scrollable:
            if not self.scrollbar.winfo_ismapped():
                self.scrollbar.pack(side=tk.RIGHT, fill=tk.Y, before=self.canvas)
        else:
            self.scrollbar.pack_forget()
            self.canvas.yview_moveto(0)
        self._tag_all(self.interior)

    def _tag_all(self, widget: tk.Misc) -> None:
        """Put the panel's bind tag first on ``widget`` and everything inside it, so the
        panel sees the wheel before a drop-down does (widgets added later too)."""
        for w in (self.canvas, widget):
            tags = w.bindtags()
            if self.tag not in tags:
                w.bindtags((self.tag, *tags))
        for child in widget.winfo_children():
            self._tag_all(child)

    def _wheel(self, event: tk.Event) -> str | None:
        if not self.scrollable:
            return None  # nothing to scroll: the widget under the pointer may use the wheel
        if event.num == 4 or (event.num != 5 and event.delta > 0):
            step = -1  # up
        else:
            step = 1
        clicks = max(1, abs(event.delta) // 120) if event.delta else 1  # Windows: 120 a click
        self.canvas.yview_scroll(step * clicks, "units")
        return "break"

    def see(self, widget: tk.Misc) -> None:
        """Scroll so that ``widget`` (inside the interior) is in view."""
        if not self.scrollable or not str(widget).startswith(str(self.interior)):
            return
        top = widget.winfo_rooty() - self.interior.winfo_rooty()
        bottom = top + widget.winfo_height()
        shown_top = self.canvas.canvasy(0)
        shown_bottom = shown_top + self.canvas.winfo_height()
        total, step = self.interior.winfo_reqheight(), self.SCROLL_STEP
        # The canvas scrolls in whole steps (it rounds to the nearest): round outwards.
        if top < shown_top:
            self.canvas.yview_moveto(math.floor(top / step) * step / total)
        elif bottom > shown_bottom:
            lowest = bottom - self.canvas.winfo_height()
            self.canvas.yview_moveto(math.ceil(lowest / step) * step / total)


class FlowRow(ttk.Frame):
    """A row of groups (frames of widgets kept together) that wraps onto more lines when
    the row is narrower than the groups side by side, as words do: a bar of settings and
    buttons stays whole on a projector and with larger text. ``add`` a group made with
    this row as its master; a group marked ``stretch`` takes the spare width."""

    def __init__(self, master: tk.Misc, **kwargs) -> None:
        super().__init__(master, **kwargs)
        self.groups: list[tuple[tk.Misc, bool]] = []
        self.lines: list[list[tk.Misc]] = []
        self.bind("<Configure>", lambda event: self.reflow(event.width))

    def add(self, group: tk.Misc, stretch: bool = False) -> tk.Misc:
        self.groups.append((group, stretch))
        self.reflow(self.winfo_width())
        return group

    def reflow(self, width: int) -> None:
        """Lay the groups out in lines no wider than ``width`` (one line while the row has
        no width yet); only when the lines change, so a reflow ends."""
        room = width if width > 1 else float("inf")
        lines: list[list[tk.Misc]] = [[]]
        used = 0
        for group, _stretch in self.groups:
            need = group.winfo_reqwidth()
            if lines[-1] and used + need > room:
                lines.append([])
                used = 0
            lines[-1].append(group)
            used += need
        if lines == self.lines:
            return
        self.lines = lines
        stretches = dict((id(g), s) for g, s in self.groups)
        for row, line in enumerate(lines):
            for column, group in enumerate(line):
                sticky = "ew" if stretches[id(group)] else "w"
                group.grid(row=row, column=column, sticky=sticky, padx=(0, 8), pady=1)
        columns = max(len(line) for line in lines)
        for column in range(columns + 1):
            self.columnconfigure(column, weight=0)
        # The spare width goes to the stretching groups of the longest line (one column
        # with weight keeps the others at their size).
        for column, group in enumerate(max(lines, key=len)):
            if stretches[id(group)]:
                self.columnconfigure(column, weight=1)
