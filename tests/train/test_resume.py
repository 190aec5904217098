"""Nothing lost on a kill or a repeated command: ``ednn train`` killed and resumed continues its learning
curve without duplicates; an existing run, model file or data file is not replaced without --force;
checkpoints and model files are written atomically."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
yaml = pytest.importorskip("yaml")

import ednn  # noqa: E402
from ednn.cli import main  # noqa: E402
from ednn.data import ising  # noqa: E402
from ednn.train.config import load_config  # noqa: E402
from ednn.train.export import export_checkpoint  # noqa: E402
from ednn.train.loop import train  # noqa: E402

EPOCHS, EVERY = 5, 2  # checkpoints (last.pt) after epochs 2, 4 and 5


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    return ising.save(d / "ising8.npz", ising.sample(8, 240, (1.0, 4.0), seed=5))


def _cfg(data: Path, out: Path, **over) -> dict:
    base = dict(data=str(data), network="ising-dnn", focus=1, context=1, learning_rate=3e-3, batch_size=48,
                epochs=EPOCHS, seed=0, validation_split=0.2, output_dir=str(out), checkpoint_every=EVERY,
                threads=1, device="cpu")
    base.update(over)
    return base


def _quiet(*a) -> None:
    pass


def _curve(run: Path) -> list[dict[str, float]]:
    with open(run / "learning_curve.csv", newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "run"
    train(load_config(_cfg(data, out)), progress=False, log=_quiet)
    return out


# A training command that SIGKILLs itself: at the n-th optimizer step (mid-epoch), or half way
# through writing the n-th last.pt (the bytes a kill inside torch.save leaves).
_KILLED = textwrap.dedent("""
    import io, os, signal, sys
    import torch

    mode, n, seen = sys.argv[1], int(sys.argv[2]), [0]
    if mode == "step":
        step = torch.optim.Adam.step

        def killing_step(self, *a, **k):
            seen[0] += 1
            if seen[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return step(self, *a, **k)

        torch.optim.Adam.step = killing_step
    else:
        save = torch.save

        def killing_save(obj, f, *a, **k):
            if "last.pt" in os.fspath(getattr(f, "name", f)):
                seen[0] += 1
                if seen[0] == n:
                    buf = io.BytesIO()
                    save(obj, buf)
                    half = buf.getvalue()[: len(buf.getvalue()) // 2]
                    if isinstance(f, (str, os.PathLike)):
                        with open(f, "wb") as fh:
                            fh.write(half)
                    else:
                        f.write(half)
                        f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            return save(obj, f, *a, **k)

        torch.save = killing_save
    from ednn.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def _steps_per_epoch(reference: Path) -> int:
    return int(_curve(reference)[0]["step"])


@pytest.mark.parametrize("mode,when", [("step", 3.5), ("save", 2)],
                         ids=["mid-epoch-4", "inside-the-epoch-4-checkpoint"])
def test_killed_run_resumes_like_an_uninterrupted_one(data, reference, tmp_path, mode, when):
    """kill -9 after the epoch-2 checkpoint with epoch 3 (and 4) in the curve, then --resume."""
    n = int(when * _steps_per_epoch(reference)) + 1 if mode == "step" else int(when)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(_cfg(data, tmp_path / "run")))
    proc = subprocess.run([sys.executable, "-c", _KILLED, mode, str(n), "train", str(cfg_path), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = tmp_path / "run"
    killed_epochs = [int(r["epoch"]) for r in _curve(run)]
    assert killed_epochs == ([1, 2, 3] if mode == "step" else [1, 2, 3, 4])  # rows past the checkpoint
    assert torch.load(run / "last.pt", weights_only=False)["epoch"] == 2  # whole: the epoch-2 checkpoint

    assert main(["train", str(cfg_path), "--resume", "--no-progress"]) == 0

    got, want = _curve(run), _curve(reference)
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want] == list(range(1, EPOCHS + 1))
    assert [r["step"] for r in got] == [r["step"] for r in want]
    seconds = [r["seconds"] for r in got]
    assert all(b > a for a, b in zip(seconds, seconds[1:])), seconds  # one clock across the kill
    # the resumed run replays epochs 3.. from the checkpoint's model, optimizer and shuffling state:
    # with one thread on the CPU, bit for bit what the uninterrupted run computed
    for key in ("train_mse", "val_mse", "val_mae", "learning_rate"):
        assert [r[key] for r in got] == [r[key] for r in want], key
    ck, ref = (torch.load(p / "last.pt", weights_only=False) for p in (run, reference))
    assert (ck["epoch"], ck["step"]) == (ref["epoch"], ref["step"]) == (EPOCHS, EPOCHS * _steps_per_epoch(reference))
    for k in ref["model"]:
        assert torch.equal(ck["model"][k], ref["model"][k]), k
    assert torch.load(run / "best.pt", weights_only=False)["epoch"] <= EPOCHS
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_resume_trims_a_curve_from_an_older_version(data, reference, tmp_path):
    """A curve with rows past the checkpoint and rows written twice (by an older resume)."""
    run = tmp_path / "run"
    cfg = load_config(_cfg(data, run, epochs=2))
    train(cfg, progress=False, log=_quiet)
    rows = (run / "learning_curve.csv").read_text().splitlines()
    extra = [rows[2].replace("2,", "3,", 1), rows[1], rows[2], rows[2].replace("2,", "3,", 1)[:9]]
    (run / "learning_curve.csv").write_text("\n".join(rows + extra) + "\n")  # 1, 2, 3, 1, 2, a cut row
    train(load_config(_cfg(data, run, epochs=3)), resume=True, progress=False, log=_quiet)
    got = _curve(run)
    assert [r["epoch"] for r in got] == [1, 2, 3]
    assert got[1]["seconds"] == float(rows[2].split(",")[-1]) < got[2]["seconds"]


def test_existing_run_is_refused_without_force(data, tmp_path, capsys):
    run = tmp_path / "run"
    cfg = load_config(_cfg(data, run, epochs=2))
    train(cfg, progress=False, log=_quiet)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(ednn.InputError, match=r"output_dir: '.*run' already holds a training run "
                                              r"\(learning_curve.csv, last.pt, best.pt\).*--resume.*--force"):
        train(cfg, progress=False, log=_quiet)
    with pytest.raises(ednn.InputError, match="expected at most one"):
        train(cfg, resume=True, overwrite=True, progress=False, log=_quiet)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing touched

    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(_cfg(data, run, epochs=1)))
    assert main(["train", str(cfg_path), "--no-progress"]) == 2
    assert "--resume or replace it with --force" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(cfg_path), "--resume", "--force"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["train", str(cfg_path), "--force", "--no-progress"]) == 0
    assert [r["epoch"] for r in _curve(run)] == [1]  # the new run alone
    assert torch.load(run / "last.pt", weights_only=False)["epoch"] == 1


