"""Training one run on several processes: torchrun starts them, DistributedDataParallel
keeps their models equal.

``torchrun --nproc_per_node=N workbench.py train …`` starts N copies of the workbench
with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set (``--nnodes`` spreads them over
machines); torchrun is the launcher, there is no other. ``session`` joins them into a
process group: NCCL on CUDA (each process on GPU ``LOCAL_RANK``), Gloo on the CPU.

A run on N processes is the same run as on one (``Replica``):

- every process draws the same global batch (the shuffle generator is seeded alike),
  augments and mixes it whole, and keeps its own contiguous rows of it, so the global
  batch, the number of steps and the learning-rate schedule are a single process's;
- each process's loss is weighted by its share of the batch times N (DDP divides the
  summed gradients by N), so shards of unequal size still give the whole batch's mean
  gradient;
- batch norm computes its statistics over the whole batch (``torch.nn.SyncBatchNorm`` on
  CUDA, ``GlooSyncBatchNorm`` on the CPU, where torch's works not), and dropout applies
  the rows of the mask a single process would draw for the whole batch (``ShardDropout``);
- the validation split is scored in shards and gathered, and the stop decisions (Ctrl+C,
  a diverged loss, early stopping) are taken on values every process shares, so no
  process ever waits in a collective the others skipped.

Rank 0 alone writes the run folder (``training.train``); the others only train.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from datasets.errors import WorkbenchError

from .data import Inputs, Split, batch_bounds
from .device import choose_device

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched() -> bool:
    """Whether this process was started by torchrun (its environment says so)."""
    return all(k in os.environ for k in TORCHRUN_ENV)


def rank() -> int:
    return int(os.environ.get("RANK", 0)) if launched() else 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1)) if launched() else 1


def is_main() -> bool:
    """Rank 0, or a single process: the one that writes and prints."""
    return rank() == 0


@dataclass
class Session:
    """This process's place in the group, and a Gloo group for small CPU-side messages
    (stop flags, metric sums, batch-norm statistics on the CPU)."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    control: dist.ProcessGroup


_SESSION: Session | None = None


def current() -> Session | None:
    """The running session, None in a single process."""
    return _SESSION


@contextmanager
def session(device: str = "auto") -> Iterator[Session | None]:
    """Join torchrun's processes for the duration (None and nothing to do outside
    torchrun): NCCL when training on CUDA, after choosing GPU ``LOCAL_RANK``; else Gloo."""
    global _SESSION
    if not launched():
        yield None
        return
    if device == "mps":
        raise WorkbenchError(
            "Training under torchrun runs on CUDA or the CPU, not Apple MPS; pass --device "
            "cpu (or run without torchrun)."
        )
    local = int(os.environ["LOCAL_RANK"])
    on_cuda = choose_device(device).type == "cuda"
    if on_cuda:
        if local >= torch.cuda.device_count():
            raise WorkbenchError(
                f"torchrun started process {local} on a machine with "
                f"{torch.cuda.device_count()} GPU(s); pass --nproc_per_node at most that."
            )
        torch.cuda.set_device(local)
    backend = "nccl" if on_cuda else "gloo"
    dist.init_process_group(backend)
    try:
        # Its own group, so that these never interleave with DDP's gradient all-reduces.
        control = dist.new_group(backend="gloo")
        _SESSION = Session(dist.get_rank(), dist.get_world_size(), local, backend, control)
        yield _SESSION
    finally:
        _SESSION = None
        dist.destroy_process_group()


@contextmanager
def local_main_first() -> Iterator[None]:
    """Within, the first process of each machine goes first and the others follow once it
    is done: it makes the demo data and fills the caches they then read."""
    s = current()
    first = s is None or s.local_rank == 0
    if not first:
        dist.barrier(group=s.control)
    try:
        yield
    finally:
        if s is not None and first:
            dist.barrier(group=s.control)


def from_main(make):
    """``make()``'s value, computed on rank 0 and sent to the others (a resumed run's
    checkpoint lives on rank 0's machine). A ``WorkbenchError`` there is raised everywhere."""
    s = current()
    if s is None:
        return make()
    box: list = [None]
    if s.rank == 0:
        try:
            box[0] = ("ok", make())
        except WorkbenchError as exc:
            box[0] = ("error", str(exc))
    dist.broadcast_object_list(box, src=0, group=s.control)
    status, value = box[0]
    if status == "error":
        raise WorkbenchError(value)
    return value


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [lo, hi) of ``n`` that process ``rank`` of ``world`` takes: contiguous,
    sizes differing by at most one."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def _rows(x: Inputs, lo: int, hi: int) -> Inputs:
    return {k: v[lo:hi] for k, v in x.items()} if isinstance(x, dict) else x[lo:hi]


