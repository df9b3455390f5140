"""Structure input: a CIF read into the composition and the lattice columns the structure presets use."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STRUCTURE_COLUMNS = ["space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z", "cif_path"]


def no_structure() -> dict[str, Any]:
    """The structure columns of a row without a CIF."""
    return {c: np.nan for c in STRUCTURE_COLUMNS} | {"cif_path": ""}


def structure_fields(cif: str | Path) -> tuple[dict[str, Any], dict[str, float], list[str]]:
    """Read a CIF: the structure columns the featurizers use, its composition, and warnings.

    Partially occupied sites (common in Li conductors) are kept with their occupancies; the symmetry
    is analysed with a tolerant setting. If the symmetry analysis fails, the lattice is still used.

    Raises:
        ValueError: the file is not a readable crystal structure.
    """
    from pymatgen.core import Structure

    if not Path(cif).is_file():  # a directory, /dev/zero or a FIFO would fail late or never return
        raise ValueError("not a regular file" if Path(cif).exists() else "no such file")
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            s = Structure.from_file(str(cif))
        except Exception as exc:  # pymatgen raises many types for a bad CIF
            raise ValueError(f"not a readable crystal structure ({type(exc).__name__}: {exc})") from exc
    # partial occupancies are said once, by the CIF's quality notes (`bvse_check`)
    lat = s.lattice
    comp = s.composition
    _, z = comp.get_reduced_composition_and_factor()
    fields = {"a": lat.a, "b": lat.b, "c": lat.c, "alpha": lat.alpha, "beta": lat.beta, "gamma": lat.gamma,
              "z": z, "cif_path": str(cif), "space_group_number": np.nan}
    try:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        fields["space_group_number"] = SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number()
    except Exception:  # spglib gives up on some disordered cells; the lattice alone still helps
        notes.append("space group not determined from the CIF")
    amounts = {str(el): float(x) for el, x in comp.get_el_amt_dict().items() if x > 0}
    return fields, amounts, notes


def reduced_formula(amounts: dict[str, float]) -> str:
    """The reduced formula of a CIF's composition, as the text the parser then reads."""
    from pymatgen.core import Composition

    return Composition(amounts).reduced_formula


# The BVSE picture and an ML answer disagree strongly when no 3D Li path opens below this barrier yet the
# answer is a fast conductor, or an easy path opens yet the answer is an insulator (log10 σ at 25 °C).
BVSE_CLOSED_EV = 1.0
BVSE_OPEN_EV = 0.35
FAST_LOG10_SIGMA = -4.0
INSULATOR_LOG10_SIGMA = -8.0


@dataclass(frozen=True)
class BvseCheck:
    """The bond-valence cross-check of one CIF: the lowest barrier at which Li percolates in 3D (NaN: none
    below the cut-off, or not computable), the dimension at the lowest barrier, and what the reader should
    know of the file (`sulfml.featurize.cif.quality_notes`)."""

    barrier_eV: float
    dimension: float
    notes: list[str]
    computed: bool  # the percolation search ran (False: no parameters for an ion, a cell too large, ...)


def bvse_check(cif: str | Path) -> BvseCheck:
    """The BVSE barrier and dimension of a CIF with its quality notes (cached by the file's sha256)."""
    from sulfml.featurize.cif import BVSE_NO_3D_PATH, cif_descriptors, quality_notes

    found = cif_descriptors(cif)
    barrier = float(found.values["bvse_barrier_eV"])
    return BvseCheck(barrier, float(found.values["bvse_dimension"]), quality_notes(found),
                     math.isfinite(barrier) or BVSE_NO_3D_PATH in found.notes)


def bvse_disagreements(barrier_eV: np.ndarray, computed: np.ndarray, log10_sigma: np.ndarray) -> dict[int, str]:
    """The warning of each row whose CIF's BVSE picture and ML answer (log10 σ at 25 °C) disagree strongly.

    Args:
        barrier_eV: each row's `bvse_barrier_eV` (NaN: no 3D path below the cut-off, or not computed).
        computed: whether each row's percolation search ran.
        log10_sigma: each row's answer at 25 °C (NaN for failed rows).
    """
    out = {}
    closed = computed & ~(barrier_eV <= BVSE_CLOSED_EV) & (log10_sigma > FAST_LOG10_SIGMA)
    opened = (barrier_eV < BVSE_OPEN_EV) & (log10_sigma < INSULATOR_LOG10_SIGMA)
    for i in np.flatnonzero(closed).tolist():
        path = (f"its lowest 3D Li barrier is {barrier_eV[i]:.2f} eV" if np.isfinite(barrier_eV[i])
                else "Li does not percolate in 3D below the cut-off")
        out[i] = (f"BVSE and the prediction disagree: {path}, yet log10 σ {log10_sigma[i]:.1f} is a fast "
                  "conductor's (check the structure, or trust neither)")
    for i in np.flatnonzero(opened).tolist():
        out[i] = (f"BVSE and the prediction disagree: Li percolates in 3D at {barrier_eV[i]:.2f} eV, yet "
                  f"log10 σ {log10_sigma[i]:.1f} is an insulator's")
    return out
