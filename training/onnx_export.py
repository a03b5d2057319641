"""ONNX export: a trained model as one ONNX graph that computes what ``predict`` computes,
plus a JSON sidecar that says how to feed it.

``export_onnx(run_or_checkpoint, "face.onnx")`` writes ``face.onnx`` (opset ``OPSET``,
PyTorch's dynamo exporter with onnxscript) and ``face.json``. Each graph's output is
``probabilities`` (B, n_classes), the classes named in the sidecar:

- face: input ``face`` (B, 1, 48, 48) float32, the 48x48 grayscale crop's pixels / 255; the
  graph holds the ten-view test-time augmentation that ``predict`` uses (the face and its
  mirror image, each as it is and moved 2 px four ways, probabilities averaged);
- speech: input ``window`` (B, n_samples) float32, 16 kHz analysis windows (silence trimmed,
  level normalised, cut or padded to the window length, as the sidecar describes); the graph
  computes the log-mel (or MFCC) features itself; an ensemble's members are averaged inside;
- fusion: inputs ``faces`` (B, F, 1, 48, 48), ``found`` (B, F) bool and ``window`` (B,
  n_samples): one graph, so late fusion is its two members and their weight together (the
  weight is also in the sidecar).

Before anything is written, ONNX Runtime runs the graph on a few inputs and its
probabilities must match PyTorch's within ``TOLERANCE``; otherwise the export is refused and
no file is left.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from datasets.audio import (
    LEVEL_FRAME,
    LEVEL_GATE_DB,
    LEVEL_HOP,
    FeatureParams,
    feature_transform,
    trim_silence,
)
from datasets.errors import WorkbenchError, describe, write_atomically
from datasets.faces import CROP_MARGIN, CROP_SHIFT, SMALL_CROP

from . import wording
from .checkpoint import LoadedModel, load_checkpoint

OPSET = 18
TOLERANCE = 1e-4  # max |p_torch - p_onnx| the self-check accepts
SIDECAR_FORMAT = "emotion-workbench-onnx"
SIDECAR_VERSION = 1
FACE_SIDE = 48


class FaceGraph(nn.Module):
    """(B, 1, 48, 48) faces in [0, 1] → (B, n_classes) probabilities, test views included."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(face).float(), dim=1)


class SpeechGraph(nn.Module):
    """(B, n_samples) analysis windows → (B, n_classes) probabilities, features included."""

    def __init__(self, model: nn.Module, params: FeatureParams) -> None:
        super().__init__()
        self.model = model
        self.features = feature_transform(params)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(self.features(window).unsqueeze(1)).float(), dim=1)


class FusionGraph(nn.Module):
    """A clip's faces (B, F, 1, 48, 48), ``found`` (B, F) and sound window (B, n_samples) →
    (B, n_classes) probabilities (early fusion, or late fusion's weighted average)."""

    def __init__(self, model: nn.Module, params: FeatureParams) -> None:
        super().__init__()
        self.model = model
        self.features = feature_transform(params)

    def forward(self, faces: torch.Tensor, found: torch.Tensor, window: torch.Tensor):
        batch = {"faces": faces, "found": found, "features": self.features(window).unsqueeze(1)}
        return torch.softmax(self.model(batch).float(), dim=1)


def feature_params(loaded: LoadedModel) -> FeatureParams:
    return FeatureParams.from_dict(loaded.preprocessing["features"])


def sample_inputs(
    loaded: LoadedModel, batch: int = 3, seed: int = 0, frames: int = 0
) -> tuple[torch.Tensor, ...]:
    """Inputs for the export and its self-check: random faces in [0, 1]; for sound, speech-
    like noise at about the level prediction normalises to, with one silent window (the
    features' -100 dB floor) when the batch has room; a clip has ``frames`` frames (0: the
    model's own number, else 8)."""
    g = torch.Generator().manual_seed(seed)
    if loaded.kind == "face":
        return (torch.rand(batch, 1, FACE_SIDE, FACE_SIDE, generator=g),)
    n = feature_params(loaded).n_samples
    window = 0.07 * torch.randn(batch, n, generator=g) * torch.rand(batch, 1, generator=g)
    if batch > 2:
        window[-1] = 0.0
    if loaded.kind == "speech":
        return (window,)
    frames = frames or int(loaded.preprocessing.get("n_frames") or 8)
    faces = torch.rand(batch, frames, 1, FACE_SIDE, FACE_SIDE, generator=g)
    found = torch.rand(batch, frames, generator=g) > 0.3
    found[:, 0] = True
    if batch > 1:
        found[1] = False  # a clip without a face: a zero face feature, as in training
    return faces, found, window