class Rows(Split):
    """Items [lo, hi) of another split."""

    def __init__(self, data: Split, lo: int, hi: int) -> None:
        self.data, self.lo = data, lo
        self.y = data.y[lo:hi]

    def item(self, idx: torch.Tensor | slice) -> Inputs:
        if isinstance(idx, slice):
            start = self.lo + (idx.start or 0)
            stop = self.lo + (len(self) if idx.stop is None else idx.stop)
            return self.data.item(slice(start, stop))
        return self.data.item(idx + self.lo)


class _ShardState:
    """The rows of the current global batch this process holds: [lo, hi) of n."""

    def __init__(self) -> None:
        self.lo, self.hi, self.n = 0, 0, 0


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the whole global batch, for the
    CPU (torch's ``SyncBatchNorm`` runs on GPUs only).

    The per-channel sum, sum of squares and count of each process's rows are summed over
    the group in float64 (``torch.distributed.nn``'s all-reduce, whose backward all-reduces
    the gradients, so autograd gives every process its part of the whole batch's
    gradient). Evaluation, and training outside a process group, is plain batch norm.
    Same parameters and buffers as the module it replaces, so checkpoints do not change.
    """

    def __init__(self, *args, group=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [d for d in range(x.dim()) if d != 1]
        xd = x.double()
        count = torch.full((1,), x.numel() / max(x.shape[1], 1), dtype=torch.float64)
        stats = torch.cat([xd.sum(dims), (xd * xd).sum(dims), count.to(x.device)])
        stats = all_reduce(stats, group=self.group or dist.group.WORLD)
        c = x.shape[1]
        n = stats[2 * c]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
        if n.item() < 2:
            raise ValueError("batch norm needs more than one value per channel in training")
        if self.track_running_stats and self.running_mean is not None:
            factor = self.momentum
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:
                    factor = 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                unbiased = var * n / (n - 1)
                self.running_mean.mul_(1 - factor).add_(factor * mean.to(self.running_mean))
                self.running_var.mul_(1 - factor).add_(factor * unbiased.to(self.running_var))
        shape = [1, c] + [1] * (x.dim() - 2)
        inv = torch.rsqrt(var + self.eps).to(x.dtype).view(shape)
        y = (x - mean.to(x.dtype).view(shape)) * inv
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @classmethod
    def convert(cls, module: nn.Module, group=None) -> nn.Module:
        """``module`` with every batch-norm layer replaced in place (the same parameter
        and buffer tensors, so an optimiser made before still holds them)."""
        for name, child in module.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, cls):
                new = cls(
                    child.num_features,
                    child.eps,
                    child.momentum,
                    child.affine,
                    child.track_running_stats,
                    group=group,
                )
                for key in ("weight", "bias"):
                    setattr(new, key, getattr(child, key))
                for key in ("running_mean", "running_var", "num_batches_tracked"):
                    setattr(new, key, getattr(child, key))
                new.train(child.training)
                setattr(module, name, new)
            else:
                cls.convert(child, group)
        return module


class ShardDropout(nn.Module):
    """Dropout (``nn.Dropout``, or channel-wise ``nn.Dropout2d``) that draws the mask of
    the whole global batch, exactly as one process would, and applies this process's
    rows of it. Every process's global generator is in the same state, so the processes
    drop what a single process would, and not the same pattern in each shard."""

    def __init__(self, p: float, channels: bool, shard: _ShardState) -> None:
        super().__init__()
        self.p, self.channels, self.shard = p, channels, shard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        s = self.shard
        # k rows per item where items come flattened with their frames (fusion: B * F).
        k, left = divmod(len(x), s.hi - s.lo)
        if left or not k:
            raise RuntimeError(f"{len(x)} rows in dropout for a shard of {s.hi - s.lo} items")
        n = s.n * k
        if self.channels:
            ones = x.new_ones((n, x.shape[1], *([1] * (x.dim() - 2))))
            mask = F.dropout2d(ones, self.p, True) if x.dim() == 4 else F.dropout1d(ones, self.p)
        else:
            mask = F.dropout(x.new_ones((n, *x.shape[1:])), self.p, True)
        return x * mask[s.lo * k : s.hi * k]

    @classmethod
    def convert(cls, module: nn.Module, shard: _ShardState) -> nn.Module:
        for name, child in module.named_children():
            if type(child) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d):
                new = cls(child.p, type(child) is not nn.Dropout, shard)
                new.train(child.training)
                setattr(module, name, new)
            else:
                cls.convert(child, shard)
        return module


class _TrainingForward(nn.Module):
    """The model's training forward (``forward_all`` where it has one, the fusion
    models) as a module's ``forward``, which is what DDP calls."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Inputs):
        m = self.model
        return m.forward_all(x) if hasattr(m, "forward_all") else m(x)


