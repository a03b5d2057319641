#!/usr/bin/env python3
"""The CUDA path, checked in one command (``make gpu-check``) within a time budget.

    python bench/gpu_check.py [--budget 540] [--out DIR] [--data FER_DIR] [--pack .gpu-pack]
                              [--max-epochs 100] [--dry-run]

On a machine with a CUDA GPU it runs, in this order, each within what is left of
``--budget`` seconds:

  1. cuda tests     ``pytest -m cuda tests/test_cuda_path.py``: data resident on the GPU,
                    GPU augmentation, bf16 and fp16 + GradScaler training, the GRU in fp32,
                    a CUDA checkpoint on the CPU, prediction on CUDA, stop/resume;
  2. throughput     ``bench/train_throughput.py --device cuda``: the project's pipeline
                    against ImageFolder + DataLoader, same model and batch (target >= 5x);
  3. ddp (NCCL)     ``torchrun --standalone --nproc_per_node=2 workbench.py train face``:
                    one run on two GPUs ("needs 2 GPUs" on a machine with fewer);
  4. FER-2013 full  ``workbench.py train face --preset full``: one epoch to time it, then
                    ``--resume`` to as many epochs as the rest of the budget holds (Ctrl+C
                    at the deadline, which still scores and keeps the best epoch).

It prints one table (check, result, figure, seconds) and writes into ``--out`` (default
``$OUT`` when set, else ``runs/gpu-check-<time>``) at most seven files: ``gpu_check.txt``
(the table), ``gpu_check.json`` (the same, and the figures), a log per check, and the
FER-2013 run folder as ``fer2013_full_run.tar.gz`` (without last.pt). Runs and caches go
to a scratch folder. ``--data`` is a FER-2013 folder (default: the images of
``.gpu-pack/fer2013_train.tar.gz`` from ``make gpu-pack``, unpacked into the scratch
folder, else ``../shared/data/fer2013``); the pack's wheels (soundfile, soxr, captum, ...)
are installed into the scratch folder first when they are missing.

``--dry-run`` runs the same plan on the CPU with tiny settings (10 images a class, a few
batches, Gloo instead of NCCL): a rehearsal that needs no GPU. Without a GPU and without ``--dry-run`` it says so and exits 0.
Exit status: 0 when nothing failed, 1 when a check failed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.errors import WorkbenchError, describe  # noqa: E402

PACK = ROOT / ".gpu-pack"
NEEDED = ("soundfile", "soxr", "captum")  # what the GPU machines lack and the tests import
GRACE_S = 25.0  # after Ctrl+C: a training scores its best epoch, pytest prints its summary


@dataclass
class Check:
    check: str
    result: str  # ok, FAILED, timed out, below target, skipped, needs 2 GPUs, ...
    figure: str
    seconds: float
    log: str = ""


class Plan:
    """The budget, the folders, the environment of the child processes and the results."""

    def __init__(self, args: argparse.Namespace, cuda_devices: int) -> None:
        self.args, self.dry = args, args.dry_run
        self.gpus = cuda_devices
        self.device = "cpu" if self.dry else "cuda"
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.budget
        self.out = args.out
        self.work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "WORKBENCH_CACHE_DIR": str(self.work / "cache"),
            "WORKBENCH_RUNS_DIR": str(self.work / "runs"),
        }
        self.checks: list[Check] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, cmd: list[str], cap: float, log: str) -> tuple[int | None, float]:
        """Run ``cmd`` with its output in ``out/log``, for at most ``cap`` seconds and what
        the budget has left; past that, Ctrl+C, then a kill after a grace period. Returns
        (exit status or None when stopped at the limit, seconds)."""
        limit = max(1.0, min(cap, self.left() - 5))
        t = time.monotonic()
        with open(self.out / log, "a") as f:
            f.write(f"$ {shlex.join(cmd)}\n")
            f.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl+C reaches all of it
            )
            try:
                return proc.wait(timeout=limit), time.monotonic() - t
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=GRACE_S)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                f.write(f"\n[gpu_check: stopped at its time limit, {limit:.0f} s]\n")
                return None, time.monotonic() - t

    def add(self, check: Check) -> None:
        self.checks.append(check)
        print(f"  {check.check}: {check.result} ({check.figure}, {check.seconds:.0f} s)")


def number(value, fmt: str) -> str:
    """``value`` formatted, or "n/a" when it is missing or not finite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return format(v, fmt) if math.isfinite(v) else "n/a"


