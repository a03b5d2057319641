"""Sound cards: capture from a microphone and play recordings back (issue 18).

PortAudio, through ``sounddevice``, is imported only when a sound card is first used: on
a machine without the library (``import sounddevice`` raises ``OSError`` then) the rest
of the workbench keeps working, and using a sound card says in one sentence what to
install. This module imports no torch either: the readers and the resampler of
``datasets`` (which do) are imported when a recording is read or resampled.

``SoundCard`` captures mono float32 into a ring buffer on PortAudio's own thread; the
callback only copies samples (no resampling, no allocation beyond the copy), so it never
falls behind. A device that refuses the wanted rate is opened at its own and ``latest``
resamples what it returns. ``play`` plays one recording at a time on the default output,
without blocking: the caller polls ``Playback.active``.
"""

from __future__ import annotations

import atexit
import math
import threading
from pathlib import Path

import numpy as np

from datasets.errors import WorkbenchError, describe

SAMPLE_RATE = 16_000  # what the speech models hear
KEEP_SECONDS = 30.0
SILENCE_DB = -100.0  # level_db's floor: silence, an empty block, nothing finite
INSTALL = "install it (Debian/Ubuntu: sudo apt install libportaudio2)"
USE_A_FILE = "pass a WAV file with --microphone FILE"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")  # as training.predict's


def sounddevice_module(purpose: str = "capture"):
    """The ``sounddevice`` module, or a ``WorkbenchError`` sentence saying what is missing.

    ``purpose`` is "capture" or "play": the sentence offers a WAV file in a microphone's
    place only where one can stand in.
    """
    lead = "Sound cards cannot be used" if purpose == "capture" else "Recordings cannot be played"
    alternative = f" or {USE_A_FILE}" if purpose == "capture" else ""
    try:
        import sounddevice
    except OSError:  # the package is there, the PortAudio library is not
        raise WorkbenchError(
            f"{lead} because the PortAudio library is missing; {INSTALL}{alternative}."
        ) from None
    except ImportError:
        raise WorkbenchError(
            f"{lead} because the sounddevice package is missing; run 'make setup'{alternative}."
        ) from None
    return sounddevice


def input_devices() -> list[tuple[int, str]]:
    """(index, name) of every device with an input channel; [] without PortAudio."""
    try:
        sd = sounddevice_module()
    except WorkbenchError:
        return []
    return [(d["index"], d["name"]) for d in sd.query_devices() if d["max_input_channels"] > 0]


def level_db(y: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine is -3 dBFS), for a level meter.

    Always finite: silence and an empty block give ``SILENCE_DB``, and NaN or infinite
    samples (a glitching driver) are left out rather than turning the meter into NaN.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    y = y[np.isfinite(y)]
    if y.size == 0:
        return SILENCE_DB
    power = float(np.mean(np.square(y)))
    return max(SILENCE_DB, 10 * math.log10(power)) if power > 0 else SILENCE_DB


# --------------------------------------------------------------- capture


def _microphones_here(mics: list[tuple[int, str]]) -> str:
    return ", ".join(f"{i} ({name})" for i, name in mics)


def _check_input(sd, device: int | None) -> str:
    """The name of input ``device`` (None: the default one), or a sentence saying which
    microphones there are."""
    mics = input_devices()
    if device is None:
        if not mics or sd.default.device[0] < 0:
            raise WorkbenchError(
                f"No microphone was found; connect one and allow microphone access, or {USE_A_FILE}."
            )
        return sd.query_devices(kind="input")["name"]
    if device in dict(mics):
        return dict(mics)[device]
    if not mics:
        raise WorkbenchError(
            f"Microphone {device} does not exist and there is no microphone here; connect "
            f"one or {USE_A_FILE}."
        )
    raise WorkbenchError(
        f"Microphone {device} does not exist; the microphones here are "
        f"{_microphones_here(mics)}; pick one or {USE_A_FILE}."
    )


def _reason(exc: Exception) -> str:
    """PortAudio's reason, briefly: 'Error opening InputStream: Device unavailable' → the
    part after the colon."""
    text = str(exc.args[0] if exc.args else exc)
    return text.split(": ", 1)[-1]


def _open(sd, make, device: int | None, rates: list[int]):
    """The first stream ``make(rate)`` opens and starts, trying ``rates`` in turn (a device
    may refuse the wanted rate but take its own); the last PortAudio error otherwise."""
    error: Exception | None = None
    for rate in dict.fromkeys(rates):
        try:
            stream = make(rate)
        except sd.PortAudioError as exc:
            error = exc
            continue
        try:
            stream.start()
        except sd.PortAudioError as exc:
            stream.close(ignore_errors=True)
            error = exc
            continue
        return stream, rate
    raise error


