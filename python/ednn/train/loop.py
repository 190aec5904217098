"""``ednn train``: the training loop and checkpoints (extra ``train``; export: :mod:`ednn.train.export`).

The run is described by a :class:`~ednn.train.config.TrainConfig` (YAML, see :mod:`ednn.train.config`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import per_axis
from .._io import atomic_write
from ..errors import InputError
from .baseline import moment_matrix, solve_moments
from .config import TrainConfig, build_network, load_init
from .data import load_training_data
from .widen import widen_state

__all__ = ["train"]

#: What a run writes in its output_dir (removed when a run is replaced).
_RUN_FILES = ("learning_curve.csv", "last.pt", "best.pt", "summary.json", "learning_curve.png")
_CURVE_HEADER = ["epoch", "step", "train_mse", "val_mse", "val_mae", "learning_rate", "seconds"]


def _moment_count(cfg: TrainConfig, kind: str, species: list[int]) -> int:
    if cfg.baseline == "none" or (cfg.baseline == "auto" and kind != "atoms"):
        return 0
    if cfg.baseline == "auto":
        return max(1, len(species))
    return int(cfg.baseline)


def _device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"config device: expected an available device, got {name!r} (torch sees no CUDA device)")
    return torch.device(name)


def _split(n_chains_of: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation samples, holding out whole Markov chains."""
    rng = np.random.default_rng(seed)
    chains = np.unique(n_chains_of)
    if frac == 0:
        return np.arange(len(n_chains_of)), np.arange(0)
    if len(chains) >= 10:
        held = rng.choice(chains, size=max(1, int(round(frac * len(chains)))), replace=False)
        val = np.isin(n_chains_of, held)
    else:  # too few chains to hold whole chains out
        val = rng.random(len(n_chains_of)) < frac
    return np.flatnonzero(~val), np.flatnonzero(val)


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False, progress: bool = True,
          log: Any = print) -> dict[str, Any]:
    """Train an EDNN per ``cfg``; writes ``learning_curve.csv``, ``last.pt``, ``best.pt`` in ``output_dir``.

    An ``output_dir`` that already holds a run is continued from ``last.pt`` with ``resume`` (the
    learning curve is cut back to the checkpoint's epoch and its seconds go on from there), replaced
    with ``overwrite``, and refused otherwise. Checkpoints are written atomically, so a kill leaves
    the previous checkpoint intact.

    Returns a summary: epochs, steps, best validation MAE, seconds, checkpoint paths.
    """
    import torch

    from ..progress import progress_bar
    from ..torch import EDNN

    if resume and overwrite:
        raise InputError("resume and overwrite (--resume, --force): expected at most one of them")
    out = cfg.out
    last_path, best_path, curve_path = out / "last.pt", out / "best.pt", out / "learning_curve.csv"
    existing = [p.name for p in (curve_path, last_path, best_path) if p.exists()]
    if existing and not resume and not overwrite:
        raise InputError(
            f"output_dir: {str(out)!r} already holds a training run ({', '.join(existing)}); continue it with "
            "--resume or replace it with --force (resume=True / overwrite=True in Python), or choose another "
            "output_dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = _device(cfg.device)
    ds = load_training_data(cfg.data, cfg.downsample, cfg.channels, cfg.flatten)
    if ds.dropped:  # broken snapshots and their sequels (ednn.train.data.broken_samples)
        log(f"left out {len(ds.dropped)} broken snapshot(s) and their sequels: samples {list(ds.dropped)[:10]}")
    L = ds.shape[-1]
    x_all = torch.from_numpy(ds.grids.astype(np.float32))
    y_all = torch.from_numpy(ds.targets.astype(np.float64)[:, None])
    tr_idx, va_idx = _split(ds.groups, cfg.validation_split, cfg.seed)
    torch.manual_seed(cfg.seed)
    focus = per_axis("focus", cfg.focus, 2, 1)
    context = per_axis("context", cfg.context, 2, 0)
    n_tiles = int(np.prod([s // fk for s, fk in zip(ds.shape, focus)]))
    tile = focus[0] + 2 * context[0]
    coeffs = None
    init = None
    if cfg.init is not None:
        # fine-tuning: the network, its per-species term and the output scaling are the checkpoint's, as
        # they are (per tile, so they hold on grids of any size); the loss stays in units of that scale
        init = load_init(cfg.init, cfg)
        n_moments = int(init.get("baseline_moments", 0))
        out_scale, out_offset = float(init["output_scale"]), float(init["output_offset"])
        loss_scale = out_scale * n_tiles if ds.kind != "ising" else 1.0
    else:
        n_moments = _moment_count(cfg, ds.kind, ds.metadata.get("species", []))
        residual = ds.targets[tr_idx]
        if n_moments:
            # The fixed per-species term, fitted on the training samples only; the network learns the rest.
            M = moment_matrix(ds.grids[tr_idx, 0], n_moments)  # moments of the Eq. 2 image (channel 0)
            coeffs = solve_moments(M, residual)
            residual = residual - M @ coeffs
        # Output scaling: spins are trained on raw energies; atomic energies (thousands of eV, varying by
        # tens) are standardised: a tile contributes y * scale + offset with offset * n_tiles = mean and
        # scale * n_tiles = std of the training totals, so the network's sum is O(1). Both are exported
        # as ednn.output_scale / ednn.output_offset and stay per tile, hence extensive.
        if ds.kind == "ising":
            out_scale, out_offset, loss_scale = 1.0, 0.0, 1.0
        else:
            std = float(residual.std()) or 1.0
            out_scale, out_offset, loss_scale = std / n_tiles, float(residual.mean()) / n_tiles, std
    model = EDNN(build_network(cfg, tile, n_moments, coeffs, out_scale), cfg.focus, cfg.context, ndim=2).to(device)
    if init is not None:
        theirs = init["config"].get("widths")
        # check_init let only a density-cnn's widths differ, and only grow
        grown = theirs is not None and cfg.widths is not None and list(theirs) != list(cfg.widths)
        model.load_state_dict(widen_state(init["model"], model.state_dict()) if grown else init["model"])
        what = (f"widths {list(theirs)} grown to {list(cfg.widths)}: the same outputs, new channels to learn" if grown
                else "its network, per-species term and output scaling")
        log(f"starting from {cfg.init} (epoch {init.get('epoch')}): {what}")
    elif n_moments:
        spread = float(ds.targets[tr_idx].std())
        log(f"per-species term from {n_moments} image moments: label spread {spread:.4g} -> residual spread {std:.4g} {ds.units}")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay)
    start_epoch, step, best = 0, 0, math.inf
    gen = torch.Generator().manual_seed(cfg.seed)
    if resume:
        if not last_path.is_file():
            raise InputError(f"--resume: expected a checkpoint {str(last_path)!r}, found none")
        ck = torch.load(last_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        gen.set_state(ck["generator"])
        start_epoch, step, best = ck["epoch"], ck["step"], ck["best_val_mae"]
        elapsed = _trim_curve(curve_path, start_epoch, ck.get("seconds"))
        log(f"resuming from {last_path} at epoch {start_epoch}")
    else:
        elapsed = 0.0
        for name in _RUN_FILES:  # overwrite: nothing of the replaced run may mix with the new one
            (out / name).unlink(missing_ok=True)
    n_tr = len(tr_idx)
    steps_per_epoch = math.ceil(n_tr / cfg.batch_size)
    log(
        f"training {cfg.network} f={cfg.focus} c={cfg.context} on {n_tr} examples ({len(va_idx)} validation) "
        f"of {L}x{L}, {sum(p.numel() for p in model.parameters())} parameters, device {device}"
    )

    uniq = None
    if cfg.tile_dedup is not False and ds.discrete:
        from .dedup import UniqueTiles

        uniq = UniqueTiles.build(ds.grids, cfg.focus, cfg.context, 2)
        if uniq is None and cfg.tile_dedup is True:
            raise InputError("config tile_dedup: expected a data set with few distinct tiles, got too many (use auto)")
    if uniq is not None:
        log(f"{uniq.n_tiles} tiles per example, {len(uniq)} distinct tiles in the data: summing over distinct tiles")
        u_tiles = torch.from_numpy(uniq.tiles.astype(np.float32)).to(device)
        u_counts = torch.from_numpy(uniq.counts)

    def forward(sl: Any) -> Any:
        """Predicted totals (B, K) in the data's units."""
        if uniq is None:
            raw = model(x_all[sl].to(device))
        else:
            raw = uniq.forward(model.net, u_counts[sl].to(device, torch.float32), u_tiles)
        return raw * out_scale + out_offset * n_tiles

    def evaluate(idx: np.ndarray) -> tuple[float, float]:
        if len(idx) == 0:
            return math.nan, math.nan
        model.eval()
        errs = []
        with torch.no_grad():
            for i in range(0, len(idx), 4096):
                sl = torch.from_numpy(idx[i : i + 4096])
                pred = forward(sl).double().cpu()
                errs.append((pred - y_all[sl].double()).numpy())
        e = np.concatenate(errs)
        model.train()
        return float(np.mean(e**2)), float(np.mean(np.abs(e)))

    if init is not None and not resume:
        val_mse0, val_mae0 = evaluate(va_idx)
        log(f"{cfg.init} on this run's validation samples before any step: MAE {val_mae0:.4g} {ds.units} "
            f"(RMSE {math.sqrt(val_mse0):.4g})")
    write_header = not curve_path.exists()
    t0 = time.perf_counter() - elapsed  # the seconds column goes on from the checkpoint's epoch
    with open(curve_path, "a", newline="") as fh, progress_bar(
        (cfg.epochs - start_epoch) * steps_per_epoch, "ednn train", "steps", enable=progress
    ) as bar:
        writer = csv.writer(fh)
        if write_header:
            writer.writerow(_CURVE_HEADER)
        model.train()
        for epoch in range(start_epoch, cfg.epochs):
            if cfg.augment:  # every training sheet imaged again after a random rigid move
                grids = x_all.numpy()
                ds.sheets.images(tr_idx, cfg.seed, epoch, grids)
            perm = torch.from_numpy(tr_idx)[torch.randperm(n_tr, generator=gen)]
            run, seen = 0.0, 0
            for i in range(0, n_tr, cfg.batch_size):
                sl = perm[i : i + cfg.batch_size]
                yb = y_all[sl].to(device)
                # MSE of the summed (extensive) output, in units of the targets' spread
                loss = torch.mean(((forward(sl) - yb) / loss_scale) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                run += float(loss.detach()) * len(sl)
                seen += len(sl)
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix_str(f"epoch {epoch + 1} loss {run / seen:.4g}", refresh=False)
            val_mse, val_mae = evaluate(va_idx)
            lr = opt.param_groups[0]["lr"]
            sched.step()
            # the CSV holds both MSEs in the data's units (the loss itself is in units of the spread)
            seconds = round(time.perf_counter() - t0, 3)
            writer.writerow([epoch + 1, step, run / seen * loss_scale**2, val_mse, val_mae, lr, seconds])
            fh.flush()
            score = val_mae if not math.isnan(val_mae) else run / seen * loss_scale**2
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "generator": gen.get_state(),
                "epoch": epoch + 1,
                "step": step,
                "best_val_mae": min(best, score),
                "config": asdict(cfg),
                "tile": list(model.tile),
                "L": L,
                "data_kind": ds.kind,
                "data_metadata": ds.metadata,
                "output_scale": out_scale,
                "output_offset": out_offset,
                "baseline_moments": n_moments,
                "seconds": seconds,
            }
            if score < best:
                best = score
                with atomic_write(best_path) as ck_file:
                    torch.save(state, ck_file)
            if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
                os.fsync(fh.fileno())  # the curve on disk covers every checkpoint
                with atomic_write(last_path) as ck_file:
                    torch.save(state, ck_file)
    seconds = time.perf_counter() - t0 - elapsed
    summary = {
        "epochs": cfg.epochs,
        "steps": step,
        "best_val_mae": best,
        "seconds": seconds,
        "best": str(best_path),
        "last": str(last_path),
        "learning_curve": str(curve_path),
    }
    units = (cfg.units or "") if ds.kind == "ising" else ds.units  # atoms: the labels' units (eV)
    try:
        from ..evaluate.metrics import plot_learning_curve

        summary["plot"] = str(plot_learning_curve(curve_path, out / "learning_curve.png", units))
    except ImportError:  # matplotlib is optional for training itself
        pass
    with atomic_write(out / "summary.json", "w") as sf:
        sf.write(json.dumps(summary, indent=2))
    log(f"done: {step} steps in {seconds:.1f} s, best validation MAE {best:.4g} {units}")
    return summary


def _trim_curve(path: Path, epoch: int, seconds: float | None) -> float:
    """Cut the learning curve back to the rows of epochs 1..``epoch`` (those of a checkpoint being
    resumed; later rows, and a row cut short by a kill, are dropped; where an epoch was written
    again, by a resume of an older version, the later rows replace the earlier ones). Returns the
    seconds at which the resumed run continues: ``seconds`` of the checkpoint, else the last row's,
    else 0."""
    rows: list[list[str]] = []
    if path.exists():
        with open(path, newline="") as fh:
            for row in csv.reader(fh):
                if row == _CURVE_HEADER or len(row) != len(_CURVE_HEADER):
                    continue
                try:
                    e, t = int(row[0]), float(row[-1])
                except ValueError:
                    continue
                if e <= epoch and math.isfinite(t):
                    while rows and int(rows[-1][0]) >= e:  # rows stay in increasing epochs
                        rows.pop()
                    rows.append(row)
        with atomic_write(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(_CURVE_HEADER)
            writer.writerows(rows)
    if seconds is not None:
        return float(seconds)
    return float(rows[-1][-1]) if rows else 0.0
