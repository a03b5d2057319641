"""The mixed-precision path a GPU takes, checked on the CPU: recurrent layers stay in fp32,
held-out data is scored in fp32, and the fp16 + GradScaler path trains.

CPU autocast runs the same code as CUDA autocast here; only the kernels differ."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

from models import FusionNet, FusionNetConfig, SpeechCNN, SpeechCNNConfig
from models.layers import run_in_fp32


def watch_rnns(model: nn.Module) -> list[tuple[bool, torch.dtype, torch.dtype]]:
    """For every GRU call: (autocast on inside it, its input dtype, its output dtype)."""
    seen = []

    def hook(module, inputs, output):
        out = output[0] if isinstance(output, tuple) else output
        seen.append((torch.is_autocast_enabled("cpu"), inputs[0].dtype, out.dtype))

    for m in model.modules():
        if isinstance(m, nn.GRU):
            m.register_forward_hook(hook)
    return seen


def test_run_in_fp32_leaves_autocast_and_returns_fp32():
    gru = nn.GRU(8, 16, batch_first=True)
    x = torch.randn(2, 5, 8, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gru(x)[0].dtype == torch.bfloat16  # what a bare GRU does with such input
        out, last = run_in_fp32(gru, x)
        assert torch.is_autocast_enabled("cpu")  # the region is back on afterwards
    assert out.dtype == last.dtype == torch.float32


@pytest.mark.parametrize("which", ["speech-gru", "fusion-gru-pooling"])
def test_recurrent_layers_run_in_fp32_under_bf16_autocast(which):
    torch.manual_seed(0)
    if which == "speech-gru":
        model = SpeechCNN(SpeechCNNConfig(variant="gru", n_bins=40))
        x = torch.randn(3, 1, 40, 50) * 10 - 40
    else:
        model = FusionNet(FusionNetConfig(frame_pooling="gru"))
        g = torch.Generator().manual_seed(0)
        x = {
            "faces": torch.rand(3, 4, 1, 48, 48, generator=g),
            "found": torch.ones(3, 4, dtype=torch.bool),
            "features": torch.randn(3, 1, 64, 120, generator=g) * 10 - 40,
        }
    seen = watch_rnns(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    logits.float().sum().backward()
    assert seen == [(False, torch.float32, torch.float32)]
    grads = [p.grad for m in model.modules() if isinstance(m, nn.GRU) for p in m.parameters()]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def force_amp(monkeypatch, dtype: torch.dtype) -> None:
    """Make every device, the CPU included, pick ``dtype`` as a GPU would pick it."""
    import training.device
    import training.fit

    for module in (training.device, training.fit):
        monkeypatch.setattr(module, "amp_dtype", lambda device: dtype)


def watch_training_autocast(model: nn.Module) -> list[tuple[bool, bool, torch.dtype]]:
    """(training mode, autocast on, autocast dtype) at every forward of ``model``."""
    seen = []
    model.register_forward_pre_hook(
        lambda m, args: seen.append(
            (m.training, torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))
        )
    )
    return seen


def test_held_out_data_is_scored_in_fp32_after_bf16_training(fer_csv, tmp_path, monkeypatch):
    import training.train
    from training.evaluate import evaluate_checkpoint
    from training.train import TrainOptions, train_model

    force_amp(monkeypatch, torch.bfloat16)
    watched: list = []
    build = training.train.build_model

    def build_and_watch(kind, config):
        model = build(kind, config)
        watched.append(watch_training_autocast(model))
        return model

    monkeypatch.setattr(training.train, "build_model", build_and_watch)
    run = train_model(
        TrainOptions(kind="face", data=str(fer_csv.parent), epochs=2, out=tmp_path / "run")
    )
    (calls,) = watched
    assert (True, True, torch.bfloat16) in calls  # it did train under bf16 autocast
    assert all(not on for training, on, _ in calls if not training)  # scored in fp32
    monkeypatch.undo()  # a later evaluate on this CPU: fp32, as it always is here
    again = evaluate_checkpoint(run.run_dir, str(fer_csv.parent), split="test")
    assert again["n_items"] == run.metrics["n_items"] == 7
    assert again["loss"] == pytest.approx(run.metrics["loss"], rel=1e-6, abs=0)
    assert again["confusion"] == run.metrics["confusion"]


def test_scoring_turns_tf32_off_and_back_on():
    from training.data import TensorSet
    from training.metrics import predict_proba

    flags = (torch.backends.cudnn.conv, torch.backends.cudnn.rnn, torch.backends.cuda.matmul)
    before = [f.fp32_precision for f in flags]
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    inside = []
    model.register_forward_hook(lambda m, i, o: inside.append([f.fp32_precision for f in flags]))
    probs, loss = predict_proba(model, TensorSet(torch.rand(5, 1, 2, 2), torch.arange(5) % 3))
    assert inside == [["ieee"] * 3] and probs.shape == (5, 3)
    assert [f.fp32_precision for f in flags] == before


def test_fp16_with_a_grad_scaler_trains_on_the_cpu(tmp_path, monkeypatch):
    """The path of GPUs without native bf16 (before Ampere), forced here."""
    from test_training import face_meta, pattern_faces

    from models import FACE_PRESETS, FaceCNN
    from training.fit import FitConfig, fit

    force_amp(monkeypatch, torch.float16)
    torch.manual_seed(0)
    model = FaceCNN(FACE_PRESETS["quick"])
    before = [p.detach().clone() for p in model.parameters()]
    calls = watch_training_autocast(model)
    steps: list[float] = []
    scale = torch.amp.GradScaler.scale
    monkeypatch.setattr(
        torch.amp.GradScaler,
        "scale",
        lambda self, loss: steps.append(self.get_scale()) or scale(self, loss),
    )
    result = fit(
        model,
        pattern_faces(4),  # 28 faces: 4 batches of 8
        pattern_faces(1, seed=1),
        FitConfig(epochs=2, batch_size=8, lr=1e-3),
        meta=face_meta(),
        out_dir=tmp_path,
    )
    assert (True, True, torch.float16) in calls
    # Every loss went through an enabled scaler: it starts at 2**16 (a disabled one says 1).
    assert len(steps) == 8 and steps[0] == 2.0**16 and min(steps) > 1
    for record in result.history:
        assert torch.isfinite(torch.tensor([record["train_loss"], record["val_loss"]])).all()
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["scaler"]
    assert saved is not None and saved["_growth_tracker"] >= 1  # it stepped, scaled
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_deterministic_turns_deterministic_kernels_on_for_the_run_only(
    fer_csv, tmp_path, capsys
):
    import workbench
    from training.callbacks import Callback
    from training.train import TrainOptions, train_model

    class Watch(Callback):
        seen: list = []

        def on_batch_end(self, info):
            cudnn = torch.backends.cudnn
            self.seen.append(
                (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic)
            )

    opts = TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, deterministic=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_model(opts, callbacks=[Watch()])
    assert Watch.seen and set(Watch.seen) == {(True, False, True)}
    assert not [w for w in caught if "deterministic" in str(w.message)]  # none lacks one here
    assert not torch.are_deterministic_algorithms_enabled()  # put back afterwards

    run = tmp_path / "run"
    args = ["train", "face", "--data", str(fer_csv.parent), "--epochs", "1", "--out", str(run)]
    assert workbench.main([*args, "--deterministic"]) == 0
    assert json.loads((run / "config.json").read_text())["fit"]["deterministic"] is True
    assert workbench.main(["train", "face", "--resume", str(run), "--epochs", "2"]) == 0
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["fit_config"]["deterministic"] is True
    capsys.readouterr()
