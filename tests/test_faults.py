"""Faults that must lose nothing and hide nothing: two trainings into one folder, stale
locks left by a killed process (issue 20)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from datasets.errors import WorkbenchError
from training.runs import LOCK_NAME, owned
from training.train import TrainOptions, train_model


def dead_pid() -> int:
    """The number of a process that has just ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_training_into_a_folder_being_trained_is_refused(fer_csv, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    opts = TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=str(out))
    with owned(out):  # another process's training, mid-way
        (out / "config.json").write_text("{}")
        with pytest.raises(WorkbenchError, match="is being trained by another workbench"):
            train_model(opts)
        assert (out / "config.json").read_text() == "{}"  # nothing of it overwritten
        assert sorted(p.name for p in out.iterdir()) == ["config.json", LOCK_NAME]
        # Resuming it meanwhile is refused the same way.
        with pytest.raises(WorkbenchError, match="another workbench process"):
            with owned(out):
                pass
    assert not (out / LOCK_NAME).exists()  # released at the end
    (out / "config.json").unlink()
    train_model(opts)  # then it is free
    assert (out / "metrics.json").is_file() and not (out / LOCK_NAME).exists()
    with pytest.raises(WorkbenchError, match="already holds a trained model"):
        train_model(opts)  # and once trained, --out refuses as before


def test_two_trainings_started_into_one_out_at_once_leave_one_run(fer_csv, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "workbench.py"), "train", "face"]
    command += ["--data", str(fer_csv.parent), "--epochs", "2", "--out", str(out)]
    env = {**os.environ, "WORKBENCH_RUNS_DIR": str(tmp_path / "runs")}
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "Traceback" not in refused
    refused = refused.strip().splitlines()[-1]  # after the progress lines: one sentence
    assert refused.startswith("error: "), refused
    assert "another workbench process" in refused or "already holds a trained model" in refused
    assert (out / "metrics.json").is_file() and not (out / LOCK_NAME).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text(f"{dead_pid()} {socket.gethostname()}\n")
    with owned(tmp_path):
        assert lock.read_text().split()[0] == str(os.getpid())
    assert not lock.exists()
    lock.write_text("")  # died between creating and writing it, long ago
    os.utime(lock, (0, 0))
    with owned(tmp_path):
        pass
    lock.write_text("")  # being written this instant by a process starting
    with pytest.raises(WorkbenchError, match="a process that is starting"):
        with owned(tmp_path):
            pass
    lock.write_text(f"{os.getpid()} another-machine\n")  # a shared folder: never taken over
    with pytest.raises(WorkbenchError, match="on another-machine"):
        with owned(tmp_path):
            pass


def children(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_killing_make_demo_data_ends_its_workers_and_leaves_no_temporary_folder(tmp_path):
    command = [sys.executable, str(ROOT / "workbench.py"), "make-demo-data"]
    proc = subprocess.Popen(
        [*command, "--out", str(tmp_path / "demo")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (workers := children(proc.pid)) or not list(
            tmp_path.glob(".demo.tmp-*/ravdess/*/*")
        ):
            assert proc.poll() is None and time.monotonic() < deadline, "never got under way"
            time.sleep(0.1)
        workers = children(proc.pid)  # every worker by now
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(alive(w) for w in workers) or list(tmp_path.glob(".demo.tmp-*")):
            assert time.monotonic() < deadline, (
                [w for w in workers if alive(w)],
                list(tmp_path.glob(".demo.tmp-*")),
            )
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (tmp_path / "demo").exists()  # and nothing that looks finished