INPUT_NAMES = {"face": ["face"], "speech": ["window"], "fusion": ["faces", "found", "window"]}


def graph_of(loaded: LoadedModel) -> nn.Module:
    """The module whose graph is exported for ``loaded`` (its network in eval mode)."""
    model = loaded.model.eval()
    if loaded.kind == "face":
        return FaceGraph(model).eval()
    params = feature_params(loaded)
    cls = SpeechGraph if loaded.kind == "speech" else FusionGraph
    return cls(model, params).eval()


def _dynamic_shapes(kind: str) -> tuple:
    batch = torch.export.Dim("batch", min=1, max=4096)
    if kind != "fusion":
        return ({0: batch},)
    frames = torch.export.Dim("frames", min=1, max=256)
    return ({0: batch, 1: frames}, {0: batch, 1: frames}, {0: batch})


def model_words(loaded: LoadedModel) -> str:
    """The exported network in words, for messages: "face", "late fusion"…"""
    variant = loaded.payload["model_config"].get("variant")
    if loaded.kind == "fusion":
        return f"{variant} fusion"
    return f"{loaded.kind} ({variant})" if variant else loaded.kind


def _refuse_unsupported(loaded: LoadedModel) -> None:
    """A fusion design whose graph the exporter cannot trace, refused before trying."""
    config = loaded.payload["model_config"]
    members = [config.get("face", {}), config.get("speech", {})]
    if loaded.kind == "fusion" and any(
        isinstance(m, dict) and m.get("frame_pooling") == "gru" for m in [config, *members]
    ):
        raise WorkbenchError(
            f"{describe(loaded.path)} pools a clip's frames with a GRU, which the ONNX export "
            "fixes to one number of frames; export a fusion run with mean frame pooling, or "
            "its face and speech models one by one."
        )


