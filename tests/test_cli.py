"""The headless command line: data-info output and exit status 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, fer_rows, write_fer_csv, write_ravdess

import workbench


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "workbench.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=120,
    )


def test_data_info_json_for_fer(fer_csv, capsys):
    assert workbench.main(["data-info", str(fer_csv.parent), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "fer2013" and info["n_items"] == 49
    assert info["classes"]["happy"] == 7
    assert info["splits"] == {"train": 28, "val": 14, "test": 7}
    assert info["skipped"] == []


def test_data_info_json_for_ravdess(tmp_path, capsys):
    root = write_ravdess(tmp_path / "r", actors=(1, 2, 4))
    (root / "Actor_01" / "03-01-99-01-01-01-01.wav").write_bytes(b"")
    assert workbench.main(["data-info", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "ravdess" and info["n_items"] == 18
    assert info["actors"] == [1, 2, 4]
    assert info["classes"]["neutral"] == 6 and info["classes"]["calm"] == 0
    assert info["skipped"] == [
        {"path": "Actor_01/03-01-99-01-01-01-01.wav", "reason": "emotion 99 is not 01-08"}
    ]


def test_data_info_text_lists_classes(fer_csv, capsys):
    assert workbench.main(["data-info", str(fer_csv)]) == 0
    out = capsys.readouterr().out
    assert "fer2013" in out and "disgust" in out and "train 28, val 14, test 7" in out


def test_bad_inputs_exit_2_with_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    lines = [fer_rows(1)[0]]
    bad_csv = write_fer_csv(tmp_path / "fer2013.csv", lines, "emotion,pixels,Usage")
    bad_csv.write_text(bad_csv.read_text().replace(" 1", " x", 1))
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path / "empty"): "neither FER-2013",
        str(bad_csv): "line 2",
    }
    for path, expected in cases.items():
        proc = run_cli("data-info", path)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr
        assert path in proc.stderr


def test_negative_seed_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        workbench.main(["make-demo-data", "--seed", "-3"])
    assert exc.value.code == 2 and "0 or more" in capsys.readouterr().err


def test_make_demo_data_refuses_a_real_data_folder(tmp_path, capsys):
    (tmp_path / "ravdess" / "Actor_01").mkdir(parents=True)
    (tmp_path / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.wav").write_bytes(b"real")
    assert workbench.main(["make-demo-data", "--out", str(tmp_path)]) == 2
    assert "not an earlier demo-data folder" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        workbench.main(["fly"])
    assert exc.value.code == 2


def test_gui_without_display_points_to_the_terminal_demo(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert workbench.main([]) == 2
    err = capsys.readouterr().err
    assert "No display" in err and "python workbench.py demo" in err


def test_a_missing_package_says_how_to_set_up(monkeypatch, capsys):
    """Run outside .venv, a command that needs torch says how to set up, not 'please report'."""

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(workbench, "cmd_demo", needs_torch)
    assert workbench.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "'torch' is not installed" in err and "make setup" in err
    assert "please report" not in err and len(err.strip().splitlines()) == 1

    def broken(args):  # a missing module of the project itself is a bug: it is not hidden
        raise ModuleNotFoundError("No module named 'training.nothing'", name="training.nothing")

    monkeypatch.setattr(workbench, "cmd_demo", broken)
    with pytest.raises(ModuleNotFoundError):
        workbench.main(["demo"])
