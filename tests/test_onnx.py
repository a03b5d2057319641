"""ONNX export: tiny trained face, speech and late-fusion runs exported through the CLI,
predicted with ``--model OUT.onnx`` and compared with the PyTorch runs; the sidecar; the
refusals; and the README's ONNX Runtime example run on a demo face."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT
from PIL import Image

import workbench
from datasets.fer2013 import load_fer2013
from models import FusionNetConfig, build_model
from training import onnx_export
from training.checkpoint import load_checkpoint, save_checkpoint
from training.train import TrainOptions, train_model

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(small_demo, tmp_path_factory):
    """Face, speech and late-fusion runs (one epoch each on the small demo set), each
    exported with ``workbench.py export RUN OUT.onnx``."""
    base = tmp_path_factory.mktemp("onnx")
    runs = {}
    for name, kind, data, extra in (
        ("face", "face", "fer2013", {}),
        ("speech", "speech", "ravdess", {}),
        ("late", "fusion", "ravdess", {"fusion": "late", "n_frames": 2, "fraction": 0.25}),
    ):
        opts = TrainOptions(
            kind=kind, data=str(small_demo / data), epochs=1, out=str(base / name), **extra
        )
        runs[name] = train_model(opts).run_dir
        assert workbench.main(["export", str(runs[name]), str(base / f"{name}.onnx")]) == 0
    return {"base": base, "runs": runs, "onnx": {n: base / f"{n}.onnx" for n in runs}}


def predict_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert workbench.main(["predict", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def max_diff(a: dict[str, float], b: dict[str, float]) -> float:
    assert list(a) == list(b)
    return max(abs(a[k] - b[k]) for k in a)


@pytest.fixture(scope="module")
def face_png(small_demo, tmp_path_factory):
    """A held-out demo face (48x48, so predict takes it as a face crop as it is)."""
    faces = load_fer2013(small_demo / "fer2013")
    path = tmp_path_factory.mktemp("face") / "face.png"
    Image.fromarray(faces.images[-1]).save(path)
    return path


def test_face_onnx_predicts_the_runs_probabilities(exported, face_png, capsys):
    torch_pred = predict_json(capsys, face_png, "--model", exported["runs"]["face"])
    onnx_pred = predict_json(capsys, face_png, "--model", exported["onnx"]["face"])
    assert onnx_pred["model"] == str(exported["onnx"]["face"])
    assert max_diff(torch_pred["probabilities"], onnx_pred["probabilities"]) <= TOL
    assert onnx_pred["top"] == torch_pred["top"]


def test_speech_onnx_predicts_the_runs_probabilities_over_several_windows(
    exported, small_demo, tmp_path, capsys
):
    wavs = sorted((small_demo / "ravdess" / "Actor_03").glob("03-*.wav"))
    y, sr = sf.read(wavs[0], dtype="float32")
    long = tmp_path / "long.wav"  # about three takes in a row: several 3 s windows
    sf.write(long, np.concatenate([sf.read(w, dtype="float32")[0] for w in wavs[:3]]), sr)
    for wav in (wavs[0], long):
        torch_pred = predict_json(capsys, wav, "--model", exported["runs"]["speech"])
        onnx_pred = predict_json(capsys, wav, "--model", exported["onnx"]["speech"])
        assert onnx_pred["windows"] == torch_pred["windows"]
        assert max_diff(torch_pred["probabilities"], onnx_pred["probabilities"]) <= TOL
    assert onnx_pred["windows"] > 1


def test_a_clip_with_every_model_in_onnx_gives_the_same_answers(exported, small_demo, capsys):
    clip = sorted((small_demo / "ravdess" / "Actor_03").glob("02-*.mp4"))[0]
    runs, onnx = exported["runs"], exported["onnx"]
    torch_pred = predict_json(
        capsys,
        clip,
        *("--model", runs["late"], "--face-model", runs["face"]),
        *("--speech-model", runs["speech"]),
    )
    onnx_pred = predict_json(
        capsys,
        clip,
        *("--model", onnx["late"], "--face-model", onnx["face"]),
        *("--speech-model", onnx["speech"]),
    )
    assert onnx_pred["fused"]["model"] == str(onnx["late"])
    assert onnx_pred["fused"]["method"] == torch_pred["fused"]["method"]
    assert "late fusion" in onnx_pred["fused"]["method"]
    assert max_diff(torch_pred["probabilities"], onnx_pred["probabilities"]) <= TOL
    assert max_diff(torch_pred["face"]["mean"], onnx_pred["face"]["mean"]) <= TOL
    assert (
        max_diff(torch_pred["speech"]["probabilities"], onnx_pred["speech"]["probabilities"]) <= TOL
    )


def test_sidecar_names_classes_preprocessing_opset_and_source(exported):
    for name, run in exported["runs"].items():
        onnx_path = exported["onnx"][name]
        sidecar = json.loads(onnx_path.with_suffix(".json").read_text())
        loaded = load_checkpoint(run)
        assert sidecar["kind"] == loaded.kind and sidecar["classes"] == list(loaded.classes)
        assert sidecar["opset"] == onnx_export.OPSET == 18
        assert sidecar["source"]["model"] == str(run / "best.pt")
        assert 0 <= sidecar["self_check"]["max_abs_diff"] <= TOL
        prep = sidecar["preprocessing"]
        if loaded.kind in ("speech", "fusion"):
            features = loaded.preprocessing["features"]
            assert prep["speech"]["sample_rate"] == features["sample_rate"] == 16000
            assert prep["speech"]["window_samples"] == 48000
            assert prep["speech"]["features_in_graph"] == features
            assert set(sidecar["inputs"]) >= {"window"}
        if loaded.kind in ("face", "fusion"):
            assert prep["face"]["crop_size"] == 48
        if name == "late":
            weight = loaded.payload["model_config"]["weight"]
            assert sidecar["late_fusion"]["face_weight"] == weight
            assert list(sidecar["inputs"]) == ["faces", "found", "window"]
    import onnx

    model = onnx.load(exported["onnx"]["face"])
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {18}


def one_sentence(err: str) -> str:
    line = err.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line
    return line


def test_export_refusals_exit_2_with_one_sentence_and_leave_no_file(
    exported, tmp_path, capsys, monkeypatch
):
    face = str(exported["runs"]["face"])
    (tmp_path / "folder.onnx").mkdir()
    cases = {
        str(tmp_path / "face.txt"): "must end in .pt",
        str(tmp_path / "missing" / "face.onnx"): "does not exist",
        str(tmp_path / "folder.onnx"): "is a folder",
        str(tmp_path / "metrics.onnx"): "not an ONNX sidecar",  # metrics.json stays
    }
    (tmp_path / "metrics.json").write_text("{}")
    for out, said in cases.items():
        capsys.readouterr()
        assert workbench.main(["export", face, out]) == 2
        assert said in one_sentence(capsys.readouterr().err)
    # An ONNX file is not a model to export from.
    assert workbench.main(["export", str(exported["onnx"]["face"]), str(tmp_path / "x.onnx")]) == 2
    assert "is an ONNX model" in one_sentence(capsys.readouterr().err)
    # A fusion model whose frames go through a GRU: refused before anything is traced.
    config = FusionNetConfig(variant="concat", frame_pooling="gru").to_dict()
    gru = tmp_path / "gru.pt"
    late = load_checkpoint(exported["runs"]["late"])
    meta = {"kind": "fusion", "model_config": config, "classes": list(late.classes)}
    save_checkpoint(gru, build_model("fusion", config), meta={**meta, "preprocessing": {}})
    assert workbench.main(["export", str(gru), str(tmp_path / "gru.onnx")]) == 2
    assert "GRU" in one_sentence(capsys.readouterr().err)
    # A graph that ONNX Runtime does not reproduce within the tolerance is not written (the
    # traced program stands in for a fresh trace of the same run: the check is under test).
    graph_bytes = exported["onnx"]["face"].read_bytes()

    class Traced:
        def save(self, path, external_data=False):
            Path(path).write_bytes(graph_bytes)

    monkeypatch.setattr(onnx_export, "_export_program", lambda *a: Traced())
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)
    assert workbench.main(["export", face, str(tmp_path / "face.onnx")]) == 2
    assert "was not written" in one_sentence(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.onnx", "gru.pt", "metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_commands_that_need_pytorch_refuse_an_onnx_model(exported, face_png, tmp_path, capsys):
    onnx = exported["onnx"]
    wav = tmp_path / "tone.wav"
    sf.write(wav, 0.1 * np.sin(np.linspace(0, 2000, 16000)).astype(np.float32), 16000)
    cases = [
        (["explain", face_png, "--model", onnx["face"]], "gradients"),
        (["evaluate", onnx["face"], "--data", "demo"], "only predict can run"),
        (["train", "face", "--resume", onnx["face"]], "--resume cannot use"),
        (["predict", wav, "--model", onnx["face"]], "speech (audio) model is needed"),
    ]
    for args, said in cases:
        capsys.readouterr()
        assert workbench.main([str(a) for a in args]) == 2
        assert said in one_sentence(capsys.readouterr().err)
    lone = tmp_path / "lone.onnx"  # a graph without its sidecar
    lone.write_bytes(onnx["face"].read_bytes())
    assert workbench.main(["predict", str(face_png), "--model", str(lone)]) == 2
    assert "no sidecar" in one_sentence(capsys.readouterr().err)
    lone.write_bytes(b"not a graph")  # a damaged graph beside a good sidecar
    lone.with_suffix(".json").write_bytes(onnx["face"].with_suffix(".json").read_bytes())
    assert workbench.main(["predict", str(face_png), "--model", str(lone)]) == 2
    assert "not a readable ONNX model" in one_sentence(capsys.readouterr().err)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Take a model elsewhere (ONNX)", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return block


def test_the_readme_example_classifies_a_face_as_predict_does(exported, face_png, tmp_path, capsys):
    code = readme_example()
    assert len(code.strip().splitlines()) <= 12 and "workbench" not in code
    for suffix in (".onnx", ".json"):
        (tmp_path / f"face{suffix}").write_bytes(
            exported["onnx"]["face"].with_suffix(suffix).read_bytes()
        )
    (tmp_path / "face.png").write_bytes(face_png.read_bytes())
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    name, prob = out.stdout.split()
    expected = predict_json(capsys, face_png, "--model", exported["runs"]["face"])
    assert name == expected["top"]
    assert abs(float(prob) - expected["probabilities"][name]) <= TOL


def test_early_fusion_exports_and_fuses_as_pytorch_does(exported, tmp_path):
    """A concat fusion network (untrained: the graph, not the weights, is under test)
    exported and run through ``fuse`` as a clip's prediction runs it."""
    from training.onnx_model import load_onnx
    from training.predict import fuse

    late = load_checkpoint(exported["runs"]["late"])
    config = FusionNetConfig(variant="concat", n_classes=len(late.classes)).to_dict()
    meta = {"kind": "fusion", "model_config": config, "classes": list(late.classes)}
    pt = tmp_path / "concat.pt"
    save_checkpoint(
        pt, build_model("fusion", config).eval(), meta={**meta, "preprocessing": late.preprocessing}
    )
    sidecar = onnx_export.export_onnx(pt, tmp_path / "concat.onnx")
    assert sidecar["variant"] == "concat" and "late_fusion" not in sidecar
    rng = np.random.default_rng(0)
    found = np.array([True, False, True, True])
    faces = rng.integers(0, 256, (int(found.sum()), 48, 48), dtype=np.uint8)
    y = (0.05 * rng.standard_normal(40000)).astype(np.float32)
    a = fuse(load_checkpoint(pt), faces, found, y, 16000)
    b = fuse(load_onnx(tmp_path / "concat.onnx"), faces, found, y, 16000)
    assert max_diff(a, b) <= TOL
