"""Record: the last seconds of a live session saved as an MP4, a WAV and a CSV (issue 18).

``LiveRecorder`` keeps a rolling memory of what a live session saw, heard and answered,
fed from the capture and analysis threads, and ``save`` writes the last N seconds of it
into a folder the user chose, so a class keeps what it recorded and can load it later:

- ``.mp4``: the frames, H.264 at their measured rate with each frame at its own time,
  and the sound muxed in as AAC, so the workbench's video prediction (which reads a clip's
  own track) hears it; ``02-`` video-only when nothing was heard;
- ``.wav``: the sound, 16-bit PCM, when there is sound;
- ``.csv``: one row per prediction in the piece (layout in ``recording_files.CSV_LAYOUT``).

All three share one timeline: time 0 is the start of the saved piece, and the sound
is padded with silence where the microphone held nothing (before it started, or when it
lags behind the camera), so the MP4's track, the WAV and the CSV's times line up.

Labelled with an ``emotion`` and an ``actor``, the files get RAVDESS names under
``FOLDER/Actor_NN/`` (``01-01-EE-01-01-RR-NN.mp4`` and ``03-01-EE-01-01-RR-NN.wav``,
normal intensity, statement 01, the next free repetition RR), so ``scan_ravdess(FOLDER)``
loads them as data (a video prediction of such an MP4 hears the ``03-`` WAV beside it,
the same sound); otherwise ``FOLDER/live-YYYYmmdd-HHMMSS.*``. The CSV takes the MP4's name
(the WAV's without frames). Nothing is overwritten,
and every file is written under a hidden temporary name and renamed when complete, so a
full disk or a crash never leaves a half file that looks finished.

Frames are held JPEG-encoded (about 60 kB for 1280x720; 30 s at 30 fps is about 50 MB)
and at most ``MAX_WIDTH`` wide; sound is held at the rate it came in. ``save`` takes a
snapshot under the lock and encodes outside it (about 10 s for 30 s of 1280x720 on a
2-core CPU), so call it from a worker thread, not the Tk thread.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.audio import resample
from datasets.errors import WorkbenchError

from .recording_files import Piece, check_label, write_piece

JPEG_QUALITY = 85
MAX_WIDTH = 1280  # px: wider frames are held (and saved) scaled down to this width
DEFAULT_FPS = 25.0  # a single frame's rate when there is no fps_hint
SOUND_SLACK = 0.25  # s: a chunk's timestamp may be this far off before the clock resyncs
RESTART_SECONDS = 1.0  # a time this far before the newest held one: the clock restarted


@dataclass
class _Sound:
    """The held sound: chunks of mono float32 at ``rate``; absolute sample 0 lies at
    ``t0`` on the frames' clock, the first held one at absolute index ``first``."""

    rate: int
    t0: float
    chunks: deque
    first: int = 0
    total: int = 0  # absolute index one past the last held sample

    @property
    def end(self) -> float:
        return self.t0 + self.total / self.rate

    @property
    def start(self) -> float:
        return self.t0 + self.first / self.rate

    def append(self, y: np.ndarray) -> None:
        if len(y):
            self.chunks.append(y)
            self.total += len(y)

    def drop_before(self, t: float) -> None:
        """Forget whole chunks that end before ``t``."""
        while self.chunks and self.t0 + (self.first + len(self.chunks[0])) / self.rate < t:
            self.first += len(self.chunks.popleft())

    def between(self, start: float, end: float) -> np.ndarray:
        """Samples from ``start`` to ``end``, silence where nothing is held."""
        n = max(0, round((end - start) * self.rate))
        out = np.zeros(n, np.float32)
        held = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        lo = round((start - self.t0) * self.rate) - self.first  # index into ``held``
        a, b = max(lo, 0), min(lo + n, len(held))
        if b > a:
            out[a - lo : b - lo] = held[a:b]
        return out


