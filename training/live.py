"""Live analysis: a camera and a microphone, answered as they arrive.

The camera is OpenCV capture from a camera index, or a video file or stream URL given in
its place (the same code path, which is how the tests drive it). The microphone is a sound
card (``training.audio_io.SoundCard``, PortAudio through sounddevice), or a recording given
in its place. ``run_live`` calls ``on_update`` with one ``LiveUpdate`` per analysed frame
(per half second without a camera): the face (probabilities and box, or None), the speech
of the last ``SPEECH_SECONDS`` (re-heard every ``SPEECH_EVERY`` s), the sound's level, and,
when both run, the fused answer: the fusion model's (``default_fusion_model``: the latest
fusion run, else the starter) on the last seconds' faces and sound, else the plain average
of the face and speech answers, said as such.

Clocks: a camera and a sound card run on the wall clock. A file source runs on its own
clock (a frame's time is its index over the frame rate): as fast as the CPU allows for the
command line and the tests, or, with ``realtime`` (the window), paced to the wall clock,
skipping frames rather than falling behind. A camera is read on its own thread
(``LatestFrame``) and the analysis always takes the newest frame, dropping those that
arrived while one was being analysed, so the answer never falls behind.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from datasets.audio import FeatureParams, compute_features, read_audio, resample
from datasets.errors import NoFaceError, WorkbenchError, describe, require_readable
from datasets.faces import default_detector

from .predict import (
    as_distribution,
    average_answers,
    faces_input,
    fuse,
    fusion_method,
    hear,
    load_model,
    softmax_batch,
)
from .runs import default_fusion_model

SAMPLE_RATE = 16_000  # sound is captured (or a recording read) at this rate
SPEECH_SECONDS = 3.0  # the speech answer hears the last 3 s
SPEECH_EVERY = 0.5  # and is renewed twice a second
LEVEL_SECONDS = 0.1  # the level meter's window
SPECTROGRAM_SECONDS = 10.0  # the rolling spectrogram the window shows
AVERAGE = "average of the face and speech models"
NO_FUSION = "average"  # --fusion-model average: the plain average even when a model exists


@dataclass
class LiveUpdate:
    """One moment of a live session; ``time`` in seconds from its start.

    ``frame`` (the analysed picture, BGR) and ``spectrogram`` (log-mel dB of the last
    ``SPECTROGRAM_SECONDS``, bands × frames, when asked for) are for a window to draw and
    are not part of ``to_dict``."""

    time: float
    face: dict | None  # {"probabilities", "box" [x, y, w, h] or None}; None: no face seen
    speech: dict | None  # {"probabilities", "seconds" heard}
    fused: dict | None  # {"probabilities", "method"} when both face and speech answered
    level_db: float | None = None  # the sound's level over the last 0.1 s (dBFS)
    frame: np.ndarray | None = field(default=None, repr=False)
    spectrogram: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "time": self.time,
            "face": self.face,
            "speech": self.speech,
            "fused": self.fused,
            "level_db": self.level_db,
        }


# ------------------------------------------------------------------ the camera

MOST_DEVICE = 1_000  # no machine has more cameras or sound cards; a larger number is a typo


def _device_number(text: str, what: str) -> int | None:
    """``text`` as a device's number (None when it names a file or URL instead); a number
    no device can have is one sentence."""
    if not text.isdigit():
        return None
    if int(text) >= MOST_DEVICE:
        raise WorkbenchError(
            f"--{what} {text} is not a {what} number this machine can have; pass 0 for the "
            f"first {what}, or a file in its place."
        )
    return int(text)


def open_camera(spec: str | int) -> tuple[cv2.VideoCapture, bool]:
    """The capture for ``--camera``: an index (a device) or a file or URL; and whether it is
    a device (real time). A source that does not open is one sentence naming it."""
    text = str(spec)
    device = _device_number(text, "camera") is not None
    if not device and "://" not in text:
        require_readable(text)
    if not device and "://" not in text and not Path(text).is_file():
        raise WorkbenchError(
            f"{describe(text)} does not exist; pass a camera number (0 for the first), a "
            "video file or a stream URL with --camera."
        )
    quiet = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our sentence instead
    try:
        cap = cv2.VideoCapture(int(text) if device else text)
    finally:
        cv2.utils.logging.setLogLevel(quiet)
    if not cap.isOpened():
        cap.release()
        if device:
            raise WorkbenchError(
                f"Camera {text} could not be opened; connect a camera, close other programs "
                "using it and allow camera access, or pass a video file with --camera FILE."
            )
        raise WorkbenchError(
            f"{describe(text) if '://' not in text else repr(text)} could not be read as video; pass an .mp4/.avi file or a "
            "stream URL OpenCV can open."
        )
    return cap, device


class LatestFrame:
    """A camera read on its own thread, keeping only the newest frame: the analysis takes
    whatever is newest when it is ready, and the frames that arrived meanwhile are dropped
    (counted in ``dropped``) instead of queueing up behind it."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap, self.frame, self.ended, self.stopped = cap, None, False, False
        self.read = self.taken = 0
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            ok, bgr = self.cap.read()
            with self.changed:
                if not ok:
                    break
                self.frame, self.read = bgr, self.read + 1
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def next(self, timeout: float = 2.0) -> np.ndarray | None:
        """The newest frame not yet taken; None when the camera went away or stays silent
        for ``timeout`` s."""
        with self.changed:
            self.changed.wait_for(lambda: self.frame is not None or self.ended, timeout)
            frame, self.frame = self.frame, None
        self.taken += frame is not None
        return frame

    @property
    def dropped(self) -> int:
        return self.read - self.taken - (self.frame is not None)

    def close(self) -> None:
        """Stop reading and release the camera (within one frame's time)."""
        self.stopped = True
        self.thread.join(timeout=2.0)
        self.cap.release()


