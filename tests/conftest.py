"""Shared fixtures: tiny fake data sets written to tmp_path, and the real data when present."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.labels import FER_CLASSES, ravdess_name  # noqa: E402
from training.callbacks import Callback  # noqa: E402

SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real data folder {SHARED_DATA} is absent (set WORKBENCH_SHARED_DATA to use another)",
)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep test caches, generated data and trained runs out of the project's folders.

    The starter models are hidden too (an empty pretrained folder), so a test sees the
    workbench as a user who has trained nothing and has no starter models; the tests of
    the starter models themselves point ``WORKBENCH_PRETRAINED_DIR`` back at pretrained/.
    """
    base = tmp_path_factory.mktemp("workbench")
    keys = (
        "WORKBENCH_CACHE_DIR",
        "WORKBENCH_DATA_DIR",
        "WORKBENCH_RUNS_DIR",
        "WORKBENCH_PRETRAINED_DIR",
    )
    old = {k: os.environ.get(k) for k in keys}
    os.environ["WORKBENCH_CACHE_DIR"] = str(base / "cache")
    os.environ["WORKBENCH_DATA_DIR"] = str(base / "data")
    os.environ["WORKBENCH_RUNS_DIR"] = str(base / "runs")
    os.environ["WORKBENCH_PRETRAINED_DIR"] = str(base / "no-pretrained")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class StopAt(Callback):
    """Sets ``event`` at the first progress report at or after ``at`` = (epoch, batch).

    ``fit`` reports every batch on the CPU but only every ``report_every(device)`` batches
    (and each epoch's last) on a GPU, so a test that waited for one exact batch would
    never stop there. ``reports`` lists every (epoch, batch) reported, ``stopped_at`` the
    one that set the event, ``epochs`` the finished epochs. ``at=None`` only records.
    """

    def __init__(self, at: tuple[int, int] | None = None, event=None):
        import threading

        self.at, self.event = at, event if event is not None else threading.Event()
        self.reports: list[tuple[int, int]] = []
        self.epochs: list[int] = []
        self.stopped_at: tuple[int, int] | None = None

    def on_batch_end(self, info):
        here = (info["epoch"], info["batch"])
        self.reports.append(here)
        if self.at is not None and self.stopped_at is None and here >= self.at:
            self.stopped_at = here
            self.event.set()

    def on_epoch_end(self, record):
        self.epochs.append(record["epoch"])


@pytest.fixture(params=[1, 10], ids=["report-every-batch", "report-every-10th"])
def cadence(request, monkeypatch):
    """Run a test with ``fit`` reporting every batch (the CPU's cadence) and every 10th
    batch (a GPU's), whatever the device."""
    import training.fit

    monkeypatch.setattr(training.fit, "report_every", lambda device: request.param)
    return request.param


def face_pixels(rng: np.random.Generator) -> np.ndarray:
    """A random (48, 48) uint8 image."""
    return rng.integers(0, 256, size=(48, 48), dtype=np.uint8)


def write_fer_csv(path: Path, rows: list[tuple[int, np.ndarray, str | None]], header: str) -> Path:
    """Write FER rows (emotion, pixels, usage) with the given header, e.g. 'emotion,pixels,Usage'."""
    cols = [c.strip() for c in header.split(",")]
    lines = [header]
    for emotion, px, usage in rows:
        values = {"emotion": str(emotion), "pixels": " ".join(map(str, px.ravel())), "Usage": usage}
        lines.append(",".join(values[c] for c in cols))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def fer_rows(n_per_class: int, usages=("Training",), seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        (c, face_pixels(rng), usage)
        for usage in usages
        for c in range(len(FER_CLASSES))
        for _ in range(n_per_class)
    ]


@pytest.fixture
def fer_csv(tmp_path) -> Path:
    """An original-layout fer2013.csv: 4 Training, 2 PublicTest, 1 PrivateTest per class."""
    rows = (
        fer_rows(4) + fer_rows(2, ("PublicTest",), seed=1) + fer_rows(1, ("PrivateTest",), seed=2)
    )
    return write_fer_csv(tmp_path / "fer" / "fer2013.csv", rows, "emotion,pixels,Usage")


