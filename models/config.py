"""What every model config shares: a round trip through the plain dict a checkpoint holds."""

from __future__ import annotations

from dataclasses import asdict, fields


class ConfigDict:
    """Mixin for config dataclasses: ``to_dict()`` gives JSON- and weights_only-safe values
    (tuples become lists), ``from_dict()`` turns them back."""

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> ConfigDict:
        tuples = {f.name for f in fields(cls) if str(f.type).startswith("tuple")}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in d.items()})
