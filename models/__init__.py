"""The networks: FaceCNN, SpeechCNN (fusion models join them later).

``build_model(kind, config)`` rebuilds a network from a checkpoint's saved config dict.
"""

from __future__ import annotations

from torch import nn

from .face import FACE_PRESETS, FaceCNN, FaceCNNConfig
from .speech import SPEECH_PRESETS, SpeechCNN, SpeechCNNConfig

MODELS = {"face": (FaceCNN, FaceCNNConfig), "speech": (SpeechCNN, SpeechCNNConfig)}
PRESETS = {"face": FACE_PRESETS, "speech": SPEECH_PRESETS}


def build_model(kind: str, config: dict) -> nn.Module:
    """The ``kind`` network ("face" or "speech") built from a ``config.to_dict()`` dict."""
    cls, config_cls = MODELS[kind]
    return cls(config_cls.from_dict(config))


__all__ = [
    "FACE_PRESETS",
    "MODELS",
    "PRESETS",
    "SPEECH_PRESETS",
    "FaceCNN",
    "FaceCNNConfig",
    "SpeechCNN",
    "SpeechCNNConfig",
    "build_model",
]
