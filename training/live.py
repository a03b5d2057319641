"""Live analysis: a camera and a microphone, answered as they arrive (issue 18, first step).

The camera is OpenCV capture from a camera index, or a video file or stream URL given in
its place (the same code path, which is how the tests drive it). The microphone is, in
this version, a recording given in its place (``--microphone FILE``); capture from a
sound card comes with the live tab. ``run_live`` calls ``on_update`` with one
``LiveUpdate`` per analysed frame: the face (probabilities and box, or None), the speech
of the last ``SPEECH_SECONDS`` (re-heard every ``SPEECH_EVERY`` s) and, when both run,
their plain average (said as such).

A file source runs on its own clock (a frame's time is its index over the frame rate),
as fast as the CPU allows; a camera is read on its own thread (``LatestFrame``) and the
analysis always takes the newest frame, dropping those that arrived while one was being
analysed, so the answer never falls behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.audio import FeatureParams, read_audio, resample
from datasets.errors import NoFaceError, WorkbenchError, describe
from datasets.faces import default_detector

from .predict import as_distribution, average_answers, faces_input, hear, load_model, softmax_batch

SAMPLE_RATE = 16_000  # a recording is read at this rate (resampled if a model hears another)
SPEECH_SECONDS = 3.0  # the speech answer hears the last 3 s
SPEECH_EVERY = 0.5  # and is renewed twice a second
AVERAGE = "average of the face and speech models"


@dataclass
class LiveUpdate:
    """One moment of a live session; ``time`` in seconds from its start."""

    time: float
    face: dict | None  # {"probabilities", "box" [x, y, w, h] or None}; None: no face seen
    speech: dict | None  # {"probabilities", "seconds" heard}
    fused: dict | None  # {"probabilities", "method"} when both face and speech answered

    def to_dict(self) -> dict:
        return asdict(self)


def open_camera(spec: str | int) -> tuple[cv2.VideoCapture, bool]:
    """The capture for ``--camera``: an index (a device) or a file or URL; and whether it is
    a device (real time). A source that does not open is one sentence naming it."""
    text = str(spec)
    device = text.isdigit()
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
            f"{describe(text)} could not be read as video; pass an .mp4/.avi file or a "
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


def open_microphone(spec: str | int, sample_rate: int) -> np.ndarray:
    """The recording given for ``--microphone`` as 16 kHz mono samples."""
    if str(spec).isdigit():
        raise WorkbenchError(
            "Live capture from a sound card is not in this version yet; pass a WAV "
            "recording with --microphone FILE."
        )
    return read_audio(spec, sample_rate)


class LiveAnalyser:
    """The face model on one frame, the speech model on the last seconds of sound."""

    def __init__(self, face_model=None, speech_model=None, *, face=True, speech=True) -> None:
        self.face = load_model(face_model, "face", "live video") if face else None
        self.speech = load_model(speech_model, "speech", "live sound") if speech else None
        self.detector = default_detector()
        self.params = None
        if self.speech is not None:
            self.params = FeatureParams.from_dict(self.speech.preprocessing["features"])

    def face_of(self, bgr: np.ndarray) -> dict | None:
        """The largest face of a colour frame (found on a reduced copy), or None."""
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        try:
            crop = self.detector.find(gray, source="the camera frame")
        except NoFaceError:
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


def run_live(
    camera: str | int | None = None,
    microphone: str | int | None = None,
    *,
    seconds: float | None = None,
    face_model=None,
    speech_model=None,
    on_update: Callable[[LiveUpdate], None] = lambda u: None,
    stop_event: threading.Event | None = None,
) -> dict:
    """Analyse ``camera`` and/or ``microphone`` until ``seconds`` of their time, the end of
    a file source, or ``stop_event``; the camera and the microphone are released on every
    way out. Returns ``{"frames", "seconds", "fps"}`` (analysed frames per wall second)."""
    if camera is None and microphone is None:
        raise WorkbenchError("Pass --camera, --microphone or both to go live.")
    # The sources first: a missing file or camera is the sentence to see, not the models'.
    sound = open_microphone(microphone, SAMPLE_RATE) if microphone is not None else None
    cap, device = open_camera(camera) if camera is not None else (None, False)
    stop = stop_event or threading.Event()
    frames, started, clock, last = 0, time.perf_counter(), 0.0, 0.0
    newest = None
    speech, heard_at = None, -SPEECH_EVERY
    try:
        analyser = LiveAnalyser(
            face_model, speech_model, face=camera is not None, speech=microphone is not None
        )
        if sound is not None and analyser.params.sample_rate != SAMPLE_RATE:
            sound = resample(sound, SAMPLE_RATE, analyser.params.sample_rate)
        fps = (cap.get(cv2.CAP_PROP_FPS) or 25.0) if cap is not None else 0.0
        fps = fps if 0 < fps < 1000 else 25.0
        index = 0
        newest = LatestFrame(cap) if device else None  # a camera: real time, never behind
        while not stop.is_set():
            face = None
            if cap is not None:
                ok, bgr = (True, newest.next()) if newest is not None else cap.read()
                if not ok or bgr is None:
                    break  # the end of a file, or the camera went away
                clock = time.perf_counter() - started if device else index / fps
                index += 1
                face = analyser.face_of(bgr)
                frames += 1
            else:
                clock += SPEECH_EVERY
            if seconds is not None and clock > seconds:
                break
            if sound is not None:
                rate = analyser.params.sample_rate
                end = int(clock * rate)
                if cap is None and end > len(sound):
                    break  # the recording is over
                if clock - heard_at >= SPEECH_EVERY:
                    start = max(0, end - int(SPEECH_SECONDS * rate))
                    speech, heard_at = analyser.speech_of(sound[start:end]), clock
            fused = None
            if face is not None and speech is not None:
                fused = {
                    "probabilities": average_answers(
                        face["probabilities"], speech["probabilities"]
                    ),
                    "method": AVERAGE,
                }
            on_update(LiveUpdate(round(clock, 3), face, speech, fused))
            last = clock
    finally:
        if newest is not None:
            newest.close()
        elif cap is not None:
            cap.release()
    wall = time.perf_counter() - started
    return {
        "frames": frames,
        "seconds": round(last, 2),
        "fps": round(frames / wall, 1) if wall > 0 else 0.0,
    }
