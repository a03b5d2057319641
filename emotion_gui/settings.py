"""The Settings panel under the Train buttons: preset, epochs, batch size, learning rate,
device, and what Train Fusion Model trains (design, pairs, starting branches).

``SettingsPanel.settings()`` reads the widgets into a Tk-free ``state.Settings``; the
workbench state turns that into ``TrainOptions``.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from training.device import DEVICE_CHOICES, available_devices

from .state import FUSION_DESIGNS, PAIRING_SHORT, Settings
from .textsize import SMALL, own_font
from .widgets import widen_popdown

PAIRING_NAMES = {"takes": "audio-video takes", "class": "class-paired (FER + RAVDESS)"}


class SettingsPanel:
    """The settings widgets, packed into ``box`` (the Train group) below its buttons."""

    def __init__(self, box: ttk.Frame) -> None:
        grid = ttk.Frame(box)
        grid.pack(fill=tk.X, pady=(4, 0))
        self.preset_var = tk.StringVar(value="quick")
        self.epochs_var = tk.StringVar(value="auto")
        self.batch_var = tk.StringVar(value="auto")
        self.lr_var = tk.StringVar(value="auto")
        self.device_var = tk.StringVar(value="auto")
        rows = (
            ("Preset", ttk.Combobox(grid, textvariable=self.preset_var, values=("quick", "full"),
                                    state="readonly", width=9)),
            ("Epochs", ttk.Spinbox(grid, textvariable=self.epochs_var, width=9,
                                   values=("auto", *range(1, 201)))),
            ("Batch size", ttk.Combobox(grid, textvariable=self.batch_var, width=9,
                                        values=("auto", 8, 16, 32, 64, 128, 256))),
            ("Learning rate", ttk.Combobox(grid, textvariable=self.lr_var, width=9,
                                           values=("auto", "0.0003", "0.001", "0.002", "0.003", "0.01"))),
        )  # fmt: skip
        for r, (label, widget) in enumerate(rows):
            ttk.Label(grid, text=label).grid(row=r, column=0, sticky="w", pady=1)
            widget.grid(row=r, column=1, sticky="e", pady=1)
        grid.columnconfigure(1, weight=1)
        # The choices on a row of their own under "Device": a narrower panel.
        devices = ttk.Frame(box)
        devices.pack(fill=tk.X, pady=(2, 0))
        ttk.Label(devices, text="Device").grid(row=0, column=0, columnspan=4, sticky="w")
        have = available_devices()
        self.device_buttons = {}
        for i, name in enumerate(DEVICE_CHOICES):
            b = ttk.Radiobutton(devices, text=name, value=name, variable=self.device_var)
            b.grid(row=1, column=i, sticky="w", padx=(6 if i == 0 else 2, 0))
            devices.columnconfigure(i, weight=1)
            if not have[name]:
                b.state(["disabled"])  # this machine has no such device
            self.device_buttons[name] = b
        self._build_fusion(box)

    def _build_fusion(self, box: ttk.Frame) -> None:
        """What Train Fusion Model trains: the design, the pairs and the starting branches."""
        grid = ttk.Frame(box)
        grid.pack(fill=tk.X, pady=(3, 0))
        self.fusion_var = tk.StringVar(value=FUSION_DESIGNS["concat"])
        self.pairing_var = tk.StringVar(value=PAIRING_NAMES["takes"])
        self.pairing_chosen = False  # the user picked a pairing: a new data load keeps it
        self.pairing_note_var = tk.StringVar(value=PAIRING_SHORT["takes"])
        self.from_models_var = tk.BooleanVar(value=True)
        design = ttk.Combobox(
            grid,
            textvariable=self.fusion_var,
            state="readonly",
            width=12,  # as wide as the panel; the list shows the names whole
            values=list(FUSION_DESIGNS.values()),
        )
        pairing = ttk.Combobox(
            grid,
            textvariable=self.pairing_var,
            state="readonly",
            width=12,  # as wide as the panel; the list shows the names whole
            values=list(PAIRING_NAMES.values()),
        )
        pairing.bind("<<ComboboxSelected>>", lambda _e: self._pairing_picked())
        for combobox in (design, pairing):
            widen_popdown(combobox)
        for r, (label, widget) in enumerate((("Fusion", design), ("Pairs", pairing))):
            ttk.Label(grid, text=label).grid(row=r, column=0, sticky="w", pady=1)
            widget.grid(row=r, column=1, sticky="ew", padx=(6, 0), pady=1)
        grid.columnconfigure(1, weight=1)
        ttk.Label(
            box,
            textvariable=self.pairing_note_var,
            foreground="gray30",
            font=own_font(box, SMALL),
            anchor="e",
        ).pack(fill=tk.X)
        ttk.Checkbutton(
            box, text="Start from the face and\nspeech models", variable=self.from_models_var
        ).pack(anchor="w")

    def settings(self) -> Settings:
        """The settings as typed now."""
        return Settings(
            preset=self.preset_var.get(),
            epochs=self.epochs_var.get(),
            batch_size=self.batch_var.get(),
            lr=self.lr_var.get(),
            device=self.device_var.get(),
            fusion=next(k for k, v in FUSION_DESIGNS.items() if v == self.fusion_var.get()),
            pairing=self.pairing,
            from_models=self.from_models_var.get(),
        )

    @property
    def pairing(self) -> str:
        """The fusion pairing chosen: "takes" or "class"."""
        return next(k for k, v in PAIRING_NAMES.items() if v == self.pairing_var.get())

    def set_pairing(self, pairing: str) -> None:
        self.pairing_var.set(PAIRING_NAMES[pairing])
        self.pairing_note_var.set(PAIRING_SHORT[pairing])

    def follow_data(self, n_av_clips: int) -> None:
        """New data: without video clips there are no takes to pair, so class pairs;
        with them, takes unless the user picked a pairing."""
        if not n_av_clips:
            self.set_pairing("class")
        elif not self.pairing_chosen:
            self.set_pairing("takes")

    def _pairing_picked(self) -> None:
        self.pairing_chosen = True
        self.set_pairing(self.pairing)
