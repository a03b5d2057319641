"""Record: the last seconds of a live session saved as an MP4, a WAV and a CSV (issue 18).

``LiveRecorder`` keeps a rolling memory of what a live session saw, heard and answered,
fed from the capture and analysis threads, and ``save`` writes the last N seconds of it
into a folder the user chose, so a class keeps what it recorded and can load it later:

- ``.mp4``: the frames, H.264 at their measured rate with each frame at its own time,
  and the sound muxed in as AAC, so the workbench's video prediction (which reads a clip's
  own track) hears it; ``02-`` video-only when nothing was heard;
- ``.wav``: the sound, 16-bit PCM, when there is sound;
- ``.csv``: one row per prediction in the piece (layout in ``CSV_LAYOUT``).

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

import csv
import math
import operator
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile as sf

from datasets.audio import resample
from datasets.errors import WorkbenchError, describe
from datasets.labels import RAVDESS_EMOTIONS, RAVDESS_TO_FER, ravdess_name

JPEG_QUALITY = 85
MAX_WIDTH = 1280  # px: wider frames are held (and saved) scaled down to this width
DEFAULT_FPS = 25.0  # a single frame's rate when there is no fps_hint
SOUND_SLACK = 0.25  # s: a chunk's timestamp may be this far off before the clock resyncs
RESTART_SECONDS = 1.0  # a time this far before the newest held one: the clock restarted
MAX_REPETITION = 99  # two digits in a RAVDESS name
PARTS = ("face", "speech", "fused")
CSV_LAYOUT = """\
time              s from the start of the saved piece (the MP4's and the WAV's time 0)
session_time      s on the live session's clock (the update's own ``time``)
face_top          the face model's top emotion; empty when no face was seen
face_probability  its probability
face_x, face_y, face_w, face_h   the face box in pixels of the camera frame
speech_top, speech_probability, speech_seconds   the speech answer and the seconds heard
fused_top, fused_probability, fused_method       the fused answer and how it was made
face_p_<emotion>…, speech_p_<emotion>…, fused_p_<emotion>…   every class's probability,
                  in the model's class order; each part's columns sum to 1 on its rows
