"""Exported ONNX models in the prediction path: ``load_onnx("face.onnx")`` reads the graph
and its sidecar (``face.json``, see ``training.onnx_export``) and returns a ``LoadedModel``
whose ``model`` is an ``OnnxNetwork``: called like the PyTorch network in ``predict`` it runs
ONNX Runtime and returns log-probabilities, so ``softmax`` of them gives the graph's answer.

Speech and fusion graphs compute their own features, so they take the analysis windows
(``takes_windows``; ``training.predict.speech_input`` gives them those). Only prediction
runs them: explanations, evaluation and training need the PyTorch model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from datasets.errors import WorkbenchError, describe

from .checkpoint import KIND_WORDS, LoadedModel, wrong_kind
from .onnx_export import SIDECAR_FORMAT, session, sidecar_path


def is_onnx(path: str | Path | None) -> bool:
    return path is not None and Path(path).suffix.lower() == ".onnx"


class OnnxNetwork:
    """An exported graph behind the PyTorch network's calling convention (eval mode)."""

    training = False

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        try:
            self.session = session(path)
        except Exception as exc:  # onnxruntime raises its own classes for a damaged file
            raise WorkbenchError(
                f"{describe(path)} is not a readable ONNX model ({exc.__class__.__name__}); "
                "export it again with 'workbench.py export RUN OUT.onnx'."
            ) from None
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}
        self.takes_windows = kind in ("speech", "fusion")

    def eval(self) -> OnnxNetwork:
        return self

    def __call__(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, n_classes) log-probabilities for the graph's input(s): a tensor for a face
        or speech graph, the fusion dict (``faces``, ``found``, ``window``) for a fusion one."""
        if isinstance(x, dict):
            feeds = {name: _array(x[name], kind) for name, kind in self.inputs.items()}
        else:
            ((name, kind),) = self.inputs.items()
            feeds = {name: _array(x, kind)}
        probs = self.session.run(["probabilities"], feeds)[0]
        return torch.log(torch.from_numpy(probs).float().clamp_min(1e-12))


def _array(x: torch.Tensor, onnx_type: str) -> np.ndarray:
    dtype = np.bool_ if onnx_type == "tensor(bool)" else np.float32
    return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=dtype)


def read_sidecar(path: str | Path) -> dict:
    """The sidecar beside the ONNX file ``path``, checked to be one the workbench wrote."""
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"{describe(path)} does not exist; check the path.")
    side = sidecar_path(path)
    try:
        sidecar = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkbenchError(
            f"{describe(path)} has no sidecar {side.name} beside it (class names and "
            "preprocessing); keep the two files together or export the model again."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(
            f"The sidecar {describe(side)} cannot be read ({exc.__class__.__name__}); export "
            "the model again."
        ) from None
    ok = (
        isinstance(sidecar, dict)
        and sidecar.get("format") == SIDECAR_FORMAT
        and sidecar.get("kind") in KIND_WORDS
        and isinstance(sidecar.get("classes"), list)
        and isinstance(sidecar.get("workbench"), dict)
    )
    if not ok:
        raise WorkbenchError(
            f"{describe(side)} is not an Emotion Workbench ONNX sidecar; export the model "
            "again with 'workbench.py export RUN OUT.onnx'."
        )
    return sidecar


def onnx_kind(path: str | Path) -> str:
    """The model kind ("face", "speech", "fusion") of an exported graph, from its sidecar."""
    return read_sidecar(path)["kind"]


def load_onnx(path: str | Path, *, kind: str | None = None, purpose: str = "") -> LoadedModel:
    """The exported graph at ``path`` with its sidecar, as a ``LoadedModel``; with ``kind``,
    any other kind is refused (``purpose`` words the refusal, as ``load_checkpoint`` does)."""
    path = Path(path).expanduser()
    sidecar = read_sidecar(path)
    if kind is not None and sidecar["kind"] != kind:
        raise wrong_kind(path, sidecar["kind"], kind, purpose, "model")
    wb = sidecar["workbench"]
    return LoadedModel(
        model=OnnxNetwork(path, sidecar["kind"]),
        kind=sidecar["kind"],
        classes=tuple(sidecar["classes"]),
        preprocessing=wb.get("preprocessing", {}),
        path=path,
        payload={
            "kind": sidecar["kind"],
            "classes": sidecar["classes"],
            "model_config": wb.get("model_config", {}),
            "split": wb.get("split", {}),
            "onnx": sidecar,
        },
    )


def refuse_onnx(path: str | Path | None, what: str, why: str = "") -> None:
    """One sentence for a command (``what``) that needs the PyTorch model (``why``)."""
    if is_onnx(path):
        raise WorkbenchError(
            f"{describe(path)} is an ONNX model, which {what} cannot use{why} (only predict "
            "runs ONNX models); pass the run folder or .pt checkpoint it was exported from."
        )
