"""One material, one answer: typing slips get a note (and are still read as written), polymorph words read
like their Greek letters, trailing names are tags, and the displayed formula has no polyanion group."""

from __future__ import annotations

import pytest

from sulfml.parse.bulk import parse_fast, read_fast, read_many
from sulfml.parse.formula import display_formula, parse_formula
from sulfml.parse.reduced import derived_formula
from sulfml.parse.slips import SLIP_SUSPECT

# text, what it is read as (reduced formula), the formula the note suggests
SLIPS = [
    ("Li6PS5CI", "Li6PS5CI", "Li6PS5Cl"),
    ("LiCI", "LiCI", "LiCl"),
    ("Li6PS5CI0.5Br0.5", "Li6PS5CI0.5Br0.5", "Li6PS5Cl0.5Br0.5"),
    ("Li6PS5C1", "Li6PS5C", "Li6PS5Cl"),
    ("LiC1O4", "LiCO4", "LiClO4"),
    ("Li7La3Zr2012", "Li7La3Zr2012", "Li7La3Zr2O12"),
    ("70Li2O-30P205", "Li14P615O7", "70Li2O-30P2O5"),
    ("B203", "B203", "B2O3"),
    ("LiHf2(P04)3", "LiHf2(P4)3", "LiHf2(PO4)3"),
    ("LiNb03", "LiNb3", "LiNbO3"),
    ("Li3.5Si0.5P05S4", "Li3.5Si0.5P5S4", "Li3.5Si0.5P0.5S4"),  # a missing decimal point, or O5
    ("La0.O5Li0.5TiO3", None, "La0.05Li0.5TiO3"),
    ("β-Li6PS5CI", "Li6PS5CI", "Li6PS5Cl"),
]


@pytest.mark.parametrize(("text", "read_as", "meant"), SLIPS, ids=[s[0] for s in SLIPS])
def test_slip_is_read_as_written_with_a_note(text, read_as, meant):
    r = parse_formula(text)
    assert r.ok, r.error
    if read_as is not None:
        assert r.formula == read_as
        assert parse_formula(text.replace("β-", "")).composition == r.composition
    assert len(r.notes) == 1, r.notes
    assert f"did you mean {meant}" in r.notes[0] or f" or {meant}?" in r.notes[0], r.notes
    assert "predicted as read" in r.notes[0]
    assert parse_fast(text) is None and not read_many([text]).ok[0]  # left to parse_formula, which notes it


def test_slip_readings_are_the_literal_ones():
    assert parse_formula("Li6PS5CI").composition == {"Li": 6.0, "P": 1.0, "S": 5.0, "C": 1.0, "I": 1.0}
    assert parse_formula("Li6PS5C1").composition == {"Li": 6.0, "P": 1.0, "S": 5.0, "C": 1.0}
    assert parse_formula("Li7La3Zr2012").composition == {"Li": 7.0, "La": 3.0, "Zr": 2012.0}


QUIET = ["LiCl", "CsI", "Li2CO3", "CdI2", "Li7La3Zr2O12", "Li6PS5Cl", "Li10GeP2S12", "CInS2",
         "CIr", "CI4", "Li2C1O3", "Li1 C1 O3", "C10H8", "LiC1.5", "C12", "Li0.5La0.5TiO3",
         "Li140P60S220", "Li10.5", "Li3PO4", "70Li2S-30P2S5", "Li5.5PS4.5Cl1.5", "Li6.4La3Zr1.4Ta0.6O12",
         "LiTi2(PO4)3", "Li1.3Al0.3Ti1.7(PO4)3", "(La0.402Li0.368Sr0.230)(TiO3)", "Li100001S", "Li3OCl"]


@pytest.mark.parametrize("text", QUIET)
def test_real_chemistry_gets_no_note(text):
    r = parse_formula(text)
    assert r.ok and r.notes == (), (r.error, r.notes)


