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


def bench_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_pack_keeps_the_same_share_of_every_class_within_its_budget(tmp_path):
    import numpy as np
    from PIL import Image

    pack, check = bench_module("gpu_pack"), bench_module("gpu_check")
    rng = np.random.default_rng(0)
    sizes = {"angry": 40, "disgust": 10, "happy": 70}
    images = {}
    for name, n in sizes.items():
        (tmp_path / "src" / name).mkdir(parents=True)
        images[name] = []
        for i in range(n):
            path = tmp_path / "src" / name / f"Training_{i}.jpg"
            Image.fromarray(rng.integers(0, 256, (48, 48), np.uint8)).save(path, quality=90)
            images[name].append(path)
    raw = sum(p.stat().st_size for files in images.values() for p in files)
    archive = tmp_path / "pack" / "fer2013_train.tar.gz"
    archive.parent.mkdir()
    budget = raw // 2
    kept, share = pack.fill(archive, images, budget, seed=0)
    assert archive.stat().st_size <= budget and 0.3 < share < 1
    for name, n in sizes.items():
        assert abs(len(kept[name]) - share * n) <= 1  # stratified: one share for every class
    again, _ = pack.fill(tmp_path / "again.tar.gz", images, budget, seed=0)
    assert again == kept  # the seed decides which images

    class Plan:
        work = tmp_path / "work"

    data = check.find_data(Plan, None, archive.parent)  # as gpu_check unpacks it
    assert sorted(p.name for p in (data / "train").iterdir()) == sorted(sizes)
    assert len(list((data / "train" / "happy").glob("*.jpg"))) == len(kept["happy"])
