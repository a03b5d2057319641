"""Run folders: ``runs/<timestamp>-<kind>/`` holds everything needed to trust a number.

config.json (what was trained on what), history.csv (per-epoch curves), metrics.json
(held-out scores), best.pt / last.pt (checkpoints), curves.png, confusion.png, report.md.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from datasets import paths
from datasets.errors import WorkbenchError, describe, permission_denied, write_atomically

from .records import Run

# Reference points for the comparison charts: how well people do on the same task.
HUMAN_BASELINES = {
    "face": ("human, FER-2013 (≈65%)", 0.65),
    "speech": ("human, RAVDESS audio only (62%, Livingstone & Russo 2018)", 0.62),
}


def new_run_dir(kind: str, out: str | Path | None = None) -> Path:
    """Create ``out``, or a fresh ``runs/<YYYYmmdd-HHMMSS>-<kind>`` folder."""
    if out is not None:
        path = Path(out).expanduser()
        if path.exists() and any(path.glob("*.pt")):
            raise WorkbenchError(
                f"{describe(path)} already holds a trained model; choose a new --out folder "
                "(or --resume it to continue training)."
            )
        path.mkdir(parents=True, exist_ok=True)
        return path
    root = paths.runs_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = root / (f"{stamp}-{kind}" if n == 1 else f"{stamp}-{kind}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise WorkbenchError(f"Cannot create a new run folder in {describe(root)}; tidy it up.")


LOCK_NAME = "training.lock"


@contextmanager
def owned(run_dir: Path) -> Iterator[Path]:
    """Hold ``run_dir`` for one training from start to end: a second process training or
    resuming into it meanwhile is refused in one sentence instead of overwriting it. The
    lock file names its process; one left by a process that has died (killed, power cut)
    is taken over."""
    lock = run_dir / LOCK_NAME
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None:
                raise WorkbenchError(
                    f"{describe(run_dir)} is being trained by another workbench process "
                    f"({holder}); choose another --out folder, or wait until it finishes."
                ) from None
            lock.unlink(missing_ok=True)  # its process is gone: a stale lock
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise WorkbenchError(f"Cannot lock {describe(run_dir)}; tidy it up and try again.")
    try:
        yield run_dir
    finally:
        try:
            if lock.read_text() == me:
                lock.unlink()
        except OSError:
            pass


def _lock_holder(lock: Path) -> str | None:
    """ "process N" while the process that wrote ``lock`` runs (on this machine, or any
    process on another machine), None once it has died."""
    try:
        pid_text, host = lock.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        # Empty: written this instant by a process starting, or left by one that died in
        # that instant (then it is old).
        try:
            young = time.time() - lock.stat().st_mtime < 10
        except OSError:
            young = False
        return "a process that is starting" if young else None
    if host != socket.gethostname():
        return f"process {pid} on {host}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return f"process {pid}"


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_history(path: Path) -> list[dict]:
    """history.csv as a list of dicts with numbers (``epoch`` an int; a blank cell NaN)."""
    if not path.exists():
        return []
    table = pd.read_csv(path).astype(float)
    if "epoch" in table:
        table["epoch"] = table["epoch"].astype(int)
    return table.to_dict("records")


# What the readers of a run's JSON files rely on, key → type (a number is int or float,
# never a bool, and finite).
CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {"kind": str, "data": dict}
METRIC_TYPES: dict[str, type | tuple[type, ...]] = {
    "accuracy": float,
    "uar": float,
    "macro_f1": float,
    "per_class": dict,
    "confusion": list,
    "classes": list,
    "split": str,
    "n_items": int,
    "epochs_run": int,
    "best_epoch": int,
}
# What every finished run's metrics.json holds (the charts and reports read these).
METRIC_KEYS = tuple(METRIC_TYPES)


# How a problem names a JSON value's kind.
JSON_NAMES = {
    dict: "a JSON object",
    list: "a list",
    str: "a text",
    int: "a whole number",
    float: "a finite number",
    bool: "true or false",
    type(None): "null",
}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fits(value, kind) -> bool:
    if kind is float:
        return _number(value)
    if kind is int:
        return _number(value) and float(value).is_integer()
    return isinstance(value, kind)


def run_json_problem(data, types: dict) -> str | None:
    """What is wrong with ``data``, a run file's parsed JSON, for readers that rely on
    ``types`` (key → type), in a few words; None when it holds what they need."""
    if not isinstance(data, dict):
        return f"it holds {JSON_NAMES.get(type(data), 'a value')}, not a JSON object"
    missing = [k for k in types if k not in data]
    if missing:
        return f"it lacks {', '.join(missing)}"
    for key, kind in types.items():
        if not _fits(data[key], kind):
            return f"{key} is not {JSON_NAMES.get(kind, 'of the right kind')}"
    if "per_class" in types:  # the metrics' tables, which reports and charts read cell by cell
        cells = [
            v
            for m in data["per_class"].values()
            for v in (m.values() if isinstance(m, dict) else [m])
        ]
        rows = data["confusion"]
        if not all(_number(v) for v in cells) or not all(
            isinstance(r, list) and all(_number(v) for v in r) for r in rows
        ):
            return "per_class or confusion holds a value that is not a finite number"
        if not all(isinstance(c, str) for c in data["classes"]):
            return "classes holds a value that is not a name"
    return None


def read_run_json(path: Path, types: dict, remedy: str) -> dict:
    """The JSON object in a run folder's ``path`` (config.json, metrics.json…), checked to
    hold ``types`` (key → type, see ``run_json_problem``); otherwise one sentence naming the
    file, what is wrong and ``remedy`` (e.g. "train anew"). Every reader of run files uses
    it, so a damaged file is never an unexpected error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkbenchError(f"{describe(path)} is missing; {remedy}.") from None
    except PermissionError:
        raise permission_denied(path) from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise WorkbenchError(
            f"{describe(path)} is damaged ({exc.__class__.__name__}); {remedy}."
        ) from None
    problem = run_json_problem(data, types)
    if problem:
        raise WorkbenchError(f"{describe(path)} is damaged ({problem}); {remedy}.")
    return data


