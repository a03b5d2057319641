"""Faults that must lose nothing and hide nothing: two trainings into one folder, stale
locks left by a killed process (issue 20)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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


# ------------------------------------------------ caches that hold the wrong content


def rewrite_npz(entry: Path, **changes) -> None:
    """Replace arrays of a cached .npz entry, keeping it a valid file."""
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(entry, **{**arrays, **changes})  # the same name: it ends in .npz


@pytest.mark.parametrize(
    "damage",
    [
        {"images": np.zeros((3, 10, 10), np.uint8)},  # crops of another shape
        {"labels": np.full(49, 9, np.int64)},  # labels out of range
        {"usage": np.zeros(48, np.int8)},  # one face fewer than its labels
        {"images": np.zeros((49, 48, 48), np.float64)},  # another dtype
    ],
    ids=["shape", "labels", "count", "dtype"],
)
def test_a_fer_cache_holding_the_wrong_content_is_made_again(fer_csv, tmp_path, damage):
    from datasets.fer2013 import load_fer2013

    cache_dir = tmp_path / "cache"
    first = load_fer2013(fer_csv.parent, cache_dir=cache_dir)
    assert len(first.images) == 49
    (entry,) = (cache_dir / "fer2013").glob("*.npz")
    rewrite_npz(entry, **damage)
    again = load_fer2013(fer_csv.parent, cache_dir=cache_dir)
    assert np.array_equal(again.images, first.images)
    assert np.array_equal(again.labels, first.labels)
    assert np.array_equal(again.usage, first.usage)
    assert load_fer2013(fer_csv.parent, cache_dir=cache_dir).images.shape == (49, 48, 48)


def test_a_fer_folder_cache_counts_its_images_against_the_folder(tmp_path):
    from PIL import Image

    from datasets.fer2013 import load_fer2013

    root = tmp_path / "fer"
    for name in ("happy", "sad"):
        (root / "train" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(
                root / "train" / name / f"{i}.png"
            )
    cache_dir = tmp_path / "cache"
    first = load_fer2013(root, cache_dir=cache_dir)
    (entry,) = (cache_dir / "fer2013").glob("*.npz")
    keep = np.arange(4)  # a valid entry for fewer faces than the folder holds
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(entry, **{k: (v[keep] if len(v) == 6 else v) for k, v in arrays.items()})
    again = load_fer2013(root, cache_dir=cache_dir)
    assert len(again.images) == len(first.images) == 6


def test_a_fer_csv_cache_counts_its_faces_against_the_csv_rows(fer_csv, tmp_path):
    """A valid entry holding five consistent faces of a 49-row CSV is made again."""
    from datasets.fer2013 import load_fer2013

    cache_dir = tmp_path / "cache"
    first = load_fer2013(fer_csv.parent, cache_dir=cache_dir)
    (entry,) = (cache_dir / "fer2013").glob("*.npz")
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(entry, **{k: (v[:5] if len(v) == 49 else v) for k, v in arrays.items()})
    again = load_fer2013(fer_csv.parent, cache_dir=cache_dir)
    assert len(again.images) == len(first.images) == 49


@pytest.mark.parametrize("damage", ["nan", "shape"])
def test_speech_features_cached_with_nan_or_another_shape_are_made_again(
    ravdess_dir, tmp_path, damage
):
    from datasets.audio import extract_features

    wavs = sorted(ravdess_dir.rglob("*.wav"))[:3]
    cache_dir = tmp_path / "cache"
    first = extract_features(wavs, cache_dir=cache_dir)
    entries = sorted((cache_dir / "features").rglob("*.npy"))
    assert len(entries) == 3
    bad = first.x[0].copy()
    bad = np.where(np.arange(bad.shape[-1]) % 2, np.nan, bad) if damage == "nan" else bad[:, :10]
    for entry in entries:
        np.save(entry, bad.astype(np.float32))
    again = extract_features(wavs, cache_dir=cache_dir)
    assert np.isfinite(again.x).all() and np.array_equal(again.x, first.x)


def test_cached_clip_faces_of_another_shape_are_made_again(small_demo, tmp_path):
    from datasets.av import take_faces

    clip = next((small_demo / "ravdess").rglob("02-*.mp4"))
    cache_dir = tmp_path / "cache"
    faces, found = take_faces(clip, 4, cache_dir=cache_dir)
    (entry,) = (cache_dir / "avfaces").rglob("*.npz")
    np.savez(entry, faces=np.zeros((4, 10, 10), np.uint8), found=np.ones(4, bool))
    again, found_again = take_faces(clip, 4, cache_dir=cache_dir)
    assert np.array_equal(again, faces) and np.array_equal(found_again, found)


# ------------------------------------------- what training left out, it says


def test_training_says_which_recordings_it_left_out(tmp_path, capsys):
    from conftest import write_ravdess

    import workbench

    rav = write_ravdess(tmp_path / "rav", actors=(1, 2, 3), emotions=(1, 3, 5, 8))
    broken = rav / "Actor_01" / "03-01-03-01-01-02-01.wav"
    broken.write_bytes(b"RIFF not really a recording")
    (rav / "Actor_02" / "03-01-03-01-01-09-02-copy.wav").write_bytes(b"")  # not a RAVDESS name
    out = tmp_path / "run"
    code = workbench.main(
        ["train", "speech", "--data", str(rav), "--epochs", "1", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr()
    said = [line for line in printed.err.splitlines() if "Left out 2 file(s)" in line]
    assert said and "data-info" in said[0]  # while loading
    assert "Left out 2 file(s) or folder(s) it could not use" in printed.out  # and at the end
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_skipped"] == 2
    assert {Path(s["path"]).name for s in metrics["skipped"]} == {
        broken.name,
        "03-01-03-01-01-09-02-copy.wav",
    }


# ------------------------------------------------ crafted checkpoints


def test_a_checkpoint_claiming_a_giant_network_is_refused_before_building_it(tmp_path, monkeypatch):
    import torch

    import training.checkpoint as checkpoint
    from datasets.labels import FER_CLASSES
    from models import FACE_PRESETS, FaceCNN

    small = FaceCNN(FACE_PRESETS["quick"])
    meta = {"kind": "face", "classes": list(FER_CLASSES), "preprocessing": {"input": "face48"}}
    giant = {**FACE_PRESETS["quick"].to_dict(), "channels": [4096, 8192, 16384], "embed_dim": 65536}
    path = tmp_path / "crafted.pt"
    checkpoint.save_checkpoint(path, small, meta={**meta, "model_config": giant})
    built = []
    real_build = checkpoint.build_model
    monkeypatch.setattr(
        checkpoint,
        "build_model",
        lambda kind, cfg: built.append(real := real_build(kind, cfg)) or real,
    )
    start = time.perf_counter()
    with pytest.raises(WorkbenchError, match="does not match its own model settings"):
        checkpoint.load_checkpoint(path)
    assert time.perf_counter() - start < 10  # it took 30 s and 9.2 GB when built for real
    # Nothing built for real: refused by its sizes alone, or built on the meta device.
    assert all(p.device.type == "meta" for m in built for p in m.parameters())
    # The honest checkpoint beside it loads, built for real once its shapes matched.
    checkpoint.save_checkpoint(
        path, small, meta={**meta, "model_config": FACE_PRESETS["quick"].to_dict()}
    )
    loaded = checkpoint.load_checkpoint(path)
    assert next(loaded.model.parameters()).device.type == "cpu"
    mine, theirs = loaded.model.state_dict(), small.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


# --------------------------------- damaged runs and checkpoints: one sentence, exit 2


def damaged_copy(run: Path, tmp_path: Path, damage: str) -> Path:
    import shutil

    import torch

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    if damage == "config-json":
        (copy / "config.json").write_text('{"kind": "face", "options": ')
    elif damage == "config-keys":
        (copy / "config.json").write_text('{"kind": "face"}')
    elif damage == "config-options":
        config = json.loads((copy / "config.json").read_text())
        config["options"]["colour"] = "blue"
        (copy / "config.json").write_text(json.dumps(config))
    elif damage == "config-list":
        (copy / "config.json").write_text("[1, 2]")
    elif damage == "options-types":
        config = json.loads((copy / "config.json").read_text())
        config["options"]["batch_size"] = "64"
        (copy / "config.json").write_text(json.dumps(config))
    elif damage.startswith("metrics-"):
        metrics = json.loads((copy / "metrics.json").read_text())
        key, value = {
            "metrics-nan": ("accuracy", float("nan")),
            "metrics-types": ("best_epoch", "1"),
        }[damage]
        (copy / "metrics.json").write_text(json.dumps({**metrics, key: value}))
    elif damage.startswith("last-"):
        payload = torch.load(copy / "last.pt", weights_only=True)
        key, value = {
            "last-optimizer": ("optimizer", {"state": {}, "param_groups": []}),
            "last-history": ("history", [1, 2]),
            "last-weights": ("state_dict", {"w": torch.zeros(3)}),
        }[damage]
        torch.save({**payload, key: value}, copy / "last.pt")
    elif damage == "best-as-last":
        shutil.copy(copy / "best.pt", copy / "last.pt")
    elif damage == "no-classes":
        payload = torch.load(copy / "best.pt", weights_only=True)
        del payload["classes"]
        torch.save(payload, copy / "best.pt")
    return copy


@pytest.mark.parametrize(
    "damage,command,words",
    [
        ("config-json", "resume", "config.json' is damaged (JSONDecodeError)"),
        ("config-keys", "resume", "config.json' is damaged"),
        ("config-options", "resume", "holds options this version does not know"),
        ("best-as-last", "resume", "last.pt' lacks optimizer"),
        ("no-classes", "predict", "best.pt' lacks a valid classes entry"),
        ("config-list", "resume", "config.json' is damaged (it holds a list, not a JSON object)"),
        ("config-list", "compare", "config.json' is damaged (it holds a list, not a JSON object)"),
        ("options-types", "resume", "config.json' is damaged (batch_size has the wrong type)"),
        ("metrics-nan", "compare", "metrics.json' is damaged (accuracy is not a finite number)"),
        ("metrics-types", "export", "metrics.json' is damaged (best_epoch is not a whole number)"),
        ("metrics-nan", "default", "No trained face model yet"),  # a damaged run is no default
        ("last-optimizer", "resume", "last.pt' is damaged (ValueError), so its run cannot"),
        ("last-history", "resume", "last.pt' is damaged (its history is not a list of epochs)"),
        ("last-weights", "resume", "last.pt' does not match its own model settings"),
    ],
)
def test_a_damaged_run_or_checkpoint_is_one_sentence_and_exit_2(
    tiny_face_run, tmp_path, capsys, monkeypatch, damage, command, words
):
    import workbench

    copy = damaged_copy(tiny_face_run, tmp_path, damage)
    face = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(np.full((48, 48), 100, np.uint8)).save(face)
    args = {
        "resume": ["train", "face", "--resume", str(copy), "--epochs", "3"],
        "predict": ["predict", str(face), "--model", str(copy), "--no-detect"],
        "default": ["predict", str(face), "--no-detect"],
        "compare": ["compare", str(copy), "--out", str(tmp_path / "chart.png")],
        "export": ["export", str(copy), str(tmp_path / "starter.pt")],
    }[command]
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path))  # the copy is its only run
    assert workbench.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1] and err[-1].startswith("error: ") and "report" not in err[-1]


def test_a_crafted_pickle_is_refused_as_able_to_run_code(tmp_path, capsys):
    import pickle

    from PIL import Image

    import workbench

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    for name, save in (("plain.pt", pickle.dump), ("torch.pt", None)):
        path = tmp_path / name
        if save is None:
            import torch

            torch.save({"format": "x", "payload": Payload()}, path)
        else:
            with open(path, "wb") as f:
                save({"payload": Payload()}, f)
        face = tmp_path / "face.png"
        Image.fromarray(np.full((48, 48), 100, np.uint8)).save(face)
        assert workbench.main(["predict", str(face), "--model", str(path), "--no-detect"]) == 2
        err = capsys.readouterr().err
        assert "refused because it holds Python objects that could run code" in err, err
        assert "corrupt" not in err
    assert not (tmp_path / "ran").exists()


# ------------------------------------------------ misleading messages


@pytest.mark.parametrize("suffix", [".avi", ".mov", ".mkv"])
def test_a_ravdess_take_in_another_container_finds_its_recording(small_demo, tmp_path, suffix):
    import shutil

    from datasets.ravdess import parse_name
    from datasets.video import find_take_audio

    clip = next((small_demo / "ravdess").rglob("02-*.mp4"))
    folder = tmp_path / clip.parent.name
    folder.mkdir()
    moved = shutil.copy(clip, folder / (clip.stem + suffix))  # the same stream, renamed
    sound = clip.parent / ("03" + clip.name[2:-4] + ".wav")
    shutil.copy(sound, folder / sound.name)
    assert parse_name(moved).modality == 2
    assert find_take_audio(moved) == folder / sound.name


# ------------------------------------------------ full disks and picture names


@pytest.mark.parametrize(
    "failure,words",
    [
        (OSError(28, "No space left on device"), "the disk is full"),
        (PermissionError(13, "Permission denied"), "permission denied"),
        (RuntimeError("PytorchStreamWriter failed writing file"), None),  # not a disk error
    ],
)
def test_a_failed_write_names_the_file_and_leaves_the_old_one_whole(tmp_path, failure, words):
    from datasets.errors import write_atomically

    path = tmp_path / "best.pt"
    path.write_bytes(b"the model trained yesterday")

    def write(tmp):
        tmp.write_bytes(b"half a mod")  # then the disk fills up
        raise failure

    if words is None:
        with pytest.raises(RuntimeError):
            write_atomically(path, write)
    else:
        with pytest.raises(WorkbenchError) as err:
            write_atomically(path, write)
        assert str(err.value) == f"Cannot write '{path}': {words}" + (
            "; free some space or choose another disk."
            if words == "the disk is full"
            else "; choose a folder you can write to."
        )
    assert path.read_bytes() == b"the model trained yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]  # no temporary left


def test_a_full_disk_while_saving_a_checkpoint_or_picture_is_one_sentence(tmp_path, monkeypatch):
    import torch
    from matplotlib.figure import Figure

    from models import FACE_PRESETS, FaceCNN
    from training.checkpoint import save_checkpoint
    from training.plots import save_figure

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(WorkbenchError, match="best.pt': the disk is full"):
        save_checkpoint(tmp_path / "best.pt", FaceCNN(FACE_PRESETS["quick"]), meta={})
    figure = Figure()
    figure.add_subplot().plot([1, 2])
    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(WorkbenchError, match="chart.png': the disk is full"):
        save_figure(figure, tmp_path / "chart.png")
    assert list(tmp_path.iterdir()) == []


def test_a_picture_name_matplotlib_cannot_write_is_refused_before_writing(
    tiny_face_run, tmp_path, capsys
):
    from matplotlib.figure import Figure

    import workbench
    from training.plots import save_figure

    figure = Figure()
    figure.add_subplot().plot([1, 2])
    for name in ("chart.xyz", "chart"):
        with pytest.raises(WorkbenchError, match="matplotlib does not write"):
            save_figure(figure, tmp_path / name)
    save_figure(figure, tmp_path / "chart.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.svg"]
    out = tmp_path / "compare.xyz"
    assert workbench.main(["compare", str(tiny_face_run), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: Cannot write '{out}': matplotlib does not write .xyz")


def test_library_warnings_stay_off_the_terminal(tmp_path):
    from PIL import Image

    bomb = tmp_path / "huge.png"  # just over PIL's decompression-bomb warning limit
    Image.fromarray(np.zeros((9500, 9500), np.uint8)).save(bomb)
    model = ROOT / "pretrained" / "face_fer2013.pt"
    command = [
        sys.executable,
        str(ROOT / "workbench.py"),
        "predict",
        str(bomb),
        "--model",
        str(model),
    ]
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_DEBUG"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("error: No face found in") and done.stderr.count("\n") == 1
    loud = subprocess.run(
        command, capture_output=True, text=True, env={**env, "WORKBENCH_DEBUG": "1"}, timeout=300
    )
    assert "DecompressionBombWarning" in loud.stderr  # what was kept off is really there


# ------------------------------------------------ command-line values out of range


@pytest.mark.parametrize(
    "argv,words",
    [
        (["train", "face", "--seed", str(2**32)], "--seed: expected a whole number from 0 to"),
        (["train", "face", "--seed", "-1"], "--seed: expected a whole number from 0 to"),
        (["train", "face", "--epochs", "100001"], "--epochs: expected a whole number from 1"),
        (["train", "face", "--patience", "10" * 12], "--patience: expected a whole number"),
        (["train", "face", "--batch-size", "65537"], "--batch-size: expected a whole number"),
        (["train", "fusion", "--frames", "65"], "--frames: expected a whole number from 1 to"),
        (["train", "fusion", "--fraction", "1.5"], "--fraction: expected a share above 0"),
        (["train", "fusion", "--fraction", "nan"], "--fraction: expected a share above 0"),
        (["experiment", "data-efficiency", "--fractions", "0.5", "0"], "--fractions: expected"),
        (["train", "speech", "--folds", "1001"], "--folds: expected a number of folds from 3"),
        (["make-demo-data", "--seed", "1e3"], "--seed: expected a whole number"),
        (["embeddings", "run", "--out", "x.png", "--fold", "0"], "--fold: expected a whole"),
    ],
)
def test_out_of_range_values_are_usage_errors(argv, words, capsys):
    import workbench

    with pytest.raises(SystemExit) as done:
        workbench.main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and "report" not in err


@pytest.mark.parametrize(
    "argv,name",
    [
        (["train", "face", "--out", ""], "--out"),
        (["train", "face", "--out="], "--out"),
        (["predict", "", "--json"], "FILE"),
        (["predict", "face.png", "--model", " "], "--model"),
        (["evaluate", "run", "--data", "demo", ""], "--data"),
        (["live", "--camera", ""], "--camera"),
    ],
)
def test_an_empty_value_is_refused_by_name_before_any_work(
    argv, name, capsys, tmp_path, monkeypatch
):
    import workbench

    monkeypatch.chdir(tmp_path)  # "" would mean here: nothing may be written into it
    assert workbench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {name} was given an empty value; pass a real one"
        + (f" or leave {name} out." if name.startswith("--") else ".")
    ]
    assert list(tmp_path.iterdir()) == []


def test_device_numbers_no_machine_has_are_one_sentence(capsys):
    import workbench

    for flag in ("--camera", "--microphone"):
        assert workbench.main(["live", flag, "9" * 20, "--seconds", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"error: {flag} {'9' * 20} is not a") and len(err) == 1


def test_the_window_refuses_the_same_out_of_range_settings():
    from training.options import TrainOptions, check_options

    for change, words in (
        ({"seed": 2**32}, "--seed must be from 0 to 4294967295"),
        ({"epochs": 10**6}, "--epochs must be from 1 to 100000"),
        ({"batch_size": 10**6}, "--batch-size must be from 2"),
        ({"patience": -1}, "--patience must be from 0"),
    ):
        with pytest.raises(WorkbenchError, match=words):
            check_options(TrainOptions(kind="face", **change))


# ------------------------------------------------ checkpoints whose contents cannot be trusted


def _first_weight(state: dict) -> str:
    return next(k for k, v in state.items() if v.is_floating_point())


@pytest.mark.parametrize(
    "damage,words",
    [
        (lambda p, k: {**p, "classes": p["classes"][:5]}, "names 5 classes for a network with 7"),
        (lambda p, k: {**p, "classes": [*p["classes"][:6], "angry"]}, "names the class 'angry'"),
        (
            lambda p, k: {**p, "state_dict": {**p["state_dict"], k: p["state_dict"][k].long()}},
            "holds int64 values where weights belong",
        ),
        (
            lambda p, k: {**p, "state_dict": {**p["state_dict"], k: p["state_dict"][k] > 0}},
            "holds bool values where weights belong",
        ),
        (
            lambda p, k: {**p, "state_dict": {**p["state_dict"], k: p["state_dict"][k] / 0}},
            "holds NaN or infinite weights",
        ),
        (lambda p, k: {**p, "preprocessing": [1]}, "lacks a valid preprocessing entry"),
        (
            lambda p, k: {**p, "model_config": {**p["model_config"], "convs_per_block": 10**30}},
            "does not match its own model settings",
        ),
        (
            lambda p, k: {**p, "model_config": {**p["model_config"], "dropout": float("nan")}},
            "does not match its own model settings",
        ),
    ],
)
def test_a_checkpoint_with_untrustworthy_contents_is_refused_by_name(
    tiny_face_run, tmp_path, capsys, damage, words
):
    import torch
    from PIL import Image

    import workbench

    payload = torch.load(tiny_face_run / "best.pt", weights_only=True)
    bad = tmp_path / "bad.pt"
    torch.save(damage(payload, _first_weight(payload["state_dict"])), bad)
    face = tmp_path / "face.png"
    Image.fromarray(np.full((48, 48), 100, np.uint8)).save(face)
    for argv in (
        ["predict", str(face), "--model", str(bad), "--no-detect", "--json"],
        ["evaluate", str(bad), "--data", "demo"],
    ):
        assert workbench.main(argv) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert err == [err[0]] and err[0].startswith(f"error: '{bad}' {words}"), err
        assert captured.out == ""


def test_weights_stored_in_another_float_type_still_load(tiny_face_run, tmp_path):
    import torch

    from training.checkpoint import load_checkpoint

    payload = torch.load(tiny_face_run / "best.pt", weights_only=True)
    payload["state_dict"] = {
        k: v.double() if v.is_floating_point() else v for k, v in payload["state_dict"].items()
    }
    torch.save(payload, tmp_path / "double.pt")
    assert load_checkpoint(tmp_path / "double.pt").classes == tuple(payload["classes"])


# ------------------------------------------------ --json output is always valid JSON


def strict_json(text: str):
    """Parse ``text`` as standard JSON: NaN and Infinity, which Python accepts, are errors."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_text_writes_non_finite_numbers_as_null():
    import torch

    from cli.common import json_text

    data = {
        "nan": float("nan"),
        "inf": [float("-inf"), 1.5],
        "numpy": np.float32(0.25),
        "array": np.array([np.nan, 2.0]),
        "tensor": torch.tensor(float("inf")),
        3: Path("/tmp/x"),
    }
    assert strict_json(json_text(data)) == {
        "nan": None,
        "inf": [None, 1.5],
        "numpy": 0.25,
        "array": [None, 2.0],
        "tensor": None,
        "3": "/tmp/x",
    }


