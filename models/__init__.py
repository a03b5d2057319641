"""The networks: FaceCNN, SpeechCNN, FusionNet (both encoders, joined) and LateFusion.

``build_model(kind, config)`` rebuilds a network from a checkpoint's saved config dict.
"""

from __future__ import annotations

from torch import nn

from .ensemble import Ensemble, EnsembleConfig
from .face import FACE_PRESETS, FaceCNN, FaceCNNConfig
from .fusion import FUSION_VARIANTS, SINGLE_VARIANTS, FusionNet, FusionNetConfig
from .late import LateFusion, LateFusionConfig
from .speech import SPEECH_PRESETS, SpeechCNN, SpeechCNNConfig

MODELS = {
    "face": (FaceCNN, FaceCNNConfig),
    "speech": (SpeechCNN, SpeechCNNConfig),
    "fusion": (FusionNet, FusionNetConfig),
}
PRESETS = {"face": FACE_PRESETS, "speech": SPEECH_PRESETS}


def build_model(kind: str, config: dict) -> nn.Module:
    """The ``kind`` network ("face", "speech" or "fusion") built from a ``config.to_dict()``
    dict; a fusion config whose variant is ``late`` builds a ``LateFusion``, and any config
    whose variant is ``ensemble`` an ``Ensemble`` of its members."""
    if config.get("variant") == "ensemble":
        return Ensemble(EnsembleConfig.from_dict(config), build_model)
    cls, config_cls = MODELS[kind]
    if kind == "fusion" and config.get("variant") == "late":
        cls, config_cls = LateFusion, LateFusionConfig
    return cls(config_cls.from_dict(config))


__all__ = [
    "Ensemble",
    "EnsembleConfig",
    "FACE_PRESETS",
    "FUSION_VARIANTS",
    "MODELS",
    "PRESETS",
    "SPEECH_PRESETS",
    "FaceCNN",
    "FaceCNNConfig",
    "FusionNet",
    "FusionNetConfig",
    "LateFusion",
    "LateFusionConfig",
    "SINGLE_VARIANTS",
    "SpeechCNN",
    "SpeechCNNConfig",
    "build_model",
]