# ----------------------------------------------------------------------- the checks


def cuda_tests(plan: Plan) -> Check:
    log = "cuda_tests.log"
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider"]
    rc, secs = plan.run([*cmd, "tests/test_cuda_path.py"], 300, log)
    text = (plan.out / log).read_text(errors="replace")
    # pytest's last line, e.g. "2 failed, 7 passed, 1 skipped in 41.20s"
    summaries = re.findall(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s", text, flags=re.M)
    counts = {w: int(n) for n, w in re.findall(r"(\d+) (\w+)", summaries[-1] if summaries else "")}
    figure = ", ".join(f"{n} {w}" for w, n in counts.items()) or "no summary"
    if rc is None:
        result = "timed out"
    elif rc != 0:
        result = "FAILED"
    elif counts.get("passed"):
        result = "ok"
    else:
        result = "skipped"
        figure += " (no CUDA)" if plan.dry else ""
    return Check("cuda tests", result, figure, secs, log)


def throughput(plan: Plan, data: Path) -> Check:
    log, figures = "throughput.log", plan.work / "throughput.json"
    cmd = [sys.executable, "bench/train_throughput.py", "--device", plan.device, "--fer", str(data)]
    if plan.dry:
        cmd += ["--batch-size", "16", "--batches", "2", "--warmup", "1", "--rounds", "1"]
        cmd += ["--workers", "0"]
    else:
        cmd += ["--workers", str(min(8, max(2, (os.cpu_count() or 4) // 2)))]
    rc, secs = plan.run([*cmd, "--json", str(figures)], 180, log)
    if rc is None:
        return Check("throughput", "timed out", "-", secs, log)
    if rc != 0 or not figures.is_file():
        return Check("throughput", "FAILED", f"exit status {rc}", secs, log)
    f = json.loads(figures.read_text())
    figure = (
        f"project {number(f['project_images_per_s'], '.0f')} vs ImageFolder "
        f"{number(f['baseline_images_per_s'], '.0f')} img/s = {number(f['ratio'], '.1f')}x "
        f"(target >= {f['target']:g}x)"
    )
    if plan.dry:  # a few tiny batches on a busy CPU: a rehearsal, not a measurement
        return Check("throughput", "ok", figure + ", dry run: not judged", secs, log)
    return Check("throughput", "ok" if f["met"] else "below target", figure, secs, log)


def ddp(plan: Plan, data: Path) -> Check:
    name = "ddp, 2 processes (" + ("Gloo, CPU" if plan.dry else "NCCL") + ")"
    if importlib.util.find_spec("training.distributed") is None:
        return Check(name, "not in this tree", "no torchrun support (training/distributed.py)", 0)
    if not plan.dry and plan.gpus < 2:
        return Check(name, "needs 2 GPUs", f"this machine has {plan.gpus}", 0)
    log, run = "ddp.log", plan.work / "runs" / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["workbench.py", "train", "face", "--data", str(data), "--device", plan.device]
    cmd += ["--epochs", "1" if plan.dry else "3", "--out", str(run)]
    rc, secs = plan.run(cmd, 240, log)
    if rc is None:
        return Check(name, "timed out", "-", secs, log)
    config, metrics = run / "config.json", run / "metrics.json"
    if rc != 0 or not metrics.is_file():
        return Check(name, "FAILED", f"exit status {rc}", secs, log)
    world = json.loads(config.read_text()).get("world_size")
    m = json.loads(metrics.read_text())
    figure = f"world_size {world}, {m['split']} accuracy {number(m['accuracy'], '.1%')}"
    return Check(name, "ok" if world == 2 else "FAILED", figure, secs, log)


def fer_full(plan: Plan, data: Path) -> tuple[Check, Path | None]:
    """One epoch to time an epoch, then resumed to as many epochs as the budget holds."""
    name, log, run = "FER-2013 full preset", "fer2013_full.log", plan.work / "runs" / "fer"
    if plan.left() < 30:
        return Check(name, "skipped", "no time left in the budget", 0), None
    base = [sys.executable, "workbench.py", "train", "face", "--device", plan.device]
    first = [*base, "--data", str(data), "--preset", "full", "--epochs", "1", "--out", str(run)]
    rc, secs = plan.run(first, plan.left(), log)
    history = run / "history.csv"
    if rc != 0 or not history.is_file():
        result = "timed out" if rc is None else "FAILED"
        return Check(name, result, "its first epoch did not finish", secs, log), None
    epoch_s = float(next(csv.DictReader(history.open()))["seconds"])
    overhead = max(0.0, secs - epoch_s)  # start-up, data, scoring: paid again on resume
    cap = 2 if plan.dry else plan.args.max_epochs
    more = int((plan.left() - overhead - 15) // max(epoch_s, 1e-3))
    total = min(cap, 1 + more)
    if total > 1:
        resume = [*base, "--resume", str(run), "--epochs", str(total)]
        rc, more_s = plan.run(resume, plan.left(), log)
        secs += more_s
    metrics = run / "metrics.json"
    if not metrics.is_file():
        return Check(name, "FAILED", f"exit status {rc}", secs, log), run
    m = json.loads(metrics.read_text())
    figure = (
        f"{m['epochs_run']} epochs ({number(epoch_s, '.1f')} s each), best {m['best_epoch']}: "
        f"{m['split']} accuracy {number(m['accuracy'], '.1%')} of {m['n_items']} held-out "
        f"images, {m['n_train']} trained on"
    )
    stopped = " (stopped at the deadline)" if m.get("stopped") else ""
    result = "ok" if rc in (0, None) else "FAILED"
    return Check(name, result, figure + stopped, secs, log), run


# ----------------------------------------------------------------------- set-up


def install_pack_wheels(plan: Plan, pack: Path) -> str:
    """pip-install the pack's wheels into the scratch folder when a needed module is
    missing (no network: --no-index); the child processes get it on PYTHONPATH."""
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    wheels = sorted((pack / "wheels").glob("*.whl"))
    if not missing:
        return "wheels not needed"
    if not wheels:
        raise WorkbenchError(
            f"This Python lacks {', '.join(missing)} and {describe(pack / 'wheels')} holds no "
            "wheels; run make gpu-pack on a machine with network and carry .gpu-pack along."
        )
    site = plan.work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        + ["--disable-pip-version-check", "--target", str(site), *map(str, wheels)],
        check=True,
    )
    sys.path.insert(0, str(site))
    plan.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), plan.env.get("PYTHONPATH", "")) if p
    )
    return f"installed {len(wheels)} wheels for {', '.join(missing)}"


def find_data(plan: Plan, given: Path | None, pack: Path) -> Path:
    """``--data``; else the pack's FER-2013 images, unpacked into the scratch folder; else
    ../shared/data/fer2013."""
    archive = pack / "fer2013_train.tar.gz"
    if given is None and archive.is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(plan.work, filter="data")
        given = plan.work / "fer2013"
    candidates = [given] if given else [ROOT.parent / "shared" / "data" / "fer2013"]
    if (candidates[0] / "train").is_dir():
        return candidates[0]
    where = (
        describe(candidates[0]) if given else f"{describe(archive)} or {describe(candidates[0])}"
    )
    raise WorkbenchError(
        f"No FER-2013 folder with train/<class>/ images at {where}; pass --data FER_DIR, "
        "or run make gpu-pack first."
    )


def tiny_copy(data: Path, to: Path, per_class: int = 10) -> Path:
    """The first ``per_class`` images of each class of ``data``: a dry run's data."""
    import shutil

    for folder in sorted(p for p in (data / "train").iterdir() if p.is_dir()):
        (to / "train" / folder.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(p for p in folder.iterdir() if p.is_file())[:per_class]:
            shutil.copyfile(f, to / "train" / folder.name / f.name)
    return to


def table(checks: list[Check]) -> str:
    rows = [("check", "result", "figure", "seconds")]
    rows += [(c.check, c.result, c.figure, f"{c.seconds:.0f}") for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>7}" for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def archive(run: Path, out: Path) -> None:
    """The run folder as one file (the device returns few files), without last.pt."""
    with tarfile.open(out, "w:gz") as tar:
        for f in sorted(run.iterdir()):
            if f.is_file() and f.name != "last.pt":
                tar.add(f, arcname=f"{run.name}/{f.name}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--budget", type=float, default=540.0, help="seconds in all (default 540)")
    ap.add_argument("--out", type=Path, help="folder for the table, logs and the FER run")
    ap.add_argument("--data", type=Path, help="a FER-2013 folder (train/<class>/ images)")
    ap.add_argument("--pack", type=Path, default=PACK, help="make gpu-pack's folder")
    ap.add_argument("--max-epochs", type=int, default=100, help="FER-2013 epochs at most")
    ap.add_argument("--dry-run", action="store_true", help="the same plan on the CPU, tiny")
    args = ap.parse_args(argv)
    if not (args.budget > 0 and math.isfinite(args.budget)):
        raise WorkbenchError(f"--budget must be a number of seconds above 0, got {args.budget}.")
    if args.max_epochs < 1:
        raise WorkbenchError(f"--max-epochs must be 1 or more, got {args.max_epochs}.")
    if args.out is None:
        env_out = os.environ.get("OUT")
        args.out = Path(env_out) if env_out else ROOT / "runs" / time.strftime("gpu-check-%H%M%S")
    # The checks run from the repository's root: paths given from elsewhere still hold.
    args.out, args.pack = args.out.resolve(), args.pack.resolve()
    args.data = args.data.resolve() if args.data is not None else None
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not gpus and not args.dry_run:
            print(
                "This machine has no CUDA GPU, so there is nothing to check here: run make "
                "gpu-check on a GPU machine, or add --dry-run to rehearse the plan on the CPU."
            )
            return 0
        if args.data is not None and not (args.data / "train").is_dir():
            find_data(None, args.data, args.pack)  # refused before anything is written
        args.out.mkdir(parents=True, exist_ok=True)
        plan = Plan(args, gpus)
        wheels = install_pack_wheels(plan, args.pack)
        data = find_data(plan, args.data, args.pack)
        if args.dry_run:
            data = tiny_copy(data, plan.work / "tiny-fer2013")
    except WorkbenchError as exc:
        print(exc, file=sys.stderr)
        return 2
    where = torch.cuda.get_device_name(0) if gpus else "CPU (dry run)"
    print(
        f"gpu-check on {where}: budget {args.budget:.0f} s, data {data}, {wheels}; "
        f"logs in {args.out}"
    )
    plan.add(cuda_tests(plan))
    plan.add(throughput(plan, data))
    plan.add(ddp(plan, data))
    check, run = fer_full(plan, data)
    plan.add(check)
    if run is not None and run.is_dir():
        archive(run, args.out / "fer2013_full_run.tar.gz")
    text = table(plan.checks)
    total = time.monotonic() - plan.t0
    print()
    print(text)
    print(f"\n{total:.0f} s of a {args.budget:.0f} s budget")
    (args.out / "gpu_check.txt").write_text(text + "\n")
    summary = {
        "device": where,
        "dry_run": args.dry_run,
        "budget_s": args.budget,
        "seconds": round(total, 1),
        "data": str(data),
        "checks": [asdict(c) for c in plan.checks],
    }
    (args.out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    failed = any(c.result in ("FAILED", "timed out") for c in plan.checks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
