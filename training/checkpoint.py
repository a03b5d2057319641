"""Checkpoints that rebuild exactly what was trained — and can never run code.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts:
weights, the model config, the class names, the preprocessing parameters and, in
``last.pt``, the optimiser and random-number state needed to resume. Loading uses
``torch.load(..., weights_only=True)``, which refuses anything else (a pickle that
would execute code included).
"""

from __future__ import annotations

import math
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from datasets.errors import WorkbenchError, describe, require_readable, write_atomically
from models import MODELS, build_model

FORMAT = "emotion-workbench-checkpoint"
VERSION = 1
KIND_WORDS = {"face": "face (image)", "speech": "speech (audio)", "fusion": "fusion (video)"}


def save_checkpoint(path: str | Path, model: nn.Module, *, meta: dict, **extra) -> None:
    """Write ``model``'s weights with ``meta`` (kind, model_config, classes, preprocessing)
    and any ``extra`` entries (epoch, metrics, optimiser state…) atomically to ``path``."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, **meta, "state_dict": state, **extra}
    # A crash or a full disk mid-write never leaves a half-written best.pt.
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


@dataclass
class LoadedModel:
    """A checkpoint's network (in eval mode, on the CPU) and what it needs for prediction."""

    model: nn.Module
    kind: str
    classes: tuple[str, ...]
    preprocessing: dict
    path: Path
    payload: dict


def resolve_checkpoint(path: str | Path) -> Path:
    """``best.pt`` inside a run folder, or the given ``.pt`` file itself."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WorkbenchError(
            f"{describe(path)} does not exist; pass a run folder from runs/ or a .pt checkpoint."
        )
    if path.is_dir():
        best = path / "best.pt"
        if not best.is_file():
            raise WorkbenchError(
                f"{describe(path)} holds no best.pt; pass a run folder that finished at least "
                "one epoch, or a .pt checkpoint."
            )
        return best
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict at ``path`` (a run folder or a file), checked to be ours."""
    path = require_readable(resolve_checkpoint(require_readable(path)))
    if path.suffix.lower() == ".onnx":  # predict runs these through training.onnx_model
        raise WorkbenchError(
            f"{describe(path)} is an ONNX model, which only predict can run; pass the run "
            "folder or .pt checkpoint it was exported from."
        )
    try:
        with warnings.catch_warnings():  # garbage bytes can trigger unpickler warnings
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" in str(exc).lower() or _builds_objects(path):
            # weights_only refused an object it does not know: possibly code to execute.
            raise WorkbenchError(
                f"{describe(path)} was refused because it holds Python objects that could run "
                "code when loaded (not only weights); use a best.pt written by the workbench."
            ) from exc
        raise _unreadable(path) from exc
    except Exception as exc:
        # Garbage bytes make the unpickler fail in many ways (IndexError, KeyError, …).
        raise _unreadable(path) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WorkbenchError(
            f"{describe(path)} is not an Emotion Workbench checkpoint; use a best.pt from a "
            "run folder or a model in pretrained/."
        )
    if not isinstance(payload.get("kind"), str) or payload["kind"] not in MODELS:
        raise WorkbenchError(
            f"{describe(path)} holds a {payload.get('kind')!r} model, which this version of the "
            "workbench cannot load; update the workbench or train the model again."
        )
    wrong = [k for k, kind in REQUIRED.items() if not isinstance(payload.get(k), kind)]
    wrong += [
        k for k in OPTIONAL if payload.get(k) is not None and not isinstance(payload[k], dict)
    ]
    if wrong or not all(isinstance(c, str) for c in payload["classes"]):
        raise WorkbenchError(
            f"{describe(path)} lacks a valid {', '.join(wrong) or 'classes'} entry, so it is "
            "damaged or was not written by the workbench; train the model again."
        )
    return payload


# What every checkpoint holds besides ``format`` and ``kind``.
REQUIRED = {"model_config": dict, "state_dict": dict, "classes": list}
# What some checkpoints hold, read as dicts when there.
OPTIONAL = ("preprocessing", "split")


