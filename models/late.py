"""Late fusion (Guo, Polanía & Barner 2020): a weighted average of two trained models'
probabilities.

``LateFusion`` holds a face-only and a speech-only ``FusionNet`` trained on the same
classes and averages their softmax outputs, ``weight`` for the face and ``1 - weight`` for
the speech; the weight is chosen on validation data (``training.late.search_weight``).
Its output is the log of the averaged probabilities, so ``softmax`` of it gives them back
and it trains, scores and predicts like any other model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .config import ConfigDict
from .fusion import FusionNet, FusionNetConfig


@dataclass
class LateFusionConfig(ConfigDict):
    variant: str = "late"
    face: dict = field(default_factory=lambda: FusionNetConfig(variant="face").to_dict())
    speech: dict = field(default_factory=lambda: FusionNetConfig(variant="speech").to_dict())
    weight: float = 0.5  # of the face model's probabilities
    n_classes: int = 8


class LateFusion(nn.Module):
    """The same batch dict as ``FusionNet`` → (B, n_classes) log-probabilities."""

    def __init__(self, config: LateFusionConfig = LateFusionConfig()) -> None:
        super().__init__()
        if not 0.0 <= config.weight <= 1.0:
            raise ValueError(f"late-fusion weight must lie in [0, 1], got {config.weight}")
        self.config = config
        self.face = FusionNet(FusionNetConfig.from_dict(config.face))
        self.speech = FusionNet(FusionNetConfig.from_dict(config.speech))

    def probabilities(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each model's (B, n_classes) probabilities."""
        return (
            torch.softmax(self.face(batch).float(), dim=1),
            torch.softmax(self.speech(batch).float(), dim=1),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        face, speech = self.probabilities(batch)
        w = self.config.weight
        return torch.log((w * face + (1 - w) * speech).clamp_min(1e-12))

    def forward_all(self, batch: dict[str, torch.Tensor]) -> dict:
        """For training: each member learns from its own loss alone (``main_weight`` 0
        keeps the averaged output from coupling them), exactly as if trained apart."""
        face, speech = self.face(batch), self.speech(batch)
        w = self.config.weight
        fused = w * torch.softmax(face.float(), 1) + (1 - w) * torch.softmax(speech.float(), 1)
        return {
            "logits": torch.log(fused.clamp_min(1e-12)),
            "face_logits": face,
            "speech_logits": speech,
            "aux_weight": 1.0,
            "main_weight": 0.0,
        }
