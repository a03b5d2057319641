"""FaceCNN: a VGG-style network for 48x48 grayscale faces (FER-2013's seven emotions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigDict
from .layers import Classifier, embedding_layers, vgg_block


@dataclass
class FaceCNNConfig(ConfigDict):
    """Shape of a ``FaceCNN``; saved inside every checkpoint so it can be rebuilt exactly.

    ``channels`` gives one VGG block per entry (each halves the 48x48 input);
    ``convs_per_block`` 3x3 convolutions with batch norm and ReLU sit in each block.
    """

    n_classes: int = 7
    channels: tuple[int, ...] = (32, 64, 128, 256)
    convs_per_block: int = 2
    embed_dim: int = 256
    dropout: float = 0.4
    block_dropout: float = 0.1


# Presets: ``quick`` trains the demo in about a minute on a 2-core classroom CPU;
# ``full`` is the VGG-style network to train on real FER-2013 on a GPU.
FACE_PRESETS: dict[str, FaceCNNConfig] = {
    # Channel dropout costs a network this narrow most of its early learning (demo faces
    # after 2 epochs: 32% with 0.1, 70% without), so quick relies on the head's dropout.
    "quick": FaceCNNConfig(
        channels=(16, 32, 64), convs_per_block=1, embed_dim=128, dropout=0.3, block_dropout=0.0
    ),
    # The starter model's network: VGG-style, 1.24 M parameters (5 MB), about 200
    # training images/s on a 2-core CPU, so 30 epochs of FER-2013 fit a CPU afternoon.
    "full": FaceCNNConfig(
        channels=(32, 64, 128, 256), convs_per_block=2, embed_dim=256, block_dropout=0.05
    ),
}


# Test-time augmentation: in evaluation a face is classified from ten views, the face and
# its mirror image, each as it is and moved 2 px left, right, up and down, and their
# probabilities are averaged. bench/face_tta.py, starter model, FER-2013 validation: on a
# 2,000-image slice 71.05% against 69.75% for the face alone (best of five view sets
# tried there); confirmed on the other 872 validation images: 71.22% against 68.46%.
TEST_SHIFTS = ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2))  # (dx, dy) pixels


def shift_faces(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """(B, C, H, W) moved right by ``dx`` and down by ``dy`` pixels, edges replicated."""
    if dx == dy == 0:
        return x
    h, w = x.shape[-2:]
    p = max(abs(dx), abs(dy))
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    return padded[..., p - dy : p - dy + h, p - dx : p - dx + w]


def tta_views(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) faces → (V, B, C, H, W): each shift of ``TEST_SHIFTS``, then mirrored.

    The shifts are symmetric left-right, so a mirrored face has the same ten views."""
    shifted = [shift_faces(x, dx, dy) for dx, dy in TEST_SHIFTS]
    return torch.stack(shifted + [v.flip(-1) for v in shifted])


class FaceCNN(Classifier):
    """(B, 1, 48, 48) faces scaled to [0, 1] → (B, n_classes) logits.

    In evaluation mode (and with ``test_views`` on, the default) the output is the log of
    the probabilities averaged over ``tta_views`` of each face, so ``softmax`` of it gives
    them; in training mode, and inside ``single_view``, it is the plain logits.
    """

    kind = "face"

    def __init__(self, config: FaceCNNConfig = FaceCNNConfig()) -> None:
        super().__init__()
        self.config = config
        blocks, c_in = [], 1
        for c in config.channels:
            blocks.append(vgg_block(c_in, c, config.convs_per_block, config.block_dropout))
            c_in = c
        self.features = nn.Sequential(*blocks)
        # Global average pooling keeps the head small whatever the depth, so the full
        # preset still fits a < 10 MB starter model.
        self.embed = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (B, C)
            *embedding_layers(c_in, config.embed_dim),
        )
        self._make_head()
        self.test_views = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.test_views:
            return self.head(self.encode(x))
        views = tta_views(x)  # (V, B, 1, H, W)
        v, b = views.shape[:2]
        logits = self.head(self.encode(views.flatten(0, 1)))  # (V * B, n_classes)
        probs = torch.softmax(logits.float(), dim=1).view(v, b, -1).mean(0)
        return torch.log(probs.clamp_min(1e-12))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 48, 48) → (B, embed_dim) face embedding (used by the fusion models)."""
        # Centre the [0, 1] pixels so the first convolution starts from a sensible scale.
        return self.embed(self.features((x - 0.5) / 0.25))


@contextmanager
def single_view(model: nn.Module) -> Iterator[nn.Module]:
    """Within, every ``FaceCNN`` in ``model`` classifies a face from itself alone (one
    view, a tenth of the work: training's per-epoch validation uses this)."""
    faces = [m for m in model.modules() if isinstance(m, FaceCNN)]
    saved = [m.test_views for m in faces]
    for m in faces:
        m.test_views = False
    try:
        yield model
    finally:
        for m, on in zip(faces, saved):
            m.test_views = on
