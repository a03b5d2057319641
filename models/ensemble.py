"""An ensemble: several trained networks of one kind whose probabilities are averaged.

The speech starter is the six models of an actor-wise cross-validation together: each
learned from 15 of the 18 RAVDESS actors (12 to train, 3 to pick its epoch), so between
them they have heard every actor, and each was scored on 3 actors it never heard — the
cross-validated estimate on the card. ``Ensemble`` runs them all on the same input and
returns the log of their mean softmax, so ``softmax`` of its output gives the averaged
probabilities and it scores and predicts like any single network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .config import ConfigDict


@dataclass
class EnsembleConfig(ConfigDict):
    variant: str = "ensemble"
    member_kind: str = "speech"  # the kind every member is ("face" or "speech")
    members: list = field(default_factory=list)  # each member's own config dict
    n_classes: int = 8


class Ensemble(nn.Module):
    """The members' input → (B, n_classes) log of the mean of their probabilities."""

    def __init__(self, config: EnsembleConfig, build) -> None:
        super().__init__()
        if config.variant != "ensemble" or not config.members:
            raise ValueError("an ensemble needs at least one member config")
        self.config = config
        self.members = nn.ModuleList(build(config.member_kind, m) for m in config.members)
        sizes = {m.get("n_classes") for m in config.members}
        if sizes != {config.n_classes}:
            raise ValueError(f"ensemble members answer {sizes} classes, not {config.n_classes}")

    def member_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(M, B, n_classes): each member's probabilities, for showing how far they agree."""
        return torch.stack([torch.softmax(m(x).float(), dim=1) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.member_probabilities(x).mean(0)
        return torch.log(mean.clamp_min(1e-12))