class Camera:
    """Frames with their times: a device through ``LatestFrame`` on the wall clock, or a
    file on its own clock (as fast as asked, or paced to the wall clock with ``realtime``,
    skipping the frames it is late for)."""

    def __init__(self, spec: str | int, *, realtime: bool = False) -> None:
        self.cap, self.device = open_camera(spec)
        self.realtime = realtime
        fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.fps = fps if 0 < fps < 1000 else 25.0
        self.newest = LatestFrame(self.cap) if self.device else None
        self.index = 0
        self.skipped = 0

    def next(self, started: float, stop: threading.Event) -> tuple[float, np.ndarray] | None:
        """(time, BGR frame), or None at the end of a file or when the camera went away."""
        if self.newest is not None:
            bgr = self.newest.next()
            return None if bgr is None else (time.perf_counter() - started, bgr)
        if self.realtime:
            late = (time.perf_counter() - started) * self.fps - self.index
            while late >= 1 and self.cap.grab():  # behind: skip frames, never queue
                self.index, self.skipped, late = self.index + 1, self.skipped + 1, late - 1
            if late < 0:
                stop.wait(-late / self.fps)
        ok, bgr = self.cap.read()
        if not ok:
            return None
        t = self.index / self.fps
        self.index += 1
        return t, bgr

    def close(self) -> None:
        if self.newest is not None:
            self.newest.close()
        else:
            self.cap.release()


# -------------------------------------------------------------- the microphone


class RecordingMicrophone:
    """A recording in the microphone's place, heard on the session's clock."""

    device = False

    def __init__(self, path: str | Path, sample_rate: int = SAMPLE_RATE) -> None:
        self.samples, self.sample_rate = read_audio(path, sample_rate), sample_rate
        self.name = Path(path).name

    def last(self, clock: float, seconds: float) -> np.ndarray:
        end = int(clock * self.sample_rate)
        return self.samples[max(0, end - int(seconds * self.sample_rate)) : max(0, end)]

    def over(self, clock: float) -> bool:
        return clock * self.sample_rate > len(self.samples)

    def close(self) -> None:
        pass


class CardMicrophone:
    """A sound card (``audio_io.SoundCard``), heard as it records."""

    device = True

    def __init__(self, index: int | None, sample_rate: int = SAMPLE_RATE) -> None:
        from .audio_io import SoundCard

        self.card = SoundCard(index, sample_rate=sample_rate)
        self.sample_rate, self.name = sample_rate, self.card.device_name

    def last(self, clock: float, seconds: float) -> np.ndarray:
        return self.card.latest(seconds)

    def over(self, clock: float) -> bool:
        return False

    def close(self) -> None:
        self.card.close()


