"""Structure input: a CIF read into the composition and the lattice columns the structure presets use."""

from __future__ import annotations

import warnings
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
    if not s.is_ordered:
        notes.append("partially occupied sites: composition and density weighted by occupancy")
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
