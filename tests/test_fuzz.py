"""Hostile inputs, generated: every command ends with exit 0, or exit 2 and one sentence.

Hypothesis mutates what users hand the workbench — checkpoints (truncated, bytes flipped,
keys dropped, tensors of other shapes or types, other classes), run folders (config.json
and metrics.json), FER-style CSV rows, image bytes and WAV headers — and calls the command
line in-process. Whatever it makes, the answer is a result (exit 0, valid JSON where
``--json`` asked for it) or one sentence on stderr with exit status 2: never a traceback,
never "unexpected … please report it". ``derandomize=True`` makes every run try the same
cases, so a failure is reproducible and the module stays within its time;
``WORKBENCH_FUZZ_SCALE=10`` tries ten times as many (and other) cases.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROOT, tone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import workbench

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SPEECH_MODEL = ROOT / "pretrained" / "speech_ravdess.pt"


def examples(n: int) -> int:
    """``n`` cases per test, times ``WORKBENCH_FUZZ_SCALE`` (default 1) for a longer hunt."""
    return n * int(os.environ.get("WORKBENCH_FUZZ_SCALE", "1"))


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``workbench.main(argv)`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = workbench.main(argv)
    return code, out.getvalue(), err.getvalue()


def strict_json(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def assert_answered(argv: list[str]) -> tuple[int, str, str]:
    """Run ``argv``: exit 0 (with valid JSON for ``--json``), or exit 2 with exactly one
    sentence on stderr."""
    code, out, err = run_cli(argv)
    assert "Traceback" not in err and "please report it" not in err, (argv, err)
    if code == 0:
        if "--json" in argv:
            strict_json(out)
        return code, out, err
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    assert lines[0].endswith((".", ".)")), (argv, err)
    return code, out, err


# JSON values of every kind, NaN and infinity included (Python's json writes and reads them).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def run(tiny_face_run) -> Path:
    """A face run trained for one epoch on a tiny FER CSV (read only: copied to damage)."""
    return tiny_face_run


@pytest.fixture(scope="module")
def face_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("face") / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), np.uint8)).save(path)
    return path


# --------------------------------------------------------------------- checkpoints

# How a checkpoint is damaged: each a (name, arguments) tuple applied by ``damage``.
checkpoint_damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 0.999)),
    st.tuples(st.just("flip"), st.lists(st.integers(0, 10**7), min_size=1, max_size=8)),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("value"), st.integers(0, 20), json_values),
    st.tuples(st.just("config"), st.integers(0, 30), json_values),
    st.tuples(st.just("shape"), st.integers(0, 60), st.lists(st.integers(0, 9), max_size=4)),
    st.tuples(
        st.just("dtype"),
        st.integers(0, 60),
        st.sampled_from(["int64", "bool", "uint8", "float16", "float64", "complex64"]),
    ),
    st.tuples(st.just("poison"), st.integers(0, 60), st.sampled_from([np.nan, np.inf, 1e38])),
    st.tuples(st.just("classes"), st.lists(st.text(max_size=4), max_size=9)),
)


def damage(payload: dict, how: tuple) -> bytes:
    """The bytes of ``payload`` damaged as ``how`` says."""
    payload = dict(payload)
    state = dict(payload["state_dict"])
    names = sorted(state)
    kind, *args = how
    if kind == "drop":
        payload.pop(sorted(payload)[args[0] % len(payload)])
    elif kind == "value":
        payload[sorted(payload)[args[0] % len(payload)]] = args[1]
    elif kind == "config":
        config = dict(payload["model_config"])
        config[sorted(config)[args[0] % len(config)]] = args[1]
        payload["model_config"] = config
    elif kind == "shape":
        state[names[args[0] % len(names)]] = torch.zeros(args[1])
    elif kind == "dtype":
        name = names[args[0] % len(names)]
        state[name] = state[name].to(getattr(torch, args[1]))
    elif kind == "poison":
        name = names[args[0] % len(names)]
        state[name] = torch.full_like(state[name].float(), args[1])
    elif kind == "classes":
        payload["classes"] = args[0]
    if kind in ("shape", "dtype", "poison"):  # else a dropped or replaced state_dict stays so
        payload["state_dict"] = state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = bytearray(buffer.getvalue())
    if kind == "truncate":
        data = data[: int(len(data) * args[0])]
    elif kind == "flip":
        for i in args[0]:
            data[i % len(data)] ^= 0xFF
    return bytes(data)


@settings(FUZZ, max_examples=examples(30))
@given(how=checkpoint_damage)
@example(how=("value", 3, []))  # found by a WORKBENCH_FUZZ_SCALE=8 hunt: "kind" a list
@example(how=("config", 2, 10**30))  # convs_per_block: built layer by layer, for ever
@example(how=("config", 3, float("nan")))  # dropout: fails only once the network runs
def test_a_damaged_checkpoint_is_answered_or_refused_in_one_sentence(run, face_png, tmp_path, how):
    payload = torch.load(run / "best.pt", weights_only=True)
    model = tmp_path / "model.pt"
    model.write_bytes(damage(payload, how))
    code, out, _ = assert_answered(
        ["predict", str(face_png), "--model", str(model), "--no-detect", "--json"]
    )
    if code == 0:  # an answer: one probability per output of the network, summing to 1
        probabilities = strict_json(out)["probabilities"]
        assert len(probabilities) == len(payload["classes"]), probabilities
        assert all(0 <= p <= 1 for p in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1, abs=1e-4)


# --------------------------------------------------------------------- run folders

run_damage = st.one_of(
    st.tuples(st.sampled_from(["config.json", "metrics.json"]), st.just("bytes"), st.binary()),
    st.tuples(st.sampled_from(["config.json", "metrics.json"]), st.just("whole"), json_values),
    st.tuples(
        st.sampled_from(["config.json", "metrics.json"]),
        st.just("key"),
        st.tuples(st.integers(0, 30), json_values),
    ),
    st.tuples(
        st.just("config.json"),
        st.sampled_from(["options", "data"]),
        st.tuples(st.integers(0, 30), json_values),
    ),
    st.tuples(
        st.sampled_from(["config.json", "metrics.json"]), st.just("drop"), st.integers(0, 30)
    ),
)


@settings(FUZZ, max_examples=examples(20))
@given(how=run_damage)
def test_a_damaged_run_folder_is_answered_or_refused_in_one_sentence(run, tmp_path, how):
    copy = tmp_path / "run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run, copy)
    name, kind, arg = how
    path = copy / name
    if kind == "bytes":
        path.write_bytes(arg)
    elif kind == "whole":
        path.write_text(json.dumps(arg))
    else:
        data = json.loads(path.read_text())
        target = data[kind] if kind in ("options", "data") else data
        key = sorted(target)[(arg if kind == "drop" else arg[0]) % len(target)]
        if kind == "drop":
            del target[key]
        else:
            target[key] = arg[1]
        path.write_text(json.dumps(data))
    assert_answered(["compare", str(copy), "--out", str(tmp_path / "chart.png")])
    # --epochs 1: a resume that passes every check stops at "already ran 1 epochs".
    code, _, _ = assert_answered(["train", "face", "--resume", str(copy), "--epochs", "1"])
    assert code == 2


# --------------------------------------------------------------------- FER-style CSV rows

pixels = st.one_of(
    st.lists(st.integers(0, 255), min_size=2304, max_size=2304).map(
        lambda v: " ".join(map(str, v))
    ),
    st.lists(st.integers(-300, 300), max_size=2400).map(lambda v: " ".join(map(str, v))),
    st.text(max_size=20),
)
fer_row = st.tuples(
    st.one_of(st.integers(-2, 9).map(str), st.text(max_size=3)),
    pixels,
    st.one_of(st.sampled_from(["Training", "PublicTest", "PrivateTest"]), st.text(max_size=6)),
)


@settings(FUZZ, max_examples=examples(20))
@given(
    header=st.sampled_from(["emotion,pixels,Usage", "emotion,pixels", "pixels,emotion", "a,b"]),
    rows=st.lists(fer_row, max_size=6),
    tail=st.binary(max_size=30),
)
def test_fer_csv_rows_are_read_or_refused_in_one_sentence(tmp_path, header, rows, tail):
    folder = tmp_path / "fer"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header.split(","))
    writer.writerows(rows)
    (folder / "fer2013.csv").write_bytes(text.getvalue().encode() + tail)
    assert_answered(["data-info", str(folder), "--json"])


# --------------------------------------------------------------------- image bytes


def image_bytes(fmt: str) -> bytes:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64), np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


byte_damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 0.999)),
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=6),
    ),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=16)),
)


def damaged(data: bytes, how: tuple, within: int | None = None) -> bytes:
    """``data`` truncated, with bytes changed or inserted (within the first ``within``)."""
    data = bytearray(data)
    span = min(within or len(data), len(data))
    kind, *args = how
    if kind == "truncate":
        return bytes(data[: int(len(data) * args[0])])
    if kind == "flip":
        for i, x in args[0]:
            data[i % span] ^= x
        return bytes(data)
    i = args[0] % span
    return bytes(data[:i] + args[1] + data[i:])


@settings(FUZZ, max_examples=examples(20))
@given(fmt=st.sampled_from(["PNG", "JPEG", "BMP"]), how=byte_damage, detect=st.booleans())
def test_damaged_image_bytes_are_answered_or_refused_in_one_sentence(
    run, tmp_path, fmt, how, detect
):
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(damaged(image_bytes(fmt), how))
    argv = ["predict", str(path), "--model", str(run), "--json"]
    assert_answered(argv if detect else [*argv, "--no-detect"])


# --------------------------------------------------------------------- WAV headers


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(1.0, 16_000), 16_000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# A header field set to another value: (offset, struct format) of the canonical header.
HEADER_FIELDS = {
    "riff size": (4, "<I"),
    "fmt size": (16, "<I"),
    "format": (20, "<H"),
    "channels": (22, "<H"),
    "sample rate": (24, "<I"),
    "byte rate": (28, "<I"),
    "block align": (32, "<H"),
    "bits": (34, "<H"),
    "data size": (40, "<I"),
}
wav_damage = st.one_of(
    byte_damage,
    st.tuples(st.just("field"), st.sampled_from(sorted(HEADER_FIELDS)), st.integers(0, 2**32 - 1)),
)


@pytest.mark.skipif(not SPEECH_MODEL.is_file(), reason="needs the starter speech model")
@settings(FUZZ, max_examples=examples(15))
@given(how=wav_damage)
@example(how=("field", "sample rate", 1))  # 1 Hz: once 16,000x the samples and minutes
def test_damaged_wav_headers_are_answered_or_refused_in_one_sentence(tmp_path, how):
    data = wav_bytes()
    if how[0] == "field":
        offset, fmt = HEADER_FIELDS[how[1]]
        value = how[2] % (1 << (8 * struct.calcsize(fmt)))
        data = data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt) :]
    else:
        data = damaged(data, how, within=64)  # the header and the first samples
    path = tmp_path / "speech.wav"
    path.write_bytes(data)
    assert_answered(["predict", str(path), "--model", str(SPEECH_MODEL), "--json"])