def _export_program(graph: nn.Module, inputs: tuple, kind: str):
    """PyTorch's dynamo exporter, its progress lines and warnings kept off the terminal."""
    quiet = io.StringIO()
    with (
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return torch.onnx.export(
            graph,
            inputs,
            dynamo=True,
            opset_version=OPSET,
            input_names=INPUT_NAMES[kind],
            output_names=["probabilities"],
            dynamic_shapes=_dynamic_shapes(kind),
            verbose=False,
        )


def session(path: str | Path, threads: int = 0):
    """An ONNX Runtime CPU session for the graph at ``path`` (``threads`` 0: its default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feeds(kind: str, inputs: tuple) -> dict[str, np.ndarray]:
    return {name: x.numpy() for name, x in zip(INPUT_NAMES[kind], inputs)}


def self_check(loaded: LoadedModel, graph: nn.Module, onnx_path: Path) -> float:
    """Max |p_torch - p_onnx| over three sets of sample inputs (batch sizes 3, 1 and 2, a
    clip's frames 8, 8 and 5, so neither is baked into the graph)."""
    sess = session(onnx_path)
    worst = 0.0
    for batch, seed, frames in ((3, 1, 8), (1, 2, 8), (2, 3, 5)):
        inputs = sample_inputs(loaded, batch, seed, frames)
        with torch.no_grad():
            expected = graph(*inputs).numpy()
        try:
            got = sess.run(["probabilities"], feeds(loaded.kind, inputs))[0]
        except Exception:  # onnxruntime's own errors: a shape the graph cannot take
            return float("inf")
        if got.shape != expected.shape or not np.isfinite(got).all():
            return float("inf")
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def _json_safe(value):
    """``value`` with what JSON cannot hold left out (tensors: a face model's training-image
    fingerprints stay in the .pt file)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _json_safe(v)
            if v is not _DROP:
                out[str(k)] = v
        return out
    if isinstance(value, list | tuple):
        return [v for v in (_json_safe(v) for v in value) if v is not _DROP]
    if isinstance(value, str | int | float | bool) or value is None:
        if isinstance(value, float) and not np.isfinite(value):
            return _DROP
        return value
    return _DROP


_DROP = object()


def preprocessing_of(loaded: LoadedModel) -> dict:
    """What a program must do before the graph, and what the graph already does."""
    out: dict = {}
    if loaded.kind in ("face", "fusion"):
        out["face"] = {
            "crop_size": FACE_SIDE,
            "channels": 1,
            "grayscale": "PIL convert('L') (ITU-R 601-2 luma) of the photo or frame",
            "detector": "OpenCV's bundled Haar cascade (haarcascade_frontalface_default); "
            f"the largest face; an image of {SMALL_CROP} px or less is already a face crop",
            "crop": f"the box widened by {CROP_MARGIN:.1%} of its side on each side and moved "
            f"down {CROP_SHIFT:.1%} of its side, then resized to {FACE_SIDE}x{FACE_SIDE} with "
            "area averaging (PIL BOX)",
            "scale": "pixel / 255, so inputs lie in [0, 1]",
            "in_graph": "(x - 0.5) / 0.25 normalisation"
            + (
                "; the ten-view test-time augmentation (the face and its mirror image, each "
                "as it is and moved 2 px left, right, up and down; probabilities averaged)"
                if loaded.kind == "face"
                else "; the mean over the frames where found is true"
            ),
        }
    if loaded.kind in ("speech", "fusion"):
        params = feature_params(loaded)
        trim = {k: v.default for k, v in inspect.signature(trim_silence).parameters.items()}
        out["speech"] = {
            "sample_rate": params.sample_rate,
            "window_seconds": params.duration,
            "window_samples": params.n_samples,
            "mono": "channels averaged, then resampled to sample_rate (soxr HQ)",
            "trim_db": params.trim_db,
            "trim": f"leading and trailing {trim['frame']}-sample frames (every "
            f"{trim['hop']} samples) whose power is more than trim_db below the loudest "
            "frame's are cut",
            "level_db": params.level_db,
            "level": f"the whole trimmed recording scaled so the mean power of its "
            f"{LEVEL_FRAME}-sample frames (every {LEVEL_HOP}) within {LEVEL_GATE_DB:g} dB of "
            "the mean frame power is level_db dBFS",
            "windows": "up to one window long: centred and zero-padded (or centre-cut) to "
            "window_samples; longer: windows every half window, the last flush with the "
            "end, probabilities averaged",
            "features_in_graph": params.to_dict(),
            "in_graph": f"{params.kind} features (torchaudio: n_fft {params.n_fft}, win "
            f"{params.win_length}, hop {params.hop_length}, {params.n_mels} mel bands "
            f"{params.f_min:g}-{params.f_max:g} Hz, "
            + ("power dB floored at -100" if params.kind == "logmel" else f"{params.n_mfcc} MFCC")
            + ") and the network's standardisation",
        }
    if loaded.kind == "fusion" and "n_frames" in loaded.preprocessing:
        # Mean pooling takes any number; predict samples its own number from each clip.
        out["frames_per_clip_in_training"] = loaded.preprocessing["n_frames"]
    return out


def sidecar_of(loaded: LoadedModel, onnx_path: Path, max_diff: float, seconds: float) -> dict:
    config = loaded.payload["model_config"]
    split = _json_safe(loaded.payload.get("split") or {})
    inputs = {
        "face": {"face": {"shape": ["batch", 1, 48, 48], "dtype": "float32"}},
        "speech": {"window": {"shape": ["batch", "window_samples"], "dtype": "float32"}},
        "fusion": {
            "faces": {"shape": ["batch", "frames", 1, 48, 48], "dtype": "float32"},
            "found": {"shape": ["batch", "frames"], "dtype": "bool"},
            "window": {"shape": ["batch", "window_samples"], "dtype": "float32"},
        },
    }[loaded.kind]
    out = {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "model_file": onnx_path.name,
        "kind": loaded.kind,
        "variant": config.get("variant"),
        "classes": list(loaded.classes),
        "opset": OPSET,
        "inputs": inputs,
        "output": {"probabilities": {"shape": ["batch", len(loaded.classes)], "sums_to": 1}},
        "preprocessing": preprocessing_of(loaded),
        "source": {
            "model": str(loaded.path),
            "trained_on": wording.trained_on(loaded.payload.get("split") or {}),
        },
        "self_check": {"max_abs_diff": max_diff, "tolerance": TOLERANCE},
        "export_seconds": round(seconds, 2),
        "versions": _versions(),
        # What prediction shows beside the answer (trained on, demo or not, the design).
        "workbench": {
            "preprocessing": _json_safe(loaded.preprocessing),
            "split": split,
            "model_config": _json_safe(config),
        },
    }
    if config.get("variant") == "late":
        out["late_fusion"] = {
            "face_weight": float(config["weight"]),
            "note": "inside the graph: probabilities = face_weight * face model + "
            "(1 - face_weight) * speech model",
        }
    return out


def _versions() -> dict:
    import onnx
    import onnxruntime
    import onnxscript

    return {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def sidecar_path(onnx_path: str | Path) -> Path:
    return Path(onnx_path).with_suffix(".json")


def check_out(out: Path) -> None:
    if out.suffix.lower() != ".onnx":
        raise WorkbenchError(f"{describe(out)} must end in .onnx; name the ONNX file to write.")
    if out.is_dir():
        raise WorkbenchError(f"{describe(out)} is a folder; name the .onnx file to write in it.")
    if not out.parent.is_dir():
        raise WorkbenchError(
            f"The folder {describe(out.parent)} does not exist; create it or write the .onnx "
            "file elsewhere."
        )
    side = sidecar_path(out)
    if side.exists() and not _is_sidecar(side):  # e.g. a run's metrics.json
        raise WorkbenchError(
            f"The sidecar {describe(side)} would replace a file that is not an ONNX sidecar; "
            "choose another name for the .onnx file."
        )


def _is_sidecar(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == SIDECAR_FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def export_onnx(model: str | Path, out: str | Path) -> dict:
    """Export the model at ``model`` (a run folder or a .pt checkpoint) to ``out`` (.onnx)
    and its sidecar (.json beside it); returns the sidecar dict. Refused with one sentence
    (``WorkbenchError``), leaving no file, when the graph cannot be exported or ONNX Runtime
    disagrees with PyTorch by more than ``TOLERANCE``."""
    out = Path(out).expanduser()
    check_out(out)
    loaded = load_checkpoint(model)
    _refuse_unsupported(loaded)
    graph = graph_of(loaded)
    start = time.perf_counter()
    try:
        program = _export_program(graph, sample_inputs(loaded, 2), loaded.kind)
    except Exception as exc:
        raise WorkbenchError(
            f"The {model_words(loaded)} model {describe(loaded.path)} could not be exported to "
            f"ONNX ({exc.__class__.__name__}); predict with the .pt file instead."
        ) from exc
    seconds = time.perf_counter() - start
    checked: dict = {}

    def write_onnx(tmp: Path) -> None:
        program.save(str(tmp), external_data=False)
        diff = self_check(loaded, graph, tmp)
        if not diff <= TOLERANCE:
            if np.isfinite(diff):
                why = f"gives probabilities {diff:.1e} away from PyTorch's (over {TOLERANCE:g})"
            else:
                why = "fails on inputs of another batch size or frame count"
            raise WorkbenchError(
                f"The ONNX graph for {describe(out)} {why} in ONNX Runtime, so it was not "
                f"written; predict with {describe(loaded.path)} instead."
            )
        checked["diff"] = diff

    write_atomically(out, write_onnx)
    sidecar = sidecar_of(loaded, out, checked["diff"], seconds)
    try:
        write_atomically(
            sidecar_path(out),
            lambda tmp: tmp.write_text(
                json.dumps(sidecar, indent=2, allow_nan=False) + "\n", encoding="utf-8"
            ),
        )
    except WorkbenchError:
        out.unlink(missing_ok=True)  # no graph without its sidecar
        raise
    return sidecar