def _builds_objects(path: Path) -> bool:
    """Whether ``path`` is a plain pickle (not PyTorch's zip format) that would build
    Python objects (a global and a call) when loaded: how a crafted file runs code. Read
    with ``pickletools``, which only lists the instructions and runs none."""
    import pickletools
    import zipfile

    if zipfile.is_zipfile(path):
        return False
    try:
        with open(path, "rb") as f:
            ops = {op.name for op, _arg, _pos in pickletools.genops(f)}
    except Exception:
        return False  # not a pickle at all: garbage
    return bool(ops & {"GLOBAL", "STACK_GLOBAL", "INST"}) and bool(
        ops & {"REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "INST"}
    )


def _unreadable(path: Path) -> WorkbenchError:
    return WorkbenchError(
        f"{describe(path)} is not a readable PyTorch checkpoint (corrupt or another kind of "
        "file); use a best.pt from a run folder."
    )


def _numbers(value) -> tuple[int, bool]:
    """The largest whole number anywhere in ``value`` (dicts and lists looked into), and
    whether every number in it is finite."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        found = [_numbers(v) for v in value]
        return max((n for n, _ in found), default=0), all(ok for _, ok in found)
    if isinstance(value, float):
        return 0, math.isfinite(value)
    return (value if isinstance(value, int) else 0), True


def damaged_weights(stored: dict, expected: dict) -> str | None:
    """What is wrong with a checkpoint's tensors ``stored`` against the network's own
    ``expected`` (name → tensor, e.g. on the meta device), shapes already matching: whole
    numbers or true/false where learned numbers belong, or NaN / infinite values. None
    when they can be loaded as they are."""
    for name, want in expected.items():
        got = stored[name]
        if want.is_floating_point() and not got.is_floating_point():
            return f"{str(got.dtype).removeprefix('torch.')} values where weights belong ({name})"
        if got.is_floating_point() and not torch.isfinite(got).all():
            return f"NaN or infinite weights ({name})"
    return None


def wrong_kind(path: Path, found: str, kind: str, purpose: str, what: str) -> WorkbenchError:
    """The sentence for a model of kind ``found`` where a ``kind`` one is needed (``purpose``
    says for what, e.g. "an image"; ``what`` names what to pass instead)."""
    need = f" for {purpose}" if purpose else ""
    return WorkbenchError(
        f"{describe(path)} is a {KIND_WORDS[found]} model, but a "
        f"{KIND_WORDS.get(kind, kind)} model is needed{need}; pass a {kind} {what}."
    )


def load_checkpoint(
    path: str | Path, *, kind: str | None = None, purpose: str = "", payload: dict | None = None
) -> LoadedModel:
    """Rebuild the network saved at ``path``; with ``kind``, refuse any other kind of model.

    ``purpose`` words the refusal, e.g. ``purpose="an image"``; ``payload`` is the file's
    ``read_checkpoint`` when the caller has read it already.
    """
    payload = payload if payload is not None else read_checkpoint(path)
    path = resolve_checkpoint(path)
    if kind is not None and payload["kind"] != kind:
        raise wrong_kind(path, payload["kind"], kind, purpose, "run or checkpoint")
    mismatch = WorkbenchError(
        f"{describe(path)} does not match its own model settings (it may come from another "
        "version of the workbench); train the model again."
    )
    stored = payload["state_dict"]
    largest, finite = _numbers(payload["model_config"])
    if not finite or largest > sum(
        v.numel() for v in stored.values() if isinstance(v, torch.Tensor)
    ):
        # No size in a network's settings exceeds its count of weights: a larger one (a
        # layer count of 10**30) would take forever to build, even without memory. A NaN
        # (a dropout rate) would only fail once the network runs.
        raise mismatch
    try:
        # First without memory (the "meta" device): settings that claim a giant network
        # beside small stored weights are refused before anything is built.
        with torch.device("meta"):
            meta_model = build_model(payload["kind"], payload["model_config"])
        shapes = meta_model.state_dict()
        if set(shapes) != set(stored) or any(
            not isinstance(stored[k], torch.Tensor) or stored[k].shape != v.shape
            for k, v in shapes.items()
        ):
            raise mismatch
        n_outputs = meta_model.config.n_classes
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise mismatch from exc
    classes = payload["classes"]
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if len(classes) != n_outputs or twice:
        what = (
            f"names the class {twice[0]!r} twice"
            if twice
            else f"names {len(classes)} classes for a network with {n_outputs} outputs"
        )
        raise WorkbenchError(
            f"{describe(path)} {what}, so its answers cannot be labelled; train the model "
            "again or use another checkpoint."
        )
    if problem := damaged_weights(stored, shapes):
        raise WorkbenchError(
            f"{describe(path)} holds {problem}, so its answers would be meaningless; train "
            "the model again or use another checkpoint."
        )
    try:
        model = build_model(payload["kind"], payload["model_config"])
        model.load_state_dict(stored)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise mismatch from exc
    model.eval()
    return LoadedModel(
        model=model,
        kind=payload["kind"],
        classes=tuple(payload["classes"]),
        preprocessing=payload.get("preprocessing", {}),
        path=path,
        payload=payload,
    )
