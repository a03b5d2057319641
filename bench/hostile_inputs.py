#!/usr/bin/env python3
"""A sweep of about 200 hostile inputs and faults against the command line, tried as a new
user and as an attacker would (issue 20), each run as a subprocess of ``workbench.py``.

    python bench/hostile_inputs.py --jobs 2                       # this checkout
    python bench/hostile_inputs.py --workbench ../other-tree --json after.jsonl
    python bench/hostile_inputs.py --only resume --keep           # a few cases; keep inputs
    python bench/hostile_inputs.py --rerun before.jsonl           # only what failed then

Every input is built in a temporary folder: the demo data (``make-demo-data``), two tiny
trained runs (face and speech, one epoch, made once and shared), crafted files (checkpoints,
run folders, caches, WAV/MP4/PNG/CSV), and small slices of ``../shared/data`` when it is
there. The tested tree's own Python (its ``.venv``) runs its own ``workbench.py``, with its
data, cache and runs folders pointed into the temporary folder, so nothing of the checkout
is touched.

Each case prints one row: case, exit status, the stderr line that matters (the ``error:``
line, else the first), the child's peak memory (``getrusage(RUSAGE_CHILDREN)`` in a small
wrapper process per case, so the figure is that case's alone), and a verdict. A case passes
when it exits 0 with sensible output, or exits 2 with one ``error:`` sentence as the last
line of stderr (argparse's usage lines and progress lines aside); it fails on a traceback,
"unexpected" / "please report", a library warning on stderr, a non-finite number or invalid
JSON on stdout, another exit status, a time-out, or its own check (user files kept, the
first run's model kept, "permission denied" / "disk is full" said, no truncated PNG left…).

Cases that need root powers (another user for permission denied, a tmpfs for a full disk)
say why they are skipped when these are not available.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# The wrapper each case runs in: it runs the command, then writes the exit status and the
# peak resident memory of its children (the workbench and any workers it waited for).
WRAPPER = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    p = subprocess.run(sys.argv[2:])
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(sys.argv[1], "w") as f:
        json.dump({"rc": p.returncode, "kb": kb}, f)
    sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
    """
)

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
PROGRESS = re.compile(r"^[^\n]{0,120}?\d{1,3}(\.\d+)?%\s*$")
PROGRESS_PREFIX = re.compile(r"^[^\n]{0,120}?\d{1,3}(\.\d+)?%\s{2,}(?=\S)")
LIBRARY_NOISE = re.compile(
    r"\w+Warning\b|\[ ?WARN|\[ ?ERROR|^WARNING\b|Premature end of JPEG|Corrupt JPEG|"
    r"libpng (warning|error)|warnings\.warn|^\s*warn\(|^\[[a-z0-9_]+ @ 0x"
)
NON_FINITE = re.compile(r"(?<![\w.])-?(nan|inf|infinity)(?![\w])", re.IGNORECASE)


class Skip(Exception):
    """A case that cannot run here; the message says why."""


@dataclass
class Result:
    rc: int | None
    stdout: str = ""
    stderr: str = ""
    peak_mb: float | None = None
    seconds: float = 0.0
    timed_out: bool = False
    command: str = ""


@dataclass
class Case:
    name: str
    group: str
    make: Callable | None = None  # (ctx, d) -> argv for workbench.py
    expect: str = "any"  # any: exit 0 or 2; ok: exit 0; error: exit 2
    check: Callable | None = None  # (ctx, d, result) -> failure reason or None
    timeout: float = 90.0
    nobody: bool = False
    runner: Callable | None = None  # (ctx, d) -> Result, for cases of several processes
    cost: float = 1.0  # a rough weight: long cases start first
    stdin: bytes | None = None


