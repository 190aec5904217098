"""Training data for the Ising example: equilibrium samples of the 2-D ferromagnetic Ising model.

Model: spins ``s = +-1`` on an ``L x L`` periodic square lattice, ``E = -J sum_<ij> s_i s_j`` over
nearest-neighbour bonds (each bond once), ``J = 1``, temperature in units of ``J / k_B``; the infinite
lattice orders below ``T_c = 2 / ln(1 + sqrt 2) = 2.269``.

Sampler (:func:`sample`)
------------------------
Many independent Markov chains (one lattice each, each at its own temperature) advance together in
vectorised NumPy. One *sweep* of a chain is

1. a checkerboard Metropolis sweep: all sites of one sublattice are proposed a flip at once
   (they do not interact), then those of the other; a flip raising the energy by ``dE`` is accepted
   with probability ``exp(-dE / T)``;
2. with ``cluster=True`` (the default), one Swendsen-Wang cluster update: bonds between aligned
   neighbours are activated with probability ``1 - exp(-2 / T)``, the connected clusters are found
   (min-label propagation with pointer jumping, periodic), and each cluster is flipped with
   probability 1/2.

Both updates satisfy detailed balance for the Boltzmann distribution. The cluster update is what
makes low and critical temperatures work: single-spin Metropolis alone is slow near ``T_c``
(critical slowing down) and, from a random start below ``T_c``, can stay for very long in striped
states with two domain walls across the lattice; Swendsen-Wang removes these in a few sweeps. It is
the multi-cluster sibling of Wolff's single-cluster update and, unlike it, flips every spin's cluster
in the same step, so it vectorises over a batch of lattices. Above ``T_c`` its clusters are small and
it costs little. The lattice size must be even (checkerboard on a periodic lattice).

Equilibration was checked against :func:`exact_energy_moments` — the exact mean and variance of the
energy of the finite periodic ``L x L`` lattice from its transfer matrix — at temperatures below, at
and above ``T_c`` and from hot (random) and cold (ordered) starts; see ``tests/test_ising_data.py``.

One module on purpose (~470 lines): the sampler, the exact finite-lattice reference it is
checked against and the file format are one job, the Ising dataset.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int
from .._io import atomic_write, check_new
from ..errors import InputError
from ..progress import progress_bar
from ..reference import ising_energy

__all__ = [
    "T_CRITICAL",
    "IsingSamples",
    "energy",
    "magnetization",
    "sample",
    "exact_energy_moments",
    "save",
    "load",
]

#: Critical temperature of the infinite 2-D square-lattice Ising model, ``2 / ln(1 + sqrt(2))``.
T_CRITICAL = 2.0 / math.log(1.0 + math.sqrt(2.0))

FORMAT = "ednn.ising-samples/1"
_KEYS = ("spins", "energy", "temperature", "magnetization", "chain", "settings")
_SPINS_PER_CHUNK = 1 << 17  # lattices advanced together: small enough to stay in cache


def _spins_array(spins: Any, name: str = "spins") -> np.ndarray:
    s = np.asarray(spins)
    if s.ndim < 2:
        raise InputError(f"{name}: expected at least 2 axes (..., L, L), got shape {s.shape}")
    if s.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected a numeric array of +-1, got dtype {s.dtype}")
    if s.size and not np.all(np.abs(s) == 1):
        bad = np.unravel_index(int(np.argmin((np.abs(s) == 1).reshape(-1))), s.shape)
        raise InputError(f"{name}: expected values +-1, got {s[bad]} at index {tuple(int(i) for i in bad)}")
    return s


def energy(spins: Any) -> np.ndarray | float:
    """Exact energy ``-sum_<ij> s_i s_j`` (J = 1, periodic, each bond once) of ``(..., L, L)`` spins.

    Returns float64: an array over the leading axes, or a float for one lattice.
    """
    return ising_energy(_spins_array(spins))


def magnetization(spins: Any) -> np.ndarray | float:
    """Total magnetisation ``sum_i s_i`` of ``(..., L, L)`` spins, as float64."""
    m = _spins_array(spins).sum(axis=(-1, -2), dtype=np.float64)
    return float(m) if np.ndim(m) == 0 else m


@dataclass
class IsingSamples:
    """Samples from :func:`sample` (or :func:`load`).

    ``spins`` ``(count, L, L)`` int8 of +-1; ``energy`` (total, J = 1), ``temperature`` and
    ``magnetization`` (total, ``sum s``) ``(count,)`` float64; ``chain`` ``(count,)`` int64: the Markov
    chain of each sample (samples of one chain are correlated; split data sets by chain);
    ``settings``: the generator settings (JSON-serialisable).
    """

    spins: np.ndarray
    energy: np.ndarray
    temperature: np.ndarray
    magnetization: np.ndarray
    chain: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.spins.shape[0])

    @property
    def L(self) -> int:
        return int(self.spins.shape[-1])


# ---------------------------------------------------------------------------------------------
# Exact finite-lattice reference
# ---------------------------------------------------------------------------------------------


def _log_partition(L: int, K: float, sigma: np.ndarray, intra: np.ndarray) -> float:
    # Column-to-column transfer matrix, symmetrised: M = D^1/2 V D^1/2 with V = exp(K s.s'),
    # D = diag(exp(K * bonds inside the column)); Z = Tr M^L = sum(lambda^L).
    half = np.exp(0.5 * K * intra)
    M = half[:, None] * np.exp(K * (sigma @ sigma.T)) * half[None, :]
    lam = np.linalg.eigvalsh(M)
    top = np.max(np.abs(lam))
    return L * math.log(top) + math.log(np.sum((lam / top) ** L))


def exact_energy_moments(L: int, temperature: float) -> tuple[float, float]:
    """Exact mean and variance of the total energy of the periodic ``L x L`` Ising model (J = 1).

    From the ``2^L x 2^L`` column transfer matrix (``2 <= L <= 12``): ``ln Z(K)``, ``K = 1 / T``, is
    evaluated exactly and differentiated numerically, ``<E> = -d ln Z / dK`` and
    ``Var E = d^2 ln Z / dK^2`` (relative accuracy about 1e-7). Finite-size values, unlike Onsager's
    infinite-lattice solution, so they test samplers on the lattices they actually run.
    """
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or not 2 <= L <= 12:
        raise InputError(f"L: expected an int in 2..12, got {L!r}")
    T = float(temperature)
    if not (math.isfinite(T) and T > 0):
        raise InputError(f"temperature: expected a finite number > 0, got {temperature!r}")
    L = int(L)
    states = np.arange(2**L)
    sigma = (1 - 2 * ((states[:, None] >> np.arange(L)) & 1)).astype(np.float64)  # (2^L, L)
    intra = np.sum(sigma * np.roll(sigma, -1, axis=1), axis=1)
    K = 1.0 / T
    h1, h2 = 1e-4 * max(K, 1e-3), 1e-3 * max(K, 1e-3)
    f = lambda k: _log_partition(L, k, sigma, intra)  # noqa: E731
    mean = -(f(K + h1) - f(K - h1)) / (2 * h1)
    var = (f(K + h2) - 2 * f(K) + f(K - h2)) / h2**2
    return float(mean), float(max(var, 0.0))


# ---------------------------------------------------------------------------------------------
# Vectorised Monte Carlo on a chunk of lattices, laid out (L, L, B): every slice is contiguous
# ---------------------------------------------------------------------------------------------


class _Chunk:
    def __init__(self, spins: np.ndarray, temps: np.ndarray, rng: np.random.Generator, cluster: bool) -> None:
        self.s = spins  # (L, L, B) int8
        self.L, _, self.B = spins.shape
        self.rng = rng
        self.cluster = cluster
        beta = 1.0 / temps
        self.p4 = np.exp(-4.0 * beta).astype(np.float32)  # acceptance of dE = 4
        self.p8 = np.exp(-8.0 * beta).astype(np.float32)  # acceptance of dE = 8
        self.p_bond = (-np.expm1(-2.0 * beta)).astype(np.float32)
        self.nb = np.empty_like(spins)
        L = self.L
        self.site = np.broadcast_to(np.arange(L * L, dtype=np.int32 if L * L > 32767 else np.int16)
                                    .reshape(L, L, 1), spins.shape)

    def _neighbour_sum(self) -> np.ndarray:
        s, nb = self.s, self.nb
        nb[1:] = s[:-1]
        nb[0] = s[-1]
        nb[:-1] += s[1:]
        nb[-1] += s[0]
        nb[:, 1:] += s[:, :-1]
        nb[:, 0] += s[:, -1]
        nb[:, :-1] += s[:, 1:]
        nb[:, -1] += s[:, 0]
        return nb

    def metropolis(self) -> None:
        for colour in (0, 1):
            nb = self._neighbour_sum()
            for rows in (0, 1):  # sites (i, j) with i = rows mod 2 and i + j = colour mod 2
                cols = (colour + rows) % 2
                a = self.s[rows::2, cols::2]
                x = a * nb[rows::2, cols::2]  # dE / 2, in {-4, -2, 0, 2, 4}
                u = self.rng.random(x.shape, dtype=np.float32)
                accept = (x <= 0) | (u < np.where(x > 2, self.p8, self.p4))
                np.negative(a, out=a, where=accept)

    def swendsen_wang(self) -> None:
        s, L, B, rng, p = self.s, self.L, self.B, self.rng, self.p_bond
        lab = self.site.copy()
        big = np.iinfo(lab.dtype).max

        def blocked(bond: np.ndarray) -> np.ndarray:  # 0 across an active bond, else `big`
            return (bond.astype(lab.dtype) - 1) & big

        # Bond (i,j)-(i,j+1) and (i,j)-(i+1,j): aligned spins, activated with probability p.
        to_right = blocked((s == np.roll(s, -1, axis=1)) & (rng.random(s.shape, dtype=np.float32) < p))
        to_down = blocked((s == np.roll(s, -1, axis=0)) & (rng.random(s.shape, dtype=np.float32) < p))
        to_left = np.roll(to_right, 1, axis=1)
        to_up = np.roll(to_down, 1, axis=0)
        # Min-label propagation: each site takes the smallest label among itself and the neighbours
        # it is bonded to, until nothing changes; every label stays a site of the same cluster.
        flat = lab.reshape(L * L, B)
        tmp = np.empty_like(lab)
        for it in range(1, 4 * L * L + 2):
            old = lab.copy()
            for shift, axis, blocked_mask in ((-1, 1, to_right), (1, 1, to_left), (-1, 0, to_down), (1, 0, to_up)):
                np.bitwise_or(np.roll(lab, shift, axis=axis), blocked_mask, out=tmp)
                np.minimum(lab, tmp, out=lab)
            if it % 4 == 0:  # pointer jumping: take the label of the site one's label names
                flat[...] = np.take_along_axis(flat, flat.astype(np.intp), axis=0)
            if np.array_equal(lab, old):
                break
        flip = rng.random((L * L, B), dtype=np.float32) < 0.5
        flip = np.take_along_axis(flip, flat.astype(np.intp), axis=0).reshape(s.shape)
        np.negative(s, out=s, where=flip)

    def sweep(self, n: int) -> None:
        for _ in range(n):
            self.metropolis()
            if self.cluster:
                self.swendsen_wang()


def _run_chunk(
    L: int, temps: np.ndarray, seed: np.random.SeedSequence, start: str, cluster: bool,
    eq: int, between: int, rounds: np.ndarray, out: np.ndarray, bar: Any,
) -> None:
    rng = np.random.default_rng(seed)
    B = temps.shape[0]
    if start == "hot":
        spins = (1 - 2 * rng.integers(0, 2, size=(L, L, B), dtype=np.int8)).astype(np.int8)
    else:
        spins = np.ones((L, L, B), dtype=np.int8)
    chunk = _Chunk(spins, temps, rng, cluster)
    chunk.sweep(eq)
    bar.update(eq * B)
    for r, keep in enumerate(rounds):  # keep: how many of this chunk's chains record in round r
        if r:
            chunk.sweep(between)
            bar.update(between * B)
        out[r, :keep] = np.moveaxis(chunk.s[:, :, :keep], 2, 0)


def _chain_temperatures(temperatures: Any, chains: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    if isinstance(temperatures, tuple) and len(temperatures) == 2:
        try:
            lo, hi = float(temperatures[0]), float(temperatures[1])
        except (TypeError, ValueError):
            raise InputError(f"temperatures: expected (low, high) numbers, got {temperatures!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise InputError(f"temperatures: expected a range (low, high) with 0 < low <= high, got {temperatures!r}")
        return rng.uniform(lo, hi, size=chains), {"uniform": [lo, hi]}
    try:
        grid = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"temperatures: expected (low, high) or an array of temperatures, got {temperatures!r}") from None
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise InputError(f"temperatures: expected finite temperatures > 0, got {temperatures!r}")
    return grid[np.arange(chains) % grid.size], {"grid": grid.tolist()}


def sample(
    L: int,
    count: int,
    temperatures: Any = (1.0, 4.0),
    *,
    chains: int | None = None,
    sweeps_equilibrate: int = 64,
    sweeps_between: int = 8,
    cluster: bool = True,
    start: str = "hot",
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> IsingSamples:
    """Equilibrium configurations of the periodic ``L x L`` Ising model (J = 1) at many temperatures.

    Parameters
    ----------
    L
        Lattice size, even, >= 2.
    count
        Number of configurations returned.
    temperatures
        A tuple ``(low, high)``: each chain's temperature is drawn uniformly from that range (the
        default ``(1.0, 4.0)`` spans ``T_c = 2.269``). Anything else — a number, a list or an array —
        gives the temperatures explicitly: chain ``c`` runs at ``temperatures[c % len(temperatures)]``.
    chains
        Number of independent Markov chains; default ``count`` (every sample from its own chain).
        With fewer chains, each records ``ceil(count / chains)`` samples, ``sweeps_between`` apart.
    sweeps_equilibrate
        Sweeps before a chain's first sample (see the module docstring for what a sweep is).
    sweeps_between
        Sweeps between two samples of one chain.
    cluster
        Add a Swendsen-Wang cluster update to every sweep (recommended at and below ``T_c``).
    start
        ``"hot"`` (random spins) or ``"cold"`` (all +1).
    seed
        Seed for reproducible samples (the same seed and arguments give the same samples, whatever
        ``workers``); default: fresh entropy, recorded in ``settings["seed"]``.
    workers
        Threads advancing chunks of chains in parallel; default: the CPU count (at most 8).
    progress
        Show a progress bar (lattice sweeps) on stderr.

    Returns
    -------
    :class:`IsingSamples`, ordered by round then chain: sample ``r * chains + c`` is chain ``c``'s
    ``r``-th. Energies and magnetisations are computed from the returned spins.
    """
    L = check_int("L", L, 2)
    if L % 2:
        raise InputError(f"L: expected an even lattice size (checkerboard updates), got {L}")
    count = check_int("count", count, 1)
    chains = count if chains is None else check_int("chains", chains, 1)
    if chains > count:
        raise InputError(f"chains: expected at most count={count}, got {chains}")
    eq = check_int("sweeps_equilibrate", sweeps_equilibrate, 0)
    between = check_int("sweeps_between", sweeps_between, 1)
    if start not in ("hot", "cold"):
        raise InputError(f"start: expected 'hot' or 'cold', got {start!r}")
    if not isinstance(cluster, (bool, np.bool_)):
        raise InputError(f"cluster: expected a bool, got {cluster!r}")
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    workers = check_int("workers", workers, 1)
    if seed is not None:
        seed = check_int("seed", seed, 0)

    root = np.random.SeedSequence(seed)
    temp_seed, chunk_root = root.spawn(2)
    chain_T, t_spec = _chain_temperatures(temperatures, chains, np.random.default_rng(temp_seed))
    rounds = -(-count // chains)
    last = count - (rounds - 1) * chains  # chains recording in the last round
    per_chunk = max(1, _SPINS_PER_CHUNK // (L * L))
    starts = list(range(0, chains, per_chunk))
    seeds = chunk_root.spawn(len(starts))
    spins = np.empty((rounds, chains, L, L), dtype=np.int8)
    total_sweeps = chains * (eq + (rounds - 1) * between)

    with progress_bar(total_sweeps, "ising sample", "sweeps", enable=progress) as bar:

        def job(i: int) -> None:
            a = starts[i]
            b = min(a + per_chunk, chains)
            keep = np.full(rounds, b - a)
            keep[-1] = max(0, min(b, last) - a)
            _run_chunk(L, chain_T[a:b], seeds[i], start, bool(cluster), eq, between, keep, spins[:, a:b], bar)

        if workers == 1 or len(starts) == 1:
            for i in range(len(starts)):
                job(i)
        else:
            with ThreadPoolExecutor(min(workers, len(starts))) as pool:
                list(pool.map(job, range(len(starts))))

    spins = spins.reshape(rounds * chains, L, L)[:count]
    chain = np.tile(np.arange(chains, dtype=np.int64), rounds)[:count]
    temperature = chain_T[chain]
    settings = {
        "format": FORMAT,
        "model": "2-D Ising, J = 1, periodic, E = -sum_<ij> s_i s_j (each bond once)",
        "L": L,
        "count": count,
        "chains": chains,
        "temperatures": t_spec,
        "sweeps_equilibrate": eq,
        "sweeps_between": between,
        "sweep": "checkerboard Metropolis" + (" + Swendsen-Wang" if cluster else ""),
        "cluster": bool(cluster),
        "start": start,
        "seed": int(root.entropy) if seed is None else seed,
    }
    return IsingSamples(
        spins=spins,
        energy=np.asarray(ising_energy(spins), dtype=np.float64).reshape(count),
        temperature=temperature.astype(np.float64),
        magnetization=spins.sum(axis=(1, 2), dtype=np.float64),
        chain=chain,
        settings=settings,
    )


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def save(path: str | os.PathLike[str], data: IsingSamples | dict[str, Any], *, overwrite: bool = False) -> Path:
    """Write samples to a compressed NPZ file (settings as a JSON string). Returns the path.

    The file appears complete or not at all (written beside ``path`` and renamed into place); an
    existing ``path`` is refused unless ``overwrite``.
    """
    if isinstance(data, IsingSamples):
        fields = {k: getattr(data, k) for k in _KEYS}
    elif isinstance(data, dict):
        missing = [k for k in _KEYS if k not in data and k != "chain"]
        if missing:
            raise InputError(f"data: expected keys {list(_KEYS)}, missing {missing}")
        fields = dict(data)
        fields.setdefault("chain", np.arange(len(np.asarray(data["spins"])), dtype=np.int64))
    else:
        raise InputError(f"data: expected IsingSamples or a dict, got {type(data).__name__}")
    spins = np.asarray(fields["spins"])
    if spins.ndim != 3 or spins.shape[1] != spins.shape[2]:
        raise InputError(f"data.spins: expected shape (count, L, L), got {spins.shape}")
    n = spins.shape[0]
    arrays = {"spins": spins.astype(np.int8)}
    for key, dtype in (("energy", np.float64), ("temperature", np.float64), ("magnetization", np.float64), ("chain", np.int64)):
        a = np.asarray(fields[key], dtype=dtype)
        if a.shape != (n,):
            raise InputError(f"data.{key}: expected shape ({n},), got {a.shape}")
        arrays[key] = a
    try:
        settings = json.dumps(fields["settings"] or {})
    except TypeError as exc:
        raise InputError(f"data.settings: expected a JSON-serialisable dict, got {exc}") from None
    p = check_new(path, overwrite=overwrite, name="path")
    if not p.parent.is_dir():
        raise InputError(f"path: expected a file in an existing directory, got {str(path)!r}")
    with atomic_write(p, "wb", overwrite=overwrite, name="path") as fh:  # a file object: numpy adds no ".npz"
        np.savez_compressed(fh, settings=np.array(settings), **arrays)
    return p


def load(path: str | os.PathLike[str]) -> IsingSamples:
    """Read samples written by :func:`save`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"path: expected an existing NPZ file of Ising samples, got {str(path)!r} (no such file)")
    try:
        npz = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise InputError(f"path: expected an NPZ file of Ising samples, got {str(path)!r} ({exc})") from None
    with npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise InputError(
                f"{str(path)!r}: expected keys {list(_KEYS)} in the NPZ file, missing {missing} (has {sorted(npz.files)})"
            )
        data = {k: npz[k] for k in _KEYS}
    try:
        settings = json.loads(str(data["settings"]))
    except json.JSONDecodeError as exc:
        raise InputError(f"{str(path)!r}: expected the 'settings' entry to hold JSON, got {exc}") from None
    spins = data["spins"]
    n = spins.shape[0] if spins.ndim == 3 else -1
    for key in ("energy", "temperature", "magnetization", "chain"):
        if spins.ndim != 3 or data[key].shape != (n,):
            raise InputError(
                f"{str(path)!r}: expected 'spins' (count, L, L) and '{key}' (count,), got {spins.shape} and {data[key].shape}"
            )
    return IsingSamples(
        spins=spins.astype(np.int8, copy=False),
        energy=data["energy"].astype(np.float64, copy=False),
        temperature=data["temperature"].astype(np.float64, copy=False),
        magnetization=data["magnetization"].astype(np.float64, copy=False),
        chain=data["chain"].astype(np.int64, copy=False),
        settings=settings,
    )
