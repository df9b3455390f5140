"""Structure descriptors of a CIF for Li-ion conduction: bond-valence site-energy (BVSE) migration barriers,
the Li sublattice, the anion framework's match to bcc/fcc/hcp and quality flags of the file; one JSON cache
entry per CIF (by its sha256), so that each CIF is computed once per kernel version.

```python
from sulfml.featurize.cif import cif_descriptors, cif_descriptors_many, CIF_LABELS
d = cif_descriptors("Li6PS5Cl.cif")              # CifDescriptors: values (CIF_LABELS), notes, timings
ds = cif_descriptors_many(paths, n_jobs=2)       # the same for many files, at most n_jobs processes
```

Reading and ordering. pymatgen reads the CIF with its partial occupancies. Oxidation states come from an
element-wise charge-balance search (`oxidation_states`): Li +1, the anions at their pinned charge
(`chem.elements.ANION_CHARGE`; the anions are the descriptors' own, `descriptors.anion_amounts`: Te and H only
without O), every other element one of pymatgen's common oxidation states (all its known ones when the common
ones leave > 0.05 e per atom), the assignment with the smallest net charge winning (pymatgen's guesser rejects
the fractional compositions of disordered CIFs). What is left is reported as ``cif_charge_imbalance`` (|net
charge| per atom; above 0.05 e for 11 of the 321 OBELiX CIFs). For BVSE the framework is made ordered
(`framework`): each site takes its majority element (ties: the heavier), sites more than half vacant are
dropped, and Li is removed (it is the mobile ion, which BVSE probes on a grid).

BVSE (softBV: Chen & Adams, IUCrJ 4, 614 (2017); Chen, Wong & Adams, Acta Cryst. B 75, 18 (2019)), computed
with bvlain: the Li+ site energy on a grid over the cell, then the lowest energy (relative to the grid's
minimum, cut at 5 eV) at which the accessible region percolates in 1, 2 and 3 dimensions. bvlain's
percolation test loops over every connected region with `np.argwhere` (95 % of its time); `FastLain`
computes bvlain's own rule vectorized (equal results; `tests/featurize/test_cif.py` compares them).
``bvse_E1D_eV``/``bvse_E2D_eV``/``bvse_E3D_eV``: NaN where Li does not percolate below the cut-off;
``bvse_barrier_eV`` is E_3D (the barrier of long-range 3D transport); ``bvse_dimension`` the highest dimension
reached at the lowest barrier. bvlain has no Li+ parameters for H- and P3- (hydrides, phosphides): NaN and a
note. The grid: 0.2 Å (`BVSE_RESOLUTION_A`), coarsened in 0.01 Å steps until it has at most 50,000 points
(`BVSE_MAX_GRID_POINTS`): time and memory grow with the points (bvlain sums 100 neighbours per point).

Measured with `benchmarks/cif_features.py` on the 321 OBELiX CIFs, 2 workers on this 2-core machine while
other jobs kept its load average at 5-6: 551 s cold, 0.16 s from the cache (identical values); per CIF median
3.6 s, p90 4.9 s, max 7.5 s (BVSE 90 % of it, the anion match up to 1.3 s for garnets); the slowest CIF alone in
a fresh process, imports included, 4.4 s. Grid spacings used: 0.2 Å for 80 CIFs, up to 0.36 Å for garnets
(0.40 Å for one 2,400 Å^3 cell). |E_3D - E_3D(0.2 Å)| on 12 CIFs spread over the cell sizes: median 0.015 eV,
p90 0.10, max 0.22 eV (the 0.40 Å cell) at the chosen grid; median 0.03, max 0.06 eV on a 0.3 Å grid (which
would cost up to 3x the time on the large cells). The barrier is not monotonic in the spacing: neighbouring
grids (0.27 vs 0.3 Å) differ by 0.01-0.1 eV, bvlain's grid sampling noise. BVSE: a 3D barrier below 5 eV for
294 CIFs, 1D/2D only for 19, no Li+ parameters for 8 (4 with H-, 4 with P3-).

Li sublattice (after Sendek et al., Energy Environ. Sci. 10, 306 (2017)), over the CIF's Li sites (any site
holding Li) with their occupancies: ``li_li_min_A`` (shortest Li-Li site distance; split sites of a
disordered model give distances no pair of Li atoms has), ``li_li_nn_mean_A`` (each site's nearest Li site,
averaged), ``li_sites_per_A3``, ``li_atoms_per_A3`` (occupancy-weighted), ``li_occupancy_mean`` (Li atoms
per Li site), ``li_anion_cn_mean`` (anions within `LI_ANION_CUTOFF_FACTOR` x (r_Li+ + r_anion), Shannon
crystal radii, weighted by the anion sites' occupancy) and ``li_anion_nn_mean_A`` (each site's nearest
anion). Means are over Li atoms (weighted by occupancy).

Anion framework: ``anion_volume_A3`` (cell volume per anion atom) and one-hot ``anion_bcc``/``anion_fcc``/
``anion_hcp``: the anion sublattice (sites whose majority element is an anion, all as one element) matched
to the ideal lattice with pymatgen's StructureMatcher after scaling to the same volume per atom (Wang et al.,
Nat. Mater. 14, 1026 (2015)). Distorted bcc and hcp sublattices are close (the Burgers path between them): at
pymatgen's default tolerances at least 46 OBELiX CIFs fit two or three lattices (LGPS bcc and hcp, the thio-LISICONs hcp
and bcc) and a garnet took up to 70 s; at the tolerances here (`ANION_MATCH_*`) one does (gamma-Li3PS4, bcc
and hcp), and when more than one fits the smallest RMS displacement wins, so at most one column is 1. On the
321 CIFs: 21 bcc (LGPS, Li3OCl-type), 23 fcc (spinels, rock-salt types), 45 hcp (thio-LISICONs, Li3PO4 types,
Li3YCl6), 228 none (argyrodite's tetrahedrally close-packed framework, garnets, NASICONs).

Quality: ``cif_no_li``, ``cif_partial_occupancy``, ``cif_charge_imbalance`` and ``cif_randomized``. The
OBELiX CIFs carry no marker of their perturbed positions in their text (each starts "# generated using
pymatgen"; only the tarball's folder is named all_randomized_cifs), so `randomized` is a parameter the
caller sets from the source (NaN when not given). `composition_disagreement` compares a CIF's composition
with a formula; `quality_notes` says all of it in words.

Cache: `<user cache>/cif_descriptors/<sha256>.json` (strict JSON, NaN as null), one section per kernel stamped
with its version in `KERNEL_VERSIONS` (a changed kernel recomputes only its section; a changed "structure"
summary, whose oxidation states BVSE uses, recomputes all), plus an in-process LRU. Unreadable files and
failures that may be transient are not cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import math
import os
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.caches import user_cache_dir
from sulfml.chem.elements import ANION_CHARGE, ISOTOPES, element_tables
from sulfml.cpus import resolve_n_jobs
from sulfml.errors import InternalError
from sulfml.featurize import rules
from sulfml.featurize.descriptors import anion_amounts
from sulfml.featurize.electrolyte import SulfmlFeaturizer

if TYPE_CHECKING:
    from pymatgen.core import Lattice, Structure

# ---------------------------------------------------------------------------------------------------- labels
BVSE_LABELS: tuple[str, ...] = ("bvse_E1D_eV", "bvse_E2D_eV", "bvse_E3D_eV", "bvse_barrier_eV", "bvse_dimension")
LI_SUBLATTICE_LABELS: tuple[str, ...] = (
    "li_li_min_A", "li_li_nn_mean_A", "li_sites_per_A3", "li_atoms_per_A3", "li_occupancy_mean",
    "li_anion_cn_mean", "li_anion_nn_mean_A",
)
ANION_LATTICES: tuple[str, ...] = ("bcc", "fcc", "hcp")
ANION_LATTICE_LABELS: tuple[str, ...] = ("anion_volume_A3", *(f"anion_{name}" for name in ANION_LATTICES))
QUALITY_LABELS: tuple[str, ...] = ("cif_no_li", "cif_partial_occupancy", "cif_charge_imbalance", "cif_randomized")
# Every column, in this order; the kernel that computes each group is the key of `KERNEL_LABELS`.
KERNEL_LABELS: dict[str, tuple[str, ...]] = {
    "bvse": BVSE_LABELS,
    "lithium": LI_SUBLATTICE_LABELS,
    "anion": ANION_LATTICE_LABELS,
    "structure": QUALITY_LABELS,
}
CIF_LABELS: tuple[str, ...] = tuple(label for labels in KERNEL_LABELS.values() for label in labels)
KERNELS: tuple[str, ...] = tuple(KERNEL_LABELS)

# Bump a kernel's version whenever its numbers change: it is part of its cache entry, which is then recomputed.
KERNEL_VERSIONS: dict[str, str] = {"structure": "1", "bvse": "1", "lithium": "1", "anion": "1"}

# ------------------------------------------------------------------------------------------------- constants
MIN_SITE_OCCUPANCY = 0.5  # a site more vacant than this is dropped from the ordered framework
BVSE_MOBILE_ION = "Li1+"
BVSE_ENCUT_EV = 5.0  # barriers above this are "no percolation" (bvlain's search window)
# the note of a CIF whose percolation search ran and found no 3D path (NaN barrier, unlike a failed search)
BVSE_NO_3D_PATH = f"BVSE: Li does not percolate in 3D below {BVSE_ENCUT_EV:g} eV"
BVSE_RESOLUTION_A = 0.2  # the finest grid spacing (small cells); bvlain warns against going below 0.05
BVSE_MAX_GRID_POINTS = 50_000  # larger grids are coarsened: time (~30 µs a point unloaded) and memory grow with them
BVSE_MAX_RESOLUTION_A = 1.0  # a grid coarser than this says nothing; such cells get NaN
LI_ANION_CUTOFF_FACTOR = 1.2  # a Li-anion pair within 1.2 x (sum of crystal radii) is a bond
# StructureMatcher tolerances of the anion-lattice match: lengths 10 %, angles 3 degrees, site displacement
# 0.25 of the (volume per atom)^(1/3). Wider windows multiply the candidate supercells (a garnet took 45-70 s at
# pymatgen's defaults, 0.2/0.3/5, with primitive reduction inside the matcher; <= 1.3 s here) and let one
# distorted sublattice fit two or three ideal ones (measured on the OBELiX CIFs, see the module docstring).
ANION_MATCH_LTOL, ANION_MATCH_STOL, ANION_MATCH_ANGLE_TOL = 0.1, 0.25, 3.0
ANION_PRIMITIVE_TOLERANCE_A = 0.25  # the anion sublattice is reduced to its primitive cell first (faster match)
COMPOSITION_TOLERANCE = 0.02  # atomic fractions further apart than this disagree
BROAD_STATES_ABOVE = 0.05  # e per atom the common oxidation states may leave before all known ones are tried
_MAX_STATE_COMBINATIONS = 200_000
_LRU_SIZE = 2048


# ------------------------------------------------------------------------------------------ reading a CIF
def read_cif(path: str | os.PathLike[str]) -> Structure:
    """The structure of a CIF file, partial occupancies kept.

    Raises:
        ValueError: no such file, not a regular file, or not a readable crystal structure (one line).
    """
    return _parse(_read_bytes(Path(path)))


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():  # a directory, /dev/zero or a FIFO would fail late or never return
        raise ValueError("not a regular file" if path.exists() else "no such file")
    return path.read_bytes()


def _parse(data: bytes) -> Structure:
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about every rounded occupancy and fixed formula
        try:
            structure = Structure.from_str(data.decode("utf-8", errors="replace"), fmt="cif")
        except Exception as exc:  # pymatgen raises many types for a bad CIF
            raise ValueError(f"not a readable crystal structure ({type(exc).__name__}: {exc})") from exc
    if len(structure) == 0:
        raise ValueError("no atom sites")
    return structure


def site_occupancies(structure: Structure) -> list[dict[str, float]]:
    """Element -> occupancy of every site (oxidation states folded into the element, dummy species dropped)."""
    out = []
    for site in structure:
        occ: dict[str, float] = {}
        for sp, x in site.species.items():
            symbol = getattr(sp, "symbol", None)  # Element and Species; a DummySpecies ("X") is no element
            if symbol not in element_tables().index:
                continue
            symbol = ISOTOPES.get(symbol, symbol)  # D and T are H
            occ[symbol] = occ.get(symbol, 0.0) + float(x)
        out.append(occ)
    return out


def anion_elements(composition: Mapping[str, float]) -> frozenset[str]:
    """The anions of a composition (element -> amount), as our descriptors count them: the anion rule's one
    kernel, `descriptors.anion_amounts` (Te and H only without O)."""
    amounts = anion_amounts([composition])[0]
    return frozenset(el for el, x in zip(rules.ANIONS, amounts, strict=True) if x > 0)


def majority_element(occupancy: Mapping[str, float]) -> str | None:
    """The element a site takes in the ordered framework: its majority (ties: the heavier element); None
    when the site is more than half vacant."""
    if not occupancy or sum(occupancy.values()) < MIN_SITE_OCCUPANCY:
        return None
    index = element_tables().index
    return max(occupancy.items(), key=lambda kv: (kv[1], index[kv[0]]))[0]


def oxidation_states(amounts: Mapping[str, float]) -> tuple[dict[str, int], float]:
    """One oxidation state per element from an element-wise charge-balance search, and what is left.

    Li is +1 and the anions (`anion_elements`) take their pinned charge (`ANION_CHARGE`). Every other element
    takes one of pymatgen's common oxidation states (the element tables'), only the positive ones when the
    composition has anions (else P3- would "balance" a Li-rich CIF), 0 for an element without one. When that
    leaves more than `BROAD_STATES_ABOVE` e per atom, pymatgen's full list of known states is searched too
    (V2+ in Li2VCl4, Bi5+ in Li7BiO6, P4+ in Li4P2S6). The assignment with the smallest |net charge| wins; among
    equal ones, the one with the fewest elements off a common state, then off their nominal valence (highest
    positive common state), then the first in element order.

    Returns:
        (element -> state, |net charge| per atom); ({}, NaN) for an empty composition.
    """
    els = sorted(el for el, x in amounts.items() if x > 0)
    total = sum(amounts[el] for el in els)
    if not els or total <= 0:
        return {}, math.nan
    tables, anions = element_tables(), anion_elements({el: amounts[el] for el in els})
    x = np.array([amounts[el] for el in els])

    def allowed(states: Iterable[float]) -> list[int]:
        kept = sorted({int(q) for q in states if math.isfinite(q) and (q > 0 or not anions)})
        return kept or [0]

    common: list[list[int]] = []
    for el in els:
        if el == "Li":
            common.append([1])
        elif el in anions:
            common.append([-ANION_CHARGE[el]])
        else:
            common.append(allowed(tables.oxidation_states[tables.index[el]]))
    nominal = [max([q for q in c if q > 0], default=c[0]) for c in common]
    best = _balance(x, common, common, nominal) or nominal  # too many combinations: the nominal valences
    if abs(float(np.dot(best, x))) / total > BROAD_STATES_ABOVE:
        from pymatgen.core import Element

        broad = [c if el == "Li" or el in anions else sorted(set(c) | set(allowed(Element(el).oxidation_states)))
                 for el, c in zip(els, common, strict=True)]
        best = _balance(x, broad, common, nominal) or best
    imbalance = abs(float(np.dot(best, x))) / total
    return dict(zip(els, best, strict=True)), imbalance


def _balance(x: np.ndarray, candidates: Sequence[Sequence[int]], common: Sequence[Sequence[int]],
             nominal: Sequence[int]) -> list[int] | None:
    """The combination of candidate states with the smallest |net charge| (ties: fewest off a common state,
    then off nominal); None when there are too many combinations to search."""
    if math.prod(len(c) for c in candidates) > _MAX_STATE_COMBINATIONS:
        return None
    combos = np.array(list(itertools.product(*candidates)), dtype=float)
    net = np.round(np.abs(combos @ x), 9)  # rounding keeps float noise from breaking ties
    off_common = np.zeros(len(combos), dtype=int)
    for j, c in enumerate(common):
        off_common += ~np.isin(combos[:, j], c)
    off_nominal = (combos != np.array(nominal, dtype=float)).sum(axis=1)
    return [int(v) for v in combos[np.lexsort((off_nominal, off_common, net))[0]]]


def framework(structure: Structure, states: Mapping[str, int] | None = None) -> Structure:
    """The ordered, oxidation-state-decorated framework BVSE probes: each site its majority element, sites
    more than half vacant dropped, Li removed.

    Args:
        structure: the CIF's structure (partial occupancies allowed).
        states: element -> oxidation state; by default `oxidation_states` of the structure's composition.
    """
    from pymatgen.core import Species, Structure

    occupancies = site_occupancies(structure)
    if states is None:
        states, _ = oxidation_states(_composition(occupancies))
    species, coords = [], []
    for occ, site in zip(occupancies, structure, strict=True):
        el = majority_element(occ)
        if el is None or el == "Li":
            continue
        species.append(Species(el, states.get(el, 0)))
        coords.append(site.frac_coords)
    return Structure(structure.lattice, species, coords)


def _composition(occupancies: Sequence[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for occ in occupancies:
        for el, x in occ.items():
            out[el] = out.get(el, 0.0) + x
    return out


# ---------------------------------------------------------------------------------------------------- BVSE
def bvse_grid_points(abc: Sequence[float], resolution: float) -> int:
    """Grid points bvlain lays over a cell of lengths `abc` (Å) at `resolution` (Å): int(a // r) per axis."""
    return math.prod(int(length // resolution) for length in abc)


def bvse_resolution(abc: Sequence[float]) -> float:
    """The grid spacing (Å) for a cell: `BVSE_RESOLUTION_A`, coarsened in 0.01 Å steps until the grid has at
    most `BVSE_MAX_GRID_POINTS` points."""
    r = BVSE_RESOLUTION_A
    while bvse_grid_points(abc, r) > BVSE_MAX_GRID_POINTS and r < BVSE_MAX_RESOLUTION_A + 1e-9:
        r = round(r + 0.01, 2)
    return r


_TRANSLATIONS = np.array(list(itertools.product([0, 1], [0, 1], [0, 1])))


def percolation_dimension(labels: np.ndarray) -> int:
    """bvlain's percolation count of labelled regions on its 2x2x2 supercell grid, vectorized.

    bvlain (`Lain._percolation_dimension`) takes each region's first voxel in C order, shifts it into each of
    the eight unit cells of the supercell, and counts the shifted voxels inside the same region: 2 means the
    region runs through 1D, 4 through 2D, 8 through 3D. This returns the largest count (0 without regions).
    """
    ids, first = np.unique(labels.ravel(), return_index=True)
    keep = ids != 0
    ids, first = ids[keep], first[keep]
    if ids.size == 0:
        return 0
    shape = np.array(labels.shape)
    cell = shape // 2  # the supercell is 2x2x2 unit-cell grids
    probes = np.stack(np.unravel_index(first, labels.shape), axis=1)
    tests = probes[:, None, :] + (_TRANSLATIONS[None, :, :] - probes[:, None, :] // cell) * cell
    inside = np.all((tests >= 0) & (tests < shape), axis=2)
    t = np.where(inside[..., None], tests, 0)
    hits = inside & (labels[t[..., 0], t[..., 1], t[..., 2]] == ids[:, None])
    return int(hits.sum(axis=1).max())


@cache
def _lain_class() -> type:
    # bvlain imports ase, joblib and pandas (seconds): only when a BVSE is computed.
    from bvlain import Lain

    class FastLain(Lain):
        """bvlain's `Lain` with its percolation count vectorized (`percolation_dimension`), same rule."""

        def _percolation_dimension(self, labels: np.ndarray, features: np.ndarray) -> int:
            return percolation_dimension(labels)

    return FastLain


class _NoParameters(InternalError):
    """bvlain has no softBV parameters for a pair of ions (an expected, cacheable failure)."""


def bvse_barriers(framework_structure: Structure, resolution: float, *, lain_class: type | None = None
                  ) -> dict[str, float]:
    """bvlain's percolation barriers (eV) of Li+ in an ordered, oxidation-state-decorated framework.

    Args:
        framework_structure: from `framework` (no Li; every site one `Species`).
        resolution: grid spacing in Å (`bvse_resolution`).
        lain_class: bvlain's `Lain` or a subclass (default `FastLain`).

    Returns:
        {"E_1D", "E_2D", "E_3D"}: eV above the grid minimum, inf without percolation below `BVSE_ENCUT_EV`.

    Raises:
        _NoParameters: bvlain has no Li+ parameters for one of the framework's ions (hydrides, phosphides).
    """
    lain = (lain_class or _lain_class())(verbose=False)
    # bvlain prints to stdout on a missing parameter whatever `verbose` says, and its scipy calls warn.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lain.read_structure(framework_structure, oxi_check=False)
        try:
            lain.bvse_distribution(mobile_ion=BVSE_MOBILE_ION, resolution=resolution)
        except KeyError as exc:
            missing = _without_parameters(lain, framework_structure)
            raise _NoParameters(f"bvlain has no Li+ softBV parameters for {', '.join(missing) or 'these ions'}"
                                ) from exc
        energies = lain.percolation_barriers(encut=BVSE_ENCUT_EV)
    return {k: float(v) for k, v in energies.items()}


def _without_parameters(lain: Any, framework_structure: Structure) -> list[str]:
    """The framework's anions bvlain has no Li+ parameters for, read from bvlain's own table (the pickle it
    ships and loads on every BVSE; it holds N3-, O2-, F-, S2-, Cl-, Se2-, Br-, Te2-, I- in bvlain 0.25)."""
    import pickle

    try:
        with open(lain.cation_file, "rb") as fh:
            table = pickle.load(fh)[3][1]  # mobile Li (Z 3), charge +1 -> {Z: {charge: parameters}}
    except (OSError, KeyError, AttributeError, pickle.UnpicklingError):
        return []
    charges = {sp: int(getattr(sp, "oxi_state", 0) or 0) for sp in framework_structure.species}
    return sorted(str(sp) for sp, q in charges.items() if q < 0 and q not in table.get(sp.Z, {}))


def bvse_values(energies: Mapping[str, float]) -> dict[str, float]:
    """The BVSE columns from bvlain's barriers: inf -> NaN; barrier = E_3D; the dimension reached at the
    lowest barrier (NaN when Li percolates in no dimension)."""
    e = [float(energies.get(f"E_{d}D", math.inf)) for d in (1, 2, 3)]
    e = [v if math.isfinite(v) else math.nan for v in e]
    finite = [(v, d) for d, v in enumerate(e, 1) if math.isfinite(v)]
    lowest = min((v for v, _ in finite), default=math.nan)
    dim = max((d for v, d in finite if v <= lowest + 1e-9), default=math.nan)
    return dict(zip(BVSE_LABELS, [*e, e[2], float(dim)], strict=True))


def _bvse_section(structure: Structure, summary: Mapping[str, Any]) -> dict[str, Any]:
    nan = dict.fromkeys(BVSE_LABELS, math.nan)
    abc = structure.lattice.abc
    resolution = bvse_resolution(abc)
    meta = {"resolution_A": resolution, "grid_points": bvse_grid_points(abc, resolution)}
    if resolution > BVSE_MAX_RESOLUTION_A:
        return {"values": nan, **meta, "notes": [f"BVSE: cell too large for a grid of at most "
                                                  f"{BVSE_MAX_GRID_POINTS} points"]}
    fw = framework(structure, summary["oxidation_states"])
    if len(fw) == 0:
        return {"values": nan, **meta, "notes": ["BVSE: no framework sites besides Li"]}
    try:
        energies = bvse_barriers(fw, resolution)
    except _NoParameters as exc:
        return {"values": nan, **meta, "notes": [f"BVSE: {exc}"]}
    values = bvse_values(energies)
    notes = [] if math.isfinite(values["bvse_E3D_eV"]) else [
        BVSE_NO_3D_PATH]
    return {"values": values, **meta, "notes": notes}


# ------------------------------------------------------------------------------------------- Li sublattice
@cache
def _crystal_radius(element: str, charge: int) -> float:
    """Shannon crystal radius (Å) as pymatgen gives it (CN 6 where tabulated), NaN when it has none."""
    from pymatgen.core import Species

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Species(element, charge).ionic_radius
    return float(r) if r else math.nan


def _nearest(lattice: Lattice, centers: np.ndarray, others: np.ndarray, r_start: float = 6.0,
             r_max: float = 30.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Periodic neighbour pairs (center index, other index, distance) within r, and each center's nearest
    distance; r doubles from `r_start` until every center has a neighbour (or `r_max`)."""
    from pymatgen.core import Structure

    n = len(centers)
    s = Structure(lattice, ["Li"] * n + ["S"] * len(others), np.vstack([centers, others]))
    r = r_start
    while True:
        c, o, _, d = s.get_neighbor_list(r, sites=[s[i] for i in range(n)])
        keep = (o >= n) & (d > 1e-3)  # pairs to the other set; coincident duplicates are the same site
        c, o, d = c[keep], o[keep] - n, d[keep]
        nearest = np.full(n, np.inf)
        np.minimum.at(nearest, c, d)
        if np.all(np.isfinite(nearest)) or r >= r_max:
            return c, o, d, nearest
        r *= 2


def _lithium_section(structure: Structure, occupancies: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    nan = dict.fromkeys(LI_SUBLATTICE_LABELS, math.nan)
    li_idx = [i for i, occ in enumerate(occupancies) if occ.get("Li", 0.0) > 0]
    if not li_idx:
        return {"values": nan, "notes": ["Li sublattice: no Li sites"]}
    frac = structure.frac_coords
    vol = structure.volume
    w = np.array([occupancies[i]["Li"] for i in li_idx])
    values = dict(nan)
    values["li_sites_per_A3"] = len(li_idx) / vol
    values["li_atoms_per_A3"] = float(w.sum()) / vol
    values["li_occupancy_mean"] = float(w.mean())
    _, _, _, li_nn = _nearest(structure.lattice, frac[li_idx], frac[li_idx])
    if np.all(np.isfinite(li_nn)):
        values["li_li_min_A"] = float(li_nn.min())
        values["li_li_nn_mean_A"] = float(np.average(li_nn, weights=w))
    notes = []
    anions = anion_elements(_composition(occupancies))
    an_idx = [i for i, occ in enumerate(occupancies) if any(el in anions for el in occ)]
    if not an_idx:
        notes.append("Li sublattice: no anion sites")
        return {"values": values, "notes": notes}
    r_li = _crystal_radius("Li", 1)
    cutoff = {el: LI_ANION_CUTOFF_FACTOR * (r_li + _crystal_radius(el, -ANION_CHARGE[el])) for el in anions}
    c, o, d, x_nn = _nearest(structure.lattice, frac[li_idx], frac[an_idx], r_start=max(
        [v for v in cutoff.values() if math.isfinite(v)] + [5.0]))
    if np.all(np.isfinite(x_nn)):
        values["li_anion_nn_mean_A"] = float(np.average(x_nn, weights=w))
    missing = sorted(el for el, v in cutoff.items() if not math.isfinite(v))
    if missing:
        notes.append(f"Li sublattice: no Shannon radius for {', '.join(missing)}; no Li coordination")
    else:
        cn = np.zeros(len(li_idx))
        for el in anions:
            occ_el = np.array([occupancies[an_idx[j]].get(el, 0.0) for j in o])
            np.add.at(cn, c, np.where(d <= cutoff[el], occ_el, 0.0))
        values["li_anion_cn_mean"] = float(np.average(cn, weights=w))
    return {"values": values, "notes": notes}


# ------------------------------------------------------------------------------------------ anion framework
@cache
def ideal_lattices() -> dict[str, Structure]:
    """One-element bcc, fcc and hcp (ideal c/a) structures to match anion sublattices against."""
    from pymatgen.core import Lattice, Structure

    fcc = [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]
    return {
        "bcc": Structure(Lattice.cubic(3.0), ["S", "S"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
        "fcc": Structure(Lattice.cubic(3.0), ["S"] * 4, fcc),
        "hcp": Structure(Lattice.hexagonal(3.0, 3.0 * math.sqrt(8 / 3)), ["S", "S"],
                         [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]),
    }


def anion_lattice_match(sublattice: Structure) -> tuple[str | None, dict[str, float]]:
    """Which of bcc/fcc/hcp a one-element sublattice matches (`ANION_MATCH_*` tolerances, volume scaled).

    Returns:
        (the lattice, or None when none fits; RMS displacement of each fitting lattice in units of
        (volume per atom)^(1/3)). When several fit, the one with the smallest RMS is returned.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    prim = sublattice.get_primitive_structure(tolerance=ANION_PRIMITIVE_TOLERANCE_A)
    matcher = StructureMatcher(ltol=ANION_MATCH_LTOL, stol=ANION_MATCH_STOL, angle_tol=ANION_MATCH_ANGLE_TOL,
                               primitive_cell=False, scale=True, attempt_supercell=True)
    fits = [name for name, ideal in ideal_lattices().items() if matcher.fit(prim, ideal)]
    rms: dict[str, float] = {}
    if len(fits) > 1:
        for name in fits:
            found = matcher.get_rms_dist(prim, ideal_lattices()[name])
            rms[name] = float(found[0]) if found is not None else math.inf
        return min(fits, key=lambda name: rms[name]), rms
    return (fits[0] if fits else None), rms


def anion_sublattice(structure: Structure, occupancies: Sequence[Mapping[str, float]] | None = None
                     ) -> Structure | None:
    """The sites whose majority element is an anion, all as S (None without any)."""
    from pymatgen.core import Structure

    occupancies = site_occupancies(structure) if occupancies is None else occupancies
    anions = anion_elements(_composition(occupancies))
    coords = [structure[i].frac_coords for i, occ in enumerate(occupancies) if majority_element(occ) in anions]
    return Structure(structure.lattice, ["S"] * len(coords), coords) if coords else None


def _anion_section(structure: Structure, occupancies: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    values = dict.fromkeys(ANION_LATTICE_LABELS, math.nan)
    comp = _composition(occupancies)
    n_anion = sum(comp[el] for el in anion_elements(comp))
    if n_anion <= 0:
        return {"values": values, "notes": ["anion framework: no anions"]}
    values["anion_volume_A3"] = structure.volume / n_anion
    sub = anion_sublattice(structure, occupancies)
    if sub is None:
        return {"values": values, "notes": ["anion framework: every anion site is more than half vacant"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best, rms = anion_lattice_match(sub)
    for name in ANION_LATTICES:
        values[f"anion_{name}"] = float(name == best)
    notes = [f"anion framework: {'/'.join(rms)} all fit; kept {best} (smallest RMS)"] if len(rms) > 1 else []
    return {"values": values, "match": best, "rms": rms, "notes": notes}


# -------------------------------------------------------------------------------------------------- quality
def _structure_section(structure: Structure, occupancies: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    comp = _composition(occupancies)
    states, imbalance = oxidation_states(comp)
    partial = any(len(occ) > 1 or any(x < 1 - 1e-6 for x in occ.values()) for occ in occupancies)
    values = {
        "cif_no_li": float(comp.get("Li", 0.0) <= 0),
        "cif_partial_occupancy": float(partial),
        "cif_charge_imbalance": imbalance,
        "cif_randomized": math.nan,  # set per call from the source (see the module docstring)
    }
    return {"values": values, "composition": comp, "oxidation_states": states, "n_sites": len(occupancies),
            "notes": []}


def composition_disagreement(cif_amounts: Mapping[str, float], formula_amounts: Mapping[str, float],
                             tolerance: float = COMPOSITION_TOLERANCE) -> str | None:
    """A note when a CIF's composition and a formula's differ by more than `tolerance` in some element's
    atomic fraction (None when they agree).

    Args:
        cif_amounts: element -> amount of the CIF (`CifDescriptors.composition`).
        formula_amounts: element -> amount of the formula the CIF is meant to describe.
    """
    a = {el: float(x) for el, x in cif_amounts.items() if x > 0}
    b = {el: float(x) for el, x in formula_amounts.items() if x > 0}
    ta, tb = sum(a.values()), sum(b.values())
    if ta <= 0 or tb <= 0:
        return "no composition to compare" if ta > 0 or tb > 0 else None
    diffs = {el: a.get(el, 0.0) / ta - b.get(el, 0.0) / tb for el in sorted(set(a) | set(b))}
    off = {el: v for el, v in diffs.items() if abs(v) > tolerance}
    if not off:
        return None
    worst = ", ".join(f"{el} {a.get(el, 0.0) / ta:.3f} vs {b.get(el, 0.0) / tb:.3f}"
                      for el, _ in sorted(off.items(), key=lambda kv: -abs(kv[1])))
    return f"the CIF's composition disagrees with the formula (atomic fractions, CIF vs formula: {worst})"


def quality_notes(descriptors: CifDescriptors, formula_amounts: Mapping[str, float] | None = None) -> list[str]:
    """What a reader should know about a CIF, in words: the quality flags, whatever a kernel could not do, and
    (given the formula's element amounts) whether the CIF's composition disagrees with it."""
    v = descriptors.values
    notes = []
    if v.get("cif_no_li") == 1:
        notes.append("the CIF has no Li sites")
    if v.get("cif_partial_occupancy") == 1:
        notes.append("partially occupied sites: the Li sublattice is the CIF's disordered model, BVSE runs on the "
                     "majority element of each site")
    imbalance = v.get("cif_charge_imbalance", math.nan)
    if imbalance > 0.05:
        notes.append(f"charge balance with common oxidation states leaves {imbalance:.2f} e per atom")
    if v.get("cif_randomized") == 1:
        notes.append("atom positions were randomly perturbed by the source")
    if formula_amounts is not None:
        found = composition_disagreement(descriptors.composition, formula_amounts)
        if found:
            notes.append(found)
    notes.extend(descriptors.notes)
    return notes


# ------------------------------------------------------------------------------------------ the descriptors
@dataclass(frozen=True)
class CifDescriptors:
    """Structure descriptors of one CIF.

    Attributes:
        path: the file as given.
        sha256: hex sha256 of its bytes ("" when it could not be read).
        values: every `CIF_LABELS` column (NaN: not computed, not applicable or failed; see `notes`).
        composition: element -> amount per cell, occupancy-weighted.
        oxidation_states: element -> the state the charge balance chose.
        notes: why values are NaN, and what a kernel noticed.
        timings: seconds per kernel when computed (taken from the cache on a hit), and "total" of this call.
        bvse_resolution_A: the BVSE grid spacing used (NaN when BVSE was not computed).
        from_cache: every requested kernel came from the cache.
        readable: False when the file could not be read or parsed (then every value is NaN).
    """

    path: str
    sha256: str
    values: dict[str, float]
    composition: dict[str, float] = field(default_factory=dict)
    oxidation_states: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    bvse_resolution_A: float = math.nan
    from_cache: bool = False
    readable: bool = True

    def row(self, labels: Sequence[str] = CIF_LABELS) -> list[float]:
        """The values of `labels`, in order."""
        return [self.values[label] for label in labels]


def cif_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the CIF descriptors are cached: `cache_dir`, else `<user cache>/cif_descriptors`."""
    return Path(cache_dir) if cache_dir is not None else user_cache_dir() / "cif_descriptors"


class _Lru:
    """A small thread-safe LRU of cache entries by (cache folder, sha256)."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict[tuple[str, str], dict](), threading.Lock()

    def get(self, key: tuple[str, str]) -> dict | None:
        with self.lock:
            entry = self.items.get(key)
            if entry is not None:
                self.items.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], entry: dict) -> None:
        with self.lock:
            self.items[key] = entry
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_LRU = _Lru(_LRU_SIZE)


def clear_memory_cache() -> None:
    """Forget the in-process LRU (the disk cache stays)."""
    _LRU.clear()


def _load_entry(folder: Path, sha: str) -> dict:
    try:
        with open(folder / f"{sha}.json", encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError):
        return {}
    return entry if isinstance(entry, dict) and entry.get("sha256") == sha else {}


def _save_entry(folder: Path, sha: str, entry: dict) -> None:
    """Write atomically (a temporary file renamed), so concurrent workers never see half a file."""
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{sha[:12]}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(entry), fh, allow_nan=False)
        os.replace(tmp, folder / f"{sha}.json")
    except OSError:  # a read-only or full cache only costs recomputation
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _jsonable(x: Any) -> Any:
    """NaN and inf as null: strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


def _floats(values: Mapping[str, Any], labels: Sequence[str]) -> dict[str, float]:
    return {label: math.nan if values.get(label) is None else float(values[label]) for label in labels}


def _fresh(section: Any, kernel: str) -> bool:
    """A cached section of the current kernel version, computed on the current structure summary (BVSE uses
    its oxidation states)."""
    return (isinstance(section, dict) and section.get("version") == KERNEL_VERSIONS[kernel]
            and section.get("structure_version") == KERNEL_VERSIONS["structure"])


def _compute(structure: Structure, kernel: str, summary: Mapping[str, Any],
             occupancies: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        if kernel == "bvse":
            section = _bvse_section(structure, summary)
        elif kernel == "lithium":
            section = _lithium_section(structure, occupancies)
        else:
            section = _anion_section(structure, occupancies)
    except Exception as exc:  # never raise to the caller; not cached, as it may not happen again
        section = {"values": dict.fromkeys(KERNEL_LABELS[kernel], math.nan), "transient": True,
                   "notes": [f"{kernel}: failed ({type(exc).__name__}: {exc})"]}
    section["seconds"] = time.perf_counter() - t0
    section["version"] = KERNEL_VERSIONS[kernel]
    section["structure_version"] = KERNEL_VERSIONS["structure"]
    return section


def _unreadable(path: str, sha: str, reason: str, t0: float, what: str = "unreadable CIF") -> CifDescriptors:
    return CifDescriptors(path=path, sha256=sha, values=dict.fromkeys(CIF_LABELS, math.nan),
                          notes=(f"{what}: {reason}",), timings={"total": time.perf_counter() - t0},
                          readable=False)


def _randomized_value(randomized: bool | None) -> float:
    return math.nan if randomized is None else float(bool(randomized))


def cif_descriptors(path: str | os.PathLike[str], *, kernels: Iterable[str] = KERNELS,
                    randomized: bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
                    use_cache: bool = True) -> CifDescriptors:
    """The structure descriptors of one CIF, from the cache when it has them. Never raises.

    Args:
        path: the CIF file.
        kernels: which of `KERNELS` to compute ("structure", the cheap summary and quality flags, always runs);
            the columns of the others are NaN.
        randomized: whether the source perturbed the atom positions (``cif_randomized``; None = NaN).
        cache_dir: the cache folder (default `cif_cache_dir()`).
        use_cache: False computes everything afresh (and neither reads nor writes the caches).

    Returns:
        `CifDescriptors`; for a missing or unreadable file all values NaN and the reason in `notes`.
    """
    t0 = time.perf_counter()
    wanted = ["structure", *(k for k in dict.fromkeys(kernels) if k != "structure")]
    unknown = [k for k in wanted if k not in KERNEL_VERSIONS]
    if unknown:
        raise ValueError(f"unknown CIF kernels {unknown}; choose from {list(KERNELS)}")
    spath = os.fspath(path)
    try:
        data = _read_bytes(Path(spath))
    except (OSError, ValueError) as exc:
        return _unreadable(spath, "", str(exc), t0)
    sha = hashlib.sha256(data).hexdigest()
    folder = cif_cache_dir(cache_dir)
    key = (str(folder), sha)
    entry: dict = {}
    if use_cache:
        entry = _LRU.get(key) or _load_entry(folder, sha)
    entry = {"sha256": sha, "sections": dict(entry.get("sections", {}))}
    sections = entry["sections"]
    missing = [k for k in wanted if not _fresh(sections.get(k), k)]
    if missing:
        try:
            structure = _parse(data)
        except ValueError as exc:
            return _unreadable(spath, sha, str(exc), t0)
        occupancies = site_occupancies(structure)
        if "structure" in missing:
            t1 = time.perf_counter()
            try:
                summary = _structure_section(structure, occupancies)
            except Exception as exc:  # never raise to the caller
                return _unreadable(spath, sha, f"{type(exc).__name__}: {exc}", t0, what="CIF summary failed")
            sections["structure"] = {**summary, "seconds": time.perf_counter() - t1,
                                     "version": KERNEL_VERSIONS["structure"],
                                     "structure_version": KERNEL_VERSIONS["structure"]}
        for kernel in missing:
            if kernel != "structure":
                sections[kernel] = _compute(structure, kernel, sections["structure"], occupancies)
        if use_cache:
            keep = {k: v for k, v in sections.items() if not v.get("transient")}
            stored = {"sha256": sha, "sections": keep}
            _LRU.put(key, stored)
            _save_entry(folder, sha, stored)
    elif use_cache:
        _LRU.put(key, entry)
    return _descriptors(spath, sha, sections, wanted, randomized, from_cache=not missing, t0=t0)


def _descriptors(path: str, sha: str, sections: Mapping[str, dict], wanted: Sequence[str],
                 randomized: bool | None, from_cache: bool, t0: float) -> CifDescriptors:
    values = dict.fromkeys(CIF_LABELS, math.nan)
    notes: list[str] = []
    timings: dict[str, float] = {}
    for kernel in wanted:
        section = sections[kernel]
        values.update(_floats(section.get("values", {}), KERNEL_LABELS[kernel]))
        notes.extend(section.get("notes", []))
        timings[kernel] = float(section.get("seconds") or 0.0)
    values["cif_randomized"] = _randomized_value(randomized)
    summary = sections["structure"]
    bvse = sections.get("bvse") if "bvse" in wanted else None
    timings["total"] = time.perf_counter() - t0
    return CifDescriptors(
        path=path, sha256=sha, values=values,
        composition={k: float(v) for k, v in summary.get("composition", {}).items()},
        oxidation_states={k: int(v) for k, v in summary.get("oxidation_states", {}).items()},
        notes=tuple(notes), timings=timings,
        bvse_resolution_A=float(bvse.get("resolution_A") or math.nan) if bvse else math.nan,
        from_cache=from_cache,
    )


def _worker(path: str, kernels: tuple[str, ...], cache_dir: str | None) -> CifDescriptors:
    return cif_descriptors(path, kernels=kernels, cache_dir=cache_dir)


def _import_kernels() -> None:
    """Import what the kernels import lazily (bvlain, the matcher), once per worker, so that no CIF's time
    includes it."""
    _lain_class()
    import pymatgen.analysis.structure_matcher  # noqa: F401


def cif_descriptors_many(paths: Sequence[str | os.PathLike[str]], *, n_jobs: int | None = None,
                         kernels: Iterable[str] = KERNELS, randomized: bool | None = None,
                         cache_dir: str | os.PathLike[str] | None = None) -> list[CifDescriptors]:
    """`cif_descriptors` of many CIFs, in order, the uncached ones in at most `n_jobs` worker processes.

    Cached CIFs are read in this process; the rest go to a pool of `sulfml.cpus.resolve_n_jobs(n_jobs)` (never
    more than the usable CPUs, nor than the files to compute), largest file first so that the slowest CIFs do
    not come last. The workers write the disk cache, and this process's LRU keeps what they return.

    Args:
        paths: CIF files (repeats are computed once).
        n_jobs: worker processes; None = all usable CPUs; 1 = in this process.
        kernels, randomized, cache_dir: as for `cif_descriptors`.
    """
    kernels = tuple(dict.fromkeys(kernels))
    workers = resolve_n_jobs(n_jobs)
    folder = str(cif_cache_dir(cache_dir))
    spaths = [os.fspath(p) for p in paths]
    done: dict[str, CifDescriptors] = {}
    todo: list[str] = []
    for p in dict.fromkeys(spaths):
        d = cif_descriptors(p, kernels=kernels, cache_dir=folder) if _cached(p, kernels, folder) else None
        if d is None:
            todo.append(p)
        else:
            done[p] = d
    if workers == 1 or len(todo) <= 1:
        for p in todo:
            done[p] = cif_descriptors(p, kernels=kernels, cache_dir=folder)
    else:
        todo.sort(key=_size, reverse=True)
        # spawn: a forked child of a process with threads (BLAS, XGBoost, a server) can deadlock
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn"),
                                 initializer=_import_kernels) as pool:
            futures = {p: pool.submit(_worker, p, kernels, folder) for p in todo}
            for p, fut in futures.items():
                done[p] = fut.result()
        for p in todo:  # what the workers cached, this process now has in memory too
            d = done[p]
            if d.sha256:
                entry = _load_entry(Path(folder), d.sha256)
                if entry:
                    _LRU.put((folder, d.sha256), entry)
    value = _randomized_value(randomized)
    return [replace(done[p], values={**done[p].values, "cif_randomized": value}) if done[p].readable else done[p]
            for p in spaths]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _cached(path: str, kernels: Sequence[str], folder: str) -> bool:
    """Whether every kernel of `path` is in the cache (reads the file to hash it)."""
    try:
        data = _read_bytes(Path(path))
    except (OSError, ValueError):
        return True  # unreadable: answered at once, no worker needed
    sha = hashlib.sha256(data).hexdigest()
    entry = _LRU.get((folder, sha)) or _load_entry(Path(folder), sha)
    sections = entry.get("sections", {}) if entry else {}
    return all(_fresh(sections.get(k), k) for k in ("structure", *kernels))


# ---------------------------------------------------------------------------------------------- featurizers
class _CifKernelFeaturizer(SulfmlFeaturizer):
    """A matminer featurizer of one CIF kernel: input the CIF path, NaN when there is none or it is unreadable."""

    inputs = ("cif_path",)
    kernel = ""

    def featurize(self, cif_path: Any = None) -> list[float]:
        """The kernel's columns for one CIF path."""
        if not isinstance(cif_path, str | os.PathLike) or not str(cif_path).strip():
            return [math.nan] * len(self.labels)
        return cif_descriptors(cif_path, kernels=(self.kernel,), randomized=self._randomized()).row(self.labels)

    def _randomized(self) -> bool | None:
        return None


_SOFTBV = [
    "@article{chen2017softbv, title={Bond softness sensitive bond-valence parameters for crystal structure "
    "plausibility tests}, author={Chen, Haomin and Adams, Stefan}, journal={IUCrJ}, volume={4}, "
    "pages={614--625}, year={2017}}",
    "@article{chen2019softbv, title={SoftBV - a software tool for screening the materials genome of inorganic "
    "fast ion conductors}, author={Chen, Haomin and Wong, Lee Loong and Adams, Stefan}, "
    "journal={Acta Crystallographica Section B}, volume={75}, pages={18--33}, year={2019}}",
]
_SENDEK = ("@article{sendek2017holistic, title={Holistic computational structure screening of more than 12000 "
           "candidates for solid lithium-ion conductor materials}, author={Sendek, Austin D. and others}, "
           "journal={Energy \\& Environmental Science}, volume={10}, pages={306--320}, year={2017}, "
           "doi={10.1039/C6EE02697D}}")
_WANG = ("@article{wang2015design, title={Design principles for solid-state lithium superionic conductors}, "
         "author={Wang, Yan and Richards, William Davidson and Ong, Shyue Ping and Miara, Lincoln J. and "
         "Kim, Jae Chul and Mo, Yifei and Ceder, Gerbrand}, journal={Nature Materials}, volume={14}, "
         "pages={1026--1031}, year={2015}, doi={10.1038/nmat4369}}")
_PYMATGEN = ("@article{ong2013pymatgen, title={Python Materials Genomics (pymatgen): A robust, open-source "
             "python library for materials analysis}, author={Ong, Shyue Ping and others}, "
             "journal={Computational Materials Science}, volume={68}, pages={314--319}, year={2013}, "
             "doi={10.1016/j.commatsci.2012.10.028}}")


class BondValenceBarriers(_CifKernelFeaturizer):
    """BVSE Li+ migration barriers of a CIF with bvlain (softBV parameters): ``bvse_E1D_eV``, ``bvse_E2D_eV``,
    ``bvse_E3D_eV`` (NaN: no percolation below 5 eV), ``bvse_barrier_eV`` (= E_3D) and ``bvse_dimension`` (the
    dimension reached at the lowest barrier). NaN for hydrides and phosphides (no Li+ parameters)."""

    kernel = "bvse"
    labels = BVSE_LABELS

    def citations(self) -> list[str]:
        """softBV's bond-valence parameters and its site-energy method, which bvlain implements."""
        return list(_SOFTBV)


class LithiumSublattice(_CifKernelFeaturizer):
    """The Li sublattice of a CIF (Li-Li and Li-anion distances, Li density, occupancy and coordination; see
    the module docstring for each column), descriptors in the spirit of Sendek et al. (2017)."""

    kernel = "lithium"
    labels = LI_SUBLATTICE_LABELS

    def citations(self) -> list[str]:
        """Sendek et al.'s structure-screening descriptors."""
        return [_SENDEK]


class AnionLattice(_CifKernelFeaturizer):
    """The anion framework of a CIF: volume per anion and one-hot match of the anion sublattice to bcc, fcc or
    hcp (Wang et al. 2015), with pymatgen's StructureMatcher."""

    kernel = "anion"
    labels = ANION_LATTICE_LABELS

    def citations(self) -> list[str]:
        """Wang et al.'s anion-framework analysis and pymatgen, whose matcher does it."""
        return [_WANG, _PYMATGEN]


class CifQuality(_CifKernelFeaturizer):
    """Quality flags of a CIF: ``cif_no_li``, ``cif_partial_occupancy``, ``cif_charge_imbalance`` (e per atom
    left by the common-oxidation-state balance) and ``cif_randomized`` (from `randomized`, set by the caller
    from the source: the CIF text does not say it; NaN when None).

    Args:
        randomized: whether the source perturbed the atom positions of the CIFs this featurizer sees.
    """

    kernel = "structure"
    labels = QUALITY_LABELS

    def __init__(self, randomized: bool | None = None) -> None:
        self.randomized = randomized

    def _randomized(self) -> bool | None:
        return self.randomized

    def citations(self) -> list[str]:
        """pymatgen, which reads the CIF and lists the common oxidation states of the charge balance."""
        return [_PYMATGEN]