@dataclass
class Ctx:
    root: Path
    python: str
    workbench: Path
    timeout_scale: float = 1.0
    demo: Path = field(init=False)
    cache: Path = field(init=False)

    def __post_init__(self) -> None:
        self.demo = self.root / "demo"
        self.cache = self.root / "cache"

    def env(self, d: Path, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        env.update(
            WORKBENCH_DATA_DIR=str(d / "data"),
            WORKBENCH_CACHE_DIR=str(self.cache),
            WORKBENCH_RUNS_DIR=str(d / "runs"),
            MPLBACKEND="Agg",
            HOME=str(d),
            TMPDIR=str(d / "tmp"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.pop("DISPLAY", None)
        env.update(extra)
        return env

    def command(self, argv: list[str], nobody: bool = False) -> list[str]:
        return (NOBODY if nobody else []) + [self.python, str(self.workbench), *argv]


# --------------------------------------------------------------------------------------
# Running one process and judging it


def run_process(
    ctx: Ctx,
    d: Path,
    argv: list[str],
    *,
    timeout: float,
    nobody: bool = False,
    env: dict | None = None,
    stdin: bytes | None = None,
) -> Result:
    """Run ``workbench.py argv`` in its own session inside the memory wrapper."""
    cmd = ctx.command(argv, nobody)
    stats = d / f".peak-{time.monotonic_ns()}.json"
    full = [sys.executable, "-c", WRAPPER, str(stats), *cmd]
    start = time.monotonic()
    proc = subprocess.Popen(
        full,
        cwd=d,
        env=env or ctx.env(d),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(stdin, timeout=timeout * ctx.timeout_scale)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    seconds = time.monotonic() - start
    rc, peak = None, None
    if stats.exists():
        data = json.loads(stats.read_text())
        rc, peak = data["rc"], data["kb"] / 1024
        stats.unlink()
    elif not timed_out:
        rc = proc.returncode
    return Result(
        rc=rc,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        peak_mb=peak,
        seconds=seconds,
        timed_out=timed_out,
        command=shlex.join(cmd),
    )


def meaningful_lines(stderr: str) -> list[str]:
    """stderr without progress lines (redrawn with \\r) and argparse's usage block."""
    lines, in_usage = [], False
    for raw in stderr.split("\n"):
        # a progress line not ended before the next message: drop its text
        parts = [PROGRESS_PREFIX.sub("", p) for p in raw.split("\r")]
        parts = [p for p in parts if p.strip() and not PROGRESS.match(p.strip())]
        if not parts:
            continue
        line = parts[-1].rstrip()
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        lines.append(line)
    return lines


def is_error_line(line: str) -> bool:
    return line.startswith("error:") or bool(re.match(r"^\S+( \S+)*: error: ", line))


def judge(case: Case, res: Result, extra: str | None) -> tuple[str, str]:
    """("pass" | "fail", reason)."""
    lines = meaningful_lines(res.stderr)
    if res.timed_out:
        return "fail", f"timed out after {res.seconds:.0f} s"
    if "Traceback (most recent call last)" in res.stderr:
        return "fail", "traceback on stderr"
    if re.search(r"\bunexpected\b", res.stderr, re.IGNORECASE) or "please report" in res.stderr:
        return "fail", "an 'unexpected … please report it' error"
    noise = [line for line in lines if LIBRARY_NOISE.search(line)]
    if noise:
        return "fail", f"library output on stderr: {noise[0][:80]}"
    if NON_FINITE.search(res.stdout):
        return "fail", "a non-finite number on stdout"
    if res.rc == 0 and "--json" in res.command.split():
        bad = json_problem(res.stdout)
        if bad:
            return "fail", bad
    if res.rc == 0:
        if case.expect == "error":
            return "fail", "exit 0 where a refusal was expected"
    elif res.rc == 2:
        # one sentence: the error line, or the only line when it has no "error:" prefix
        errors = [line for line in lines if is_error_line(line)] or lines[-1:] * (len(lines) == 1)
        if case.expect == "ok":
            return "fail", "refused where it should have worked"
        if len(errors) != 1:
            return "fail", f"{len(errors)} error lines on stderr"
        if lines[-1] != errors[0]:
            return "fail", "lines after the error sentence"
    else:
        return "fail", f"exit status {res.rc}"
    if extra:
        return "fail", extra
    return "pass", ""


def json_problem(stdout: str) -> str | None:
    def refuse(token: str):
        raise ValueError(token)

    text = stdout.strip()
    if not text:
        return "no JSON on stdout"
    try:
        json.loads(text, parse_constant=refuse)
        return None
    except ValueError:
        pass
    for line in text.splitlines():
        try:
            json.loads(line, parse_constant=refuse)
        except ValueError as exc:
            return f"invalid JSON on stdout ({str(exc)[:40]})"
    return None


def shown_line(stderr: str) -> str:
    lines = meaningful_lines(stderr)
    errors = [line for line in lines if is_error_line(line)]
    return (errors or lines or [""])[-1 if errors else 0]


# --------------------------------------------------------------------------------------
# Building inputs


def write_wav(path: Path, seconds: float, rate: int = 16000, *, kind: str = "tone") -> Path:
    """A mono 16-bit WAV: a wobbling tone with noise, written in one-minute pieces."""
    import numpy as np

    rng = np.random.default_rng(0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        done = 0
        total = int(seconds * rate)
        while done < total:
            n = min(rate * 60, total - done)
            t = (np.arange(n) + done) / rate
            if kind == "silence":
                x = np.zeros(n)
            else:
                x = 0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(t)) * t)
                x += 0.05 * rng.standard_normal(n)
            w.writeframes((np.clip(x, -1, 1) * 32000).astype("<i2").tobytes())
            done += n
    return path


def wav_bytes(path: Path) -> bytes:
    return path.read_bytes()


def face_png(ctx: Ctx, path: Path, size: int = 48) -> Path:
    import numpy as np
    from PIL import Image

    row = (ctx.demo / "fer2013" / "fer2013.csv").read_text().splitlines()[1].split(",")
    pixels = np.array(row[1].split(), dtype=np.uint8).reshape(48, 48)
    Image.fromarray(pixels).resize((size, size)).save(path)
    return path


def first(pattern: str, folder: Path) -> Path:
    found = sorted(folder.rglob(pattern))
    if not found:
        raise Skip(f"no {pattern} under {folder}")
    return found[0]


def build_fixtures(ctx: Ctx, jobs: int) -> None:
    """Demo data, a small FER CSV and RAVDESS folder, two tiny runs, the long recording."""
    d = ctx.root
    t0 = time.monotonic()
    r = run_process(ctx, d, ["make-demo-data", "--out", str(ctx.demo)], timeout=600)
    if r.rc != 0:
        sys.exit(f"make-demo-data failed in the tested tree: {shown_line(r.stderr)}")
    fer = (ctx.demo / "fer2013" / "fer2013.csv").read_text().splitlines()
    (d / "fer_small.csv").write_text("\n".join([fer[0], *fer[1::6]]) + "\n")
    small = d / "rav_small"
    for actor in sorted((ctx.demo / "ravdess").iterdir()):
        (small / actor.name).mkdir(parents=True)
        wavs = sorted(actor.glob("03-*.wav"))[::10]
        for w in wavs:
            (small / actor.name / w.name).symlink_to(w)
            clip = actor / ("02-" + w.name[3:-4] + ".mp4")
            if clip.exists():
                (small / actor.name / clip.name).symlink_to(clip)
    write_wav(d / "long30min.wav", 30 * 60)
    write_wav(d / "three_s.wav", 3)
    face_png(ctx, d / "face48.png")
    face_png(ctx, d / "face160.png", 160)
    trainings = {
        "face": ["train", "face", "--data", str(d / "fer_small.csv"), "--epochs", "1"],
        "speech": ["train", "speech", "--data", str(d / "rav_small"), "--epochs", "1"],
    }
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {
            kind: pool.submit(
                run_process,
                ctx,
                d,
                [*argv, "--out", str(d / "runs" / kind)],
                timeout=600,
            )
            for kind, argv in trainings.items()
        }
        for kind, fut in futures.items():
            r = fut.result()
            if r.rc != 0:
                sys.exit(f"training the shared {kind} run failed: {shown_line(r.stderr)}")
    for path in [d, *d.rglob("*")]:  # another user must read the inputs (not the cache)
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    print(f"inputs built in {time.monotonic() - t0:.0f} s under {d}", file=sys.stderr)


def run_dir(ctx: Ctx, kind: str) -> Path:
    return ctx.root / "runs" / kind


def copy_run(ctx: Ctx, d: Path, kind: str = "face") -> Path:
    target = d / f"run_{kind}"
    shutil.copytree(run_dir(ctx, kind), target)
    return target


def load_ckpt(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def save_ckpt(payload, path: Path) -> Path:
    import torch

    torch.save(payload, path)
    return path


class Evil:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def nobody_possible() -> str | None:
    if os.geteuid() != 0:
        return "not root, so the child cannot run as another user to be denied"
    if not shutil.which("setpriv"):
        return "setpriv is not installed"
    return None


def open_to_all(d: Path) -> None:
    for path in [d, *d.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777 if path.is_dir() else 0o666)


# --------------------------------------------------------------------------------------
# Checks after a case


def says(*words: str) -> Callable:
    """The error line must contain each of ``words`` (case-insensitive)."""

    def check(ctx, d, res):
        line = shown_line(res.stderr).lower()
        missing = [w for w in words if w.lower() not in line]
        return f"does not say {missing[0]!r}" if missing and res.rc == 2 else None

    return check


def both(*checks: Callable) -> Callable:
    def check(ctx, d, res):
        for c in checks:
            if c is not None and (why := c(ctx, d, res)):
                return why
        return None

    return check


def no_truncated_png(ctx, d, res):
    from PIL import Image

    for png in d.rglob("*.png"):
        try:
            with Image.open(png) as im:
                im.load()
        except Exception:
            return f"a truncated picture was left: {png.name}"
    return None


def json_field(test: Callable[[dict], str | None]) -> Callable:
    def check(ctx, d, res):
        if res.rc != 0:
            return None
        try:
            data = json.loads(res.stdout)
        except ValueError:
            return None  # judged already
        return test(data)

    return check


def finite_history(run: str) -> Callable:
    def check(ctx, d, res):
        path = d / run / "history.csv"
        if res.rc == 0 and path.exists() and NON_FINITE.search(path.read_text()):
            return "the run finished with a non-finite loss in history.csv"
        return None

    return check


# --------------------------------------------------------------------------------------
# The cases


def numeric_cases() -> list[Case]:
    values = ["", "99999999999999999999"]
    floats = {"--lr", "--fraction", "--fractions", "--seconds"}
    options = [
        ("train face", "--epochs", None),
        ("train face", "--batch-size", None),
        ("train face", "--lr", None),
        ("train face", "--patience", None),
        ("train face", "--seed", None),
        ("train speech", "--folds", None),
        ("train fusion", "--frames", None),
        ("train fusion", "--fraction", None),
        ("experiment", "--fractions", None),
        ("embeddings", "--fold", None),
        ("live", "--seconds", None),
        ("live", "--camera", None),
        ("make-demo-data", "--seed", None),
        ("evaluate", "--split", None),
    ]
    cases = []
    for command, option, _ in options:
        tried = values + ["nan", "inf"] if option in floats else values
        for value in tried if option != "--split" else ["", "nan"]:

            def make(ctx, d, command=command, option=option, value=value):
                if command == "train face":
                    base = ["train", "face", "--data", str(ctx.root / "fer_small.csv")]
                    if option != "--epochs":
                        base += ["--epochs", "1"]
                    return [*base, option, value, "--out", str(d / "run")]
                if command == "train speech":
                    data = str(ctx.root / "rav_small")
                    return ["train", "speech", "--data", data, "--epochs", "1", option, value]
                if command == "train fusion":
                    data = str(ctx.root / "rav_small")
                    return ["train", "fusion", "--data", data, "--epochs", "1", option, value]
                if command == "experiment":
                    data = str(ctx.root / "rav_small")
                    return ["experiment", "data-efficiency", "--data", data, option, value]
                if command == "embeddings":
                    model = str(run_dir(ctx, "speech"))
                    return ["embeddings", model, "--out", str(d / "e.png"), option, value]
                if command == "live":
                    other = ["--camera", "7"] if option == "--seconds" else ["--seconds", "1"]
                    return ["live", *other, option, value, "--json"]
                if command == "evaluate":
                    return ["evaluate", str(run_dir(ctx, "face")), option, value]
                return ["make-demo-data", "--out", str(d / "demo"), option, value]

            shown = value if value else "empty"
            cases.append(
                Case(
                    f"value {command} {option} {shown}",
                    "CLI values",
                    make,
                    timeout=120,
                    cost=3 if command.startswith("train") or command == "experiment" else 1,
                )
            )
    return cases


def concurrency_cases() -> list[Case]:
    def two_trainings(ctx: Ctx, d: Path) -> Result:
        argv = ["train", "face", "--data", str(ctx.root / "fer_small.csv"), "--epochs", "2"]
        argv += ["--out", str(d / "run"), "--seed"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(run_process, ctx, d, [*argv, "1"], timeout=240)
            time.sleep(0.5)
            b = pool.submit(run_process, ctx, d, [*argv, "2"], timeout=240)
            ra, rb = a.result(), b.result()
        return combine(ra, rb, expect_one_refused=True)

    def two_demo_data(ctx: Ctx, d: Path) -> Result:
        argv = ["make-demo-data", "--out", str(d / "demo")]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(run_process, ctx, d, argv, timeout=240)
            time.sleep(0.5)
            b = pool.submit(run_process, ctx, d, argv, timeout=240)
            ra, rb = a.result(), b.result()
        res = combine(ra, rb, expect_one_refused=False)
        if res.rc == 0 or ra.rc == 0 or rb.rc == 0:
            want = sorted(p.relative_to(ctx.demo) for p in ctx.demo.rglob("*") if p.is_file())
            got = sorted(p.relative_to(d / "demo") for p in (d / "demo").rglob("*") if p.is_file())
            if got != want:
                extra = set(map(str, got)) ^ set(map(str, want))
                res.note = f"the folder differs from one demo set ({len(extra)} files)"
        return res

    def train_then_resume_meanwhile(ctx: Ctx, d: Path) -> Result:
        run = copy_run(ctx, d)
        argv = ["train", "face", "--resume", str(run), "--epochs", "3"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(run_process, ctx, d, argv, timeout=240)
            time.sleep(0.5)
            b = pool.submit(run_process, ctx, d, argv, timeout=240)
            ra, rb = a.result(), b.result()
        return combine(ra, rb, expect_one_refused=True)

    def first_model_kept(ctx, d, res):
        return getattr(res, "note", None)

    return [
        Case(
            "two trainings into one --out at once",
            "concurrency",
            runner=two_trainings,
            check=first_model_kept,
            cost=8,
        ),
        Case(
            "make-demo-data twice at once into one folder",
            "concurrency",
            runner=two_demo_data,
            check=first_model_kept,
            cost=8,
        ),
        Case(
            "two --resume of one run at once",
            "concurrency",
            runner=train_then_resume_meanwhile,
            check=first_model_kept,
            cost=8,
        ),
        Case(
            "train into an --out that holds a finished run",
            "concurrency",
            lambda ctx, d: [
                "train",
                "face",
                "--data",
                str(ctx.root / "fer_small.csv"),
                "--epochs",
                "1",
                "--out",
                str(copy_run(ctx, d)),
            ],
            expect="error",
            cost=2,
        ),
    ]


def combine(ra: Result, rb: Result, *, expect_one_refused: bool) -> Result:
    """Two processes as one result: the worse exit, both stderr, the larger peak."""
    peaks = [p for p in (ra.peak_mb, rb.peak_mb) if p is not None]
    res = Result(
        rc=ra.rc if ra.rc not in (0, None) else rb.rc,
        stdout=ra.stdout if ra.rc == 0 else rb.stdout,
        stderr=rb.stderr if rb.rc not in (0, None) else ra.stderr,
        peak_mb=max(peaks) if peaks else None,
        seconds=max(ra.seconds, rb.seconds),
        timed_out=ra.timed_out or rb.timed_out,
        command=ra.command + "  &  " + rb.command,
    )
    res.stdout = "" if res.rc != 0 else res.stdout
    if "--json" not in res.command:
        res.stdout = ""
    note = None
    if expect_one_refused and ra.rc == 0 and rb.rc == 0:
        note = "both processes said they succeeded in one folder (the first one's work is lost)"
    if expect_one_refused and (ra.rc, rb.rc).count(0) == 0 and not res.timed_out:
        note = f"neither finished (exits {ra.rc} and {rb.rc})"
    for r in (ra, rb):  # each process must pass the ordinary judgement too
        if r.rc not in (0, 2) and not r.timed_out:
            res.rc = r.rc
    res.note = note
    return res


def demo_data_cases() -> list[Case]:
    user_files = {
        "notes.txt": "my notes",
        "fer2013/my_faces.csv": "emotion,pixels,Usage\n",
        "ravdess/Actor_01/my_take.wav": None,
        "ravdess/Actor_99/03-01-01-01-01-01-99.wav": None,
    }

    def over_demo(ctx, d):
        out = d / "demo"
        shutil.copytree(ctx.demo, out, symlinks=True)
        for name, text in user_files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                write_wav(out / name, 1)
            else:
                (out / name).write_text(text)
        return ["make-demo-data", "--out", str(out)]

    def user_files_kept(ctx, d, res):
        lost = [n for n in user_files if not (d / "demo" / n).exists()]
        return f"the user's files were deleted: {', '.join(lost)}" if lost else None

    def over_user_folder(ctx, d):
        out = d / "mine"
        out.mkdir()
        (out / "thesis.docx").write_text("years of work")
        return ["make-demo-data", "--out", str(out)]

    def user_folder_kept(ctx, d, res):
        f = d / "mine" / "thesis.docx"
        if not f.exists() or f.read_text() != "years of work":
            return "the user's file was changed or deleted"
        if res.rc == 0 and len(list((d / "mine").iterdir())) > 1:
            return "wrote demo data into a folder that held other files"
        return None

    def kill9(ctx: Ctx, d: Path) -> Result:
        out = d / "demo"
        cmd = ctx.command(["make-demo-data", "--out", str(out)])
        proc = subprocess.Popen(
            cmd,
            cwd=d,
            env=ctx.env(d),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(out.rglob("*.wav")):
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(3.0)
        left = group_members(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        # temporary folders go to $TMPDIR (d/tmp) or beside the output
        # (torch keeps its compile cache, torchinductor_<user>, in $TMPDIR by design)
        temps = [p for p in (d / "tmp").iterdir() if not p.name.startswith("torchinductor_")] + [
            p
            for p in d.rglob("*")
            if re.search(r"tmp|\.part$", p.name)
            and p != d / "tmp"
            and "torchinductor_" not in str(p)
        ]
        again = run_process(ctx, d, ["make-demo-data", "--out", str(out)], timeout=240)
        notes = []
        if left:
            notes.append(f"{len(left)} worker processes still ran 3 s after kill -9")
        if temps:
            notes.append(f"{len(temps)} temporary files or folders left ({temps[0].name})")
        if again.rc != 0:
            notes.append("make-demo-data into the same folder afterwards failed")
        again.note = "; ".join(notes) or None
        again.command = shlex.join(cmd) + "  (kill -9 mid-way, then run again)"
        return again

    def as_note(ctx, d, res):
        return getattr(res, "note", None)

    return [
        Case(
            "make-demo-data over a demo folder with user files",
            "data loss",
            over_demo,
            check=user_files_kept,
            cost=6,
            timeout=240,
        ),
        Case(
            "make-demo-data over a folder of user files",
            "data loss",
            over_user_folder,
            check=user_folder_kept,
            cost=2,
        ),
        Case(
            "make-demo-data --out an existing file",
            "data loss",
            lambda ctx, d: (
                (d / "f.txt").write_text("x") and ["make-demo-data", "--out", str(d / "f.txt")]
            ),
            expect="error",
        ),
        Case(
            "make-demo-data --out empty",
            "data loss",
            lambda ctx, d: ["make-demo-data", "--out", ""],
            expect="error",
        ),
        Case(
            "kill -9 of make-demo-data (workers, temp folders, then again)",
            "data loss",
            runner=kill9,
            check=as_note,
            cost=8,
        ),
    ]


def group_members(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


def cache_cases() -> list[Case]:
    import numpy as np

    def damaged(mutate: Callable, what: str):
        def make(ctx, d, mutate=mutate):
            cache = d / "cache"
            shutil.copytree(ctx.cache, cache)
            mutate(cache)
            return ["data-info", str(ctx.root / what), "--json"]

        return make

    def fer_npz(cache: Path) -> list[Path]:
        return sorted((cache / "fer2013").glob("*.npz"))

    def rewrite_fer(change):
        def mutate(cache):
            for path in fer_npz(cache):
                data = dict(np.load(path))
                change(data)
                with open(path, "wb") as f:
                    np.savez(f, **data)

        return mutate

    def garbage(cache):
        for path in fer_npz(cache):
            path.write_bytes(b"garbage" * 100)

    def shape(data):
        data["images"] = np.ascontiguousarray(data["images"][:, :10, :10])

    def labels(data):
        data["labels"] = np.full_like(data["labels"], 99)

    def short(data):
        for k in ("images", "labels", "usage", "sources"):
            data[k] = data[k][:5]

    def features(change):
        def mutate(cache):
            for path in (cache / "features").rglob("*.npy"):
                arr = np.load(path)
                np.save(path, change(arr))

        return mutate

    def counts_match(ctx, d, res):
        try:
            got = json.loads(res.stdout)
        except ValueError:
            return None
        n = got.get("n_items")
        if res.rc == 0 and not n:
            return "data-info reports no items from a damaged cache"
        classes = got.get("classes") or {}
        if res.rc == 0 and classes and min(classes.values()) == 0:
            return "data-info reports zero items of a class (labels out of range trusted)"
        return None

    def train_on(mutate, kind, data_of):
        def make(ctx, d):
            cache = d / "cache"
            shutil.copytree(ctx.cache, cache)
            mutate(cache)
            return ["train", kind, "--data", data_of(ctx), "--epochs", "1", "--out", str(d / "run")]

        return make

    def sane_run(ctx, d, res):
        """A run trained from a damaged cache must have used every source item, with
        finite losses, on inputs of the source's shape (the shared run's settings)."""
        run = d / "run"
        if res.rc != 0 or not (run / "metrics.json").exists():
            return None
        text = (run / "history.csv").read_text() + (run / "metrics.json").read_text()
        if NON_FINITE.search(text):
            return "trained on NaN features: a non-finite loss or score"
        m = json.loads((run / "metrics.json").read_text())
        kind = json.loads((run / "config.json").read_text()).get("kind")
        if kind == "face":
            want = len((ctx.root / "fer_small.csv").read_text().splitlines()) - 1
        else:
            want = len(list((ctx.root / "rav_small").rglob("03-*.wav")))
        got = sum(int(m.get(k) or 0) for k in ("n_train", "n_val", "n_test"))
        if got != want:
            return f"trained and scored on {got} items where the data holds {want}"
        shared = json.loads((run_dir(ctx, kind) / "config.json").read_text())
        mine = json.loads((run / "config.json").read_text())
        if mine.get("model_config") != shared.get("model_config"):
            return "the network was built for inputs of another shape than the data's"
        return None

    fer_csv = lambda ctx: str(ctx.root / "fer_small.csv")  # noqa: E731
    rav = lambda ctx: str(ctx.root / "rav_small")  # noqa: E731
    env_cache = {"cache": True}
    cases = [
        Case(
            "cache: FER images of another shape, data-info",
            "damaged caches",
            damaged(rewrite_fer(shape), "fer_small.csv"),
            check=counts_match,
        ),
        Case(
            "cache: FER labels out of range, data-info",
            "damaged caches",
            damaged(rewrite_fer(labels), "fer_small.csv"),
            check=counts_match,
        ),
        Case(
            "cache: FER cache with 5 items, data-info",
            "damaged caches",
            damaged(rewrite_fer(short), "fer_small.csv"),
            check=lambda ctx, d, res: (
                None
                if res.rc != 0 or json.loads(res.stdout).get("n_items", 0) > 5
                else "the 5-item cache was trusted"
            ),
        ),
        Case(
            "cache: FER images of another shape, train",
            "damaged caches",
            train_on(rewrite_fer(shape), "face", fer_csv),
            check=sane_run,
            cost=3,
            timeout=180,
        ),
        Case(
            "cache: FER labels out of range, train",
            "damaged caches",
            train_on(rewrite_fer(labels), "face", fer_csv),
            check=sane_run,
            cost=3,
            timeout=180,
        ),
        Case(
            "cache: speech features with NaN, train",
            "damaged caches",
            train_on(features(lambda a: np.full_like(a, np.nan)), "speech", rav),
            check=sane_run,
            cost=5,
            timeout=180,
        ),
        Case(
            "cache: speech features of another shape, train",
            "damaged caches",
            train_on(features(lambda a: a[:7, :9]), "speech", rav),
            check=sane_run,
            cost=5,
            timeout=180,
        ),
        Case(
            "cache: garbage bytes in the FER cache, data-info",
            "damaged caches",
            damaged(garbage, "fer_small.csv"),
            check=counts_match,
        ),
    ]
    for c in cases:
        c.cache = env_cache  # type: ignore[attr-defined]
    return cases


def diverging_cases() -> list[Case]:
    """The largest learning rates the command line lets through (and one it must refuse):
    a run whose loss turns NaN or infinite must stop with a sentence about the learning
    rate, never finish with exit 0 and never leave a model that prints NaN."""

    def train(kind: str, lr: str, extra: list[str] = ()):
        def make(ctx, d):
            data = ctx.root / ("fer_small.csv" if kind == "face" else "rav_small")
            return [
                "train",
                kind,
                "--data",
                str(data),
                "--epochs",
                "3",
                "--lr",
                lr,
                *extra,
                "--out",
                str(d / "runs" / "diverged"),
            ]

        return make

    def about_lr(ctx, d, res):
        line = shown_line(res.stderr).lower()
        if res.rc == 2 and "learning rate" not in line and "--lr" not in line:
            return "does not mention the learning rate"
        return None

    def then_predict(ctx: Ctx, d: Path) -> Result:
        argv = train("face", "9.9", ["--optimizer", "sgd", "--mixup", "0.2"])(ctx, d)
        r = run_process(ctx, d, argv, timeout=180)
        p = run_process(ctx, d, ["predict", str(ctx.root / "face48.png"), "--json"], timeout=120)
        p.command = r.command + "  ;  " + p.command
        run = d / "runs" / "diverged"
        history = (run / "history.csv").read_text() if (run / "history.csv").exists() else ""
        note = []
        if r.rc == 0 and NON_FINITE.search(history):
            note.append("the run's loss became non-finite and it still finished with exit 0")
        if (run / "metrics.json").exists() and NON_FINITE.search(
            (run / "metrics.json").read_text()
        ):
            note.append("a non-finite run has metrics.json (it can become a default model)")
        if r.rc not in (0, 2):
            note.append(f"the training ended with exit {r.rc}")
        p.note = "; ".join(note) or None
        return p

    runs = [
        ("face", "1e30", [], "error"),
        ("face", "9.9", [], "any"),
        ("face", "9.9", ["--optimizer", "sgd"], "any"),
        ("speech", "9.9", ["--optimizer", "sgd", "--variant", "gru"], "any"),
    ]
    return [
        Case(
            f"diverging run {kind} --lr {lr}{' ' + ' '.join(x) if x else ''}",
            "diverging runs",
            train(kind, lr, x),
            expect=expect,
            check=both(about_lr, finite_history("runs/diverged")),
            cost=3,
            timeout=180,
        )
        for kind, lr, x, expect in runs
    ] + [
        Case(
            "diverging run, then predict --json with the default model",
            "diverging runs",
            runner=then_predict,
            check=lambda ctx, d, r: getattr(r, "note", None),
            cost=4,
            timeout=180,
        ),
    ]


def permission_cases() -> list[Case]:
    why = nobody_possible()

    def need_nobody():
        if why:
            raise Skip(why)

    def unreadable(kind: str):
        def make(ctx, d):
            need_nobody()
            if kind == "recording":
                f = shutil.copy(ctx.root / "three_s.wav", d / "take.wav")
                args = ["predict", str(f), "--model", str(run_dir(ctx, "speech"))]
            elif kind == "video":
                f = shutil.copy(first("02-*.mp4", ctx.demo), d / "clip.mp4")
                args = ["predict", str(f), "--model", str(run_dir(ctx, "face"))]
            elif kind == "checkpoint":
                f = shutil.copy(run_dir(ctx, "face") / "best.pt", d / "model.pt")
                args = ["predict", str(ctx.root / "face48.png"), "--model", str(f)]
            elif kind == "image":
                f = shutil.copy(ctx.root / "face48.png", d / "face.png")
                args = ["predict", str(f), "--model", str(run_dir(ctx, "face"))]
            elif kind == "resume":
                f = copy_run(ctx, d)
                args = ["train", "face", "--resume", str(f), "--epochs", "2"]
            elif kind == "fer csv":
                f = shutil.copy(ctx.root / "fer_small.csv", d / "fer.csv")
                args = ["data-info", str(f)]
            open_to_all(d)
            if kind == "resume":
                (f / "last.pt").chmod(0)
            else:
                Path(f).chmod(0)
            return args

        return make

    def rav_with(block: str):
        def make(ctx, d):
            need_nobody()
            rav = d / "rav"
            for actor in sorted((ctx.root / "rav_small").iterdir()):
                (rav / actor.name).mkdir(parents=True)
                for f in actor.iterdir():
                    if f.suffix == ".wav":
                        shutil.copy(f, rav / actor.name / f.name)
            open_to_all(d)
            if block == "actor":
                (rav / "Actor_01").chmod(0)
            else:
                for f in sorted((rav / "Actor_02").glob("*.wav"))[:3]:
                    f.chmod(0)
            return rav

        return make

    def skipped_said(ctx, d, res):
        text = (res.stdout + res.stderr).lower()
        if res.rc == 0 and not re.search(r"skip|could not|cannot|unreadable|permission", text):
            return "training dropped unreadable data without a word"
        return None

    def train_rav(block):
        return lambda ctx, d: [
            "train",
            "speech",
            "--data",
            str(rav_with(block)(ctx, d)),
            "--epochs",
            "1",
            "--out",
            str(d / "run"),
        ]

    def info_rav(block):
        return lambda ctx, d: ["data-info", str(rav_with(block)(ctx, d)), "--json"]

    cases = [
        Case(
            f"permission denied: {k}",
            "permission denied",
            unreadable(k),
            nobody=True,
            expect="error",
            check=says("permission denied"),
        )
        for k in ("recording", "video", "checkpoint", "image", "resume", "fer csv")
    ]
    cases += [
        Case(
            "unreadable actor folder: train speech",
            "permission denied",
            train_rav("actor"),
            nobody=True,
            check=skipped_said,
            cost=6,
            timeout=240,
        ),
        Case(
            "unreadable recordings: train speech",
            "permission denied",
            train_rav("files"),
            nobody=True,
            check=skipped_said,
            cost=6,
            timeout=240,
        ),
        Case(
            "unreadable actor folder: data-info",
            "permission denied",
            info_rav("actor"),
            nobody=True,
            check=json_field(
                lambda j: None if j.get("skipped") else "data-info lists nothing skipped"
            ),
        ),
        Case(
            "unreadable recordings: data-info",
            "permission denied",
            info_rav("files"),
            nobody=True,
            check=json_field(
                lambda j: None if j.get("skipped") else "data-info lists nothing skipped"
            ),
        ),
        Case(
            "train --out in a folder the user cannot write",
            "permission denied",
            lambda ctx, d: (
                (need_nobody(), (d / "ro").mkdir(), open_to_all(d), (d / "ro").chmod(0o555))[-1]
                or [
                    "train",
                    "face",
                    "--data",
                    str(ctx.root / "fer_small.csv"),
                    "--epochs",
                    "1",
                    "--out",
                    str(d / "ro" / "run"),
                ]
            ),
            nobody=True,
            expect="error",
            check=says("permission denied"),
        ),
    ]
    return cases


def memory_cases() -> list[Case]:
    def giant(ctx, d):
        import torch

        payload = load_ckpt(run_dir(ctx, "face") / "best.pt")
        cfg = payload["model_config"]
        for k, v in list(cfg.items()):
            if isinstance(v, int) and not isinstance(v, bool) and v >= 8 and "class" not in k:
                cfg[k] = v * 200
            elif isinstance(v, (list, tuple)) and v and all(isinstance(x, int) for x in v):
                cfg[k] = [x * 200 for x in v]
        payload.pop("optimizer", None)
        payload["state_dict"] = {k: t for k, t in payload["state_dict"].items()}
        assert isinstance(payload["state_dict"], dict) and torch
        path = save_ckpt(payload, d / "giant.pt")
        return ["predict", str(ctx.root / "face48.png"), "--model", str(path)]

    def peak_under(limit_mb: float):
        def check(ctx, d, res):
            if res.peak_mb and res.peak_mb > limit_mb:
                return f"peak memory {res.peak_mb:.0f} MB before refusing"
            return None

        return check

    def long_json(ctx, d, res):
        if res.rc == 0:
            j = json.loads(res.stdout)
            if abs(sum(j.get("probabilities", {}).values()) - 1) > 1e-3:
                return "probabilities do not sum to 1"
        return None

    return [
        Case(
            "predict a 30-minute recording (peak memory)",
            "memory and time",
            lambda ctx, d: [
                "predict",
                str(ctx.root / "long30min.wav"),
                "--model",
                str(run_dir(ctx, "speech")),
                "--json",
            ],
            expect="ok",
            check=long_json,
            timeout=600,
            cost=40,
        ),
        Case(
            "predict a 3 s recording (peak memory, for comparison)",
            "memory and time",
            lambda ctx, d: [
                "predict",
                str(ctx.root / "three_s.wav"),
                "--model",
                str(run_dir(ctx, "speech")),
                "--json",
            ],
            expect="ok",
        ),
        Case(
            "checkpoint whose settings claim a giant network",
            "memory and time",
            giant,
            expect="error",
            check=peak_under(3000),
            timeout=120,
        ),
    ]


def resume_cases() -> list[Case]:
    def damaged(change: Callable):
        def make(ctx, d):
            run = copy_run(ctx, d)
            change(run)
            return ["train", "face", "--resume", str(run), "--epochs", "2"]

        return make

    def drop_key(key: str, name="last.pt"):
        def change(run):
            p = load_ckpt(run / name)
            p.pop(key, None)
            save_ckpt(p, run / name)

        return change

    changes = {
        "corrupt config.json": lambda r: (r / "config.json").write_text("{not json"),
        "config.json a list": lambda r: (r / "config.json").write_text("[1, 2]"),
        "config.json without keys": lambda r: (r / "config.json").write_text("{}"),
        "config.json missing": lambda r: (r / "config.json").unlink(),
        "last.pt is a best.pt": lambda r: shutil.copy(r / "best.pt", r / "last.pt"),
        "last.pt missing": lambda r: (r / "last.pt").unlink(),
        "last.pt truncated": lambda r: (r / "last.pt").write_bytes(
            (r / "last.pt").read_bytes()[:5000]
        ),
        "last.pt empty": lambda r: (r / "last.pt").write_bytes(b""),
        "history.csv garbage": lambda r: (r / "history.csv").write_text("x,y\n\x00\x01,,\n"),
        "config.json data path gone": lambda r: (r / "config.json").write_text(
            (r / "config.json").read_text().replace("fer_small.csv", "gone.csv")
        ),
    }
    cases = [
        Case(f"--resume: {what}", "damaged run folders", damaged(change), timeout=150, cost=2)
        for what, change in changes.items()
    ]
    for key in ("state_dict", "optimizer", "epoch", "model_config"):
        cases.append(
            Case(
                f"--resume: last.pt without '{key}'",
                "damaged run folders",
                damaged(drop_key(key)),
                timeout=150,
                cost=2,
            )
        )
    cases.append(
        Case(
            "--resume a folder that is not a run",
            "damaged run folders",
            lambda ctx, d: ["train", "face", "--resume", str(d)],
            expect="error",
        )
    )
    cases.append(
        Case(
            "--resume a file",
            "damaged run folders",
            lambda ctx, d: ["train", "face", "--resume", str(run_dir(ctx, "face") / "best.pt")],
            expect="error",
        )
    )
    cases.append(
        Case(
            "--resume a speech run as face",
            "damaged run folders",
            lambda ctx, d: [
                "train",
                "face",
                "--resume",
                str(copy_run(ctx, d, "speech")),
                "--epochs",
                "2",
            ],
            expect="error",
        )
    )
    return cases


def checkpoint_cases() -> list[Case]:
    import torch

    def crafted(change: Callable, target: str = "face"):
        def make(ctx, d):
            p = load_ckpt(run_dir(ctx, "face") / "best.pt")
            result = change(p, d)
            path = d / "model.pt"
            if isinstance(result, bytes):
                path.write_bytes(result)
            else:
                save_ckpt(p if result is None else result, path)
            file = ctx.root / "face48.png" if target == "face" else ctx.root / "three_s.wav"
            return ["predict", str(file), "--model", str(path), "--json"]

        return make

    def drop(key):
        return lambda p, d: p.pop(key, None) and None

    def reshape_first(p, d):
        k = next(iter(p["state_dict"]))
        p["state_dict"][k] = torch.zeros(3, 3)

    def nan_weights(p, d):
        for k, t in p["state_dict"].items():
            if t.is_floating_point():
                p["state_dict"][k] = torch.full_like(t, float("nan"))

    def inf_weight(p, d):
        k = [k for k, t in p["state_dict"].items() if t.is_floating_point()][-1]
        p["state_dict"][k] = torch.full_like(p["state_dict"][k], float("inf"))

    def extra_key(p, d):
        p["state_dict"]["surprise.weight"] = torch.zeros(2)

    def wrong_classes(p, d):
        p["classes"] = ["a", "b"]

    def evil(p, d):
        import io

        buf = io.BytesIO()
        torch.save({"state_dict": Evil(d / "PWNED")}, buf)
        return buf.getvalue()

    def evil_plain(p, d):
        import pickle

        return pickle.dumps(Evil(d / "PWNED"))

    def not_run(ctx, d, res):
        if (d / "PWNED").exists():
            return "the malicious checkpoint ran code"
        return None

    cases = [
        Case(
            f"checkpoint without '{key}'", "crafted checkpoints", crafted(drop(key)), expect="error"
        )
        for key in ("state_dict", "model_config", "classes", "kind", "format")
    ]
    cases += [
        Case(
            "checkpoint with a wrongly shaped tensor",
            "crafted checkpoints",
            crafted(lambda p, d: reshape_first(p, d)),
            expect="error",
        ),
        Case("checkpoint with NaN weights", "crafted checkpoints", crafted(nan_weights)),
        Case("checkpoint with an infinite weight", "crafted checkpoints", crafted(inf_weight)),
        Case("checkpoint with an extra tensor", "crafted checkpoints", crafted(extra_key)),
        Case(
            "checkpoint with 2 class names",
            "crafted checkpoints",
            crafted(wrong_classes),
            expect="error",
        ),
        Case(
            "checkpoint that is a plain tensor",
            "crafted checkpoints",
            crafted(lambda p, d: torch.zeros(3)),
            expect="error",
        ),
        Case(
            "checkpoint: malicious pickle (torch.save)",
            "crafted checkpoints",
            crafted(evil),
            expect="error",
            check=both(not_run, says("code")),
        ),
        Case(
            "checkpoint: malicious plain pickle",
            "crafted checkpoints",
            crafted(evil_plain),
            expect="error",
            check=both(not_run, says("code")),
        ),
        Case(
            "checkpoint: garbage bytes",
            "crafted checkpoints",
            crafted(lambda p, d: os.urandom(4096)),
            expect="error",
        ),
        Case(
            "checkpoint: empty file",
            "crafted checkpoints",
            crafted(lambda p, d: b""),
            expect="error",
        ),
        Case(
            "checkpoint: truncated",
            "crafted checkpoints",
            crafted(lambda p, d: (run_dir_bytes := save_bytes(p))[: len(run_dir_bytes) // 2]),
            expect="error",
        ),
        Case(
            "checkpoint: a face model for a recording",
            "crafted checkpoints",
            crafted(lambda p, d: None, target="speech"),
            expect="error",
        ),
        Case(
            "checkpoint: a zip that is not a checkpoint",
            "crafted checkpoints",
            crafted(lambda p, d: zip_bytes()),
            expect="error",
        ),
    ]
    # the same crafted files through evaluate and export
    for name, change in (("without 'state_dict'", drop("state_dict")), ("malicious pickle", evil)):
        for command in ("evaluate", "export"):

            def make(ctx, d, change=change, command=command):
                argv = crafted(change)(ctx, d)
                model = argv[argv.index("--model") + 1]
                if command == "evaluate":
                    return ["evaluate", model, "--data", str(ctx.root / "fer_small.csv")]
                return ["export", model, str(d / "out.pt")]

            cases.append(
                Case(
                    f"{command}: checkpoint {name}",
                    "crafted checkpoints",
                    make,
                    expect="error",
                    check=not_run,
                )
            )
    return cases


def save_bytes(payload) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def zip_bytes() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hello")
    return buf.getvalue()


def output_cases() -> list[Case]:
    names = ["out.xyz", "out", "out.PNG", "nodir/out.png", "", "out.png/"]
    cases = []
    for name in names:
        for command in ("explain", "compare", "embeddings"):
            if command != "explain" and name not in ("out.xyz", "out", "nodir/out.png"):
                continue

            def make(ctx, d, name=name, command=command):
                out = name if name in ("", ".") else str(d / name)
                if command == "explain":
                    return [
                        "explain",
                        str(ctx.root / "face48.png"),
                        "--model",
                        str(run_dir(ctx, "face")),
                        "--method",
                        "gradcam",
                        "--out",
                        out,
                    ]
                if command == "compare":
                    return ["compare", str(run_dir(ctx, "face")), "--out", out]
                return ["embeddings", str(run_dir(ctx, "face")), "--out", out]

            cases.append(
                Case(
                    f"output name {command} --out {name or 'empty'}",
                    "output names",
                    make,
                    check=no_truncated_png,
                    cost=2 if command != "compare" else 1,
                )
            )
    return cases


def video_cases() -> list[Case]:
    def take_as(ext: str):
        def make(ctx, d):
            clip = first("02-*.mp4", ctx.demo / "ravdess")
            wav = clip.with_name("03-" + clip.name[3:-4] + ".wav")
            if not wav.exists():
                raise Skip(f"the demo data has no {wav.name} beside {clip.name}")
            shutil.copy(wav, d / wav.name)
            target = d / (clip.stem + ext)
            shutil.copy(clip, target)
            return [
                "predict",
                str(target),
                "--face-model",
                str(run_dir(ctx, "face")),
                "--speech-model",
                str(run_dir(ctx, "speech")),
                "--json",
            ]

        return make

    def used_recording(j):
        speech = j.get("speech") or {}
        if "03-" not in str(speech.get("audio_from", "")):
            return "the take's 03- recording beside it was not used"
        return None

    def silent(ctx, d):
        # two levels down: the product also looks for the take's 03- recording in the
        # folder above the clip's, which must be this case's own
        clip = first("02-*.mp4", ctx.demo / "ravdess")
        (d / "alone" / "Actor_01").mkdir(parents=True)
        target = shutil.copy(clip, d / "alone" / "Actor_01" / clip.name)
        return [
            "predict",
            str(target),
            "--face-model",
            str(run_dir(ctx, "face")),
            "--speech-model",
            str(run_dir(ctx, "speech")),
            "--json",
        ]

    def warned_no_sound(j):
        if not any("sound" in w.lower() for w in j.get("warnings", [])):
            said = "; ".join(j.get("warnings", []))[:120] or "none"
            return f"no warning that there was no sound to hear (warnings: {said}; sound from: {(j.get('speech') or {}).get('audio_from')})"
        return None

    cases = [
        Case(
            f"RAVDESS take as {ext} beside its 03- recording",
            "videos",
            take_as(ext),
            expect="ok",
            check=json_field(used_recording),
            cost=3,
            timeout=150,
        )
        for ext in (".avi", ".mov", ".mkv", ".mp4", ".MP4")
    ]
    cases.append(
        Case(
            "a silent 02- clip on its own",
            "videos",
            silent,
            expect="ok",
            check=json_field(warned_no_sound),
            cost=3,
            timeout=150,
        )
    )
    if SHARED_DATA.exists():

        def real_clip(ctx, d):
            clip = first("*.mp4", SHARED_DATA / "ravdess_video")
            return [
                "predict",
                str(clip),
                "--face-model",
                str(run_dir(ctx, "face")),
                "--speech-model",
                str(run_dir(ctx, "speech")),
                "--json",
            ]

        cases.append(
            Case(
                "a real RAVDESS 01- clip (shared data)",
                "videos",
                real_clip,
                expect="ok",
                cost=4,
                timeout=200,
            )
        )
    return cases


def disk_cases() -> list[Case]:
    def full_disk(build: Callable, size: str = "2m", fill: bool = True):
        def make(ctx, d):
            if os.geteuid() != 0:
                raise Skip("not root, so no small tmpfs can be mounted for a full disk")
            mnt = d / "full"
            mnt.mkdir()
            r = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                capture_output=True,
                text=True,
            )
            if r.returncode:
                raise Skip(f"mount -t tmpfs failed: {r.stderr.strip()[:60]}")
            if fill:
                with open(mnt / "filler", "wb") as f, contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
            return build(ctx, d, mnt)

        return make

    def full_check(ctx, d, res):
        mnt = d / "full"
        try:
            why = no_truncated_png(ctx, mnt, res)
            if why:
                return why
            if res.rc == 2:
                line = shown_line(res.stderr)
                if "disk is full" not in line:
                    return "does not say 'the disk is full'"
                if str(mnt) not in line:
                    return "does not name the path"
            return None
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)

    builds = {
        "explain --out": lambda ctx, d, m: [
            "explain",
            str(ctx.root / "face48.png"),
            "--model",
            str(run_dir(ctx, "face")),
            "--method",
            "gradcam",
            "--out",
            str(m / "x.png"),
        ],
        "compare --out": lambda ctx, d, m: [
            "compare",
            str(run_dir(ctx, "face")),
            "--out",
            str(m / "c.png"),
        ],
        "train --out": lambda ctx, d, m: [
            "train",
            "face",
            "--data",
            str(ctx.root / "fer_small.csv"),
            "--epochs",
            "1",
            "--out",
            str(m / "run"),
        ],
        "export": lambda ctx, d, m: ["export", str(run_dir(ctx, "face")), str(m / "m.pt")],
        "make-demo-data --out": lambda ctx, d, m: ["make-demo-data", "--out", str(m / "demo")],
        "embeddings --out": lambda ctx, d, m: [
            "embeddings",
            str(run_dir(ctx, "face")),
            "--out",
            str(m / "e.png"),
        ],
    }
    cases = [
        Case(
            f"full disk: {what}",
            "full disk",
            full_disk(b),
            expect="error",
            check=full_check,
            cost=2,
        )
        for what, b in builds.items()
    ]
    cases.append(
        Case(
            "nearly full disk (3 MB): train --out",
            "full disk",
            full_disk(builds["train --out"], "3m", fill=False),
            check=full_check,
            cost=2,
        )
    )
    cases.append(
        Case(
            "nearly full disk (8 MB): make-demo-data --out",
            "full disk",
            full_disk(builds["make-demo-data --out"], "8m", fill=False),
            check=full_check,
            cost=3,
        )
    )
    return cases


def file_cases() -> list[Case]:
    """Truncated / garbage / odd WAV, MP4, PNG, JPEG and CSV files; library warnings."""
    import io

    import numpy as np
    from PIL import Image

    def wav_header(n_frames_claimed: int, rate=16000, channels=1, width=2, body=b"") -> bytes:
        import struct

        data = n_frames_claimed * channels * width
        return (
            b"RIFF"
            + struct.pack("<I", 36 + data)
            + b"WAVEfmt "
            + struct.pack(
                "<IHHIIHH",
                16,
                1,
                channels,
                rate,
                rate * channels * width,
                channels * width,
                width * 8,
            )
            + b"data"
            + struct.pack("<I", data)
            + body
        )

    def wav_of(seconds, rate=16000, channels=1, width=2, value=None) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(width)
            w.setframerate(rate)
            n = int(seconds * rate)
            if value is None:
                x = np.sin(np.arange(n * channels) * 0.05) * 0.5
            else:
                x = np.full(n * channels, value)
            scale = 2 ** (8 * width - 1) - 1
            if width == 1:
                w.writeframes((x * 127 + 128).astype(np.uint8).tobytes())
            elif width == 3:
                ints = (x * scale).astype("<i4").tobytes()
                w.writeframes(b"".join(ints[i : i + 3] for i in range(0, len(ints), 4)))
            else:
                w.writeframes((x * scale).astype(f"<i{width}").tobytes())
        return buf.getvalue()

    def float_wav_nan() -> bytes:
        import struct

        body = np.full(16000, np.nan, dtype="<f4").tobytes()
        return (
            b"RIFF"
            + struct.pack("<I", 36 + len(body))
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
            + b"data"
            + struct.pack("<I", len(body))
            + body
        )

    good = wav_of(3)
    wavs = {
        "truncated to half": good[: len(good) // 2],
        "header only": good[:44],
        "0 bytes": b"",
        "garbage bytes": os.urandom(20000),
        "header claims 4 GB": wav_header(2**31 - 100, body=good[44:]),
        "0 channels": wav_header(100, channels=0, body=b"\0" * 200),
        "rate 0": wav_header(100, rate=0, body=b"\0" * 200),
        "24-bit": wav_of(3, width=3),
        "stereo 44.1 kHz": wav_of(3, 44100, 2),
        "1 sample": wav_of(1 / 16000),
        "all zeros (silence)": wav_of(3, value=0.0),
        "float NaN samples": float_wav_nan(),
        "8 channels 192 kHz": wav_of(1, 192000, 8),
        "a PNG named .wav": None,
    }

    def wav_case(label, data):
        def make(ctx, d):
            path = d / "take.wav"
            path.write_bytes(data if data is not None else (ctx.root / "face48.png").read_bytes())
            return ["predict", str(path), "--model", str(run_dir(ctx, "speech")), "--json"]

        return make

    cases = [Case(f"WAV: {k}", "files", wav_case(k, v)) for k, v in wavs.items()]

    def mp4_case(change):
        def make(ctx, d):
            clip = first("02-*.mp4", ctx.demo / "ravdess").read_bytes()
            path = d / "clip.mp4"
            path.write_bytes(change(clip))
            return [
                "predict",
                str(path),
                "--face-model",
                str(run_dir(ctx, "face")),
                "--speech-model",
                str(run_dir(ctx, "speech")),
                "--json",
            ]

        return make

    mp4s = {
        "truncated to a third": lambda b: b[: len(b) // 3],
        "first 1000 bytes": lambda b: b[:1000],
        "0 bytes": lambda b: b"",
        "garbage bytes": lambda b: os.urandom(50000),
        "middle zeroed": lambda b: b[:2000] + b"\0" * (len(b) - 4000) + b[-2000:],
        "a WAV named .mp4": lambda b: good,
    }
    cases += [Case(f"MP4: {k}", "files", mp4_case(v), cost=2) for k, v in mp4s.items()]

    def png(size=(48, 48), mode="L", fmt="PNG") -> bytes:
        buf = io.BytesIO()
        arr = (np.random.default_rng(0).random((size[1], size[0])) * 255).astype(np.uint8)
        im = Image.fromarray(arr).convert(mode)
        im.save(buf, fmt)
        return buf.getvalue()

    def bomb(pixels: int) -> bytes:
        side = int(pixels**0.5) + 1
        buf = io.BytesIO()
        Image.new("L", (side, side)).save(buf, "PNG")
        return buf.getvalue()

    def image_case(make_bytes, suffix=".png"):
        def make(ctx, d):
            data = make_bytes(ctx) if callable(make_bytes) else make_bytes
            path = d / f"face{suffix}"
            path.write_bytes(data)
            return ["predict", str(path), "--model", str(run_dir(ctx, "face")), "--json"]

        return make

    real = lambda ctx: (ctx.root / "face160.png").read_bytes()  # noqa: E731
    jpeg = png((160, 160), "L", "JPEG")
    images = {
        "PNG truncated": (lambda ctx: real(ctx)[: len(real(ctx)) // 2], ".png"),
        "PNG 0 bytes": (b"", ".png"),
        "PNG garbage": (os.urandom(3000), ".png"),
        "PNG 1x1": (png((1, 1)), ".png"),
        "PNG 4000x1": (png((4000, 1)), ".png"),
        "PNG 16-bit": (png((160, 160), "I;16"), ".png"),
        "PNG decompression-bomb warning (90 Mpx)": (lambda ctx: bomb(90_000_000), ".png"),
        "PNG decompression bomb (200 Mpx)": (lambda ctx: bomb(200_000_000), ".png"),
        "JPEG truncated (libjpeg warns)": (jpeg[: len(jpeg) * 2 // 3], ".jpg"),
        "JPEG with garbage in the middle": (jpeg[:600] + os.urandom(400) + jpeg[1000:], ".jpg"),
        "a WAV named .png": (good, ".png"),
        "TIFF CMYK": (png((160, 160), "CMYK", "TIFF"), ".tif"),
        "SVG text": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ".svg"),
    }
    cases += [
        Case(f"image: {k}", "files", image_case(v, s), cost=2 if "bomb" in k else 1, timeout=150)
        for k, (v, s) in images.items()
    ]
    cases.append(
        Case(
            "explain a truncated JPEG",
            "files",
            lambda ctx, d: (
                (d / "f.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])
                and [
                    "explain",
                    str(d / "f.jpg"),
                    "--model",
                    str(run_dir(ctx, "face")),
                    "--method",
                    "gradcam",
                    "--json",
                ]
            ),
        )
    )

    header = "emotion,pixels,Usage"
    px = " ".join(["100"] * 2304)
    rows = {
        "pixels 2303 values": f"0,{' '.join(['1'] * 2303)},Training",
        "pixel 300": f"0,300 {' '.join(['1'] * 2303)},Training",
        "label 7": f"7,{px},Training",
        "label -1": f"-1,{px},Training",
        "Usage unknown": f"0,{px},Holdout",
        "missing column": f"0,{px}",
        "NUL bytes": f"0,{px},Train\0ing",
        "pixels not numbers": f"0,{'a ' * 2304},Training",
    }

    def csv_case(row: str | None, text: str | None = None, command="data-info"):
        def make(ctx, d):
            base = (ctx.root / "fer_small.csv").read_text().splitlines()
            body = text if text is not None else "\n".join([*base, row]) + "\n"
            path = d / "fer.csv"
            path.write_bytes(body.encode("utf-8", "surrogatepass"))
            if command == "data-info":
                return ["data-info", str(path), "--json"]
            return ["train", "face", "--data", str(path), "--epochs", "1", "--out", str(d / "run")]

        return make

    def skipped_listed(ctx, d, res):
        if res.rc == 0 and "--json" in res.command:
            j = json.loads(res.stdout)
            if not j.get("skipped"):
                return "the bad row is neither refused nor listed as skipped"
        return None

    cases += [
        Case(f"CSV row: {k}", "files", csv_case(v), check=skipped_listed) for k, v in rows.items()
    ]
    cases += [
        Case("CSV: empty file", "files", csv_case(None, ""), expect="error"),
        Case("CSV: header only", "files", csv_case(None, header + "\n"), expect="error"),
        Case("CSV: no header", "files", csv_case(None, f"0,{px},Training\n")),
        Case(
            "CSV: binary garbage",
            "files",
            csv_case(None, os.urandom(3000).decode("latin-1")),
            expect="error",
        ),
        Case(
            "CSV: UTF-8 BOM and CRLF",
            "files",
            csv_case(None, "\ufeff" + (header + "\r\n" + f"0,{px},Training\r\n") * 1),
        ),
        Case(
            "CSV: train on a file with a label 7 row",
            "files",
            csv_case(rows["label 7"], command="train"),
            cost=2,
        ),
    ]
    return cases


def gif() -> bytes:
    import io

    from PIL import Image

    frames = [Image.new("L", (64, 64), c) for c in (0, 128, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def new_user_cases() -> list[Case]:
    def fifo(ctx, d):
        os.mkfifo(d / "pipe.wav")
        return ["predict", str(d / "pipe.wav"), "--model", str(run_dir(ctx, "speech"))]

    def loop(ctx, d):
        (d / "a.wav").symlink_to(d / "b.wav")
        (d / "b.wav").symlink_to(d / "a.wav")
        return ["predict", str(d / "a.wav")]

    def odd_name(name):
        def make(ctx, d):
            path = d / name
            shutil.copy(ctx.root / "face48.png", path)
            return ["predict", str(path), "--model", str(run_dir(ctx, "face")), "--json"]

        return make

    face = lambda ctx: str(run_dir(ctx, "face"))  # noqa: E731
    cases = [
        Case(
            "predict a file that does not exist",
            "new user",
            lambda ctx, d: ["predict", str(d / "nope.jpg")],
            expect="error",
        ),
        Case(
            "predict a text file",
            "new user",
            lambda ctx, d: (d / "a.txt").write_text("hi") and ["predict", str(d / "a.txt")],
            expect="error",
        ),
        Case(
            "predict /dev/zero",
            "new user",
            lambda ctx, d: ["predict", "/dev/zero"],
            expect="error",
            timeout=60,
        ),
        Case(
            "predict /dev/null as .wav",
            "new user",
            lambda ctx, d: (
                (d / "n.wav").symlink_to("/dev/null")
                or ["predict", str(d / "n.wav"), "--model", str(run_dir(ctx, "speech"))]
            ),
            expect="error",
        ),
        Case("predict a FIFO named .wav", "new user", fifo, expect="error", timeout=60),
        Case("predict a symlink loop", "new user", loop, expect="error"),
        Case(
            "predict a file whose name starts with '-'",
            "new user",
            lambda ctx, d: (
                shutil.copy(ctx.root / "face48.png", d / "-x.png"),
                ["predict", "--model", face(ctx), "--", "-x.png"],
            )[1],
        ),
        Case(
            "predict a file name with spaces and unicode",
            "new user",
            odd_name("my face é ☺.png"),
            expect="ok",
        ),
        Case("predict a file name with a newline", "new user", odd_name("a\nb.png"), expect="ok"),
        Case(
            "predict --model a run that does not exist",
            "new user",
            lambda ctx, d: [
                "predict",
                str(ctx.root / "face48.png"),
                "--model",
                str(d / "runs" / "gone"),
            ],
            expect="error",
        ),
        Case(
            "predict a photo with a speech model",
            "new user",
            lambda ctx, d: [
                "predict",
                str(ctx.root / "face48.png"),
                "--model",
                str(run_dir(ctx, "speech")),
            ],
            expect="error",
        ),
        Case(
            "predict a 3 s silence",
            "new user",
            lambda ctx, d: [
                "predict",
                str(write_wav(d / "s.wav", 3, kind="silence")),
                "--model",
                str(run_dir(ctx, "speech")),
                "--json",
            ],
        ),
        Case(
            "train --data a missing folder",
            "new user",
            lambda ctx, d: ["train", "face", "--data", str(d / "nope")],
            expect="error",
        ),
        Case(
            "train face --data a RAVDESS folder",
            "new user",
            lambda ctx, d: [
                "train",
                "face",
                "--data",
                str(ctx.root / "rav_small"),
                "--epochs",
                "1",
            ],
            expect="error",
        ),
        Case(
            "train speech --data a FER CSV",
            "new user",
            lambda ctx, d: [
                "train",
                "speech",
                "--data",
                str(ctx.root / "fer_small.csv"),
                "--epochs",
                "1",
            ],
            expect="error",
        ),
        Case(
            "train --data an empty folder",
            "new user",
            lambda ctx, d: ((d / "e").mkdir(), ["train", "speech", "--data", str(d / "e")])[1],
            expect="error",
        ),
        Case(
            "evaluate with no runs at all",
            "new user",
            lambda ctx, d: ["evaluate", str(d / "runs")],
            expect="error",
        ),
        Case(
            "evaluate a speech run on FER data",
            "new user",
            lambda ctx, d: [
                "evaluate",
                str(run_dir(ctx, "speech")),
                "--data",
                str(ctx.root / "fer_small.csv"),
            ],
            expect="error",
        ),
        Case(
            "compare an empty folder",
            "new user",
            lambda ctx, d: ["compare", str(d)],
            expect="error",
        ),
        Case(
            "export onto an existing file",
            "new user",
            lambda ctx, d: (
                (d / "keep.pt").write_text("mine") and ["export", face(ctx), str(d / "keep.pt")]
            ),
            check=lambda ctx, d, r: (
                None
                if (d / "keep.pt").read_text(errors="replace") == "mine" or r.rc == 0
                else "the existing file was changed by a refused export"
            ),
        ),
        Case(
            "export --notes a missing file",
            "new user",
            lambda ctx, d: ["export", face(ctx), str(d / "o.pt"), "--notes", str(d / "n.md")],
            expect="error",
        ),
        Case(
            "live with a camera that is not there",
            "new user",
            lambda ctx, d: ["live", "--camera", "9", "--seconds", "1", "--json"],
            expect="error",
        ),
        Case(
            "live --microphone a missing file",
            "new user",
            lambda ctx, d: ["live", "--microphone", str(d / "m.wav"), "--seconds", "1"],
            expect="error",
        ),
        Case(
            "live --camera a video file",
            "new user",
            lambda ctx, d: [
                "live",
                "--camera",
                str(first("02-*.mp4", ctx.demo)),
                "--face-model",
                face(ctx),
                "--seconds",
                "2",
                "--json",
            ],
            cost=2,
        ),
        Case(
            "data-info an empty folder",
            "new user",
            lambda ctx, d: ["data-info", str(d)],
            expect="error",
        ),
        Case(
            "data-info a WAV file",
            "new user",
            lambda ctx, d: ["data-info", str(ctx.root / "three_s.wav")],
            expect="error",
        ),
        Case(
            "examples with an unknown emotion",
            "new user",
            lambda ctx, d: [
                "examples",
                face(ctx),
                "--true",
                "joy",
                "--predicted",
                "sad",
                "--out",
                str(d / "x.png"),
            ],
            expect="error",
        ),
        Case(
            "examples of an empty confusion cell",
            "new user",
            lambda ctx, d: [
                "examples",
                face(ctx),
                "--true",
                "disgust",
                "--predicted",
                "disgust",
                "--out",
                str(d / "x.png"),
                "--json",
            ],
            cost=2,
        ),
        Case("workbench with no display", "new user", lambda ctx, d: [], expect="error"),
        Case(
            "embeddings --method tsne (scikit-learn warnings)",
            "new user",
            lambda ctx, d: [
                "embeddings",
                face(ctx),
                "--method",
                "tsne",
                "--out",
                str(d / "t.png"),
                "--json",
            ],
            cost=3,
            timeout=180,
        ),
    ]
    if SHARED_DATA.exists():
        fer_real = SHARED_DATA / "fer2013" / "fer2013_sample.csv"

        def real_fer(ctx, d):
            lines = fer_real.read_text().splitlines()[:400]
            (d / "real.csv").write_text("\n".join(lines) + "\n")
            return ["data-info", str(d / "real.csv"), "--json"]

        def real_wav(ctx, d):
            wav = first("*.flac", SHARED_DATA / "ravdess_speech_16k")
            return ["predict", str(wav), "--model", str(run_dir(ctx, "speech")), "--json"]

        def real_flac(ctx, d):
            flac = first("*.wav", SHARED_DATA / "ravdess_wav48k_samples")
            return ["predict", str(flac), "--model", str(run_dir(ctx, "speech")), "--json"]

        cases += [
            Case("real FER-2013 slice (400 rows): data-info", "real data", real_fer, expect="ok"),
            Case("real RAVDESS 16 kHz FLAC: predict", "real data", real_wav, expect="ok"),
            Case("real RAVDESS 48 kHz WAV: predict", "real data", real_flac),
        ]
    return cases


def all_cases() -> list[Case]:
    cases = (
        concurrency_cases()
        + demo_data_cases()
        + cache_cases()
        + diverging_cases()
        + permission_cases()
        + memory_cases()
        + resume_cases()
        + checkpoint_cases()
        + output_cases()
        + video_cases()
        + disk_cases()
        + file_cases()
        + new_user_cases()
        + numeric_cases()
    )
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


# --------------------------------------------------------------------------------------
# The sweep


def run_case(ctx: Ctx, case: Case, index: int) -> dict:
    d = ctx.root / "cases" / f"{index:03d}"
    (d / "tmp").mkdir(parents=True)
    (d / "tmp").chmod(0o1777)
    row = {"case": case.name, "group": case.group}
    try:
        if case.runner:
            res = case.runner(ctx, d)
        else:
            argv = case.make(ctx, d)
            env = ctx.env(d)
            if getattr(case, "cache", None):
                env["WORKBENCH_CACHE_DIR"] = str(d / "cache")
            if case.nobody:
                env["WORKBENCH_CACHE_DIR"] = str(d / "cache")
                (d / "cache").mkdir(exist_ok=True)
                open_to_all(d / "cache")
                d.chmod(0o777)
            res = run_process(
                ctx, d, argv, timeout=case.timeout, nobody=case.nobody, env=env, stdin=case.stdin
            )
        extra = case.check(ctx, d, res) if case.check else None
        verdict, reason = judge(case, res, extra)
        row.update(
            exit=res.rc,
            stderr=shown_line(res.stderr)[:400],
            peak_mb=round(res.peak_mb, 1) if res.peak_mb is not None else None,
            seconds=round(res.seconds, 1),
            verdict=verdict,
            reason=reason,
            command=res.command,
        )
    except Skip as exc:
        row.update(
            exit=None,
            stderr="",
            peak_mb=None,
            seconds=0,
            verdict="skip",
            reason=str(exc),
            command="",
        )
    except Exception as exc:  # the sweep's own failure: say it, keep going
        row.update(
            exit=None,
            stderr="",
            peak_mb=None,
            seconds=0,
            verdict="error",
            reason=f"the sweep could not build this case: {type(exc).__name__}: {exc}"[:300],
            command="",
        )
    return row


def print_row(row: dict, width: int) -> None:
    peak = f"{row['peak_mb']:.0f}" if row.get("peak_mb") is not None else "-"
    exit_ = "-" if row.get("exit") is None else str(row["exit"])
    line = (row.get("stderr") or "").replace("\t", " ")
    verdict = row["verdict"] + (f" ({row['reason']})" if row.get("reason") else "")
    print(f"{row['case'][:width]:<{width}} {exit_:>4} {peak:>6}  {verdict}", flush=True)
    if line:
        print(f"{'':<{width}}      {'':>6}  stderr: {line[:110]}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--only",
        metavar="SUBSTRING",
        action="append",
        help="run only the cases whose name has it (repeat for several)",
    )
    ap.add_argument("--json", metavar="FILE", help="write the results, one object per line")
    ap.add_argument("--rerun", metavar="FILE", help="only the cases that failed in this --json")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument(
        "--workbench",
        metavar="PATH",
        default=str(ROOT),
        help="the checkout whose workbench.py to test (default: this one)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--inputs",
        metavar="DIR",
        help="build the shared inputs here once and reuse them on later runs "
        "(implies --keep; for working on the sweep itself)",
    )
    ap.add_argument("--list", action="store_true", help="list the cases and stop")
    args = ap.parse_args(argv)

    tree = Path(args.workbench).resolve()
    if not (tree / "workbench.py").is_file():
        ap.error(f"{tree} has no workbench.py; pass the root of a checkout to --workbench")
    python = tree / ".venv" / "bin" / "python"
    python = str(python) if python.exists() else sys.executable

    cases = all_cases()
    if args.only:
        cases = [c for c in cases if any(o.lower() in c.name.lower() for o in args.only)]
    if args.rerun:
        failed = set()
        for line in Path(args.rerun).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row["verdict"] in ("fail", "error"):
                    failed.add(row["case"])
        cases = [c for c in cases if c.name in failed]
    if args.list:
        for c in cases:
            print(f"{c.group:<22} {c.name}")
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2

    if args.inputs:
        args.keep = True
        root = Path(args.inputs).resolve()
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root / "cases", ignore_errors=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="hostile-"))
    root.chmod(0o755)
    ctx = Ctx(root, python, tree / "workbench.py")
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    start = time.monotonic()
    rows: list[dict] = []
    try:
        if not (root / "built").exists():
            build_fixtures(ctx, args.jobs)
            (root / "built").write_text(str(tree))
        width = min(60, max(len(c.name) for c in cases))
        print(f"{'case':<{width}} {'exit':>4} {'MB':>6}  verdict")
        order = sorted(range(len(cases)), key=lambda i: -cases[i].cost)
        lock = threading.Lock()
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = [pool.submit(run_case, ctx, cases[i], i) for i in order]
            for fut in concurrent.futures.as_completed(futures):
                row = fut.result()
                with lock:
                    rows.append(row)
                    print_row(row, width)
    finally:
        subprocess.run(["umount", "-l", *map(str, root.glob("cases/*/full"))], capture_output=True)
        if args.keep:
            print(f"inputs kept in {root}", file=sys.stderr)
        else:
            for p in [root, *root.rglob("*")]:
                with contextlib.suppress(OSError):
                    if not p.is_symlink():
                        p.chmod(0o777 if p.is_dir() else 0o666)
            shutil.rmtree(root, ignore_errors=True)

    rows.sort(key=lambda r: [c.name for c in cases].index(r["case"]))
    totals = {v: sum(r["verdict"] == v for r in rows) for v in ("pass", "fail", "skip", "error")}
    print()
    print(f"tested: {tree} ({python})")
    print(
        f"{len(rows)} cases: {totals['pass']} pass, {totals['fail']} fail, "
        f"{totals['skip']} skipped, {totals['error']} could not be built; "
        f"{time.monotonic() - start:.0f} s with --jobs {args.jobs}"
    )
    groups = sorted({r["group"] for r in rows})
    for g in groups:
        mine = [r for r in rows if r["group"] == g]
        print(f"  {g:<22} {sum(r['verdict'] == 'pass' for r in mine):>3} / {len(mine)} pass")
    for r in rows:
        if r["verdict"] == "skip":
            print(f"skipped: {r['case']}: {r['reason']}")
    if args.json:
        with open(args.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 0 if totals["fail"] == 0 and totals["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
