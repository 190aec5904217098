"""Does the sheets model ignore its context? The context-blur study (paper Fig. 6).

    python examples/context_blur.py [--cells 24] [--out-dir docs/img/simulation]

Held-out cells: 24 new 60-site sheets from the dataset generator with its own seed (2042; the
training data used seed 0), every family, with and without vacancies, 1000 K MD snapshots. Every
tile of every cell is blurred (Gaussian, sigma = 2 pixels = 0.2 Angstrom) in a band of growing
width at its outer edge, or in a centred square of the same number of pixels; the mean |change|
of a tile's contribution is plotted against the band width. Writes blur.png and blur.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import ednn
from ednn.data.sheets import SheetsConfig, generate
from ednn.evaluate.blur import context_blur
from ednn.evaluate.metrics import pyplot, save_figure


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=24, help="held-out cells (default 24)")
    p.add_argument("--out-dir", default="docs/img/simulation", help="where blur.png and blur.json go")
    a = p.parse_args()
    model = ednn.Model(ednn.models.path("sheets"))
    cfg = SheetsConfig(snapshots=1)
    cells = [generate(cfg, 2042, t)[0] for t in range(a.cells)]
    c = model.context[0]
    widths = [1, 2, 4, 8, 12, 16, 20, 24, 28, 32]
    res = context_blur(model, cells, widths)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "blur.json").write_text(json.dumps(res, indent=2))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(widths, 1e3 * np.array(res["edge"]), "o-", label="band at the tile's edge")
    ax.plot(widths, 1e3 * np.array(res["centre"]), "s-", label="square at the focus centre, same pixels")
    ax.axvline(c, color="grey", linestyle=":", label=f"context width ({c} px)")
    ax.set(xlabel="blurred band width (pixels of 0.1 Å)", ylabel="mean |ΔE| per tile (meV)", yscale="log",
           title=f"sheets model, {res['tiles']} tiles of {a.cells} held-out cells")
    ax.legend(fontsize=8)
    save_figure(fig, out / "blur.png")
    print("| band width (px) | pixels blurred | edge: mean |ΔE| (meV) | centre: mean |ΔE| (meV) |")
    print("|---|---|---|---|")
    for w, (n, _), e, m in zip(widths, res["pixels"], res["edge"], res["centre"]):
        print(f"| {w} | {n} | {1e3 * e:.3f} | {1e3 * m:.3f} |")
    print(f"mean |tile contribution| {res['mean_abs_tile']:.3f} eV")


if __name__ == "__main__":
    main()
