"""Screening: enumeration, charge balance through Li, ranking through the predict path, CLI errors."""

from __future__ import annotations

import pytest

from sulfml import Predictor
from sulfml.cli import main
from sulfml.workflows.screen import ScreenError, Sweep, screen


def test_aliovalent_substitution_moves_li():
    sweep = Sweep("Li6PS5Cl", {"P": ["Si"], "S": ["Cl"]}, max_fraction=0.2, step=0.1)
    cands = list(sweep.candidates())
    assert "Li6.1P0.9Si0.1S5Cl" in cands  # Si4+ for P5+: one more Li per Si
    assert "Li5.5PS4.5Cl1.5" in cands  # Cl- for S2-: one less Li per Cl
    assert len(cands) == 2 * 2 + 2 + 2 and sweep.skipped == 0


def test_unbalanceable_candidates_are_skipped():
    sweep = Sweep("Li3PS4", {"S": ["Cl"]}, max_fraction=1.0, step=0.5)
    cands = list(sweep.candidates())
    assert cands == ["LiPS2Cl2"] and sweep.skipped == 1  # all S -> Cl would need -1 Li


@pytest.mark.parametrize("subs,frac,step", [({"Zr": ["Si"]}, 0.5, 0.1), ({"P": ["Qq"]}, 0.5, 0.1),
                                             ({"P": ["Si"]}, 1.5, 0.1), ({"P": ["Si"]}, 0.5, 0.0)])
def test_bad_setups_raise(subs, frac, step):
    with pytest.raises(ScreenError):
        Sweep("Li6PS5Cl", subs, frac, step)


def test_screen_ranks_top_k_without_parent(trained):
    bundle = Predictor.from_dir(trained["models"])
    sweep = Sweep("Li6PS5Cl", {"P": ["Si", "Ge"], "S": ["Cl"]}, max_fraction=0.3, step=0.1)
    top, counts = screen(sweep, bundle, top=4, chunk=5)
    assert len(top) == 4 and counts["candidates"] == (1 + 2 * 3) * (1 + 3) - 1
    assert list(top["score"]) == sorted(top["score"], reverse=True)
    assert (top["score"] == top["log10_sigma_hi"]).all()
    mean, _ = screen(Sweep("Li6PS5Cl", {"P": ["Si", "Ge"], "S": ["Cl"]}, 0.3, 0.1), bundle, top=4, rank="mean")
    assert (mean["score"] == mean["log10_sigma"]).all()


def test_screen_excludes_candidates_equal_to_the_parent(trained):
    from sulfml.parse.formula import composition_key, parse_formula

    bundle = Predictor.from_dir(trained["models"])
    # swapping one S for Cl (a fifth of the S site) and the Cl for S (all of its site) gives the parent back
    sweep = Sweep("Li6PS5Cl", {"S": ["Cl"], "Cl": ["S"]}, max_fraction=1.0, step=0.2)
    parent = composition_key(parse_formula("Li6PS5Cl").composition)
    same = [t for t in sweep.candidates() if composition_key(parse_formula(t).composition) == parent]
    assert same  # not vacuous
    top, counts = screen(sweep, bundle, top=50, chunk=3)
    assert counts["predicted"] == counts["candidates"] - len(same) - counts["failed"]
    assert parent not in {composition_key(parse_formula(f).composition) for f in top["formula"]}


def test_cli_usage_errors_exit_2(trained, capsys):
    base = ["screen", "Li6PS5Cl", "--models-dir", str(trained["models"])]
    assert main([*base, "--substitute", "Zr=Si"]) == 2
    assert "not in the parent" in capsys.readouterr().err
    assert main([*base, "--substitute", "P=Qq"]) == 2
    assert main([*base, "--substitute", "P=Si", "--max-fraction", "2"]) == 2
    assert main([*base, "--substitute", "P=Si", "--max-fraction", "0.2", "--step", "0.1", "--format", "csv",
                 "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "formula,log10_sigma,log10_sigma_lo,log10_sigma_hi,ea_eV,in_domain,score" and len(out) == 3


def test_write_candidates_streams_every_candidate_without_predicting(tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow.parquet as pq

    from sulfml.workflows.screen import write_candidates

    monkeypatch.setattr(Predictor, "default", lambda: pytest.fail("enumerating must not load a model"))
    subs = {"P": ["Si", "Ge"], "S": ["Cl"]}
    want = list(Sweep("Li6PS5Cl", subs, 0.3, 0.1).candidates())
    sweep = Sweep("Li6PS5Cl", subs, 0.3, 0.1)
    assert write_candidates(sweep, tmp_path / "c.parquet", chunk=5) == len(want) == 27
    assert pq.ParquetFile(tmp_path / "c.parquet").num_row_groups == 6  # one per chunk: streamed
    got = pd.read_parquet(tmp_path / "c.parquet")
    assert list(got.columns) == ["formula", "parent", "substitution"] and list(got["formula"]) == want
    assert set(got["parent"]) == {"Li6PS5Cl"}
    assert got.loc[got["formula"] == "Li6.1P0.9Si0.1S5Cl", "substitution"].item() == "P->Si:0.1"
    assert write_candidates(Sweep("Li6PS5Cl", subs, 0.3, 0.1), tmp_path / "c.csv") == 27
    assert list(pd.read_csv(tmp_path / "c.csv")["formula"]) == want
    with pytest.raises(ScreenError, match="parquet or .csv") as info:
        write_candidates(Sweep("Li6PS5Cl", subs, 0.3, 0.1), tmp_path / "c.json")
    assert "--" not in str(info.value)  # library messages never name command-line flags


def test_cli_enumerate_only(tmp_path, capsys):
    import pandas as pd

    base = ["screen", "Li3PS4", "--substitute", "S=Cl", "--max-fraction", "1", "--step", "0.5", "--enumerate-only"]
    assert main([*base, "--output", str(tmp_path / "c.parquet")]) == 0
    assert capsys.readouterr().out.strip() == \
        f"wrote 1 candidates to {tmp_path / 'c.parquet'} (1 skipped: cannot be charge-balanced through Li)"
    assert list(pd.read_parquet(tmp_path / "c.parquet")["formula"]) == ["LiPS2Cl2"]
    assert main(base) == 2
    assert "--enumerate-only needs --output" in capsys.readouterr().err
    assert main([*base, "--output", str(tmp_path / "c.json")]) == 2