def open_microphone(spec: str | int, sample_rate: int = SAMPLE_RATE):
    """``--microphone``: a sound card's number ("default" for the system's default input),
    or a recording in its place; a source that cannot be used is one sentence."""
    text = str(spec)
    if text == "default" or (number := _device_number(text, "microphone")) is not None:
        return CardMicrophone(None if text == "default" else number, sample_rate)
    return RecordingMicrophone(text, sample_rate)


# ----------------------------------------------------------------- the models


class LiveAnalyser:
    """The face model on one frame, the speech model on the last seconds of sound, and the
    fusion model (when one is used) on both."""

    def __init__(
        self, face_model=None, speech_model=None, fusion_model=None, *, face=True, speech=True
    ) -> None:
        self.face = load_model(face_model, "face", "live video") if face else None
        self.speech = load_model(speech_model, "speech", "live sound") if speech else None
        self.detector = default_detector()
        self.params = None
        if self.speech is not None:
            self.params = FeatureParams.from_dict(self.speech.preprocessing["features"])
        self.fusion = None
        if face and speech and fusion_model != NO_FUSION:
            path = fusion_model if fusion_model is not None else default_fusion_model()
            if path is not None:
                self.fusion = load_model(path, "fusion", "live video and sound")
        self.method = fusion_method(self.fusion) if self.fusion is not None else AVERAGE

    def crop_of(self, bgr: np.ndarray):
        """The largest face of a colour frame (found on a reduced copy), or None."""
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        try:
            return self.detector.find(gray, source="the camera frame")
        except NoFaceError:
            return None

    def face_of(self, crop) -> dict | None:
        if crop is None:
            return None
        probs = softmax_batch(self.face, faces_input(crop.face[None]))[0]
        box = [int(v) for v in crop.box] if crop.box is not None else None
        return {"probabilities": as_distribution(self.face.classes, probs), "box": box}

    def speech_of(self, y: np.ndarray) -> dict | None:
        """The speech model on ``y`` (16 kHz), or None for less than a quarter second."""
        if len(y) < self.params.sample_rate // 4:
            return None
        heard = hear(self.speech, y, self.params)
        return {
            "probabilities": heard.probabilities,
            "seconds": round(len(y) / self.params.sample_rate, 2),
        }

    def fused_of(self, crops: list, y: np.ndarray) -> dict | None:
        """The fusion model on the last seconds' face crops (``crops``: a crop or None per
        analysed frame, oldest first) and sound; None without a face or enough sound."""
        n = int(self.fusion.preprocessing.get("n_frames", 1))
        if not any(c is not None for c in crops) or len(y) < self.params.sample_rate // 4:
            return None
        picked = [crops[int(i)] for i in np.linspace(0, len(crops) - 1, n).round()]
        if not any(c is not None for c in picked):  # the faces fell between: take the last
            picked = [next(c for c in reversed(crops) if c is not None)] * n
        found = np.array([c is not None for c in picked])
        faces = np.stack([c.face for c in picked if c is not None])
        probs = fuse(self.fusion, faces, found, y, self.params.sample_rate)
        return {"probabilities": probs, "method": self.method}


def level_of(y: np.ndarray, sample_rate: int) -> float:
    """The level meter: dBFS of the last ``LEVEL_SECONDS``, always finite."""
    from .audio_io import level_db

    return round(level_db(y[-int(LEVEL_SECONDS * sample_rate) :]), 1)


