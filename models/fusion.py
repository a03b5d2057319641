"""FusionNet: a face encoder over frames and a speech encoder, joined by concatenation.

The variants are designs from the papers the project is built on, chosen by name:

- ``concat``: face and speech features in a 4:1 length ratio, concatenated (Ristea, Duțu
  & Radoi 2019);
- ``equalized``: both projected to the same length first (Goswami, Aggarwal & Yalamanchi
  2018, architecture 3);
- ``probe``: ``equalized`` plus one small classifier per modality whose losses train each
  branch to be useful on its own (Goswami, Aggarwal & Yalamanchi 2018, architecture 4).

Two single-modality variants, ``face`` and ``speech``, keep one branch and the same head;
they are the baselines every fusion is compared with (same data, split and training), and
the two halves of late fusion (``models/late.py``).

Each branch is a ``FaceCNN`` / ``SpeechCNN`` encoder (``encode()``), started from scratch
or from trained checkpoints (``load_branches``). Faces are encoded frame by frame and
pooled over the frames where a face was found (mean, or a GRU over the frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .config import ConfigDict
from .face import FACE_PRESETS, FaceCNN, FaceCNNConfig
from .layers import run_in_fp32
from .speech import SPEECH_PRESETS, SpeechCNN, SpeechCNNConfig

FUSION_VARIANTS = ("concat", "equalized", "probe")
SINGLE_VARIANTS = ("face", "speech")  # one modality: the baselines
FRAME_POOLING = ("mean", "gru")


@dataclass
class FusionNetConfig(ConfigDict):
    variant: str = "concat"
    face: dict = field(default_factory=lambda: FACE_PRESETS["quick"].to_dict())
    speech: dict = field(default_factory=lambda: SPEECH_PRESETS["quick"].to_dict())
    frame_pooling: str = "mean"
    joint_dim: int = 160  # length of the concatenated feature (split 4:1 or 1:1)
    hidden: int = 128  # the first of the two fully connected layers
    n_classes: int = 8
    dropout: float = 0.3
    aux_weight: float = 0.5  # probe: weight of each per-modality auxiliary loss


def _project(width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, out, bias=False), nn.BatchNorm1d(out), nn.ReLU(True))


class FusionNet(nn.Module):
    """``{"faces": (B, F, 1, 48, 48) in [0, 1], "found": (B, F) bool,
    "features": (B, 1, n_bins, T)}`` → (B, n_classes) logits."""

    def __init__(self, config: FusionNetConfig = FusionNetConfig()) -> None:
        super().__init__()
        if config.variant not in FUSION_VARIANTS + SINGLE_VARIANTS:
            raise ValueError(f"unknown fusion variant {config.variant!r}")
        if config.frame_pooling not in FRAME_POOLING:
            raise ValueError(f"unknown frame pooling {config.frame_pooling!r}")
        self.config = config
        if config.variant == "concat":
            face_len = config.joint_dim * 4 // 5  # face:audio length 4:1, as Ristea et al.
        elif config.variant == "face":
            face_len = config.joint_dim
        elif config.variant == "speech":
            face_len = 0
        else:
            face_len = config.joint_dim // 2
        speech_len = config.joint_dim - face_len
        self.face = self.speech = self.frames = self.face_proj = self.speech_proj = None
        if face_len:
            self.face = FaceCNN(FaceCNNConfig.from_dict(config.face))
            ef = self.face.embed_dim
            if config.frame_pooling == "gru":
                self.frames = nn.GRU(ef, ef, batch_first=True)
            self.face_proj = _project(ef, face_len)
        if speech_len:
            self.speech = SpeechCNN(SpeechCNNConfig.from_dict(config.speech))
            self.speech_proj = _project(self.speech.embed_dim, speech_len)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            *_project(face_len + speech_len, config.hidden),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.n_classes),
        )
        if config.variant == "probe":  # per-modality classifiers for the auxiliary losses
            self.face_probe = nn.Linear(face_len, config.n_classes)
            self.speech_probe = nn.Linear(speech_len, config.n_classes)

    def encode_faces(self, faces: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
        """(B, F, 1, 48, 48), (B, F) → (B, face embed_dim), pooled over found frames."""
        b, f = found.shape
        per_frame = self.face.encode(faces.reshape(b * f, *faces.shape[2:])).reshape(b, f, -1)
        weight = found.to(per_frame.dtype).unsqueeze(-1)  # (B, F, 1)
        if self.frames is not None:
            # Frames without a face enter the GRU as zeros, whatever their pixels were.
            # (B, F, E), fp32: each step sees the past
            per_frame, _ = run_in_fp32(self.frames, per_frame * weight)
        # A clip whose frames all lack a face gets a zero face feature, not a NaN.
        return (per_frame * weight).sum(1) / weight.sum(1).clamp(min=1.0)

    def forward_all(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The fused logits, plus each modality's probe logits (and the weight of their
        losses, ``aux_weight``) for the ``probe`` variant."""
        parts = []
        if self.face is not None:
            face = self.face_proj(self.encode_faces(batch["faces"], batch["found"]))
            parts.append(face)
        if self.speech is not None:
            speech = self.speech_proj(self.speech.encode(batch["features"]))
            parts.append(speech)
        out = {"logits": self.classifier(torch.cat(parts, dim=1))}
        if self.config.variant == "probe":
            out["face_logits"] = self.face_probe(face)
            out["speech_logits"] = self.speech_probe(speech)
            out["aux_weight"] = self.config.aux_weight
        return out

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.forward_all(batch)["logits"]

    def load_branches(
        self, face_state: dict | None = None, speech_state: dict | None = None
    ) -> None:
        """Start the encoders from trained ``FaceCNN`` / ``SpeechCNN`` weights (their heads,
        trained for other class lists, are not used)."""
        for branch, state in ((self.face, face_state), (self.speech, speech_state)):
            if state is not None and branch is not None:
                branch.load_state_dict(state)
