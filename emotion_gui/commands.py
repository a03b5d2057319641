"""The window's commands in one table: the side buttons, the menus and the keyboard
shortcuts are all built from it, so a key shown in a menu is always the key bound and a
button always does what its menu item does.

A command names a method of the window (and its arguments), and the dialog that first asks
for a path, if any (the method gets the path as its last argument); ``SIDE`` and ``MENUS``
say where each command appears. The Train commands come from the per-kind table
(``state.KINDS``).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, ttk

from datasets import paths
from training.predict import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

from .state import KINDS

# Tk's entry fields use these Ctrl keys for editing; there they stay editing keys.
EDITING_KEYS = {"<Control-d>", "<Control-e>", "<Control-i>", "<Control-u>"}


@dataclass(frozen=True)
class Ask:
    """A dialog that asks for a path before the command runs (Cancel: it does not run)."""

    title: str
    files: tuple[str, tuple[str, ...]] | None = None  # (type name, suffixes); None: a folder
    start_in: Callable[[], Path] | None = None  # the folder a folder dialog opens in

    def path(self) -> Path | None:
        if self.files is None:
            initial = {"initialdir": self.start_in()} if self.start_in else {}
            chosen = filedialog.askdirectory(title=self.title, mustexist=True, **initial)
        else:
            name, suffixes = self.files
            chosen = filedialog.askopenfilename(
                title=self.title,
                filetypes=[(name, " ".join(f"*{s}" for s in suffixes)), ("All files", "*")],
            )
        return Path(chosen) if chosen else None


@dataclass(frozen=True)
class Command:
    """One thing the window does: a menu item, maybe a side button and a key."""

    label: str  # in its menu
    action: str  # the window's method it calls, with ``args`` (and the path asked for)
    args: tuple = ()
    key: str | None = None  # a Tk key sequence, bound on the main window and shown in the menu
    button: str | None = None  # the side button's text, when shorter than the label
    ask: Ask | None = None
    also: tuple[str, ...] = ()  # more keys that do the same (Ctrl+= for Ctrl++), not shown
    # A menu check mark: the window's BooleanVar of that name; ticking it calls the
    # method with the new value instead of ``args``.
    check: str | None = None


def _predict(
    label: str, key: str, button: str, title: str, files: tuple[str, tuple[str, ...]]
) -> Command:
    return Command(label, "predict", key=key, button=button, ask=Ask(title, files))


COMMANDS = {
    "fer": Command("Load FER-2013 folder…", "replace_data", ("fer",), "<Control-o>",
                   "Load FER-2013…", Ask("FER-2013 folder (fer2013.csv, or train/ and test/)")),
    "fer_csv": Command("Load FER-2013 CSV file…", "replace_data", ("fer",),
                       ask=Ask("FER-2013 CSV", ("CSV files", (".csv",)))),
    "ravdess": Command("Load RAVDESS folder…", "replace_data", ("ravdess",), "<Control-r>",
                       "Load RAVDESS…", Ask("RAVDESS folder (Actor_01 … Actor_24)")),
    "demo": Command("Use demo data", "use_demo", key="<Control-d>"),
    "open_run": Command("Open run…", "open_run", key="<Control-l>",
                        ask=Ask("Open a run folder (runs/…)", start_in=paths.runs_dir)),
    "quit": Command("Quit", "close", key="<Control-q>"),
    "larger_text": Command("Larger text", "set_larger_text", (True,), "<Control-plus>",
                           also=("<Control-equal>", "<Control-KP_Add>"), check="larger_text"),
    "normal_text": Command("Normal text size", "set_larger_text", (False,), "<Control-minus>",
                           also=("<Control-KP_Subtract>",)),
    **{f"train_{k.name}": Command(k.button, "train", (k.name,), k.key) for k in KINDS},
    "stop": Command("Stop", "stop_training", key="<Escape>"),
    "confusion": Command("Confusion Matrices", "show_confusion", key="<Control-m>"),
    "compare": Command("Accuracy Comparison Graph", "show_comparison", key="<Control-g>"),
    "predict_image": _predict("Predict Image…", "<Control-i>", "Image…", "Photo with a face",
                              ("Images", IMAGE_SUFFIXES)),
    "predict_audio": _predict("Predict Audio…", "<Control-u>", "Audio…", "Speech recording",
                              ("Audio", AUDIO_SUFFIXES)),
    "predict_video": _predict("Predict Video…", "<Control-e>", "Video…",
                              "Video clip with a face and speech", ("Video", VIDEO_SUFFIXES)),
}  # fmt: skip
TRAIN = tuple(f"train_{k.name}" for k in KINDS)
PREDICT = ("predict_image", "predict_audio", "predict_video")
# The side groups (top to bottom) and the menus (None: a separator).
SIDE = {
    "Data": ("fer", "ravdess", "demo"),
    "Train": (*TRAIN, "stop"),
    "Results": ("confusion", "compare", "open_run"),
    "Predict": PREDICT,
}
# Side groups whose buttons share one row (their names are short): a shorter panel, so
# on a 1280x800 screen it needs no scrolling.
SIDE_ROWS = {"Predict"}
MENUS = {
    "File": ("fer", "fer_csv", "ravdess", "demo", None, "open_run", None, "quit"),
    "Train": (*TRAIN, "stop"),
    "Results": ("confusion", "compare"),
    "Predict": PREDICT,
    "View": ("larger_text", "normal_text"),
}
KEY_NAMES = {"plus": "+", "minus": "-", "equal": "="}


def accelerator(key: str | None) -> str:
    """What a menu shows for a Tk key sequence: "<Control-o>" → "Ctrl+O", "<F5>" → "F5",
    "<Control-plus>" → "Ctrl++"."""
    if not key:
        return ""
    name = key.strip("<>").replace("Control-", "Ctrl+").replace("Escape", "Esc")
    if name.startswith("Ctrl+"):
        rest = name[len("Ctrl+") :]
        return "Ctrl+" + KEY_NAMES.get(rest, rest[:-1] + rest[-1:].upper())
    return name


def _callback(window, name: str) -> Callable[[], None]:
    command = COMMANDS[name]
    method = getattr(window, command.action)
    if command.ask is None:
        return lambda: method(*command.args)

    def ask_then_run() -> None:
        if (path := command.ask.path()) is not None:
            method(*command.args, path)

    return ask_then_run


def build_side(
    side: ttk.Frame, window, below: dict[str, Callable[[ttk.Frame], None]]
) -> dict[str, ttk.Button]:
    """The side groups of buttons, by command name; ``below[group](box)`` adds widgets
    under a group's buttons (the Settings under Train)."""
    # Slim buttons: all four groups and the settings fit a 1280x800 screen unscrolled.
    ttk.Style(side).configure("Side.TButton", padding=(4, 0))
    buttons = {}
    for title, names in SIDE.items():
        box = ttk.LabelFrame(side, text=title, padding=(6, 0, 6, 3))
        box.pack(fill=tk.X, pady=(0, 3))
        row = ttk.Frame(box) if title in SIDE_ROWS else None
        for i, name in enumerate(names):
            text = COMMANDS[name].button or COMMANDS[name].label
            command = _callback(window, name)
            button = ttk.Button(row or box, text=text, command=command, style="Side.TButton")
            if row is None:
                button.pack(fill=tk.X, pady=1)
            else:  # as wide as its name (three fit side by side), the row shared evenly
                button.configure(width=0)
                button.grid(row=0, column=i, sticky="ew", padx=(0 if i == 0 else 2, 0), pady=1)
                row.columnconfigure(i, weight=1, uniform="side")
            buttons[name] = button
        if row is not None:
            row.pack(fill=tk.X)
        if title in below:
            below[title](box)
    return buttons


def build_menus(root: tk.Tk, window) -> None:
    """The menu bar, with each command's key bound to the main window only: it never
    fires inside a dialog or a drop-down."""
    menu = tk.Menu(root)
    for title, names in MENUS.items():
        sub = tk.Menu(menu, tearoff=False)
        for name in names:
            if name is None:
                sub.add_separator()
                continue
            command, action = COMMANDS[name], _callback(window, name)
            shown = {"label": command.label, "accelerator": accelerator(command.key)}
            if command.check:
                var = getattr(window, command.check)
                method = getattr(window, command.action)
                sub.add_checkbutton(
                    **shown, variable=var, command=lambda m=method, v=var: m(v.get())
                )
            else:
                sub.add_command(**shown, command=action)
            for key in filter(None, (command.key, *command.also)):
                root.bind(key, lambda e, a=action, k=key: _shortcut(e, a, k))
        menu.add_cascade(label=title, menu=sub)
    root.config(menu=menu)


def _shortcut(event: tk.Event, action, key: str) -> str | None:
    if key in EDITING_KEYS and isinstance(event.widget, (tk.Entry, ttk.Entry, tk.Spinbox)):
        return None  # the entry field's own editing key
    action()
    return "break"