class LiveRecorder:
    """Thread-safe rolling memory of a live session: the last ``keep_seconds`` of frames,
    sound and predictions, all on one clock (the session's, as in ``LiveUpdate.time``).

    ``fps_hint`` is the frame rate used while fewer than two frames are held; the saved
    MP4 otherwise runs at the rate measured from the frames' times.
    """

    def __init__(self, keep_seconds: float = 30.0, fps_hint: float | None = None) -> None:
        if not keep_seconds > 0:
            raise ValueError("keep_seconds must be positive")
        self.keep_seconds = float(keep_seconds)
        self.fps_hint = fps_hint
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget everything held (a new session)."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._frames: deque[tuple[float, bytes]] = deque()
        self._updates: deque[tuple[float, dict]] = deque()
        self._sound: _Sound | None = None
        self._newest = -math.inf

    # ------------------------------------------------------------------ feeding

    def add_frame(self, t: float, bgr: np.ndarray) -> None:
        """A camera frame (BGR or grayscale uint8) seen at ``t`` s. Frames come in time
        order; one that is not later than the newest held frame is ignored, unless it is
        over ``RESTART_SECONDS`` earlier than the newest time held (the clock restarted: all
        is forgotten first, as for sound and updates; ``clear`` does it explicitly). The JPEG encoding (about 2 ms for 1280x720) runs outside the lock."""
        data = _encode(bgr)
        with self._lock:
            self._restart_if_back(t)
            if self._frames and t <= self._frames[-1][0]:
                return
            self._frames.append((float(t), data))
            self._advance(t)

    def add_sound(
        self, t_end: float, samples: np.ndarray, sample_rate: int, *, overlapping: bool = False
    ) -> None:
        """Sound whose last sample was heard at ``t_end`` s on the frames' clock.

        Two ways to feed it, both keeping one gap-free buffer aligned with the frames:

        - ``overlapping=False`` (a sound card): each call brings the next chunk, only
          new samples. They are appended whole; the sample count is the clock, so the
          jitter of callback timestamps does not chop the sound. ``t_end`` places the
          first chunk, and resyncs the buffer when a chunk's start is more than
          ``SOUND_SLACK`` s from where the held sound ends (input dropped or paused:
          silence fills the gap; the sound card's clock ran ahead: the overlap is cut).
        - ``overlapping=True`` (the last few seconds each time, as ``run_live`` slices a
          recording): only the samples after the held sound's end are kept.

        ``samples``: (n,) or (n, channels), float (or integer PCM, scaled); the channels
        are averaged. A rate other than the first call's is resampled to it.
        """
        y = _mono(samples)
        with self._lock:
            self._restart_if_back(t_end)
            if self._sound is not None and sample_rate != self._sound.rate:
                y = resample(y, int(sample_rate), self._sound.rate)
                sample_rate = self._sound.rate
            y = y[-int(self.keep_seconds * sample_rate) - 1 :]  # never hold more than kept
            if self._sound is None:
                self._sound = _Sound(int(sample_rate), t_end - len(y) / sample_rate, deque())
                self._sound.append(y)
            else:
                self._sound.append(_new_part(self._sound, t_end, y, overlapping))
            self._advance(t_end)

    def add_update(self, update) -> None:
        """A prediction: a ``LiveUpdate`` or its dict (``time``, ``face``, ``speech``,
        ``fused``)."""
        u = update.to_dict() if hasattr(update, "to_dict") else dict(update)
        t = float(u["time"])
        with self._lock:
            self._restart_if_back(t)
            self._updates.append((t, u))
            self._advance(t)

    def _restart_if_back(self, t: float) -> None:
        if t < self._newest - RESTART_SECONDS:
            self._clear()

    def _advance(self, t: float) -> None:
        """Move the newest time on and drop what is older than ``keep_seconds``."""
        self._newest = max(self._newest, t)
        oldest = self._newest - self.keep_seconds
        while self._frames and self._frames[0][0] < oldest:
            self._frames.popleft()
        while self._updates and self._updates[0][0] < oldest:
            self._updates.popleft()
        if self._sound is not None:
            self._sound.drop_before(oldest)

    # ------------------------------------------------------------------ looking

    @property
    def fps(self) -> float:
        """The frames' measured rate (``fps_hint``, else 25, with fewer than two)."""
        with self._lock:
            return self._fps(self._frames)

    def _fps(self, frames) -> float:
        if len(frames) >= 2 and frames[-1][0] > frames[0][0]:
            return (len(frames) - 1) / (frames[-1][0] - frames[0][0])
        return float(self.fps_hint or DEFAULT_FPS)

    def held(self) -> dict:
        """What is held now: ``frames``, ``updates``, ``sound_seconds``, ``bytes`` (the
        JPEG frames and the sound) and ``seconds`` (from the oldest to the newest)."""
        with self._lock:
            sound = self._sound
            n_sound = sound.total - sound.first if sound else 0
            starts = [x for x in self._starts() if x is not None]
            return {
                "frames": len(self._frames),
                "updates": len(self._updates),
                "sound_seconds": round(n_sound / sound.rate, 3) if sound else 0.0,
                "bytes": sum(len(d) for _, d in self._frames) + 4 * n_sound,
                "seconds": round(self._newest - min(starts), 3) if starts else 0.0,
            }

    def _starts(self) -> list[float | None]:
        return [
            self._frames[0][0] if self._frames else None,
            self._sound.start if self._sound and self._sound.chunks else None,
            self._updates[0][0] if self._updates else None,
        ]

    # ------------------------------------------------------------------ saving

    def save(
        self,
        folder: str | Path,
        seconds: float,
        *,
        emotion: str | None = None,
        actor: int | None = None,
    ) -> dict:
        """Write the last ``seconds`` into ``folder`` (created if needed).

        Returns ``{"mp4", "wav", "csv"}`` (the paths written; ``mp4`` None without frames,
        ``wav`` None without sound), ``seconds`` (the piece's length), ``frames`` and
        ``updates``. Raises ``WorkbenchError`` (one sentence) when nothing was recorded
        yet, for a bad label, or when the folder cannot be written; then no file appears.
        """
        if not seconds > 0:
            raise WorkbenchError("Choose a number of seconds above 0 to save.")
        label = check_label(emotion, actor)
        piece = self._piece(float(seconds))
        written = write_piece(Path(folder).expanduser(), label, piece)
        return {
            "mp4": written.get("mp4"),
            "wav": written.get("wav"),
            "csv": written["csv"],
            "seconds": round(piece.end - piece.start, 3),
            "frames": len(piece.frames),
            "updates": len(piece.updates),
        }

    def _piece(self, seconds: float) -> Piece:
        """A snapshot of the last ``seconds`` (the JPEG bytes are shared, not copied)."""
        with self._lock:
            if not self._frames and not (self._sound and self._sound.chunks):
                raise WorkbenchError(
                    "Nothing has been recorded yet; start the camera or the microphone and "
                    "let it run a few seconds before saving."
                )
            fps = self._fps(self._frames)
            ends = [self._newest]
            if self._frames:
                ends.append(self._frames[-1][0] + 1 / fps)
            if self._sound:
                ends.append(self._sound.end)
            end = max(ends)
            start = max(
                end - min(seconds, self.keep_seconds),
                min(x for x in self._starts() if x is not None),
            )
            frames = [(t, d) for t, d in self._frames if start <= t < end]
            updates = [u for t, u in self._updates if start <= t <= end]
            sound = None
            if self._sound and self._sound.chunks and self._sound.end > start:
                sound = self._sound.between(start, end)
            rate = self._sound.rate if self._sound else 0
        if not frames and sound is None:
            raise WorkbenchError(
                f"Nothing was recorded in the last {seconds:g} s; start the camera or the "
                "microphone, or save more seconds."
            )
        return Piece(start, end, fps, frames, sound, rate, updates)