"""


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
        label = _label(emotion, actor)
        piece = self._piece(float(seconds))
        folder = Path(folder).expanduser()
        with _NAMING:  # two saves in this process never pick the same name
            _make_folder(folder)
            where = folder / f"Actor_{label[1]:02d}" if label else folder
            _make_folder(where)
            names = _names(where, label, piece.frames, piece.sound is not None)
            written = _write_all(where, names, piece)
        return {
            "mp4": written.get("mp4"),
            "wav": written.get("wav"),
            "csv": written["csv"],
            "seconds": round(piece.end - piece.start, 3),
            "frames": len(piece.frames),
            "updates": len(piece.updates),
        }

    def _piece(self, seconds: float) -> _Piece:
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
        return _Piece(start, end, fps, frames, sound, rate, updates)


@dataclass
class _Piece:
    """What one save writes."""

    start: float
    end: float
    fps: float
    frames: list[tuple[float, bytes]]
    sound: np.ndarray | None  # mono float32 from start to end, or None (nothing heard)
    rate: int
    updates: list[dict]


_NAMING = threading.Lock()


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


# ---------------------------------------------------------------------- naming


def _label(emotion: str | None, actor: int | None) -> tuple[int, int] | None:
    """(RAVDESS emotion code, actor) of a labelled save, or None."""
    if emotion is None and actor is None:
        return None
    if emotion is None or actor is None:
        raise WorkbenchError(
            "Give both an emotion and an actor number to label a recording, or neither."
        )
    aliases = {fer: name for name, fer in RAVDESS_TO_FER.items() if fer}  # "fear" -> fearful
    name = aliases.get(str(emotion).lower(), str(emotion).lower())
    if name not in RAVDESS_EMOTIONS:
        raise WorkbenchError(
            f"Emotion '{emotion}' is not a RAVDESS emotion; label the recording with one of "
            f"{', '.join(RAVDESS_EMOTIONS)}."
        )
    number = _whole(actor)
    if number is None or not 1 <= number <= 99:
        raise WorkbenchError(
            f"Actor '{actor}' is not a number from 1 to 99; give each speaker their own "
            "number (RAVDESS counts odd ones as male, even ones as female)."
        )
    return RAVDESS_EMOTIONS.index(name) + 1, number


def _whole(value) -> int | None:
    """An actor number from an int, a numpy integer or a text field's digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return int(value) if value.strip().isdigit() else None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _names(
    folder: Path, label: tuple[int, int] | None, has_frames: bool, has_sound: bool
) -> dict[str, str]:
    """Free file names for the ``mp4``, ``wav`` and ``csv`` of one save."""
    kinds = [k for k, ok in (("mp4", has_frames), ("wav", has_sound)) if ok]
    if label is not None:
        emotion, actor = label
        rep = _free_repetition(folder, emotion, actor)
        names = {
            "mp4": ravdess_name(1 if has_sound else 2, 1, emotion, 1, 1, rep, actor, "mp4"),
            "wav": ravdess_name(3, 1, emotion, 1, 1, rep, actor, "wav"),
        }
        names = {k: names[k] for k in kinds}
        names["csv"] = Path(names[kinds[0]]).stem + ".csv"
        return names
    stem = time.strftime("live-%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        names = {k: f"{candidate}.{k}" for k in [*kinds, "csv"]}
        if not any((folder / name).exists() for name in _every_kind(candidate)):
            return names
    raise WorkbenchError(f"Folder {describe(folder)} is full of recordings; choose another one.")


def _every_kind(stem: str) -> Iterable[str]:
    return (f"{stem}.{k}" for k in ("mp4", "wav", "csv"))


def _free_repetition(folder: Path, emotion: int, actor: int) -> int:
    """The lowest repetition no file of this take uses (any modality or extension)."""
    used = set()
    for p in folder.iterdir() if folder.is_dir() else ():
        parts = p.name.split(".")[0].split("-")
        if len(parts) == 7 and all(len(x) == 2 and x.isdigit() for x in parts):
            m, v, e, i, s, r, a = (int(x) for x in parts)
            if (v, e, i, s, a) == (1, emotion, 1, 1, actor):
                used.add(r)
    for rep in range(1, MAX_REPETITION + 1):
        if rep not in used:
            return rep
    raise WorkbenchError(
        f"Folder {describe(folder)} already holds {MAX_REPETITION} recordings of "
        f"{RAVDESS_EMOTIONS[emotion - 1]} for actor {actor}; choose another folder."
    )


# ---------------------------------------------------------------------- writing


def _cannot_write(folder: Path, exc: BaseException) -> WorkbenchError:
    why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return WorkbenchError(
        f"Folder {describe(folder)} cannot be written ({why.lower()}); choose another folder."
    )


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError(
            f"{describe(folder)} is a file, not a folder; choose a folder to save the recording in."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None


def _write_all(folder: Path, names: dict[str, str], piece: _Piece) -> dict[str, Path]:
    """Each file under a hidden temporary name first; renamed only once all are complete,
    and the temporary files removed on any failure."""
    writers: dict[str, Callable[[str], None]] = {
        "mp4": lambda path: _write_mp4(path, piece),
        "wav": lambda path: sf.write(
            path, np.clip(piece.sound, -1, 1), piece.rate, subtype="PCM_16", format="WAV"
        ),
        "csv": lambda path: _write_csv(path, piece),
    }
    temps: dict[str, str] = {}
    try:
        for kind, name in names.items():
            temps[kind] = _reserve(folder, name)
            writers[kind](temps[kind])
            _fsync(temps[kind])
        done = {}
        for kind, name in names.items():
            os.replace(temps.pop(kind), folder / name)
            done[kind] = folder / name
        return done
    except (OSError, av.FFmpegError, sf.LibsndfileError) as exc:
        raise _cannot_write(folder, exc) from None
    finally:
        for temp in temps.values():
            Path(temp).unlink(missing_ok=True)


def _reserve(folder: Path, name: str) -> str:
    """A new hidden temporary file beside ``name`` (``scan_ravdess`` skips dot files);
    created with the usual permissions, unlike ``tempfile.mkstemp``'s owner-only ones."""
    path = str(folder / f".{name}.{secrets.token_hex(4)}.part")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return path


def _fsync(path: str) -> None:
    """On disk before the rename, so a power cut cannot leave a finished-looking stub."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _write_mp4(path: str, piece: _Piece) -> None:
    """H.264 frames at their own times (ms time base), the sound as AAC from time 0."""
    newest = cv2.imdecode(np.frombuffer(piece.frames[-1][1], np.uint8), cv2.IMREAD_COLOR)
    h, w = (newest.shape[0] // 2) * 2, (newest.shape[1] // 2) * 2  # yuv420p: even sides
    with av.open(path, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=Fraction(piece.fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        video.options = {"preset": "veryfast", "crf": "23"}
        audio = None
        if piece.sound is not None:
            audio = out.add_stream("aac", rate=piece.rate)
            audio.layout = "mono"
        last = -1
        for i, (t, data) in enumerate(piece.frames):
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if bgr.shape[:2] != (h, w):
                bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
            # The first frame stands from time 0 (the piece may start before the camera).
            last = frame.pts = max(last + 1, 0 if i == 0 else round((t - piece.start) * 1000))
            frame.time_base = Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            sound = av.AudioFrame.from_ndarray(piece.sound[None], format="flt", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = piece.rate, 0, Fraction(1, piece.rate)
            out.mux(audio.encode(sound))
            out.mux(audio.encode())


def csv_columns(updates: list[dict]) -> list[str]:
    """The CSV's columns for these updates (see ``CSV_LAYOUT``)."""
    head = ["time", "session_time", "face_top", "face_probability"]
    head += ["face_x", "face_y", "face_w", "face_h", "speech_top", "speech_probability"]
    head += ["speech_seconds", "fused_top", "fused_probability", "fused_method"]
    classes: dict[str, dict[str, None]] = {part: {} for part in PARTS}
    for u in updates:
        for part in PARTS:
            if u.get(part):
                classes[part].update(dict.fromkeys(u[part]["probabilities"]))
    return head + [f"{part}_p_{name}" for part in PARTS for name in classes[part]]


def _row(u: dict, start: float) -> dict:
    row = {"time": f"{u['time'] - start:.3f}", "session_time": f"{u['time']:.3f}"}
    for part in PARTS:
        answer = u.get(part)
        if not answer:
            continue
        probs = answer["probabilities"]
        top = max(probs, key=probs.get)
        row[f"{part}_top"], row[f"{part}_probability"] = top, f"{probs[top]:.6f}"
        row.update({f"{part}_p_{k}": f"{p:.6f}" for k, p in probs.items()})
    face = u.get("face") or {}
    if face.get("box"):
        row.update(zip(("face_x", "face_y", "face_w", "face_h"), map(str, face["box"])))
    if u.get("speech"):
        row["speech_seconds"] = u["speech"].get("seconds", "")
    if u.get("fused"):
        row["fused_method"] = u["fused"].get("method", "")
    return row


def _write_csv(path: str, piece: _Piece) -> None:
    updates = sorted(piece.updates, key=lambda u: u["time"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns(updates), restval="")
        writer.writeheader()
        writer.writerows(_row(u, piece.start) for u in updates)