def test_export_refuses_to_overwrite_and_is_atomic(reference, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.onnx"
    assert main(["export", str(reference / "best.pt"), "--out", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["export", str(reference / "last.pt"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert out.read_bytes() == before
    with pytest.raises(ednn.InputError, match="already exists"):
        export_checkpoint(reference / "last.pt", out)

    import onnx

    def broken_save(proto, f, *a, **k):  # dies half way through writing the file
        Path(f).write_bytes(proto.SerializeToString()[:100])
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save_model", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_checkpoint(reference / "last.pt", out, overwrite=True)
    assert out.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.onnx"]
    monkeypatch.undo()
    assert main(["export", str(reference / "last.pt"), "--out", str(out), "--force", "--meta", "note=replaced"]) == 0
    assert b"replaced" in out.read_bytes() and ednn.Model(out).outputs == ("energy",)


def test_demo_reruns_in_its_folder(tmp_path, capsys):
    """The demo's folder is its own: running it again replaces its files."""
    args = ["demo", "ising", "--out", str(tmp_path / "demo"), "--count", "200", "--epochs", "1",
            "--large-count", "1", "--no-progress"]
    assert main(args) == 0
    first = (tmp_path / "demo" / "run" / "learning_curve.csv").read_text()
    assert main([*args[:-1], "--seed", "1", "--no-progress"]) == 0
    capsys.readouterr()
    again = (tmp_path / "demo" / "run" / "learning_curve.csv").read_text()
    assert len(again.splitlines()) == len(first.splitlines()) == 2 and again != first
    assert ising.load(tmp_path / "demo" / "ising8_train.npz").settings["seed"] == 1
    assert not [p for p in (tmp_path / "demo").rglob(".*")]


def test_checkpoint_is_written_atomically(data, tmp_path, monkeypatch):
    """An error inside torch.save leaves the previous checkpoint whole and no temporary file."""
    run = tmp_path / "run"
    train(load_config(_cfg(data, run, epochs=2)), progress=False, log=_quiet)
    before = (run / "last.pt").read_bytes()
    save = torch.save

    def failing_save(obj, f, *a, **k):
        if obj.get("epoch") == 4 and "last.pt" in f.name:
            f.write(b"half a checkpoint")
            raise OSError("disk full")
        return save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        train(load_config(_cfg(data, run, epochs=4)), resume=True, progress=False, log=_quiet)
    assert (run / "last.pt").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    assert np.isfinite(torch.load(run / "last.pt", weights_only=False)["best_val_mae"])
