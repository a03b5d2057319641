"""Sound cards (issue 18): capture from a real audio device and play recordings on one.

The device is a PulseAudio null sink (the ``sound_device`` fixture): what is played into
it comes back on its monitor, which is the default input. A RAVDESS recording is played
when the shared data is here, else a generated tone; each test says which it used.
"""

from __future__ import annotations

import builtins
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, tone

from datasets.errors import WorkbenchError
from training import audio_io
from training.audio_io import SoundCard, level_db, play

RAVDESS_WAV = SHARED_DATA / "ravdess_wav48k_samples" / "Actor_05" / "03-01-05-02-01-01-05.wav"


@pytest.fixture
def recording(tmp_path, record_property) -> Path:
    """A real RAVDESS WAV (48 kHz, angry, strong) or, without the shared data, a 2 s tone."""
    if RAVDESS_WAV.is_file():
        path, said = RAVDESS_WAV, f"RAVDESS recording {RAVDESS_WAV.name}"
    else:
        path, said = tmp_path / "tone.wav", "a generated 220 Hz tone (no shared data)"
        sf.write(path, tone(2.0, 48_000), 48_000)
    print(f"audio source: {said}")
    record_property("audio_source", said)
    return path


@pytest.fixture
def portaudio():
    """sounddevice with its PortAudio library, or a skip saying it is missing."""
    try:
        return audio_io.sounddevice_module()
    except WorkbenchError as exc:
        pytest.skip(str(exc))


def no_portaudio(monkeypatch) -> None:
    """Make ``import sounddevice`` fail as it does without the library: with OSError."""
    real = builtins.__import__

    def fake(name, *args, **kw):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)


def mono(path: Path, sr: int) -> np.ndarray:
    """The file as the monitor hears it: channels averaged, at ``sr``."""
    from datasets.audio import read_audio

    return read_audio(path, sr)


def energy_db(y: np.ndarray) -> float:
    return 10 * np.log10(np.sum(np.square(y, dtype=np.float64)) + 1e-20)


def wait_until(check, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_capture_hears_a_recording_played_into_the_device(sound_device, recording):
    played = mono(recording, 16_000)
    said = f"(played {recording.name}: {len(played) / 16_000:.2f} s)"
    with SoundCard() as mic:
        assert mic.device_rate == 16_000 and mic.sample_rate == 16_000
        assert wait_until(lambda: mic.captured_seconds > 0.2)
        assert level_db(mic.latest(0.2)) < -80  # nothing played yet: silence
        player = sound_device.play(recording)
        # Real sound comes back, as loud as it was played: the same energy, within 1 dB.
        heard = wait_until(lambda: energy_db(mic.latest(30.0)) > energy_db(played) - 0.5, 15)
        time.sleep(0.2)
        y = mic.latest(30.0)
        player.terminate()
        assert mic.overflows == 0
    assert heard, said
    assert y.dtype == np.float32 and y.ndim == 1 and np.isfinite(y).all(), said
    assert level_db(y) > -50, said
    assert energy_db(y) == pytest.approx(energy_db(played), abs=1.0), said


def test_a_device_refusing_16_khz_is_opened_at_its_own_rate_and_resampled(
    sound_device, tmp_path, monkeypatch, portaudio
):
    real = portaudio.InputStream

    def refuses_16k(*args, samplerate=None, **kw):
        if samplerate == 16_000:
            raise portaudio.PortAudioError("Error opening InputStream: Invalid sample rate", -9997)
        return real(*args, samplerate=samplerate, **kw)

    monkeypatch.setattr(portaudio, "InputStream", refuses_16k)
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1.5, 48_000), 48_000)
    print("audio source: a generated 220 Hz tone")
    played = energy_db(mono(path, 16_000))
    with SoundCard(keep_seconds=5.0) as mic:
        player = sound_device.play(path)
        heard = wait_until(lambda: energy_db(mic.latest(5.0)) > played - 0.5, 10)
        y = mic.latest(5.0)
        player.terminate()
    default = int(portaudio.query_devices(None, "input")["default_samplerate"])
    assert mic.device_rate == default != 16_000 and mic.sample_rate == 16_000
    assert heard and energy_db(y) == pytest.approx(played, abs=1.0)
    assert len(mic.latest(1.0)) == pytest.approx(16_000, abs=2)
    # Resampled, not merely relabelled: 220 Hz is still the strongest frequency.
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 16_000 / len(y) == pytest.approx(220, abs=2)


def test_a_microphone_that_cannot_be_opened_is_one_sentence_with_the_reason(
    sound_device, monkeypatch, portaudio
):
    def busy(*args, **kw):
        raise portaudio.PortAudioError("Error opening InputStream: Device unavailable", -9985)

    monkeypatch.setattr(portaudio, "InputStream", busy)
    index, name = audio_io.input_devices()[0]
    with pytest.raises(WorkbenchError) as err:
        SoundCard(index)
    assert str(err.value) == (
        f"Microphone {index} ({name}) could not be opened (Device unavailable); close other "
        "programs using it and allow microphone access, or pass a WAV file with "
        "--microphone FILE."
    )


def test_a_missing_microphone_is_one_sentence_naming_the_ones_here(portaudio, monkeypatch):
    here = audio_io.input_devices()
    with pytest.raises(WorkbenchError) as err:
        SoundCard(99)
    listed = ", ".join(f"{i} ({name})" for i, name in here)
    assert str(err.value) == (
        f"Microphone 99 does not exist; the microphones here are {listed}; pick one or pass a "
        "WAV file with --microphone FILE."
    ) or (not here and "there is no microphone here" in str(err.value))
    monkeypatch.setattr(audio_io, "input_devices", lambda: [])
    with pytest.raises(WorkbenchError, match=r"^Microphone 3 does not exist and there is no "):
        SoundCard(3)