def test_letter_o_for_zero_is_noted():
    r = parse_formula("Lao.51Li0.34TiO2.94")
    assert r.tags == ("fixed:o-for-0",) and r.notes == ("a letter o was read as a zero: La0.51Li0.34TiO2.94",)


HINTS = [
    ("li6ps5cl", "unreadable", "did you mean Li6PS5Cl?"),
    ("LI6PS5CL", "unknown element: L", "did you mean Li6PS5Cl?"),
    ("li3ps4", "unreadable", "did you mean Li3PS4?"),
    ("lino3", "unreadable", "did you mean LiNO3 or LiNo3?"),  # nobelium last
    ("LiA1O2", "unknown element: A", "did you mean LiAlO2?"),
    ("LiAICl4", "unknown element: A", "did you mean LiAlCl4?"),
    ("Lil0GeP2S12", "unreadable", "did you mean Li10GeP2S12?"),  # not LiI0GeP2S12: an amount of zero
    ("LiBr0.5l0.5", "unreadable", "did you mean LiBr0.5I0.5?"),
]


@pytest.mark.parametrize(("text", "prefix", "hint"), HINTS, ids=[h[0] for h in HINTS])
def test_rejection_names_the_likely_formula(text, prefix, hint):
    r = parse_formula(text)
    assert not r.ok and r.error.startswith(prefix) and r.error.endswith(hint + ")"), r.error
    assert r.error.split(":", 1)[0] == prefix.split(":", 1)[0]  # the category the data loader counts


@pytest.mark.parametrize("text", ["LGPS", "Xx2", "Li2S-P2S5-LiI", "lgps", "qqq", "a" * 300, "si" * 40 + "q"])
def test_rejection_without_a_likely_formula_has_no_hint(text):
    r = parse_formula(text)
    assert not r.ok and "did you mean" not in r.error


POLYMORPHS = [("beta-Li3PS4", "β"), ("Beta-Li3PS4", "β"), ("BETA-Li3PS4", "β"), ("beta Li3PS4", "β"),
              ("beta - Li3PS4", "β"), ("alpha-Li3N", "α"), ("gamma-Li3PO4", "γ"), ("delta-Li3PO4", "δ"),
              ("Gamma Li3PO4", "γ"), ("theta-Li3PS4", "θ"), ("eta-Li3PS4", "η"), ("zeta-Li3PS4", "ζ")]


@pytest.mark.parametrize(("text", "letter"), POLYMORPHS, ids=[p[0] for p in POLYMORPHS])
def test_polymorph_words_read_like_greek_letters(text, letter):
    word = parse_formula(text)
    greek = parse_formula(letter + "-" + text.split("-")[-1].split()[-1])
    assert word.ok and word.tags == (f"polymorph:{letter}",)
    assert (word.composition, word.formula, word.notation, word.tags) == \
        (greek.composition, greek.formula, greek.notation, greek.tags)


@pytest.mark.parametrize("text", ["betaLi3PS4", "beta-", "Li3PS4 beta"])
def test_polymorph_words_need_a_dash_or_space_and_a_formula(text):
    assert not parse_formula(text).ok


NAMES = [
    ("Li10GeP2S12 (LGPS)", "Li10GeP2S12", "plain", ("name:LGPS",)),
    ("Li6PS5Cl (argyrodite)", "Li6PS5Cl", "plain", ("name:argyrodite",)),
    ("Li6PS5Cl(argyrodite)", "Li6PS5Cl", "plain", ("name:argyrodite",)),
    ("Li7La3Zr2O12 [LLZO]", "Li7La3Zr2O12", "plain", ("name:LLZO",)),
    ("70Li2S·30P2S5 (GC)", "70Li2S·30P2S5", "glass", ("glass-ceramic",)),
    ("70Li2S-30P2S5 GC", "70Li2S-30P2S5", "glass", ("glass-ceramic",)),
    ("70Li2S-30P2S5(glass)", "70Li2S-30P2S5", "glass", ("glass",)),
    ("70Li2S-30P2S5 (glass ceramic)", "70Li2S-30P2S5", "glass", ("glass-ceramic",)),
    ("Li6PS5Cl (x = 0.5)", "Li6PS5Cl", "plain", ("name:x = 0.5",)),
    ("Li6PS5Cl (Cl-rich)", "Li6PS5Cl", "plain", ("name:Cl-rich",)),
    ("β-Li3PS4 (LPS) glass", "Li3PS4", "plain", ("glass", "name:LPS", "polymorph:β")),
    ("Li10GeP2S12 (LGPS) (sample 2)", "Li10GeP2S12", "plain", ("name:sample 2", "name:LGPS")),
    ("Li3PS4 – 2 wt% Al2O3 (composite)", "Li3PS4", "composite", ("name:composite",)),
]


