"""Building blocks the face and speech networks share."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation


def vgg_block(c_in: int, c_out: int, n_convs: int, dropout: float) -> nn.Sequential:
    """``n_convs`` 3x3 conv-BN-ReLU layers, a 2x2 max-pool, then optional channel dropout."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        # torchvision's conv-BN-ReLU (no conv bias before the norm), its three layers laid
        # into this block, so the parameter names stay those of the shipped checkpoints.
        layers += Conv2dNormActivation(c_in if i == 0 else c_out, c_out, kernel_size=3)
    layers.append(nn.MaxPool2d(2))
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


def run_in_fp32(module: nn.Module, *inputs: torch.Tensor):
    """``module(*inputs)`` in full precision, outside any autocast region.

    For recurrent layers under mixed precision: CUDA autocast runs cuDNN's GRU in fp16
    even in a bf16 region, where no GradScaler guards its gradients. Floating-point inputs
    are cast to fp32, so the layer computes and returns fp32 whatever surrounds it.
    """
    device_type = inputs[0].device.type
    with torch.autocast(device_type, enabled=False):
        return module(*(t.float() if t.is_floating_point() else t for t in inputs))


def embedding_layers(width: int, embed_dim: int) -> list[nn.Module]:
    """Linear → BN → ReLU from ``width`` features to the ``embed_dim`` embedding."""
    return [nn.Linear(width, embed_dim, bias=False), nn.BatchNorm1d(embed_dim), nn.ReLU(True)]


class Classifier(nn.Module):
    """A network made of ``encode()`` (inputs → embedding) and a dropout + linear head.

    Subclasses set ``self.config`` (with ``embed_dim``, ``dropout``, ``n_classes``) and
    implement ``encode``; the fusion models reuse ``encode`` of trained networks.
    """

    def _make_head(self) -> None:
        c = self.config
        self.head = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(c.embed_dim, c.n_classes))

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))
