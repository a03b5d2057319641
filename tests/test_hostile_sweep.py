"""The hostile-input sweep's own judgement (bench/hostile_inputs.py): what passes, what
fails, and which cases --only / --rerun pick. The sweep itself runs the CLI ~200 times
and is a benchmark, not a test; these checks are fast."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "bench" / "hostile_inputs.py"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("hostile_inputs", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_inputs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def verdict(sweep, rc, stderr="", stdout="", expect="any", command="workbench.py predict x"):
    case = sweep.Case("c", "g", expect=expect)
    res = sweep.Result(rc=rc, stdout=stdout, stderr=stderr, command=command)
    return sweep.judge(case, res, None)


USAGE = "usage: workbench.py train [-h] [--epochs N]\n                   [--seed N]\n"


def test_one_sentence_refusals_pass(sweep):
    assert verdict(sweep, 2, "error: 'x.wav' does not exist; pass a recording.\n")[0] == "pass"
    argparse_error = USAGE + "workbench.py train: error: argument --seed: expected a number\n"
    assert verdict(sweep, 2, argparse_error)[0] == "pass"
    progress = "Generating demo data:   5.6%   \rGenerating demo data:   7.0%   error: no room.\n"
    assert sweep.meaningful_lines(progress) == ["error: no room."]
    assert verdict(sweep, 2, progress)[0] == "pass"
    assert verdict(sweep, 2, "No display is available; run 'make demo'.\n")[0] == "pass"
    assert verdict(sweep, 0, "loading…\n", '{"top": "happy"}', command="a --json")[0] == "pass"


@pytest.mark.parametrize(
    "rc, stderr, stdout, expect, why",
    [
        (1, "Traceback (most recent call last):\n  File x\nValueError\n", "", "any", "traceback"),
        (1, "error: unexpected KeyError ('a'); please report it.\n", "", "any", "unexpected"),
        (2, "error: one.\nerror: two.\n", "", "any", "2 error lines"),
        (2, "error: one.\nmore words\n", "", "any", "lines after"),
        (2, "x.py:3: UserWarning: careful\nerror: one.\n", "", "any", "library output"),
        (2, "[ WARN:0@1.2] global cap.cpp\nerror: one.\n", "", "any", "library output"),
        (0, "", '{"p": NaN}', "any", "non-finite"),
        (0, "", "accuracy nan%", "any", "non-finite"),
        (0, "", "{not json", "any", "invalid JSON"),
        (0, "", "{}", "error", "refusal was expected"),
        (2, "error: no.\n", "", "ok", "refused"),
        (137, "", "", "any", "exit status 137"),
    ],
)
def test_failures_are_named(sweep, rc, stderr, stdout, expect, why):
    result, reason = verdict(sweep, rc, stderr, stdout, expect, command="workbench.py x --json")
    assert result == "fail"
    assert why in reason


def test_time_out_and_own_check_fail(sweep):
    case = sweep.Case("c", "g")
    late = sweep.Result(rc=None, timed_out=True, seconds=90)
    assert sweep.judge(case, late, None) == ("fail", "timed out after 90 s")
    fine = sweep.Result(rc=0, stdout="ok")
    assert sweep.judge(case, fine, "the user's files were deleted") == (
        "fail",
        "the user's files were deleted",
    )


def test_only_and_rerun_pick_cases(sweep, tmp_path, capsys):
    cases = sweep.all_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    groups = {c.group for c in cases}
    for group in (
        "concurrency",
        "data loss",
        "damaged caches",
        "diverging runs",
        "permission denied",
        "memory and time",
        "damaged run folders",
        "crafted checkpoints",
        "CLI values",
        "output names",
        "videos",
        "full disk",
        "files",
    ):
        assert group in groups
    earlier = tmp_path / "before.jsonl"
    rows = [{"case": names[3], "verdict": "fail"}, {"case": names[4], "verdict": "pass"}]
    earlier.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert sweep.main(["--rerun", str(earlier), "--list"]) == 0
    listed = capsys.readouterr().out
    assert names[3] in listed and names[4] not in listed
    assert sweep.main(["--only", "malicious", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) > 1 and all("malicious" in line for line in listed[:-1])
