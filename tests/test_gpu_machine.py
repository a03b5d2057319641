"""What a GPU machine without PyAV, librosa or a sound card needs: the workbench imports
and trains there, and what needs PyAV says so in one sentence."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from datasets.errors import WorkbenchError

MISSING_THERE = ("av", "librosa", "sounddevice")


def test_the_workbench_trains_without_pyav_librosa_or_sounddevice(fer_csv, tmp_path):
    code = (
        "import sys\n"
        f"for name in {MISSING_THERE!r}:\n"
        "    sys.modules[name] = None  # import fails, as where it is not installed\n"
        "import workbench, emotion_gui.app, training.recorder, training.explain\n"
        "sys.exit(workbench.main(sys.argv[1:]))\n"
    )
    args = ["train", "face", "--data", str(fer_csv.parent), "--epochs", "1"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(tmp_path / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_a_clip_sound_track_without_pyav_is_one_sentence(tmp_path, monkeypatch):
    from datasets.video import read_track_audio

    monkeypatch.setitem(sys.modules, "av", None)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 64)
    with pytest.raises(WorkbenchError, match=r"needs PyAV, which is not installed here; install"):
        read_track_audio(clip)
