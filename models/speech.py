"""SpeechCNN: a 2-D CNN on log-mel spectrograms (RAVDESS's eight emotions), with an
MFCC + GRU variant after Song, Cai & Tan (2021)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ConfigDict
from .layers import Classifier, embedding_layers, run_in_fp32, vgg_block


@dataclass
class SpeechCNNConfig(ConfigDict):
    """Shape of a ``SpeechCNN``; saved inside every checkpoint.

    ``variant`` is ``"cnn"`` (2-D convolutions over the (n_bins, frames) spectrogram) or
    ``"gru"`` (a GRU over the frames, each frame's ``n_bins`` coefficients as input).
    ``input_mean`` / ``input_std`` standardise the absolute-dB features; training sets them
    from the training split so prediction applies exactly the same scaling.
    """

    n_classes: int = 8
    n_bins: int = 64
    variant: str = "cnn"
    channels: tuple[int, ...] = (32, 64, 128, 128)
    convs_per_block: int = 1
    gru_hidden: int = 128
    gru_layers: int = 3
    embed_dim: int = 128
    dropout: float = 0.4
    block_dropout: float = 0.1
    input_mean: float = 0.0
    input_std: float = 1.0


SPEECH_PRESETS: dict[str, SpeechCNNConfig] = {
    "quick": SpeechCNNConfig(
        channels=(16, 32, 64, 64), embed_dim=96, dropout=0.3, block_dropout=0.0
    ),
    # The starter model's network (the defaults above, 0.37 M parameters). The earlier
    # (32, 64, 128, 256) x 2 network trained 3.7x slower on a CPU (9 vs 33 clips/s).
    "full": SpeechCNNConfig(),
}


class SpeechCNN(Classifier):
    """(B, 1, n_bins, T) log-mel or MFCC features in dB → (B, n_classes) logits.

    Any number of frames T works: the CNN pools over time at the end and the GRU reads
    the whole sequence, so long recordings need no resizing.
    """

    kind = "speech"

    def __init__(self, config: SpeechCNNConfig = SpeechCNNConfig()) -> None:
        super().__init__()
        if config.variant not in ("cnn", "gru"):
            raise ValueError(f"unknown SpeechCNN variant {config.variant!r}; use 'cnn' or 'gru'")
        self.config = config
        if config.variant == "cnn":
            blocks, c_in = [], 1
            for c in config.channels:
                blocks.append(vgg_block(c_in, c, config.convs_per_block, config.block_dropout))
                c_in = c
            self.features = nn.Sequential(*blocks)
            # Frequency positions are kept (flattened into channels): where the energy sits
            # (pitch, formants) is an emotion cue that frequency pooling would throw away.
            width = 2 * c_in * (config.n_bins >> len(config.channels))  # mean and max over time
        else:
            self.gru = nn.GRU(
                config.n_bins,
                config.gru_hidden,
                num_layers=config.gru_layers,
                batch_first=True,
                dropout=config.block_dropout if config.gru_layers > 1 else 0.0,
            )
            width = config.gru_hidden
        self.embed = nn.Sequential(*embedding_layers(width, config.embed_dim))
        self._make_head()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, n_bins, T) → (B, embed_dim) speech embedding (used by the fusion models)."""
        x = (x - self.config.input_mean) / self.config.input_std
        if self.config.variant == "cnn":
            h = self.features(x)  # (B, C, F', T')
            h = h.flatten(1, 2)  # (B, C * F', T')
            h = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2 C F')
        else:
            seq = x.squeeze(1).transpose(1, 2)  # (B, T, n_bins)
            _, last = run_in_fp32(self.gru, seq)  # (layers, B, hidden), fp32
            h = last[-1]
        return self.embed(h)