def write_fer_folders(root: Path, splits: dict[str, int], seed: int = 0) -> Path:
    """Kaggle layout: root/<split>/<class>/*.png with n images per class per split."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in splits.items():
        for name in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(face_pixels(rng)).save(d / f"{split}_{name}_{i}.png")
    return root


def tone(seconds: float, sr: int, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    """A sine tone with a short silence at both ends; (n,) or (n, channels) float32."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) * ((t > 0.2) & (t < seconds - 0.2))
    y = y.astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def write_ravdess(root: Path, actors=(1, 2, 3), emotions=(1, 3, 5), seconds: float = 1.0) -> Path:
    """Actor_XX/03-01-EE-01-01-01-AA.wav files (16 kHz tones) in the RAVDESS layout."""
    for a in actors:
        d = root / f"Actor_{a:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for e in emotions:
            for s in (1, 2):
                name = ravdess_name(3, 1, e, 1, s, 1, a)
                sf.write(d / name, tone(seconds, 16_000, 100.0 + 40 * e + 5 * a), 16_000)
    return root


@pytest.fixture
def ravdess_dir(tmp_path) -> Path:
    return write_ravdess(tmp_path / "ravdess")


@pytest.fixture(scope="session")
def tiny_face_run(tmp_path_factory) -> Path:
    """A face run trained one epoch on a tiny FER CSV (4 Training and 2 PublicTest faces a
    class), shared by the fault and fuzz tests: read it, copy it to damage it."""
    from training.train import TrainOptions, train_model

    base = tmp_path_factory.mktemp("tiny_face_run")
    rows = fer_rows(4) + fer_rows(2, ("PublicTest",), seed=1)
    fer = write_fer_csv(base / "fer" / "fer2013.csv", rows, "emotion,pixels,Usage")
    run = base / "run"
    train_model(TrainOptions(kind="face", data=str(fer.parent), epochs=1, out=str(run)))
    return run


@pytest.fixture(scope="session")
def display():
    """A display for Tk: the current one, or a private Xvfb server started for the tests."""
    from emotion_gui.xvfb import start_xvfb

    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    proc = start_xvfb()
    if proc is None:
        pytest.skip("no DISPLAY, and Xvfb is missing or did not start (apt-get install xvfb)")
    yield os.environ["DISPLAY"]
    os.environ.pop("DISPLAY", None)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_root():
    """The built-in demo data, generated once per test session (about 20 s) into the
    tests' own data folder."""
    from datasets.sources import ensure_demo

    return ensure_demo()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """A three-actor demo set (280 faces; 180 video clips, each beside its WAV) for fusion
    tests: one actor each to train, validate and test, so a model trains in seconds."""
    from datasets import demo

    root = tmp_path_factory.mktemp("small") / "demo"
    demo.make_demo_data(root, 0, n_faces=280, n_actors=3, workers=2)
    return root


def pump(root, until, timeout: float = 60.0) -> None:
    """Run the Tk event loop until ``until()`` is true."""
    import time

    end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > end:
            raise AssertionError("the window did not get there in time")
        root.update()
        time.sleep(0.01)


@pytest.fixture
def tk_garbage():
    """For GUI tests: collect the previous window's leftovers now, on the Tk thread.

    Tcl aborts the whole process when a Tk object is freed on another thread, which
    happens if the cyclic garbage collector first runs on a worker thread.
    """
    import gc

    gc.collect()
    yield


@pytest.fixture(scope="module")
def tk_garbage_module():
    """The same once the module's last window has been torn down."""
    import gc

    yield
    gc.collect()


TEST_SINK = "workbench_test_sink"


