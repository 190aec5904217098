"""How far apart two vacancies still feel each other, in GFN1-xTB and in a model: the reach a local
model would need.

In the ideal 240-site cell (2 x 2 60-site blocks, flat, 25.6 Å x 24.6 Å, z = 20 Å) of graphene or
h-BN, one site i is removed, then a second site j at increasing distance d; the pair's interaction is

    W(d) = E(without i and j) - E(without i) - E(without j) + E(ideal)

(every single vacancy of one sublattice costs the same in the ideal lattice, so E(without j) is
computed once per kind). Pairs: C-C in graphene; B-B, N-N and B-N in h-BN (a B vacancy leaves
acceptor states, an N vacancy donor states). Labels: ``ednn.data.xtb.label`` (the training data's
settings); the model's W(d) from ``ednn.atoms.predict``. A model that sums densities reaching R
gives W = 0 beyond 2R (6.4 Å for the shipped sheets model), by construction. The cell is periodic,
so d runs up to half the cell (about 12.5 Å) and each pair also sees the other's images.
``--charges`` also prints the partial charges (``ednn.data.xtb.xtb_charges``) around a B and an N vacancy
9.3 Å apart, alone and together: the electrons that move from one to the other.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/vacancy_pairs.py --out vacancy_pairs.json --plot docs/img/sheets/vacancy_pairs.png  # ~4 min
"""

from __future__ import annotations

import argparse
import json

import numpy as np

PAIRS = (("graphene", 6, 6), ("hbn", 5, 5), ("hbn", 7, 7), ("hbn", 5, 7))


def _minimum_image(d: np.ndarray, cell: np.ndarray) -> np.ndarray:
    lengths = np.diag(cell)[:2]
    d = d.copy()
    d[:, :2] -= np.round(d[:, :2] / lengths) * lengths
    return d


def pair_curve(family: str, zi: int, zj: int, model: str, shells: int) -> dict:
    from ednn.atoms import predict
    from ednn.data import sheets
    from ednn.data.xtb import label

    ideal = sheets.hexagonal_sheet(family, np.random.default_rng(0), repeat=2)
    z = ideal.numbers
    i = int(np.flatnonzero(z == zi)[0])
    dist = np.linalg.norm(_minimum_image(ideal.positions - ideal.positions[i], ideal.cell.array), axis=1)
    candidates = [j for j in np.argsort(dist, kind="stable") if j != i and z[j] == zj]
    # one site per distinct distance, spread over the whole range up to half the cell
    by_shell: dict[float, int] = {}
    for j in candidates:
        by_shell.setdefault(round(float(dist[j]), 2), int(j))
    picks = sorted(by_shell.items())
    picks = [picks[k] for k in np.unique(np.linspace(0, len(picks) - 1, min(shells, len(picks))).round().astype(int))]

    def without(*sites: int):
        return ideal[np.setdiff1d(np.arange(len(ideal)), sites)]

    j0 = candidates[0]
    xtb = {"ideal": label(ideal).energy, "i": label(without(i)).energy, "j": label(without(j0)).energy}
    edn = {"ideal": predict(model, ideal, threads=1), "i": predict(model, without(i), threads=1),
           "j": predict(model, without(j0), threads=1)}
    rows = []
    for d, j in picks:
        both = without(i, j)
        w_xtb = label(both).energy - xtb["i"] - xtb["j"] + xtb["ideal"]
        w_model = predict(model, both, threads=1) - edn["i"] - edn["j"] + edn["ideal"]
        rows.append({"d": d, "xtb": float(w_xtb), "model": float(w_model)})
        print(f"{family} {zi}-{zj} d = {d:5.2f} A: W(xTB) = {w_xtb:+8.3f} eV, W(model) = {w_model:+8.3f} eV", flush=True)
    return {"family": family, "pair": [zi, zj], "vacancy_xtb": [xtb["i"] - xtb["ideal"], xtb["j"] - xtb["ideal"]],
            "rows": rows}


def charge_transfer(distance: float = 9.3) -> dict:
    """Charge (e) within 3 Å of a B site and of an N site ``distance`` Å away, in the ideal 240-site h-BN
    cell, with the B site removed, the N site removed, and both."""
    from ednn.data import sheets
    from ednn.data.xtb import xtb_charges

    ideal = sheets.hexagonal_sheet("hbn", np.random.default_rng(0), repeat=2)
    z, pos, cell = ideal.numbers, ideal.positions, ideal.cell.array
    b = int(np.flatnonzero(z == 5)[0])
    dist = np.linalg.norm(_minimum_image(pos - pos[b], cell), axis=1)
    n = int(min(np.flatnonzero(z == 7), key=lambda j: abs(dist[j] - distance)))
    near = {site: np.linalg.norm(_minimum_image(pos - pos[site], cell), axis=1) < 3.0 for site in (b, n)}
    out = {"distance": float(dist[n])}
    for name, drop in (("ideal", []), ("B vacancy", [b]), ("N vacancy", [n]), ("both", [b, n])):
        keep = np.setdiff1d(np.arange(len(z)), drop)
        q = np.zeros(len(z))
        q[keep] = xtb_charges(z[keep], pos[keep], cell)[1]
        out[name] = {"near B site": float(q[near[b]].sum()), "near N site": float(q[near[n]].sum())}
        print(f"{name:9s}: charge within 3 A of the B site {out[name]['near B site']:+.3f} e, of the N site "
              f"{dist[n]:.1f} A away {out[name]['near N site']:+.3f} e", flush=True)
    return out


def plot(curves: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {5: "B", 6: "C", 7: "N"}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, c in enumerate(curves):
        d = [r["d"] for r in c["rows"]]
        label = f"{c['family']}: {names[c['pair'][0]]}-{names[c['pair'][1]]} vacancies"
        ax.plot(d, [r["xtb"] for r in c["rows"]], "o-", color=f"C{k}", label=f"{label}, GFN1-xTB")
        ax.plot(d, [r["model"] for r in c["rows"]], "x--", color=f"C{k}", alpha=0.7, label="  model")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("distance between the two vacancies (Å)")
    ax.set_ylabel("pair interaction W (eV)")
    ax.set_title("Two vacancies in a 240-site cell")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="sheets", help="model file or shipped model name (default sheets)")
    p.add_argument("--shells", type=int, default=9, help="distances per pair kind (default 9)")
    p.add_argument("--out", help="write the curves as JSON here")
    p.add_argument("--plot", help="write a figure of W(d) here")
    p.add_argument("--charges", action="store_true", help="also the charges around a B and an N vacancy 9.3 Å apart")
    a = p.parse_args()
    curves = [pair_curve(f, zi, zj, a.model, a.shells) for f, zi, zj in PAIRS]
    charges = charge_transfer() if a.charges else None
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"model": a.model, "curves": curves, "charges": charges}, fh, indent=1)
    if a.plot:
        plot(curves, a.plot)


if __name__ == "__main__":
    main()
