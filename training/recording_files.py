"""Writing a recorded piece: RAVDESS or ``live-…`` names, and the MP4, WAV and CSV, each
under a hidden temporary name renamed when all are complete (``recorder.LiveRecorder.save``
gathers the piece; this module names and writes it)."""

from __future__ import annotations

import csv
import operator
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from datasets.errors import WorkbenchError, describe
from datasets.labels import RAVDESS_EMOTIONS, RAVDESS_TO_FER, ravdess_name
from datasets.video import pyav

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
class Piece:
    """What one save writes."""

    start: float
    end: float
    fps: float
    frames: list[tuple[float, bytes]]
    sound: np.ndarray | None  # mono float32 from start to end, or None (nothing heard)
    rate: int
    updates: list[dict]


NAMING = threading.Lock()  # two saves in this process never pick the same name


# ---------------------------------------------------------------------- naming


def check_label(emotion: str | None, actor: int | None) -> tuple[int, int] | None:
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


def _write_all(folder: Path, names: dict[str, str], piece: Piece) -> dict[str, Path]:
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
    except (OSError, sf.LibsndfileError, *_ffmpeg_errors()) as exc:
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


def _ffmpeg_errors() -> tuple[type[Exception], ...]:
    """PyAV's error class, where PyAV is installed (it is imported only when needed)."""
    try:
        import av
    except ImportError:
        return ()
    return (av.FFmpegError,)


def _write_mp4(path: str, piece: Piece) -> None:
    """H.264 frames at their own times (ms time base), the sound as AAC from time 0."""
    av = pyav()
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


def _write_csv(path: str, piece: Piece) -> None:
    updates = sorted(piece.updates, key=lambda u: u["time"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns(updates), restval="")
        writer.writeheader()
        writer.writerows(_row(u, piece.start) for u in updates)


def write_piece(folder: Path, label: tuple[int, int] | None, piece: Piece) -> dict[str, Path]:
    """Name and write ``piece`` in ``folder`` (under ``Actor_NN/`` when labelled, with
    ``check_label``'s (emotion code, actor)); the paths written by kind."""
    with NAMING:
        _make_folder(folder)
        where = folder / f"Actor_{label[1]:02d}" if label else folder
        _make_folder(where)
        names = _names(where, label, piece.frames, piece.sound is not None)
        return _write_all(where, names, piece)
