"""FaceCNN: a VGG-style network for 48x48 grayscale faces (FER-2013's seven emotions)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
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


class FaceCNN(Classifier):
    """(B, 1, 48, 48) faces scaled to [0, 1] → (B, n_classes) logits."""

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

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 48, 48) → (B, embed_dim) face embedding (used by the fusion models)."""
        # Centre the [0, 1] pixels so the first convolution starts from a sensible scale.
        return self.embed(self.features((x - 0.5) / 0.25))
