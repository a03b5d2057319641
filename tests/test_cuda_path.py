"""The CUDA path: data resident on the GPU, GPU augmentation, bf16 and fp16 + GradScaler
training, recurrent layers in fp32, a checkpoint trained on CUDA used on the CPU,
prediction on CUDA, and stop / resume with a GPU's report cadence.

Marked ``cuda`` and skipped without a CUDA device; ``make gpu-check`` runs them on a GPU
machine (``pytest -m cuda``). The same code paths are checked on the CPU, as far as a CPU
can take them, in test_mixed_precision.py and test_training.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import StopAt
from test_mixed_precision import force_amp
from test_training import face_meta, pattern_faces
from torch import nn

from models import FACE_PRESETS, FaceCNN, SpeechCNN, SpeechCNNConfig
from training.augment import augment_faces, face_augment
from training.checkpoint import load_checkpoint
from training.data import TensorSet
from training.fit import FitConfig, fit, report_every
from training.metrics import predict_proba

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device: these check the GPU path (make gpu-check on a GPU machine)",
    ),
]

CUDA = torch.device("cuda")
QUICK = FACE_PRESETS["quick"]


class Resident(TensorSet):
    """A TensorSet that notes the device its inputs are sliced from."""

    def __init__(self, x, y, seen: list):
        super().__init__(x, y)
        self.seen = seen

    def to(self, device):
        return Resident(self.x.to(device), self.y.to(device), self.seen)

    def item(self, idx):
        self.seen.append(self.x.device.type)
        return super().item(idx)


def watch(model: nn.Module) -> list[tuple[bool, str, bool, torch.dtype]]:
    """(training, input device, autocast on, autocast dtype) at every forward."""
    seen = []
    model.register_forward_pre_hook(
        lambda m, args: seen.append(
            (
                m.training,
                args[0].device.type,
                torch.is_autocast_enabled("cuda"),
                torch.get_autocast_dtype("cuda"),
            )
        )
    )
    return seen


def test_fit_reports_every_tenth_batch_on_cuda():
    assert report_every(CUDA) == 10 and report_every(torch.device("cpu")) == 1


def test_data_lives_on_the_gpu_and_is_augmented_there():
    torch.manual_seed(0)
    seen: list = []
    data = pattern_faces(10)
    train = Resident(data.x, data.y, seen)
    model = FaceCNN(QUICK)
    calls = watch(model)
    robust = face_augment("robust")
    augmented = []

    def augment(x, gen):
        augmented.append((x.device.type, gen.device.type))
        return robust(x, gen)

    result = fit(
        model,
        train,
        pattern_faces(2, seed=1),
        FitConfig(epochs=2, batch_size=16, device="cuda"),
        augment=augment,
    )
    assert seen and set(seen) == {"cuda"}  # sliced from tensors already on the GPU
    assert augmented and set(augmented) == {("cuda", "cuda")}
    assert {c[1] for c in calls} == {"cuda"}
    assert result.device.startswith("cuda (")
    assert np.isfinite([r["train_loss"] for r in result.history]).all()


def test_face_augmentation_runs_on_the_gpu():
    x = torch.rand(64, 1, 48, 48, device=CUDA)

    def draw(seed):
        gen = torch.Generator(device=CUDA).manual_seed(seed)
        return augment_faces(x, gen, degrade=0.5, erase=0.5, gamma=0.4)

    a, b = draw(0), draw(0)
    assert a.device.type == "cuda" and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, draw(1))  # the generator decides
    assert torch.isfinite(a).all() and a.min() >= 0 and a.max() <= 1


def test_bf16_training_without_a_scaler_learns(tmp_path):
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("this GPU has no native bf16: the fp16 test covers it")
    torch.manual_seed(0)
    model = FaceCNN(QUICK)
    calls = watch(model)
    result = fit(
        model,
        pattern_faces(20),
        pattern_faces(5, seed=1),
        FitConfig(epochs=6, batch_size=32, lr=3e-3, device="cuda"),
        meta=face_meta(),
        out_dir=tmp_path,
    )
    # test_training's test_learns_held_out_patterns: above 0.8 in fp32 on the CPU
    assert result.best_val_accuracy > 0.6  # chance is 1/7
    assert (True, "cuda", True, torch.bfloat16) in calls
    assert all(not on for training, _, on, _ in calls if not training)  # scored in fp32
    assert np.isfinite([r["train_loss"] for r in result.history]).all()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["scaler"] is None


def test_fp16_training_with_a_grad_scaler(tmp_path, monkeypatch):
    force_amp(monkeypatch, torch.float16)  # as a GPU without native bf16 picks
    torch.manual_seed(0)
    model = FaceCNN(QUICK)
    calls = watch(model)
    result = fit(
        model,
        pattern_faces(10),
        pattern_faces(2, seed=1),
        FitConfig(epochs=2, batch_size=16, device="cuda"),
        meta=face_meta(),
        out_dir=tmp_path,
    )
    assert (True, "cuda", True, torch.float16) in calls
    assert np.isfinite([r["train_loss"] for r in result.history]).all()
    scaler = torch.load(tmp_path / "last.pt", weights_only=True)["scaler"]
    assert scaler is not None and scaler["_growth_tracker"] >= 1


def test_the_speech_gru_trains_in_fp32_inside_autocast():
    torch.manual_seed(0)
    model = SpeechCNN(SpeechCNNConfig(variant="gru", n_bins=40))
    seen = []
    model.gru.register_forward_hook(
        lambda m, i, o: seen.append((torch.is_autocast_enabled("cuda"), i[0].dtype, o[0].dtype))
    )
    g = torch.Generator().manual_seed(0)
    data = TensorSet(torch.randn(32, 1, 40, 60, generator=g) * 10 - 40, torch.arange(32) % 8)
    result = fit(model, data, data, FitConfig(epochs=2, batch_size=16, device="cuda"))
    assert seen and set(seen) == {(False, torch.float32, torch.float32)}
    assert np.isfinite([r["train_loss"] for r in result.history]).all()


def test_a_cuda_checkpoint_predicts_on_the_cpu_as_on_the_gpu(tmp_path):
    torch.manual_seed(0)
    val = pattern_faces(3, seed=1)
    model = FaceCNN(QUICK)
    fit(
        model,
        pattern_faces(10),
        val,
        FitConfig(epochs=2, batch_size=16, device="cuda"),
        meta=face_meta(),
        out_dir=tmp_path,
    )
    on_gpu, gpu_loss = predict_proba(model.to(CUDA), val.to(CUDA))  # prediction on CUDA
    loaded = load_checkpoint(tmp_path / "best.pt", kind="face")
    assert next(loaded.model.parameters()).device.type == "cpu"
    on_cpu, cpu_loss = predict_proba(loaded.model, val)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-4)


def test_metrics_json_agrees_with_a_later_evaluate_on_the_cpu(fer_csv, tmp_path):
    from training.evaluate import evaluate_checkpoint
    from training.train import TrainOptions, train_model

    run = train_model(
        TrainOptions(
            kind="face", data=str(fer_csv.parent), epochs=2, device="cuda", out=tmp_path / "run"
        )
    )
    again = evaluate_checkpoint(run.run_dir, str(fer_csv.parent), split="test")
    assert again["confusion"] == run.metrics["confusion"]
    assert again["loss"] == pytest.approx(run.metrics["loss"], rel=1e-4)


def test_stop_and_resume_on_cuda_equal_a_straight_deterministic_run(fer_csv, tmp_path):
    from training.train import TrainOptions, train_model

    opts = {
        "kind": "face",
        "data": str(fer_csv.parent),
        "epochs": 4,
        "batch_size": 2,  # 14 batches an epoch: reports at batches 10 and 14
        "device": "cuda",
        "deterministic": True,
    }
    straight = train_model(TrainOptions(**opts, out=tmp_path / "a"))
    stop = threading.Event()
    rec = StopAt((3, 1), event=stop)
    stopped = train_model(
        TrainOptions(**opts, out=tmp_path / "b"), callbacks=[rec], stop_event=stop
    )
    assert rec.stopped_at == (3, 10)  # the first report at or after (3, 1) on a GPU
    assert stopped.metrics["stopped"] and stopped.metrics["epochs_run"] == 2
    resumed = train_model(TrainOptions(kind="face", resume=str(tmp_path / "b"), device="cuda"))
    assert [r["epoch"] for r in resumed.fit.history] == [1, 2, 3, 4]
    for got, want in zip(resumed.fit.history, straight.fit.history):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-5)
