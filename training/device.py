"""Which torch device to train on: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from datasets.errors import WorkbenchError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> dict[str, bool]:
    """Each device choice and whether this machine has it (the GUI disables the rest)."""
    mps = getattr(torch.backends, "mps", None)
    return {
        "auto": True,
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(mps and mps.is_available()),
    }


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing one is an error."""
    if name not in DEVICE_CHOICES:
        raise WorkbenchError(f"Unknown device {name!r}; use one of {', '.join(DEVICE_CHOICES)}.")
    have = available_devices()
    if name == "auto":
        name = "cuda" if have["cuda"] else "mps" if have["mps"] else "cpu"
    elif not have[name]:
        raise WorkbenchError(
            f"This machine has no {name.upper()} device; use --device auto or --device cpu."
        )
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A readable name for reports and the GUI, e.g. 'cuda (NVIDIA H100 80GB HBM3)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n != 1 else ''})"
    return device.type


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type to train and predict with on ``device`` (None: full fp32).

    bf16 on GPUs that run it natively (Ampere and later; it needs no loss scaling), fp16
    with a ``GradScaler`` on older ones; the CPU and MPS stay in fp32.
    """
    if device.type != "cuda":
        return None
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None | str = "auto"):
    """``torch.autocast`` with ``dtype`` (default ``amp_dtype(device)``), or a no-op
    context when it is None. Training only: held-out data is scored in fp32."""
    if dtype == "auto":
        dtype = amp_dtype(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Within: the same inputs give the same bits on a GPU too, so a resumed run equals a
    straight one there as it always does on the CPU (``train --deterministic``).

    Turns on ``torch.use_deterministic_algorithms`` (an operation with no deterministic
    kernel warns instead of stopping the run), turns cuDNN's autotuner off and its
    deterministic kernels on, and gives cuBLAS the fixed workspace it needs
    (``CUBLAS_WORKSPACE_CONFIG``, unless already set). Slower on a GPU; the settings
    before are restored on the way out. Does nothing when ``enabled`` is false.
    """
    if not enabled:
        yield
        return
    cudnn = torch.backends.cudnn
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.benchmark,
        cudnn.deterministic,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.benchmark, cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.benchmark, cudnn.deterministic = before[2], before[3]


@contextmanager
def full_fp32() -> Iterator[None]:
    """Within: fp32 convolutions, recurrent layers and matrix products compute in full
    fp32, not TF32 (which cuDNN uses for fp32 convolutions on Ampere and later by
    default, with a 10-bit mantissa). Held-out scores then agree with the CPU's; the
    settings before are restored on the way out. No effect on a CPU."""
    flags = (torch.backends.cudnn.conv, torch.backends.cudnn.rnn, torch.backends.cuda.matmul)
    before = [f.fp32_precision for f in flags]
    for f in flags:
        f.fp32_precision = "ieee"
    try:
        yield
    finally:
        for f, value in zip(flags, before):
            f.fp32_precision = value
