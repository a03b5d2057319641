"""A Play button that plays a recording (or a clip's sound) and becomes Stop meanwhile.

Playback runs on PortAudio's thread (``training.audio_io.play`` returns at once); the
button polls ``Playback.active`` with ``after`` to turn back into Play when the sound
ends, so the Tk thread never waits on the sound card. A sound card that cannot be used
(no PortAudio, no output) is the usual one-sentence dialog.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import messagebox, ttk

from datasets.errors import WorkbenchError
from training import audio_io

POLL_MS = 100  # how soon the button says Play again after the sound ends


class PlayButton(ttk.Button):
    """Plays ``source()`` (a file, or None when there is nothing to play); pressed while
    playing, it stops. Destroying it (closing the window) stops the sound too."""

    def __init__(self, master: tk.Misc, source: Callable[[], Path | None], **kw) -> None:
        super().__init__(master, text="Play", command=self.toggle, width=6, **kw)
        self.source = source
        self.playback: audio_io.Playback | None = None
        self._poll_id: str | None = None
        self.bind("<Destroy>", lambda _e: self._silence(), add="+")

    @property
    def playing(self) -> bool:
        return self.playback is not None and self.playback.active

    def toggle(self) -> None:
        if self.playing:
            self.stop()
            return
        path = self.source()
        if path is None:
            return
        try:
            self.playback = audio_io.play(path)
        except WorkbenchError as exc:
            messagebox.showerror("Emotion Workbench", str(exc), parent=self.winfo_toplevel())
            return
        self.configure(text="Stop")
        self._poll_id = self.after(POLL_MS, self._poll)

    def stop(self) -> None:
        """Stop the sound (if this button's is playing) and say Play again."""
        self._silence()
        self._ended()

    def _poll(self) -> None:
        # Another button's sound may have replaced this one's: active turns False then too.
        if self.playing:
            self._poll_id = self.after(POLL_MS, self._poll)
        else:
            self._poll_id = None
            self._ended()

    def _ended(self) -> None:
        if self._poll_id is not None:
            self.after_cancel(self._poll_id)
            self._poll_id = None
        self.configure(text="Play")

    def _silence(self) -> None:
        """No Tk calls: also runs while the window is being destroyed."""
        if self.playback is not None:
            self.playback.stop()