class SoundCard:
    """A microphone captured into a ring buffer that keeps the last ``keep_seconds``.

    Opens and starts at once; ``close`` (or leaving a ``with`` block) releases the device
    at once. ``latest(seconds)`` returns the newest samples at ``sample_rate``, from any
    thread. Dropped input (PortAudio's overflow flag) is counted in ``overflows``, never
    raised: a live view should go on with a gap, not stop.
    """

    def __init__(
        self,
        device: int | None = None,
        sample_rate: int = SAMPLE_RATE,
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        sd = sounddevice_module()
        self.device, self.sample_rate = device, int(sample_rate)
        self.device_name = _check_input(sd, device)
        self.overflows = 0
        self._lock = threading.Lock()
        self._closed = False
        default = int(sd.query_devices(device, "input")["default_samplerate"])

        def make(rate: int):
            self._ring = np.zeros(max(1, int(keep_seconds * rate)), np.float32)
            self._written = 0  # samples captured so far, at the device's rate
            return sd.InputStream(
                device=device,
                channels=1,
                dtype="float32",
                samplerate=rate,
                callback=self._callback,
            )

        try:
            self._stream, self.device_rate = _open(sd, make, device, [self.sample_rate, default])
        except sd.PortAudioError as exc:
            raise WorkbenchError(
                f"Microphone {self._label()} could not be opened ({_reason(exc)}); close other "
                f"programs using it and allow microphone access, or {USE_A_FILE}."
            ) from None

    def _label(self) -> str:
        return (
            f"'{self.device_name}'"
            if self.device is None
            else f"{self.device} ({self.device_name})"
        )

    def _callback(self, indata: np.ndarray, frames: int, _time, status) -> None:
        """PortAudio's thread: copy the block into the ring, nothing more."""
        if status.input_overflow:
            self.overflows += 1
        n = len(self._ring)
        m = min(frames, n)  # a block longer than the ring: only its newest n samples
        block = indata[frames - m :, 0]
        with self._lock:
            start = (self._written + frames - m) % n
            first = min(m, n - start)
            self._ring[start : start + first] = block[:first]
            self._ring[: m - first] = block[first:]
            self._written += frames

    def latest(self, seconds: float) -> np.ndarray:
        """The newest ``seconds`` (at most; fewer at the start) at ``sample_rate``, 1-D float32."""
        n = len(self._ring)
        with self._lock:
            count = min(n, self._written, max(0, int(round(seconds * self.device_rate))))
            end = self._written % n
            idx = np.arange(end - count, end) % n
            y = self._ring[idx]
        if self.device_rate != self.sample_rate and len(y):
            y = _resampled(y, self.device_rate, self.sample_rate)
            y = y[-max(1, int(seconds * self.sample_rate)) :]
        return y

    @property
    def captured_seconds(self) -> float:
        """Seconds captured since the device opened (including those the ring dropped)."""
        return self._written / self.device_rate

    @property
    def active(self) -> bool:
        """Still capturing (False once closed, or when the device went away)."""
        return not self._closed and bool(self._stream.active)

    def close(self) -> None:
        """Stop at once (what is buffered is dropped) and release the device; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stream.abort(ignore_errors=True)
        self._stream.close(ignore_errors=True)

    def __enter__(self) -> SoundCard:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


# -------------------------------------------------------------- playback


class Playback:
    """One recording playing on an output device; ``active`` until it ends or ``stop``.

    A worker thread writes it in short blocks: a blocking write is paced by the device,
    so the thread ends when the sound has been heard. (Ending a callback stream with
    ``CallbackStop`` was not: through ALSA's PulseAudio plugin it reported the end while
    the server still held the sound, and closing it then cut the sound short.)
    """

    BLOCK_SECONDS = 0.05  # how soon ``stop`` is obeyed

    def __init__(self, sd, y: np.ndarray, sample_rate: int, device: int | None, name: str):
        self.name, self.sample_rate = name, sample_rate
        self.seconds = len(y) / sample_rate  # the recording's length
        self._y, self._written = y, 0
        self._stopping, self._done = threading.Event(), threading.Event()
        default = int(sd.query_devices(device, "output")["default_samplerate"])

        def make(rate: int):
            self._y = y if rate == sample_rate else _resampled(y, sample_rate, rate)
            self.sample_rate = rate
            return sd.OutputStream(device=device, channels=1, dtype="float32", samplerate=rate)

        try:
            stream, _ = _open(sd, make, device, [sample_rate, default])
        except sd.PortAudioError as exc:
            raise WorkbenchError(
                f"{name} cannot be played: the sound output could not be opened "
                f"({_reason(exc)}); close other programs using it or choose another output."
            ) from None
        self._thread = threading.Thread(
            target=self._run, args=(sd, stream), name="playback", daemon=True
        )
        self._thread.start()

    def _run(self, sd, stream) -> None:
        """Worker thread: write block by block until the end or ``stop``, then release."""
        block = max(1, int(self.BLOCK_SECONDS * self.sample_rate))
        try:
            for start in range(0, len(self._y), block):
                if self._stopping.is_set():
                    break
                stream.write(self._y[start : start + block])
                self._written = min(len(self._y), start + block)
            if self._stopping.is_set():
                stream.abort(ignore_errors=True)  # silent at once
            else:
                stream.stop(ignore_errors=True)  # plays out what the device holds
        except sd.PortAudioError:
            pass  # the device went away: the sound simply ends
        finally:
            stream.close(ignore_errors=True)
            self._done.set()

    @property
    def position(self) -> float:
        """Seconds handed to the device so far (heard, or about to be)."""
        return self._written / self.sample_rate

    @property
    def active(self) -> bool:
        """Playing: neither ended nor stopped."""
        return not (self._done.is_set() or self._stopping.is_set())

    def stop(self) -> None:
        """Stop now; the worker releases the device within one block. Idempotent."""
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the device is released; True when it is."""
        return self._done.wait(timeout)


def _resampled(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    from datasets.audio import resample

    return resample(y, sr_in, sr_out)


def read_sound(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int, Path]:
    """(mono float32, its rate, the file it came from) for playing ``path``.

    A recording is read at its own rate unless ``sample_rate`` is given. A video's sound is
    what the speech model hears of it (``datasets.video.clip_audio``: the matching RAVDESS
    recording, else its own sound track) at 48 kHz. Unreadable, trackless or digitally
    silent files are one sentence naming them.
    """
    from datasets.audio import read_audio

    if path.suffix.lower() in VIDEO_SUFFIXES:
        from datasets.video import clip_audio

        rate = sample_rate or 48_000
        y, source = clip_audio(path, rate)
    else:
        rate = sample_rate or _native_rate(path)
        y, source = read_audio(path, rate), path
    if not len(y) or float(np.abs(y).max()) < 1e-4:
        raise WorkbenchError(
            f"{describe(source)} is silent (no sample above -80 dBFS); there is nothing to "
            "hear, so choose another recording."
        )
    return y, rate, source


def _native_rate(path: Path) -> int:
    """The file's own rate; 16 kHz when soundfile cannot tell (``read_audio`` then says why)."""
    import soundfile as sf

    try:
        return int(sf.info(str(path)).samplerate)
    except Exception:  # noqa: BLE001 - any failure is reported by read_audio next
        return SAMPLE_RATE


_current: Playback | None = None
_current_lock = threading.Lock()
_exit_hook = False


def _stop_at_exit() -> None:
    """Stop the sound and let its thread release the device before sounddevice's own exit
    handler ends PortAudio: ending it under a thread still writing crashes the process.
    Registered after sounddevice is imported, so it runs first (atexit runs last-in first)."""
    if _current is not None:
        _current.stop()
        _current.wait(1.0)


def play(
    source: str | Path | np.ndarray,
    sample_rate: int | None = None,
    *,
    device: int | None = None,
) -> Playback:
    """Start playing ``source`` and return at once; the one playing before stops.

    ``source`` is a recording (WAV, FLAC…), a video clip (its sound) or mono samples with
    their ``sample_rate``. Samples are clipped to [-1, 1] and NaN or infinite ones silenced,
    so a bad array cannot blast the loudspeakers.
    """
    global _current, _exit_hook
    sd = sounddevice_module("play")
    if not _exit_hook:
        atexit.register(_stop_at_exit)
        _exit_hook = True
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError("play(samples) needs their sample_rate")
        y = source.mean(axis=1) if source.ndim == 2 else source.ravel()
        name, rate = "The recording", int(sample_rate)
    else:
        path = Path(source)
        y, rate, _ = read_sound(path, sample_rate)
        name = describe(path)
    y = np.clip(np.nan_to_num(np.asarray(y, np.float32), posinf=0.0, neginf=0.0), -1.0, 1.0)
    with _current_lock:
        if _current is not None:  # and wait for its device: one may not open twice
            _current.stop()
            _current.wait(1.0)
        _check_output(sd, device, name)
        _current = Playback(sd, y, rate, device, name)
    return _current


def _check_output(sd, device: int | None, name: str) -> None:
    """A sentence when there is nothing to play on."""
    outputs = [d["index"] for d in sd.query_devices() if d["max_output_channels"] > 0]
    if device is None and (not outputs or sd.default.device[1] < 0):
        raise WorkbenchError(
            f"{name} cannot be played because no loudspeaker or headphones were found; "
            "connect one and check the system's sound settings."
        )
    if device is not None and device not in outputs:
        raise WorkbenchError(
            f"{name} cannot be played on output {device}, which does not exist; the outputs "
            f"here are {', '.join(map(str, outputs)) or 'none'}."
        )
