"""``bench/gpu_check.py``: its whole plan rehearsed on the CPU (``--dry-run``), and its one
sentence on a machine without a GPU."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest
import torch
from conftest import ROOT, write_fer_folders

SCRIPT = ROOT / "bench" / "gpu_check.py"


def gpu_check(*args: str, timeout: float = 170) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_in_one_sentence(tmp_path):
    done = gpu_check("--out", str(tmp_path / "out"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 1 and "no CUDA GPU" in done.stdout
    assert not (tmp_path / "out").exists()


def test_bad_input_is_one_sentence_and_status_2(tmp_path):
    done = gpu_check("--dry-run", "--data", str(tmp_path / "nowhere"), timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "No FER-2013 folder" in done.stderr and "--data" in done.stderr


def test_the_dry_run_rehearses_the_whole_plan_on_the_cpu(tmp_path):
    fer = write_fer_folders(tmp_path / "fer", {"train": 10})  # 70 faces, 7 held out
    out = tmp_path / "out"
    done = gpu_check("--dry-run", "--data", str(fer), "--out", str(out), "--budget", "150")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "gpu_check.json").read_text())
    rows = {c["check"].split(",")[0]: c for c in report["checks"]}
    assert list(rows) == ["cuda tests", "throughput", "ddp", "FER-2013 full preset"]
    assert rows["cuda tests"]["result"] == "skipped"  # no CUDA here: every cuda test skips
    assert rows["cuda tests"]["figure"].startswith(f"{count_cuda_tests()} skipped")
    assert rows["throughput"]["result"] == "ok" and " img/s = " in rows["throughput"]["figure"]
    distributed = (ROOT / "training" / "distributed.py").is_file()
    assert rows["ddp"]["result"] == ("ok" if distributed else "not in this tree")
    fer_run = rows["FER-2013 full preset"]
    assert fer_run["result"] == "ok" and fer_run["figure"].startswith("2 epochs")  # resumed
    assert report["seconds"] <= 150 and "nan" not in json.dumps(report).lower()
    table = (out / "gpu_check.txt").read_text()
    assert table.splitlines()[0].split() == ["check", "result", "figure", "seconds"]
    assert table in done.stdout
    with tarfile.open(out / "fer2013_full_run.tar.gz") as tar:
        names = {n.split("/")[-1] for n in tar.getnames()}
    assert {"metrics.json", "best.pt", "history.csv", "config.json"} <= names
    assert "last.pt" not in names
    assert len(list(out.iterdir())) <= 8  # what the GPU machine's $OUT gives back


def count_cuda_tests() -> int:
    text = (ROOT / "tests" / "test_cuda_path.py").read_text()
    return text.count("\ndef test_")