def test_close_releases_the_device_at_once(sound_device):
    from conftest import _pactl

    def streams() -> int:
        return len(_pactl("list", "short", "source-outputs").splitlines())

    before = streams()
    mic = SoundCard()
    assert mic.active and streams() == before + 1
    mic.close()
    assert not mic.active and streams() == before  # released at once, not at exit
    mic.close()  # twice is fine
    with SoundCard() as again:  # and the device opens again right away
        assert again.active and wait_until(lambda: again.captured_seconds > 0)
    assert streams() == before


def test_the_ring_keeps_the_newest_seconds_and_counts_overflows(sound_device):
    mic = SoundCard(keep_seconds=0.5)  # 8,000 samples at 16 kHz
    mic.close()  # PortAudio calls back no more: feed blocks by hand
    start = mic._written
    ok, overflow = SimpleNamespace(input_overflow=False), SimpleNamespace(input_overflow=True)
    blocks = np.arange(20_000, dtype=np.float32).reshape(-1, 1000, 1) + 1
    for i, block in enumerate(blocks):
        mic._callback(block, 1000, None, overflow if i in (3, 7) else ok)
    assert mic.overflows == 2
    assert mic.captured_seconds == pytest.approx((start + 20_000) / 16_000)
    np.testing.assert_array_equal(mic.latest(0.1), np.arange(18_400, 20_000) + 1)
    np.testing.assert_array_equal(mic.latest(10.0), np.arange(12_000, 20_000) + 1)
    longer = np.arange(9000, dtype=np.float32)[:, None] - 9000  # a block over the ring
    mic._callback(longer, 9000, None, ok)
    np.testing.assert_array_equal(mic.latest(1.0), np.arange(1000, 9000) - 9000)
    np.testing.assert_array_equal(mic.latest(0.01), np.arange(8840, 9000) - 9000)


def test_level_db_is_finite_for_silence_and_bad_samples():
    assert level_db(np.zeros(1600, np.float32)) == -100.0
    assert level_db(np.array([], np.float32)) == -100.0
    assert level_db(np.full(100, np.nan, np.float32)) == -100.0
    bad = np.array([np.nan, np.inf, -np.inf, 0.5, -0.5], np.float32)
    assert level_db(bad) == pytest.approx(20 * np.log10(0.5))
    sine = np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)
    assert level_db(sine) == pytest.approx(-3.01, abs=0.01)  # a full-scale sine
    assert level_db(1e-9 * sine) == -100.0  # floored
    assert all(np.isfinite(level_db(x)) for x in (sine * 1e30, np.float32([3e38, 3e38])))


def test_play_is_heard_on_the_device_and_stops_at_once(sound_device, recording):
    full = energy_db(mono(recording, 16_000))
    with SoundCard() as mic:
        playing = play(recording)
        assert playing.active
        assert playing.seconds == pytest.approx(sf.info(str(recording)).duration, abs=0.01)
        heard = wait_until(lambda: energy_db(mic.latest(30.0)) > full - 20)  # 1% of it
        assert heard, f"{recording.name} was not heard on the device"
        assert playing.active and 0 < playing.position < playing.seconds
        playing.stop()
        assert not playing.active and playing.wait(1.0)  # the device released
        time.sleep(0.5)
        so_far = energy_db(mic.latest(30.0))
        time.sleep(0.5)
        # Nothing more arrives: stopped, not played out.
        assert energy_db(mic.latest(30.0)) == pytest.approx(so_far, abs=0.01)


def test_a_new_playback_stops_the_one_before_and_a_short_one_ends_by_itself(sound_device):
    long_one = play(np.zeros(16_000 * 10, np.float32) + 0.1, 16_000)
    short = play(tone(0.3, 16_000), 16_000)
    assert not long_one.active and short.active
    assert wait_until(lambda: not short.active, timeout=3.0)
    assert short.position == pytest.approx(0.3, abs=0.01)


def test_play_refuses_files_without_sound_in_one_sentence(portaudio, tmp_path):
    import cv2

    clip = tmp_path / "no_sound.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not a wav at all" * 100)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), 16_000)
    expected = {
        clip: "has no audio track and no matching RAVDESS audio file",
        garbage: "is not a readable audio file",
        silent: "is silent (no sample above -80 dBFS); there is nothing to hear",
    }
    for path, words in expected.items():
        with pytest.raises(WorkbenchError) as err:
            play(path)
        message = str(err.value)
        assert words in message and f"'{path}'" in message and "\n" not in message


def test_without_portaudio_every_use_is_one_sentence(monkeypatch, tmp_path):
    no_portaudio(monkeypatch)
    with pytest.raises(WorkbenchError) as err:
        SoundCard()
    assert str(err.value) == (
        "Sound cards cannot be used because the PortAudio library is missing; install it "
        "(Debian/Ubuntu: sudo apt install libportaudio2) or pass a WAV file with "
        "--microphone FILE."
    )
    with pytest.raises(WorkbenchError) as err:
        play(tmp_path / "any.wav")
    assert str(err.value) == (
        "Recordings cannot be played because the PortAudio library is missing; install it "
        "(Debian/Ubuntu: sudo apt install libportaudio2)."
    )
    assert audio_io.input_devices() == []


def test_the_module_does_not_import_sounddevice_or_torch():
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys; import training.audio_io; "
        "print(sorted({'sounddevice', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