@pytest.mark.parametrize(("text", "chemistry", "notation", "tags"), NAMES, ids=[n[0] for n in NAMES])
def test_trailing_name_is_a_tag_not_chemistry(text, chemistry, notation, tags):
    r = parse_formula(text)
    bare = parse_formula(chemistry)
    assert r.ok, r.error
    assert r.composition == bare.composition and r.formula == bare.formula and r.notation == notation
    assert sorted(r.tags) == sorted(tags) and r.notes == ()
    assert parse_fast(text) is None


# Groups ending the text that are chemistry: element symbols with amounts, or nothing before them.
GROUPS = [
    ("Li10Ge(PS6)2", {"Li": 10.0, "Ge": 1.0, "P": 2.0, "S": 12.0}),
    ("LiV(PO4)", {"Li": 1.0, "V": 1.0, "P": 1.0, "O": 4.0}),
    ("Ca(OH)", {"Ca": 1.0, "O": 1.0, "H": 1.0}),
    ("Li2(OH)", {"Li": 2.0, "O": 1.0, "H": 1.0}),
    ("Li1.05Al0.05Ti1.95(PO4)", {"Li": 1.05, "Al": 0.05, "Ti": 1.95, "P": 1.0, "O": 4.0}),
    ("Li0.6[Li0.2Sn0.8S2]", {"Li": 0.8, "Sn": 0.8, "S": 2.0}),
    ("Li3PO4 (LiPON)", {"Li": 4.0, "P": 2.0, "O": 5.0, "N": 1.0}),  # a name that is a formula stays chemistry
    ("(Li2S)-(P2S5)", None),
    ("Li2S-P2S5 (Li2S-P2S5)", None),  # element symbols: chemistry, without a proportion
    ("(LGPS)", None),  # nothing before it: not a name of anything
    ("Li2S (1)", None),  # no letter: not a name
    ("Li2S (LGPS]", None),
]


@pytest.mark.parametrize(("text", "composition"), GROUPS, ids=[g[0] for g in GROUPS])
def test_trailing_chemistry_group_stays_chemistry(text, composition):
    r = parse_formula(text)
    assert not any(t.startswith("name:") for t in r.tags)
    assert r.composition == composition, r.error


DISPLAY = [
    ("Li10GeP2S12", "Li10GeP2S12"),
    ("Li10Ge(PS6)2", "Li10GeP2S12"),
    ("LiTi2(PO4)3", "LiTi2P3O12"),
    ("Li3PO4", "Li3PO4"),  # no group to write out
    ("Li4P2S6", "Li2PS3"),
    ("Li2(SO4)2", "LiSO4"),
    ("Li14Zn(GeO4)4", "Li14ZnGe4O16"),
    ("70Li2S-30P2S5", "Li7P3S11"),
    ("LiO", "Li2O2"),  # pymatgen's special formulas stay
    ("Li5.5PS4.5Cl1.5", "Li11P2S9Cl3"),  # at its display scale: whole amounts
]


@pytest.mark.parametrize(("text", "shown"), DISPLAY, ids=[d[0] for d in DISPLAY])
def test_derived_formula_has_no_polyanion_group(text, shown):
    r = parse_formula(text)
    assert derived_formula(r.composition) == shown
    # the formula shown for the text (a plain one as written) is the same on every path
    assert read_many([text]).formula[0] in (r.formula, None)
    if (fast := read_fast(text)) is not None:
        assert fast[1] == r.formula


