"""The networks: FaceCNN, SpeechCNN and FusionNet (both encoders, joined).

``build_model(kind, config)`` rebuilds a network from a checkpoint's saved config dict.
"""

from __future__ import annotations

from torch import nn

from .face import FACE_PRESETS, FaceCNN, FaceCNNConfig
from .fusion import FUSION_VARIANTS, FusionNet, FusionNetConfig
from .speech import SPEECH_PRESETS, SpeechCNN, SpeechCNNConfig

MODELS = {
    "face": (FaceCNN, FaceCNNConfig),
    "speech": (SpeechCNN, SpeechCNNConfig),
    "fusion": (FusionNet, FusionNetConfig),
}
PRESETS = {"face": FACE_PRESETS, "speech": SPEECH_PRESETS}


def build_model(kind: str, config: dict) -> nn.Module:
    """The ``kind`` network ("face", "speech" or "fusion") built from a ``config.to_dict()``
    dict."""
    cls, config_cls = MODELS[kind]
    return cls(config_cls.from_dict(config))


__all__ = [
    "FACE_PRESETS",
    "FUSION_VARIANTS",
    "MODELS",
    "PRESETS",
    "SPEECH_PRESETS",
    "FaceCNN",
    "FaceCNNConfig",
    "FusionNet",
    "FusionNetConfig",
    "SpeechCNN",
    "SpeechCNNConfig",
    "build_model",
]
