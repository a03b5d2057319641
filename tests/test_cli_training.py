"""The command line's training, evaluation, prediction and comparison commands, and their
refusals: bad input exits with status 2 and one sentence naming the file, no traceback."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone, write_ravdess
from PIL import Image
from test_cli import run_cli

import workbench


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny face run and one tiny speech run, trained through the CLI."""
    from conftest import fer_rows, write_fer_csv

    base = tmp_path_factory.mktemp("cli")
    rows = (
        fer_rows(4) + fer_rows(2, ("PublicTest",), seed=1) + fer_rows(1, ("PrivateTest",), seed=2)
    )
    fer = write_fer_csv(base / "fer" / "fer2013.csv", rows, "emotion,pixels,Usage").parent
    rav = write_ravdess(base / "rav", actors=(1, 2, 3), emotions=(1, 3, 5, 8))
    for kind, data in (("face", fer), ("speech", rav)):
        code = workbench.main(
            ["train", kind, "--data", str(data), "--epochs", "2", "--out", str(base / kind)]
        )
        assert code == 0
    return {"base": base, "fer": fer, "rav": rav, "face": base / "face", "speech": base / "speech"}


def test_train_prints_the_run_and_its_held_out_score(runs, capsys, tmp_path):
    assert (
        workbench.main(
            [
                "train",
                "face",
                "--data",
                str(runs["fer"]),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"run folder: {tmp_path / 'r'}" in out
    assert "held-out test accuracy" in out


def test_evaluate_json_schema(runs, capsys):
    assert (
        workbench.main(
            ["evaluate", str(runs["face"]), "--data", str(runs["fer"]), "--split", "all", "--json"]
        )
        == 0
    )
    m = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "uar", "macro_f1", "per_class", "confusion", "classes", "n_items"):
        assert key in m, key
    assert m["n_items"] == 49 and m["split"] == "all" and len(m["confusion"]) == 7
    assert sum(v["support"] for v in m["per_class"].values()) == 49
    assert 0.0 <= m["accuracy"] <= 1.0


def test_evaluate_speech_json(runs, capsys):
    assert (
        workbench.main(["evaluate", str(runs["speech"]), "--data", str(runs["rav"]), "--json"]) == 0
    )
    m = json.loads(capsys.readouterr().out)
    assert m["kind"] == "speech" and m["split"] == "test" and m["n_items"] == 8
    assert m["classes"][0] == "neutral" and len(m["classes"]) == 8


def test_predict_json_for_image_and_audio(runs, capsys, tmp_path):
    img = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48), np.uint8)).save(img)
    wav = tmp_path / "voice.wav"
    sf.write(wav, tone(2.0, 22_050), 22_050)
    for path, model, kind, n in ((img, "face", "image", 7), (wav, "speech", "audio", 8)):
        assert workbench.main(["predict", str(path), "--model", str(runs[model]), "--json"]) == 0
        p = json.loads(capsys.readouterr().out)
        assert p["kind"] == kind and len(p["probabilities"]) == n
        assert p["trained_on"].endswith(("fer", "rav"))  # the fixture folders
        assert sum(p["probabilities"].values()) == pytest.approx(1.0)
        assert p["top"] == max(p["probabilities"], key=p["probabilities"].get)
    assert workbench.main(["predict", str(img), "--model", str(runs["face"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["box"] is None  # a 48 px image is a face crop


def test_predict_uses_the_latest_run_by_default(runs, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    for name in ("older", "newer"):
        argv = ["train", "face", "--data", str(runs["fer"]), "--epochs", "1"]
        assert workbench.main([*argv, "--out", str(tmp_path / "runs" / name)]) == 0
    img = tmp_path / "face.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(img)
    capsys.readouterr()
    assert workbench.main(["predict", str(img), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == str(tmp_path / "runs/newer/best.pt")


def test_compare_writes_one_chart(runs, capsys, tmp_path):
    out = tmp_path / "cmp.png"
    assert (
        workbench.main(["compare", str(runs["face"]), str(runs["speech"]), "--out", str(out)]) == 0
    )
    assert Image.open(out).size[0] > 600
    text = capsys.readouterr().out
    assert "face" in text and "speech" in text and "UAR" in text
    assert "on FER test: 7 faces" in text and "on test actors 3: 8 clips" in text


def test_compare_writes_into_the_runs_folder_and_takes_a_folder_of_runs(
    runs, capsys, tmp_path, monkeypatch
):
    """By default the chart goes beside the runs (runs/<time>-comparison.png), not into the
    current folder; a folder holding runs (as demo writes) compares each of them."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    demo = tmp_path / "demo"
    for kind in ("face", "speech"):
        shutil.copytree(runs[kind], demo / kind)
    assert workbench.main(["compare", str(demo)]) == 0
    text = capsys.readouterr().out
    (chart,) = (tmp_path / "runs").glob("*-comparison.png")
    assert f"comparison chart: {chart}" in text
    assert [line.split()[1] for line in text.splitlines()[:2]] == ["face", "speech"]
    assert not list(tmp_path.glob("*.png"))
    assert workbench.main(["compare", str(tmp_path / "empty")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


class RunsCode:
    """A pickle payload that would create a file when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def bad_inputs(runs, tmp_path) -> dict[str, tuple[list[str], str]]:
    text_png = tmp_path / "notes.png"
    text_png.write_text("this is not an image\n")
    empty_wav = tmp_path / "empty.wav"
    empty_wav.write_bytes(b"")
    noise_wav = tmp_path / "noise.wav"
    noise_wav.write_bytes(os.urandom(4096))
    evil = tmp_path / "evil.pt"
    torch.save(
        {"format": "emotion-workbench-checkpoint", "x": RunsCode(str(tmp_path / "pwned"))}, evil
    )
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(1000))
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((200, 200), 90, np.uint8)).save(photo)  # big enough to need a face
    face = runs["face"]
    return {
        "missing file": (["predict", str(tmp_path / "nope.jpg"), "--model", str(face)], "nope.jpg"),
        "text file as image": (["predict", str(text_png), "--model", str(face)], "notes.png"),
        "0-byte wav": (["predict", str(empty_wav), "--model", str(runs["speech"])], "empty.wav"),
        "random-bytes wav": (
            ["predict", str(noise_wav), "--model", str(runs["speech"])],
            "noise.wav",
        ),
        "wrong-kind checkpoint": (
            ["predict", str(photo), "--model", str(runs["speech"])],
            "best.pt",
        ),
        "code-running pickle": (["predict", str(photo), "--model", str(evil)], "could run code"),
        "not a checkpoint": (
            ["evaluate", str(garbage), "--data", str(runs["fer"])],
            "not a readable",
        ),
        "no face": (["predict", str(photo), "--model", str(face)], "photo.png"),
        "missing data": (["train", "face", "--data", str(tmp_path / "nodata")], "nodata"),
        "run folder without model": (["evaluate", str(tmp_path)], str(tmp_path)),
    }


def test_bad_inputs_exit_2_with_one_sentence_naming_the_file(runs, tmp_path, capsys):
    for case, (argv, named) in bad_inputs(runs, tmp_path).items():
        code = workbench.main(argv)
        err = capsys.readouterr().err
        assert code == 2, (case, err)
        assert err.startswith("error: ") and err.count("\n") == 1, (case, err)
        assert named in err, (case, err)
        assert "garbage.pt" in err or case != "not a checkpoint"
    assert not (tmp_path / "pwned").exists()  # the pickle's code never ran


def test_bad_input_in_a_fresh_process_has_no_traceback(runs, tmp_path):
    cases = bad_inputs(runs, tmp_path)
    for case in ("code-running pickle", "random-bytes wav"):
        argv, named = cases[case]
        proc = run_cli(*argv)
        assert proc.returncode == 2, (case, proc.stderr)
        assert "Traceback" not in proc.stderr and named in proc.stderr
    assert not (tmp_path / "pwned").exists()


def test_unavailable_device_is_refused(runs, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = runs["base"] / "cuda-run"
    argv = ["train", "face", "--data", str(runs["fer"]), "--device", "cuda", "--out", str(out)]
    assert workbench.main(argv) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not out.exists()  # refused before any data was loaded or folder made


def test_usage_errors_for_bad_numbers(capsys):
    for argv in (["train", "face", "--epochs", "0"], ["train", "speech", "--lr", "-1"]):
        with pytest.raises(SystemExit) as exc:
            workbench.main(argv)
        assert exc.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_demo_compares_face_speech_and_fusion_on_the_same_takes(tmp_path, capsys):
    """The demo's fusion starts from its face and speech models, and the chart compares it
    with face-only and speech-only models started alike and scored on the same takes."""
    assert workbench.main(["demo", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for kind in ("face", "speech", "face-only", "speech-only", "fusion"):
        metrics = json.loads((tmp_path / kind / "metrics.json").read_text())
        assert metrics["split"] == "test" and metrics["epochs_run"] == 1
        assert f"{kind:<12} held-out test accuracy" in out
    takes = [
        json.loads((tmp_path / kind / "config.json").read_text())
        for kind in ("face-only", "speech-only", "fusion")
    ]
    assert [c["fusion"] for c in takes] == ["face", "speech", "concat"]
    for config in takes:
        assert config["options"]["face_model"] == str(tmp_path / "face")
        assert config["options"]["speech_model"] == str(tmp_path / "speech")
        assert config["data"]["actors"] == takes[0]["data"]["actors"]
    n_test = {
        json.loads((tmp_path / k / "metrics.json").read_text())["n_items"]
        for k in ("face-only", "speech-only", "fusion")
    }
    assert len(n_test) == 1
    assert Image.open(tmp_path / "comparison.png").size[0] > 600
    assert "built-in synthetic demo data" in out
    assert "Like for like, all three on the same held-out audio-video takes (test actors" in out