# ---------------------------------------------------------------------- feeding helpers


def _encode(bgr: np.ndarray) -> bytes:
    """A frame as JPEG bytes, scaled down to ``MAX_WIDTH`` when wider."""
    h, w = bgr.shape[:2]
    if w > MAX_WIDTH:
        bgr = cv2.resize(bgr, (MAX_WIDTH, round(h * MAX_WIDTH / w)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"a frame of shape {bgr.shape} could not be encoded")
    return data.tobytes()


def _mono(samples: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels), float or integer PCM, as mono float32."""
    y = np.asarray(samples)
    if y.dtype.kind in "iu":
        info = np.iinfo(y.dtype)
        y = (y.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1)
    y = y.astype(np.float32, copy=False)
    return y.mean(axis=1) if y.ndim == 2 else y.reshape(-1)


def _new_part(sound: _Sound, t_end: float, y: np.ndarray, overlapping: bool) -> np.ndarray:
    """What of ``y`` (ending at ``t_end``) continues the held sound; silence first when it
    starts after a gap. See ``LiveRecorder.add_sound`` for the two ways to feed sound."""
    late = (t_end - len(y) / sound.rate) - sound.end  # s between held end and y's start
    slack = 0.0 if overlapping else SOUND_SLACK
    if abs(late) <= slack:
        return y
    if late > 0:
        return np.concatenate([np.zeros(round(late * sound.rate), np.float32), y])
    return y[min(len(y), round(-late * sound.rate)) :]
