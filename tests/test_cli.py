"""The headless command line: data-info output and exit status 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, fer_rows, write_fer_csv, write_ravdess

import cli.demo
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
    assert exc.value.code == 2 and "from 0 to 4294967295" in capsys.readouterr().err


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

    monkeypatch.setattr(cli.demo, "cmd_demo", needs_torch)
    assert workbench.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "'torch' is not installed" in err and "make setup" in err
    assert "please report" not in err and len(err.strip().splitlines()) == 1

    def broken(args):  # a missing module of the project itself is a bug: it is not hidden
        raise ModuleNotFoundError("No module named 'training.nothing'", name="training.nothing")

    monkeypatch.setattr(cli.demo, "cmd_demo", broken)
    with pytest.raises(ModuleNotFoundError):
        workbench.main(["demo"])

    # The parser itself imports the training code: without torch, --help says the same.
    monkeypatch.setattr(workbench, "build_parser", lambda: needs_torch(None))
    assert workbench.main(["--help"]) == 2
    assert "'torch' is not installed" in capsys.readouterr().err


def subcommands() -> dict:
    parser = workbench.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub


def test_every_command_has_a_one_line_description_and_no_foreign_flags():
    parser, sub = subcommands()
    summaries = {c.dest: c.help for c in sub._choices_actions}
    assert set(summaries) == set(sub.choices)
    for name, command in sub.choices.items():
        assert summaries[name] and command.description, name
        assert command.description.lower() == summaries[name].lower(), name
    # Only train has --resume; the help of the others must not talk of it.
    for name in ("demo", "experiment"):
        assert "resume" not in sub.choices[name].format_help(), name
    assert "--resume" in sub.choices["train"].format_help()
    top = parser.format_help()
    assert "With no COMMAND it opens the window" in " ".join(top.split())


def test_help_names_papers_not_seed_numbers():
    _, sub = subcommands()
    text = " ".join(command.format_help() for command in sub.choices.values())
    assert "seed 00" not in text
    for authors in ("Ristea, Duțu & Radoi (2019)", "Song, Cai & Tan", "Guo, Polanía & Barner"):
        assert authors in " ".join(text.split()), authors


def fake_run(name: str, kind: str, data: dict, n: int = 120, **metrics):
    from pathlib import Path

    from training.records import Run

    return Run(
        name=name,
        dir=Path("runs") / name,
        model=Path("runs") / name / "best.pt",
        kind=kind,
        config={"data": {"is_demo": True, **data}},
        history=[{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.6}],
        metrics={"accuracy": 0.7, "uar": 0.6, "split": "test", "n_items": n, **metrics},
    )


def test_comparison_labels_say_the_test_items_and_never_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from training.plots import LABEL_WIDTH
    from training.report import comparison_figure
    from training.wording import scored_on

    actors = {"actors": {"train": [1, 2], "val": [3], "test": [11, 12]}}
    runs = [
        fake_run("face (demo)", "face", {"test": "PrivateTest"}, 340),
        fake_run("speech (demo)", "speech", actors),
        fake_run("fusion concat (demo takes)", "fusion", {**actors, "pairing": "takes"}),
        fake_run("fusion-class", "fusion", {**actors, "pairing": "class", "face_test": "x"}, 1438),
        fake_run("speech ensemble", "speech", actors, 1440, cv={"folds": []}),
        fake_run("a very long run name without any spaces in it at all " * 2, "face", {}, 7),
    ]
    assert [scored_on(r) for r in runs] == [
        "FER test: 340 faces",
        "test actors 11-12: 120 clips",
        "test actors 11-12: 120 takes",
        "half of FER validation + test actors 11-12: 1,438 pairs",
        "each fold's unheard actors: 1,440 clips",
        "FER test: 7 faces",
    ]
    fig = comparison_figure(runs)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    ax_bars = fig.axes[1]
    labels = ax_bars.get_xticklabels()
    name, items = labels[0].get_text().split("\n", 1)  # wrapped to fit under its bar
    assert name == "face (demo)" and items.replace("\n", " ") == "FER test: 340 faces"
    assert all(len(line) <= LABEL_WIDTH for t in labels for line in t.get_text().split("\n"))
    boxes = [t.get_window_extent(canvas.get_renderer()) for t in labels]
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)