def test_every_json_printer_goes_through_json_text(monkeypatch, capsys):
    import training.evaluate
    import workbench

    printers = [p.name for p in (ROOT / "cli").glob("*.py") if "json.dumps(" in p.read_text()]
    assert printers == ["common.py"]  # json_text itself
    fake = {"accuracy": float("nan"), "per_class": {"happy": {"recall": float("inf")}}}
    monkeypatch.setattr(training.evaluate, "evaluate_checkpoint", lambda *a, **k: fake)
    assert workbench.main(["evaluate", "run", "--json"]) == 0
    assert strict_json(capsys.readouterr().out) == {
        "accuracy": None,
        "per_class": {"happy": {"recall": None}},
    }


# ------------------------------------------------ permission denied says so


AS_NOBODY = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import workbench
done = []
for argv in json.loads(sys.argv[2]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = workbench.main(argv)
    done.append([code, err.getvalue()])
print(json.dumps(done))
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
@pytest.mark.skipif(not __import__("shutil").which("setpriv"), reason="needs setpriv (util-linux)")
def test_permission_denied_is_said_for_every_kind_of_file_as_another_user():
    """As root, lock files away (mode 000) and run the CLI as ``nobody``, for real."""
    import shutil
    import tempfile

    import cv2
    import soundfile as sf
    from conftest import tone
    from PIL import Image

    base = Path(tempfile.mkdtemp(prefix="workbench-perm-"))  # in /tmp: nobody may enter
    try:
        base.chmod(0o777)
        pre = ROOT / "pretrained"
        face, speech = str(pre / "face_fer2013.pt"), str(pre / "speech_ravdess.pt")
        Image.fromarray(np.full((48, 48), 100, np.uint8)).save(base / "face.png")
        sf.write(base / "rec.wav", tone(1.0, 16_000), 16_000)
        writer = cv2.VideoWriter(
            str(base / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48)
        )
        for _ in range(5):
            writer.write(np.full((48, 64, 3), 90, np.uint8))
        writer.release()
        shutil.copy(face, base / "model.pt")
        (base / "faces" / "train" / "happy").mkdir(parents=True)
        Image.fromarray(np.full((48, 48), 1, np.uint8)).save(base / "faces/train/happy/a.png")
        for name in ("face.png", "rec.wav", "clip.mp4", "model.pt", "faces"):
            (base / name).chmod(0)
        cases = [
            ["predict", f"{base}/face.png", "--model", face],
            ["predict", f"{base}/rec.wav", "--model", speech],
            ["predict", f"{base}/clip.mp4", "--face-model", face, "--speech-model", speech],
            ["predict", str(pre / "face_fer2013.md"), "--model", f"{base}/model.pt"],
            ["data-info", f"{base}/faces"],
            ["live", "--camera", f"{base}/clip.mp4", "--face-model", face, "--seconds", "1"],
            ["live", "--microphone", f"{base}/rec.wav", "--speech-model", speech],
        ]
        cases[3][1] = f"{base}/visible.png"  # a readable photo for the locked model
        Image.fromarray(np.full((48, 48), 100, np.uint8)).save(base / "visible.png")
        (base / "visible.png").chmod(0o644)
        env = {
            **{k: v for k, v in os.environ.items() if k != "WORKBENCH_DEBUG"},
            **{k: str(base) for k in ("HOME", "MPLCONFIGDIR", "WORKBENCH_RUNS_DIR")},
            **{k: str(base) for k in ("WORKBENCH_CACHE_DIR", "WORKBENCH_DATA_DIR")},
            "WORKBENCH_PRETRAINED_DIR": str(base),
        }
        done = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            + [sys.executable, "-c", AS_NOBODY, str(ROOT), json.dumps(cases)],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr
        locked = ["face.png", "rec.wav", "clip.mp4", "model.pt", "faces", "clip.mp4", "rec.wav"]
        for argv, name, (code, err) in zip(cases, locked, json.loads(done.stdout)):
            assert code == 2 and err == (
                f"error: '{base / name}' cannot be read (permission denied); check its "
                "permissions, or copy it somewhere you can read.\n"
            ), (argv, err)
    finally:
        for p in base.rglob("*"):
            p.chmod(0o755)
        shutil.rmtree(base)


def test_require_readable_says_permission_denied_where_opening_is_refused(tmp_path, monkeypatch):
    import builtins

    from datasets.audio import read_audio
    from datasets.errors import require_readable
    from datasets.images import read_gray
    from training.checkpoint import read_checkpoint

    real_open = builtins.open

    def locked_open(file, *args, **kwargs):
        if Path(file).name.startswith("locked"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    for name in ("locked.png", "locked.wav", "locked.pt", "open.txt"):
        (tmp_path / name).write_bytes(b"anything")
    monkeypatch.setattr(builtins, "open", locked_open)
    assert require_readable(tmp_path / "open.txt") == tmp_path / "open.txt"
    assert require_readable(tmp_path / "missing.txt") == tmp_path / "missing.txt"  # the reader's
    for read, name in (
        (read_gray, "locked.png"),
        (read_audio, "locked.wav"),
        (read_checkpoint, "locked.pt"),
    ):
        with pytest.raises(WorkbenchError) as err:
            read(tmp_path / name)
        assert str(err.value) == (
            f"'{tmp_path / name}' cannot be read (permission denied); check its permissions, "
            "or copy it somewhere you can read."
        )


def test_library_log_records_stay_off_the_terminal(tmp_path):
    """A read-only home folder makes matplotlib log where it put its cache instead: the
    terminal still shows only the sentence (``WORKBENCH_DEBUG=1`` shows the record)."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_DEBUG"}
    env["MPLCONFIGDIR"] = "/proc/no-such-folder"  # cannot be made, not even by root
    command = [sys.executable, str(ROOT / "workbench.py"), "predict", str(notes)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: '{notes}' is neither an image")
    assert done.stderr.count("\n") == 1, done.stderr
    loud = subprocess.run(
        command, capture_output=True, text=True, env={**env, "WORKBENCH_DEBUG": "1"}, timeout=300
    )
    assert "Matplotlib created a temporary cache directory" in loud.stderr


def test_a_pipe_given_as_a_file_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from datasets.errors import require_readable; require_readable({str(fifo)!r})",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # opening a pipe with no writer would wait forever
    )
    assert "is not a regular file (a pipe or a device)" in done.stderr


def test_a_full_disk_no_writer_foresaw_names_the_output_and_says_the_disk_is_full(
    tmp_path, monkeypatch, capsys
):
    """An ENOSPC raised in a worker process carries no file name: the sentence names the
    command's output instead, and says the disk is full."""
    import errno

    import datasets.demo
    import workbench

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(datasets.demo, "make_demo_data", full)
    out = tmp_path / "demo"
    assert workbench.main(["make-demo-data", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: cannot write '{out}': the disk is full; free some space or choose another disk."
    ]


def test_data_info_lists_recordings_it_may_not_read_as_training_does(tmp_path, monkeypatch):
    """``os.access`` answers for the real user (root may read anything, so it is faked)."""
    from conftest import write_ravdess

    import datasets.ravdess
    from datasets.info import data_info

    root = write_ravdess(tmp_path / "rav")
    locked = sorted(root.rglob("*.wav"))[:3]
    real_access = os.access
    monkeypatch.setattr(
        datasets.ravdess.os,
        "access",
        lambda p, mode: Path(p) not in locked and real_access(p, mode),
    )
    info = data_info(root)
    skipped = {s["path"]: s["reason"] for s in info["skipped"]}
    assert {str(p.relative_to(root)) for p in locked} <= set(skipped)
    assert {skipped[str(p.relative_to(root))] for p in locked} == {"permission denied"}
    assert info["n_items"] == len(list(root.rglob("*.wav"))) - 3