def test_derived_display_does_not_depend_on_how_it_was_written():
    texts = ["Li10GeP2S12", "Li10Ge(PS6)2", "Ge Li10 P2 S12", "Li20Ge2P4S24", "S12P2GeLi10", "5Li2S-GeS2-P2S5"]
    assert {display_formula(parse_formula(t).composition) for t in texts} == {"Li10GeP2S12"}
    # a plain formula is shown as written (without its spaces); a glass derived
    assert [parse_formula(t).formula for t in texts] == [
        "Li10GeP2S12", "Li10Ge(PS6)2", "GeLi10P2S12", "Li20Ge2P4S24", "S12P2GeLi10", "Li10GeP2S12"]


def test_read_many_defers_suspects_only():
    texts = ["Li6PS5Cl", "Li6PS5CI", "Li10GeP2S12", "Li7La3Zr2012", "70Li2S-30P2S5", "LiNb03", "Li3PS4",
             "Li6PS5C1", "La0.O5Li0.5TiO3"]
    batch = read_many(texts)
    assert batch.ok.tolist() == [True, False, True, False, True, False, True, False, False]
    for text, ok in zip(texts, batch.ok.tolist(), strict=True):
        assert ok == (SLIP_SUSPECT.search(text) is None)
        if not ok:
            assert parse_formula(text).ok and parse_formula(text).notes


def test_predictions_carry_the_note_in_the_warning(trained):
    from sulfml import Predictor
    from sulfml.tracking.bundle import Bundle

    bundle = Bundle.from_dir(trained["models"])
    texts = ["Li6PS5CI", "Li6PS5Cl", "beta-Li3PS4", "Li10GeP2S12 (LGPS)", "li6ps5cl", "Li10Ge(PS6)2",
             "Li6PS5CI", "Lao.51Li0.34TiO2.94"]
    out = Predictor(bundle, "test").predict(texts)
    assert "did you mean Li6PS5Cl?" in out.loc[0, "warning"] and out.loc[0, "formula"] == "Li6PS5CI"
    assert out.loc[0, "error"] == "" and out.loc[0, "log10_sigma"] == out.loc[6, "log10_sigma"]
    assert "did you mean" not in out.loc[1, "warning"]
    assert out.loc[2, "error"] == "" and out.loc[2, "formula"] == "Li3PS4"
    assert out.loc[3, "error"] == "" and out.loc[3, "formula"] == "Li10GeP2S12"
    assert "did you mean Li6PS5Cl?" in out.loc[4, "error"]
    assert out.loc[5, "formula"] == "Li10Ge(PS6)2"  # as written
    assert "a letter o was read as a zero" in out.loc[7, "warning"]


def test_read_many_finds_the_same_suspects_as_the_regex():
    """read_many's NumPy search and SLIP_SUSPECT (read_fast's) agree on texts made of the slips' pieces."""
    import numpy as np

    rng = np.random.default_rng(4)
    pieces = ["C", "I", "1", "0", "O", ".", "Li", "S", "2", "5", "(", ")", "Cl", "9", "-", "In", "P", "0.5", "]"]
    texts = ["".join(rng.choice(pieces, size=int(rng.integers(1, 9)))) for _ in range(30000)]
    texts += [t for text, _, _ in SLIPS for t in (text, "0.5" + text + "-0.5Li2S")] + QUIET
    batch = read_many(texts)
    fast = [read_fast(t) for t in texts]
    assert batch.ok.tolist() == [f is not None for f in fast]
    assert [f for f, ok in zip(batch.formula, batch.ok.tolist(), strict=True) if ok] == \
        [f[1] for f in fast if f is not None]
    suspects = [SLIP_SUSPECT.search(t) is not None for t in texts]
    assert sum(suspects) > 1000 and not any(ok and s for ok, s in zip(batch.ok.tolist(), suspects, strict=True))
