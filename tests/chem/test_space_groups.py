"""The one reader of a space group as people write it, its symbol and its crystal system."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sulfml.chem.space_groups import (
    CRYSTAL_SYSTEM_NAMES,
    SpaceGroupError,
    crystal_system,
    space_group_label,
    space_group_number,
    space_group_symbol,
)
from sulfml.errors import InputError


@pytest.mark.parametrize(("written", "number"), [
    (62, 62), ("62", 62), (62.0, 62), (" 230 ", 230), ("Pnma", 62), ("P4_2/nmc", 137), ("P4₂/nmc", 137),
    ("P 42/n m c", 137), ("Ia-3d", 230), ("Ia−3d", 230), ("I4_1/acd", 142), ("Pmn2_1", 31), ("Pmn2₁", 31),
    ("P2_1/m", 11), ("P12_1/m1", 11), ("F-43m", 216), ("P-1", 2), ("C2/m", 12), ("P6_3/mmc", 194),
])
def test_the_notations_of_the_literature_read_as_one_number(written, number):
    assert space_group_number(written) == number


@pytest.mark.parametrize("blank", [None, "", "  ", float("nan")])
def test_a_blank_space_group_is_unknown(blank):
    assert space_group_number(blank) is None


@pytest.mark.parametrize("bad", [0, 231, "0", "231", "1.5", 2.5, "Xyz", "P4/q", True])
def test_what_names_no_space_group_is_a_user_error(bad):
    with pytest.raises(SpaceGroupError) as info:
        space_group_number(bad)
    assert isinstance(info.value, InputError)
    assert "--" not in str(info.value)  # a library message never names a flag


@given(st.integers(1, 230))
def test_every_symbol_reads_back_as_its_number(n):
    assert space_group_number(space_group_symbol(n)) == n
    assert space_group_number(space_group_label(n, with_number=False)) == n
    assert space_group_label(n).endswith(f"({n})")


def test_crystal_systems_follow_the_international_tables():
    assert [crystal_system(n) for n in (1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230)] == [
        "triclinic", "triclinic", "monoclinic", "monoclinic", "orthorhombic", "orthorhombic", "tetragonal",
        "tetragonal", "trigonal", "trigonal", "hexagonal", "hexagonal", "cubic", "cubic"]
    assert crystal_system(0) is None and crystal_system(231) is None and crystal_system(62.5) is None
    assert crystal_system("nan") is None and crystal_system(None) is None
    assert set(map(crystal_system, range(1, 231))) == set(CRYSTAL_SYSTEM_NAMES)
    assert space_group_label(137) == "P4₂/nmc (137)" and space_group_symbol(11) == "P2_1/m"


def test_the_shipped_symbols_are_pymatgens():
    import re

    from pymatgen.symmetry.groups import sg_symbol_from_int_number

    from sulfml.chem.space_groups import SYMBOLS

    assert len(SYMBOLS) == 230
    for n, symbol in enumerate(SYMBOLS, start=1):
        full = sg_symbol_from_int_number(n)
        m = re.match(r"^([PABCI])1(\S+)1$", full) if 3 <= n <= 15 else None
        assert symbol == (f"{m.group(1)}{m.group(2)}" if m else full), n