class Replica:
    """What ``fit`` does differently as one of several processes; in a single process
    (``session`` None) every method leaves things as they are.

    ``net`` runs the training forward (DDP-wrapped under torchrun); ``rows`` keeps this
    process's rows of a global batch and sets ``weight``, the factor of its loss;
    ``agree``, ``sum`` and ``predict_proba`` give every process the same answer.
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        n_train: int,
        batch_size: int,
        session: Session | None = None,
    ) -> None:
        self.session = s = session
        self.weight = 1.0
        self.shard = _ShardState()
        self.net: nn.Module = _TrainingForward(model)
        if s is None:
            return
        sizes = np.diff(batch_bounds(n_train, batch_size))
        if sizes.min() < s.world_size:
            raise WorkbenchError(
                f"With {s.world_size} processes every batch needs at least {s.world_size} "
                f"items, but this run's {n_train} training items in batches of {batch_size} "
                f"leave one of {sizes.min()}; change --batch-size or use fewer processes."
            )
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            GlooSyncBatchNorm.convert(model, s.control)
        ShardDropout.convert(model, self.shard)
        self.net = DistributedDataParallel(
            self.net,
            device_ids=[torch.cuda.current_device()] if device.type == "cuda" else None,
            # A fusion model trains its branches' encoders but not their own heads.
            find_unused_parameters=hasattr(model, "forward_all"),
        )

    def describe(self) -> str:
        """Words to add to the device's name: how many processes train (or nothing)."""
        return "" if self.session is None else f" × {self.session.world_size} processes"

    def rows(
        self, x: Inputs, y: torch.Tensor, partner: torch.Tensor | None = None
    ) -> tuple[Inputs, torch.Tensor, torch.Tensor | None]:
        """This process's rows of a global batch (inputs, labels, mixup partners)."""
        s = self.session
        if s is None:
            return x, y, partner
        n = len(y)
        lo, hi = shard_bounds(n, s.rank, s.world_size)
        self.shard.lo, self.shard.hi, self.shard.n = lo, hi, n
        # DDP averages the processes' gradients: scaled so, the whole batch's mean.
        self.weight = (hi - lo) * s.world_size / n
        return _rows(x, lo, hi), y[lo:hi], None if partner is None else partner[lo:hi]

    def agree(self, flag: bool) -> bool:
        """True on every process when it is true on any (stop requests)."""
        if self.session is None:
            return flag
        t = torch.tensor([float(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.session.control)
        return bool(t.item())

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the processes (counts, sums of losses)."""
        if self.session is None:
            return [float(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t, group=self.session.control)
        return t.tolist()

    def predict_proba(
        self, model: nn.Module, data: Split, batch_size: int
    ) -> tuple[np.ndarray, float]:
        """``metrics.predict_proba`` over the whole split, each process scoring its share."""
        from .metrics import predict_proba

        s = self.session
        if s is None:
            return predict_proba(model, data, batch_size=batch_size)
        lo, hi = shard_bounds(len(data), s.rank, s.world_size)
        part = None
        if hi > lo:
            probs, loss = predict_proba(model, Rows(data, lo, hi), batch_size=batch_size)
            part = (probs, loss * (hi - lo))
        parts: list = [None] * s.world_size
        dist.all_gather_object(parts, part, group=s.control)
        parts = [p for p in parts if p is not None]
        probs = np.concatenate([p[0] for p in parts])
        return probs, sum(p[1] for p in parts) / max(len(data), 1)
