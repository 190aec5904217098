"""Energies of atomic systems from an EDNN model in one call: rasterize (Eq. 2) and predict, streamed.

:func:`predict` images the atoms at the model's grid spacing and Gaussian width (metadata
``ednn.spacing`` and ``ednn.gamma``) and sums the network's tile contributions. It never builds the
whole grid: the tiles are visited in blocks, and for each block only its window (the block's focus
regions plus the context around them) is rasterized, from the atoms near that window, with
:func:`ednn.rasterize`'s window mode. Memory therefore stays at one window (about
``max_window`` grid points) plus a batch of tiles, whatever the size of the system.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._checks import axis_ints, cell_lengths, check_optional_positive_int, check_threads
from ..errors import InputError
from ..inference import batch_tiles, run_tiles
from ..model import Model, load_model
from ..rasterize import CUTOFF_GAMMAS, prepare
from .blocks import BlockGeometry, block_tiles
from .cells import check_strain, fit_cell, needs_fit
from .cells import unpack_atoms as _unpack
from .domain import MIN_DISTANCE, check_atoms
from .recipe import ImageRecipe, check_flatten

__all__ = ["predict", "image", "DEFAULT_MAX_WINDOW"]

#: Default largest window (grid points) rasterized at once: 4 Mi points, 16 MiB of float32.
DEFAULT_MAX_WINDOW = 1 << 22


def _blocks(n_tiles: Sequence[int], focus: Sequence[int], context: Sequence[int], max_window: int) -> tuple[int, ...]:
    """Tiles per block and axis, halving the longest axis until the window fits ``max_window`` points."""
    b = list(n_tiles)

    def points() -> int:
        return math.prod(bk * f + 2 * c for bk, f, c in zip(b, focus, context))

    while points() > max_window and max(b) > 1:
        k = max((k for k in range(len(b)) if b[k] > 1), key=lambda k: b[k] * focus[k])
        b[k] = (b[k] + 1) // 2
    return tuple(b)


def _near(x: np.ndarray, lo: float, span: float, length: float) -> np.ndarray:
    """Atoms with a periodic image in ``[lo, lo + span]`` along one axis."""
    if span >= length:
        return np.ones(x.shape[0], dtype=bool)
    return np.mod(x - lo, length) <= span


def image(
    model: str | os.PathLike[str] | Model,
    atoms: Any,
    numbers: Any = None,
    cell: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    gamma: float | None = None,
    threads: int | None = None,
    min_distance: float | None = MIN_DISTANCE,
) -> np.ndarray:
    """The whole input grid the model sees for ``atoms``: ``(S_1..S_d)`` for a one-channel model, else
    ``(C, S_1, S_2)`` (channels per ``ednn.channel_names``), float32, at the model's spacing and gamma.

    ``ednn.predict(model, ednn.atoms.image(model, atoms))`` equals :func:`predict` up to float32
    rounding; :func:`predict` never builds this grid (use it for large systems).
    """
    check_threads(threads)
    m = load_model(model)
    recipe = ImageRecipe.from_model(m, spacing, gamma)
    pos, z, cell_in = _unpack(atoms, numbers, cell, m.ndim)
    check_atoms(m, z, pos, cell_in, min_distance=min_distance)
    grid = recipe.image(pos, z, cell_in, focus=m.focus, dtype=np.float32, threads=threads)
    return grid[0] if len(recipe.channels) == 1 else grid


def predict(
    model: str | os.PathLike[str] | Model,
    atoms: Any,
    numbers: Any = None,
    cell: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    shape: Sequence[int] | None = None,
    gamma: float | None = None,
    batch_size: int | None = None,
    max_window: int | None = None,
    providers: Sequence[Any] | None = None,
    threads: int | None = None,
    progress: bool = False,
    client: Any = None,
    min_distance: float | None = MIN_DISTANCE,
    strain: float | None = None,
    journal: str | os.PathLike[str] | None = None,
    flatten: str = "auto",
) -> float | np.ndarray:
    """Extensive quantities (e.g. the energy) of an atomic system from an EDNN model.

    Parameters
    ----------
    model
        EDNN model file (path or :class:`ednn.Model`) whose input is the Eq. 2 image, optionally
        followed by the bond-height channel (``ednn.channel_names``, see :mod:`ednn.atoms.bonds`). A model
        with ``ednn.positions = flattened`` images the sheet at its flattened in-plane positions
        (:func:`ednn.atoms.bonds.flatten`, before imaging; see ``flatten``).
    atoms
        An ``ase.Atoms`` (periodic along the model's axes), or ``(n, 3)`` positions with ``numbers``
        and ``cell`` as for :func:`ednn.rasterize`. A 2-D model takes any 2-D periodic cell with an
        orthogonal supercell (rectangular, hexagonal, ...): one whose in-plane edges are not axis-aligned
        whole numbers of focus lengths (``ednn.focus`` x spacing) is evaluated in the smallest
        rectangular supercell that is (:func:`ednn.atoms.cells.fit_cell`: rotated in-plane and repeated,
        exactly) and the result divided by the copies; a cell that fits as given is used as it is.
    spacing, shape
        Grid spacing per axis (default: the model's ``ednn.spacing``, one value or one per axis), or
        the grid ``shape`` directly (then the cell is used as given, never fitted). Each cell edge
        must be a whole number of spacings and the grid a whole multiple of the model's focus; other
        cells are refused with :class:`~ednn.InputError`.
    strain
        None (default): only exact fits. A number (e.g. 0.01): the largest relative change of an
        in-plane edge accepted when no supercell of the cell fits exactly; the edges and positions are
        then rescaled to the nearest whole number of focus lengths. The answer is the strained
        structure's, an approximation whose cost docs/cells.md measures.
    gamma
        Gaussian width (default: the model's ``ednn.gamma``).
    batch_size
        Tiles per ONNX Runtime call (default :func:`ednn.inference.default_batch_size`: about 8 MiB of
        tiles, at most the model's ``ednn.batch_tiles``).
    max_window
        Largest window, in grid points, rasterized at once (default :data:`DEFAULT_MAX_WINDOW`).
    providers, threads, progress
        As for :func:`ednn.predict` (threads also sets the rasterizer's OpenMP threads).
    min_distance
        Atoms closer than this (Angstrom, 3-D) are refused, as are elements outside the model's
        ``ednn.species`` (:func:`ednn.atoms.domain.check_atoms`); None skips the distance check.
    client
        A ``dask.distributed.Client``: the blocks of tiles run as tasks on its workers, each task
        receiving only the points near its block's window (never the whole system), and the block
        totals are summed here in float64 (:mod:`ednn.distributed`; extra ``dist``). A lost worker's
        tasks are run again by Dask; the result equals the one-process answer to rounding.
    flatten
        For a model on flattened sheets: ``auto`` (default: one solve up to
        :data:`~ednn.atoms.localflat.GLOBAL_MAX_ATOMS` atoms, in windows beyond: O(N)),
        ``global`` (one solve), ``local`` (windows, :func:`ednn.atoms.localflat.flatten_windows`)
        or ``none`` (the positions are already flattened: used as given). Flat sheets are their own
        flattening whatever the method.
    journal
        A file (:mod:`ednn.journal`) that records every finished block's sums, synced to disk: a run
        that is stopped (killed, out of time) and started again with the same journal, model and
        atoms continues with the blocks not yet done, and gives the same answer bit for bit. A
        journal of another run is refused. Not with ``client``.

    Returns
    -------
    A float for a one-output model, else an array ``(K,)``, in float64, in the model's units
    (``ednn.units``). The result equals ``ednn.predict(model, ednn.rasterize(atoms, shape=grid,
    gamma=gamma))`` up to float32 rounding, without ever holding the whole grid.
    """
    for name, v in (("batch_size", batch_size), ("max_window", max_window)):
        check_optional_positive_int(name, v)
    check_threads(threads)
    check_strain(strain)
    check_flatten(flatten)
    if journal is not None and client is not None:
        raise InputError("journal: expected no journal with a Dask client (a one-process run's record), got both")
    m = load_model(model)
    if m.ndim not in (2, 3):
        raise InputError(f"model: expected a 2-D or 3-D model (ednn.ndim 2 or 3) for atoms, got ednn.ndim={m.ndim}")
    d = m.ndim
    pos, z, cell_in = _unpack(atoms, numbers, cell, d)
    if shape is None and d == 2:
        recipe = ImageRecipe.from_model(m, spacing, gamma)
        if needs_fit(cell_in, recipe.spacing, m.focus):  # hexagonal, rotated or off the focus: a supercell
            check_atoms(m, z, pos, cell_in, min_distance=None)  # elements first, named by the input's atoms
            fit = fit_cell(pos, z, cell_in, spacing=recipe.spacing, focus=m.focus, strain=strain)
            y = predict(m, fit.positions, fit.numbers, fit.cell, spacing=recipe.spacing, gamma=recipe.gamma,
                        batch_size=batch_size, max_window=max_window, providers=providers, threads=threads,
                        progress=progress, client=client, min_distance=min_distance, journal=journal,
                        flatten=flatten)
            return y / fit.multiplicity  # float64: the fit holds exactly `multiplicity` input cells
    lengths = cell_lengths(cell_in, d)
    if shape is not None:  # the grid given directly: its spacing is the cell's edge over the points
        if spacing is not None:
            raise InputError(f"shape: expected either spacing or shape, got both (spacing={spacing!r}, "
                             f"shape={shape!r})")
        if isinstance(shape, (int, np.integer)):  # one int per axis, as axis_ints would take it
            raise InputError(f"shape: expected {d} ints, got {shape!r}")
        given = axis_ints("shape", shape, d, 1)  # integers only: (128.5, 128) is refused, not truncated
        spacing = tuple(lengths[k] / given[k] for k in range(d))
    if shape is not None or d != 2:
        recipe = ImageRecipe.from_model(m, spacing, gamma)
    g = recipe.gamma
    grid = recipe.grid_shape(lengths, m.focus)
    sysm = prepare(pos, z, cell_in, grid, g, None, None)  # checks positions / numbers; raises InputError
    check_atoms(m, sysm.numbers, pos, cell_in, min_distance=min_distance)  # known elements, no overlaps
    lengths = sysm.cell
    # every channel is a set of weighted points (atoms; bond midpoints), rasterized per window; the
    # checked (n, d) float64 copy serves as the atoms' points when they are used as given (no second copy)
    flat = recipe.positions(pos, cell_in, flatten, progress, threads)
    plain = flat is pos and recipe.channels == ("V",)
    pos, z, chan = recipe.sources(sysm.positions if plain else flat, sysm.numbers, lengths)
    del flat, sysm
    C = len(recipe.channels)
    h = [lengths[k] / grid[k] for k in range(d)]

    f, c, t = m.focus, m.context, m.tile
    n_tiles = [grid[k] // f[k] for k in range(d)]
    total_tiles = math.prod(n_tiles)
    batch_size = batch_tiles(m, batch_size, total_tiles)
    b = _blocks(n_tiles, f, c, max_window or DEFAULT_MAX_WINDOW)
    starts = [range(0, n_tiles[k], b[k]) for k in range(d)]
    rc = g * CUTOFF_GAMMAS * (1.0 + 1e-6)
    L = np.asarray(lengths)
    # wrapped into the cell (the rasterizer wraps anyway: the same image, bit for bit); the unwrapped
    # points are let go (never the caller's own array, which stays as given)
    wrapped = pos = np.mod(pos, L)
    # cell list over blocks: a block's points come from the bins within rc of it (O(N) time; two
    # int64 per point of memory)
    bin_len = np.array([b[k] * f[k] * h[k] for k in range(d)])
    n_bins = np.array([len(starts[k]) for k in range(d)])
    key = np.zeros(len(pos), dtype=np.int64)
    for k in range(d):
        key *= n_bins[k]
        key += np.minimum((wrapped[:, k] / bin_len[k]).astype(np.int64), n_bins[k] - 1)
    order = np.argsort(key, kind="stable")
    first = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=int(np.prod(n_bins))))])
    del key
    reach = [int(math.ceil((c[k] * h[k] + rc) / bin_len[k])) for k in range(d)]

    block_cells = list(itertools.product(*(range(len(starts[k])) for k in range(d))))
    block_heads = [tuple(starts[k][ci[k]] for k in range(d)) for ci in block_cells]  # first tile of each block

    def block_atoms(todo: Sequence[int] | None = None) -> Iterator[tuple[int, tuple[int, ...], np.ndarray]]:
        """(block number, block start in tiles, indices of the points near its window), block by block
        (the blocks ``todo``, default all)."""
        for number in range(len(block_cells)) if todo is None else todo:
            cell_idx = block_cells[number]
            near = itertools.product(*({(cell_idx[k] + o) % n_bins[k] for o in range(-reach[k], reach[k] + 1)}
                                       for k in range(d)))
            cand = [order[first[q]:first[q + 1]] for q in (int(np.ravel_multi_index(nb, tuple(n_bins))) for nb in near)]
            idx = np.sort(np.concatenate(cand)) if cand else np.zeros(0, np.int64)
            head = block_heads[number]
            for k in range(d):
                count = min(b[k], n_tiles[k] - head[k])
                lo = (head[k] * f[k] - c[k]) * h[k] - rc
                span = (count * f[k] + 2 * c[k] - 1) * h[k] + 2 * rc
                idx = idx[_near(wrapped[idx, k], lo, span, lengths[k])]
            yield number, head, idx

    geometry = BlockGeometry(tuple(grid), tuple(lengths), g, tuple(f), tuple(c), tuple(t), tuple(b), tuple(n_tiles), C,
                         threads)

    def make_tiles(block: tuple[int, tuple[int, ...], np.ndarray], slot: int) -> tuple[int, np.ndarray]:
        number, start, idx = block
        return (0 if journal is None else number), block_tiles(m, geometry, start, pos[idx], z[idx], chan[idx])

    if client is not None:
        from ..distributed import map_blocks

        blocks = ((start, (pos[idx], z[idx], chan[idx])) for _, start, idx in block_atoms())
        totals = map_blocks(client, str(m.path), geometry, blocks, total_tiles, batch_size=batch_size,
                            providers=providers, progress=progress)
    elif journal is not None:
        from ..inference import scale_totals
        from ..journal import Journal, fingerprint

        run = fingerprint(m.path, {"points": pos, "numbers": z, "channels": chan}, grid=list(grid), gamma=g,
                          lengths=[float(v) for v in lengths], focus=list(f), context=list(c), blocks=list(b))
        jr = Journal(journal, run, len(block_cells), m.n_outputs)
        todo = [k for k in range(len(block_cells)) if k not in jr.done]

        def tiles_of(number: int) -> int:
            return math.prod(min(b[k], n_tiles[k] - block_heads[number][k]) for k in range(d))

        run_tiles(m, block_atoms(todo), make_tiles, groups=len(block_cells), total=sum(map(tiles_of, todo)),
                  batch_size=batch_size, providers=providers, threads=threads, progress=progress, desc="ednn atoms",
                  scaled=False, on_task=jr.record, initial=jr.tiles_done)
        raw, count = jr.total()
        totals = scale_totals(m, raw[None, :], [count])[0]
    else:
        totals = run_tiles(m, block_atoms(), make_tiles, groups=1, total=total_tiles, batch_size=batch_size,
                           providers=providers, threads=threads, progress=progress, desc="ednn atoms")[0]
    return float(totals[0]) if m.n_outputs == 1 else totals