def spectrogram_of(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Log-mel dB (bands × frames) of ``y`` as heard, without level normalisation, so a
    quiet room looks dark; left-padded with silence to ``SPECTROGRAM_SECONDS``."""
    n = int(SPECTROGRAM_SECONDS * params.sample_rate)
    y = np.pad(y[-n:], (max(0, n - len(y)), 0))
    display = FeatureParams.from_dict({**params.to_dict(), "kind": "logmel"})
    return compute_features(y[None], display)[0]


# ---------------------------------------------------------------- the session


def run_live(
    camera: str | int | None = None,
    microphone: str | int | None = None,
    *,
    seconds: float | None = None,
    face_model=None,
    speech_model=None,
    fusion_model=None,
    on_update: Callable[[LiveUpdate], None] = lambda u: None,
    stop_event: threading.Event | None = None,
    realtime: bool = False,
    spectrogram: bool = False,
    recorder=None,
) -> dict:
    """Analyse ``camera`` and/or ``microphone`` until ``seconds`` of their time, the end of
    a file source, or ``stop_event``; the camera and the microphone are released on every
    way out. ``fusion_model`` "average" keeps the plain average even when a fusion model
    exists. ``recorder`` (a ``recorder.LiveRecorder``) keeps what was seen, heard and
    answered. Returns ``{"frames", "seconds", "fps"}`` (analysed frames per wall second)."""
    if camera is None and microphone is None:
        raise WorkbenchError("Pass --camera, --microphone or both to go live.")
    stop = stop_event or threading.Event()
    mic = cam = None
    frames, last = 0, 0.0
    started = time.perf_counter()
    try:
        # The sources first: a missing file or device is the sentence to see, not the models'.
        mic = open_microphone(microphone) if microphone is not None else None
        cam = Camera(camera, realtime=realtime) if camera is not None else None
        analyser = LiveAnalyser(
            face_model, speech_model, fusion_model, face=cam is not None, speech=mic is not None
        )
        rate = analyser.params.sample_rate if mic is not None else SAMPLE_RATE
        crops: deque = deque()  # (time, crop or None) over the last SPEECH_SECONDS
        speech = fused = None
        heard_at, clock = -SPEECH_EVERY, 0.0
        started = time.perf_counter()
        while not stop.is_set():
            face = bgr = None
            if cam is not None:
                got = cam.next(started, stop)
                if got is None or stop.is_set():
                    break  # the end of a file, or the camera went away
                clock, bgr = got
                crop = analyser.crop_of(bgr)
                face = analyser.face_of(crop)
                crops.append((clock, crop))
                while crops[0][0] < clock - SPEECH_SECONDS:
                    crops.popleft()
                frames += 1
            else:
                clock += SPEECH_EVERY
                if realtime or mic.device:
                    stop.wait(max(0.0, started + clock - time.perf_counter()))
            if seconds is not None and clock > seconds:
                break
            level = spec = None
            if mic is not None:
                if cam is None and mic.over(clock):
                    break  # the recording is over
                if clock - heard_at >= SPEECH_EVERY:
                    y = _heard(mic, clock, max(SPEECH_SECONDS, SPECTROGRAM_SECONDS), rate)
                    recent = y[-int(SPEECH_SECONDS * rate) :]
                    speech, heard_at = analyser.speech_of(recent), clock
                    if analyser.fusion is not None:
                        fused = analyser.fused_of([c for _, c in crops], recent)
                    spec = spectrogram_of(y, analyser.params) if spectrogram else None
                    if recorder is not None:
                        recorder.add_sound(clock, recent, rate, overlapping=True)
                level = level_of(mic.last(clock, LEVEL_SECONDS), mic.sample_rate)
            if analyser.fusion is None:
                fused = None
                if face is not None and speech is not None:
                    both = average_answers(face["probabilities"], speech["probabilities"])
                    fused = {"probabilities": both, "method": AVERAGE}
            update = LiveUpdate(round(clock, 3), face, speech, fused, level, bgr, spec)
            if recorder is not None:
                if bgr is not None:
                    recorder.add_frame(clock, bgr)
                recorder.add_update(update.to_dict())
            on_update(update)
            last = clock
    finally:
        for source in (cam, mic):
            if source is not None:
                source.close()
    wall = time.perf_counter() - started
    return {
        "frames": frames,
        "seconds": round(last, 2),
        "fps": round(frames / wall, 1) if wall > 0 else 0.0,
    }


def _heard(mic, clock: float, seconds: float, rate: int) -> np.ndarray:
    """The microphone's last ``seconds`` at the speech model's ``rate``."""
    y = mic.last(clock, seconds)
    return resample(y, mic.sample_rate, rate) if mic.sample_rate != rate else y