FINISHED_RUN = "pass folders from runs/ whose training completed"


def load_run(run_dir: str | Path) -> Run:
    """A finished run (``model`` is its best.pt)."""
    run_dir = Path(run_dir).expanduser()
    if run_dir.is_file():
        run_dir = run_dir.parent
    if not (run_dir / "config.json").is_file() or not (run_dir / "metrics.json").is_file():
        raise WorkbenchError(
            f"{describe(run_dir)} is not a finished run folder (config.json, metrics.json "
            f"and history.csv are needed); {FINISHED_RUN}."
        )
    config = read_run_json(run_dir / "config.json", CONFIG_TYPES, FINISHED_RUN)
    metrics = read_run_json(run_dir / "metrics.json", METRIC_TYPES, FINISHED_RUN)
    history_path = run_dir / "history.csv"
    try:
        history = read_history(history_path)
    except PermissionError:
        raise permission_denied(history_path) from None
    except (OSError, ValueError, TypeError) as exc:  # pandas' parser errors are ValueErrors
        raise WorkbenchError(
            f"{describe(history_path)} is damaged ({exc.__class__.__name__}); {FINISHED_RUN}."
        ) from None
    return Run(
        name=str(config.get("name") or run_dir.name),
        dir=run_dir,
        model=run_dir / "best.pt",
        kind=config["kind"],
        config=config,
        history=history,
        metrics=metrics,
    )


def find_runs(kind: str | None = None, root: str | Path | None = None) -> list[Path]:
    """Finished run folders under ``root`` (default runs/), oldest first.

    A run counts once its metrics.json is written and at least one epoch finished, so a
    run stopped in its first epoch never becomes anyone's default model. Looks one level
    deeper too, for the per-model folders a ``demo`` run makes.
    """
    root = Path(root) if root is not None else paths.runs_dir()
    found = []
    for best in [*root.glob("*/best.pt"), *root.glob("*/*/best.pt")]:
        try:  # a damaged run is nobody's default: it is skipped, and refused when named
            config = read_run_json(best.parent / "config.json", CONFIG_TYPES, FINISHED_RUN)
            metrics = read_run_json(best.parent / "metrics.json", METRIC_TYPES, FINISHED_RUN)
        except WorkbenchError:
            continue
        if (kind is None or config["kind"] == kind) and metrics["best_epoch"] > 0:
            found.append((best.stat().st_mtime, best.parent))
    return [p for _, p in sorted(found)]


# The starter models shipped in pretrained/ (see the model cards beside them).
STARTER_FILES = {
    "face": "face_fer2013.pt",
    "speech": "speech_ravdess.pt",
    "fusion": "fusion_fer_ravdess.pt",
}


def starter_model(kind: str) -> Path | None:
    """The shipped starter model of ``kind``, or None if pretrained/ lacks it."""
    path = paths.pretrained_dir() / STARTER_FILES[kind]
    return path if path.is_file() else None


def load_starter(kind: str) -> Run | None:
    """The starter model of ``kind`` as a run (see ``load_run``) with ``starter`` True,
    rebuilt from the record ``export`` packs into it; None if pretrained/ lacks it or it
    carries no record. Its data is named by the label saved with it, not a path on the
    machine that trained it."""
    path = starter_model(kind)
    if path is None:
        return None
    from .checkpoint import read_checkpoint  # torch: only when a starter model is there

    payload = read_checkpoint(path)
    record = payload.get("run")
    if not isinstance(record, dict):
        return None
    config = dict(record["config"])
    label = (payload.get("split") or {}).get("label")
    if label:
        config["data"] = {**config.get("data", {}), "path": label}
    return Run(
        name=f"starter {path.name}",
        dir=path.parent,
        model=path,
        kind=payload["kind"],
        config=config,
        history=record.get("history", []),
        metrics=record["metrics"],
        starter=True,
    )


def default_fusion_model() -> Path | None:
    """The latest finished fusion run's best.pt, else the starter fusion model, else None."""
    runs = find_runs("fusion")
    return runs[-1] / "best.pt" if runs else starter_model("fusion")


def default_model(kind: str) -> Path:
    """The model ``predict`` uses when none is given: the latest trained run of ``kind``,
    else the shipped starter model."""
    runs = find_runs(kind)
    if runs:
        return runs[-1] / "best.pt"
    starter = starter_model(kind)
    if starter is not None:
        return starter
    raise WorkbenchError(
        f"No trained {kind} model yet; train one with 'python workbench.py train {kind}' "
        "or pass --model RUN_DIR."
    )