class SoundDevice:
    """A real audio device for the sound tests: a PulseAudio null sink that is the default
    output, whose monitor (what is played into it) is the default input."""

    sink = TEST_SINK
    source = f"{TEST_SINK}.monitor"

    def play(self, path: Path):
        """Play ``path`` into the sink with ``paplay`` (returns the running process)."""
        import subprocess

        return subprocess.Popen(["paplay", f"--device={self.sink}", str(path)])


def _pactl(*args: str, check: bool = True) -> str:
    import subprocess

    done = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)
    if check and done.returncode:
        raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip() if done.returncode == 0 else ""


def _pulse_answers() -> bool:
    import subprocess

    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_pulseaudio() -> bool:
    """Start a PulseAudio daemon for this user (root included, as in CI); True once it answers."""
    import subprocess
    import time

    subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1"], capture_output=True, timeout=30, check=False
    )
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if _pulse_answers():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def sound_device():
    """A real sound card for the tests (``SoundDevice``), or a skip saying why there is none.

    Starts a PulseAudio daemon when none answers (and stops it at the end), loads a null
    sink, makes it the default output and its monitor the default input for the session,
    then puts the previous defaults back and unloads it. PortAudio reaches PulseAudio
    through ALSA's pulse plugin (libasound2-plugins): its "default" device.

    A null sink with no client wakes every 2 s, so each process's first stream would wait
    that long for its first samples; a recorder asking for 10 ms, attached for the whole
    session, keeps it answering like a sound card.
    """
    import shutil
    import subprocess

    from datasets.errors import WorkbenchError
    from training import audio_io

    for tool in ("pulseaudio", "pactl", "paplay", "pacat"):
        if shutil.which(tool) is None:
            pytest.skip(
                f"no sound device: {tool} is missing (apt-get install pulseaudio pulseaudio-utils)"
            )
    try:
        sd = audio_io.sounddevice_module()
    except WorkbenchError as exc:
        pytest.skip(f"no sound device: {exc}")
    started = False
    if not _pulse_answers():
        if not _start_pulseaudio():
            pytest.skip("no sound device: the PulseAudio daemon did not start")
        started = True
        sd._terminate()  # PortAudio lists devices once: look again now that PulseAudio runs
        sd._initialize()
    for line in _pactl("list", "short", "modules").splitlines():  # left by a killed run
        if f"sink_name={TEST_SINK}" in line:
            _pactl("unload-module", line.split()[0], check=False)
    before = (_pactl("get-default-sink", check=False), _pactl("get-default-source", check=False))
    module = _pactl("load-module", "module-null-sink", f"sink_name={TEST_SINK}")
    keep_awake = None
    try:
        _pactl("set-default-sink", TEST_SINK)
        _pactl("set-default-source", f"{TEST_SINK}.monitor")
        keep_awake = subprocess.Popen(
            ["pacat", "--record", "--latency-msec=10", f"--device={TEST_SINK}.monitor"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not audio_io.input_devices():
            pytest.skip(
                "no sound device: PortAudio sees no input (is libasound2-plugins, ALSA's "
                "pulse plugin, installed?)"
            )
        yield SoundDevice()
    finally:
        if keep_awake is not None:
            keep_awake.terminate()
            keep_awake.wait(timeout=10)
        for what, name in zip(("sink", "source"), before):
            if name:
                _pactl(f"set-default-{what}", name, check=False)
        _pactl("unload-module", module, check=False)
        if started:
            subprocess.run(["pulseaudio", "--kill"], capture_output=True, timeout=10, check=False)


def microphone_or_recording(request, record_property, wav: Path):
    """(device, the ``--microphone`` value, what was used) for a live test: the system's
    default input on the ``sound_device`` when the test can make one (play ``wav`` into it
    with ``device.play``), else ``wav`` itself; the choice is printed and recorded."""
    try:
        device = request.getfixturevalue("sound_device")
    except pytest.skip.Exception as why:
        device, microphone, used = None, str(wav), f"a WAV source ({why})"
    else:
        microphone, used = "default", "a real audio device (PulseAudio null sink monitor)"
    record_property("microphone", used)
    print(f"microphone: {used}")
    return device, microphone, used
