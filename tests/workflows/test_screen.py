"""Screening: enumeration, charge balance through Li (the oxidation states are tests/chem/test_oxidation.py's),
ranking against the parent through the predict path, the per-dopant cap, and the `screen` command."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sulfml import Predictor
from sulfml.cli import main
from sulfml.workflows.screen import ScreenError, Sweep, screen


def test_a_parent_that_cannot_be_balanced_is_the_screens_error():
    with pytest.raises(ScreenError, match="cannot be charge-balanced"):
        Sweep("Li2S5", {"S": ["Cl"]})


def test_aliovalent_substitution_moves_li():
    sweep = Sweep("Li6PS5Cl", {"P": ["Si"], "S": ["Cl"]}, max_fraction=0.2, step=0.1)
    cands = list(sweep.candidates())
    assert "Li6.1P0.9Si0.1S5Cl" in cands  # Si4+ for P5+: one more Li per Si
    assert "Li5.5PS4.5Cl1.5" in cands  # Cl- for S2-: one less Li per Cl
    assert len(cands) == 2 * 2 + 2 + 2 and sweep.skipped == 0


def test_lower_valent_dopant_on_p_adds_li():
    sweep = Sweep("Li6PS5Cl", {"P": ["Al"]}, max_fraction=0.5, step=0.05)
    cands = list(sweep.candidates())
    assert len(cands) == 10 and sweep.skipped == 0  # was 0 candidates, 10 skipped (P taken as -3)
    assert "Li6.2P0.9Al0.1S5Cl" in cands and "Li7P0.5Al0.5S5Cl" in cands  # 2 Li per Al


def test_higher_valent_dopant_removes_li():
    sweep = Sweep("Li4GeS4", {"Ge": ["P"]}, max_fraction=0.5, step=0.25)
    assert list(sweep.candidates()) == ["Li3.75Ge0.75P0.25S4", "Li3.5Ge0.5P0.5S4"]


def test_co_doping_one_site():
    sweep = Sweep("Li6PS5Cl", {"P": ["Si+Ge"]}, max_fraction=0.3, step=0.1)
    subs = list(sweep.substitutions_of())
    assert len(subs) == 3  # (0.1, 0.1), (0.1, 0.2), (0.2, 0.1): each positive, together at most 0.3
    cands = list(sweep.candidates())
    assert "Li6.2P0.8Si0.1Ge0.1S5Cl" in cands
    with pytest.raises(ScreenError):
        Sweep("Li6PS5Cl", {"P": ["Si+Si"]})


def test_unbalanceable_candidates_are_skipped():
    sweep = Sweep("Li3PS4", {"S": ["Cl"]}, max_fraction=1.0, step=0.5)
    cands = list(sweep.candidates())
    assert cands == ["LiPS2Cl2"] and sweep.skipped == 1  # all S -> Cl would need -1 Li
    assert list(sweep.candidates()) == cands and sweep.skipped == 1  # counted once per pass


@pytest.mark.parametrize("subs,frac,step", [({"Zr": ["Si"]}, 0.5, 0.1), ({"P": ["Qq"]}, 0.5, 0.1),
                                             ({"P": ["Si"]}, 1.5, 0.1), ({"P": ["Si"]}, 0.5, 0.0)])
def test_bad_setups_raise(subs, frac, step):
    with pytest.raises(ScreenError):
        Sweep("Li6PS5Cl", subs, frac, step)


def test_screen_puts_the_parent_first_and_ranks_by_the_chance_to_beat_it(trained):
    bundle = Predictor.from_dir(trained["models"])
    sweep = Sweep("Li6PS5Cl", {"P": ["Si", "Ge"], "S": ["Cl"]}, max_fraction=0.3, step=0.1)
    top, counts = screen(sweep, bundle, top=4, chunk=5, per_dopant=0)
    assert counts["candidates"] == (1 + 2 * 3) * (1 + 3) - 1
    assert list(top["role"]) == ["parent"] + ["candidate"] * 4
    parent, cands = top.iloc[0], top.iloc[1:]
    assert parent["formula"] == "Li6PS5Cl" and parent["p_gain"] == pytest.approx(0.5)
    assert parent["basis"] in ("model", "measured", "measured+model") and top.attrs["coverage"] == 0.9
    z90 = 1.6448536
    s = (cands["log10_sigma_hi"] - cands["log10_sigma_lo"]) / 2 / z90
    s_parent = (parent["log10_sigma_hi"] - parent["log10_sigma_lo"]) / 2 / z90
    z = (cands["log10_sigma"] - parent["log10_sigma"]) / (s**2 + s_parent**2) ** 0.5
    p = [0.5 * math.erfc(-v / math.sqrt(2)) for v in z]
    assert list(cands["score"]) == pytest.approx(p) and list(cands["p_gain"]) == pytest.approx(p)
    assert list(z) == sorted(z, reverse=True)
    assert list(top["sigma_S_cm"]) == pytest.approx(list(10 ** top["log10_sigma"]))
    assert {"in_domain", "warning", "substitution"} <= set(top.columns)
    for rank, col in (("ucb", "log10_sigma_hi"), ("lcb", "log10_sigma_lo"), ("mean", "log10_sigma")):
        other, _ = screen(Sweep("Li6PS5Cl", {"P": ["Si", "Ge"], "S": ["Cl"]}, 0.3, 0.1), bundle, top=4,
                          rank=rank, per_dopant=0)
        c = other.iloc[1:]
        assert (c["score"] == c[col]).all() and list(c["score"]) == sorted(c["score"], reverse=True)


def test_the_top_list_keeps_at_most_n_per_dopant_combination(trained):
    bundle = Predictor.from_dir(trained["models"])
    sweep = Sweep("Li6PS5Cl", {"P": ["Si", "Ge"], "S": ["Cl"]}, max_fraction=0.3, step=0.1)
    top, _ = screen(sweep, bundle, top=10, per_dopant=2)
    combos = top["substitution"].iloc[1:].str.replace(r"[0-9.]+", "", regex=True)
    assert combos.value_counts().max() <= 2 and len(top) == 11  # 5 combinations x 2
    free, _ = screen(sweep, bundle, top=10, per_dopant=0)
    # the cap keeps the best of each combination: the overall best is in both lists
    assert free["formula"].iloc[1] == top["formula"].iloc[1]


def test_state_is_passed_through_without_an_effect_and_temperature_applies(trained):
    bundle = Predictor.from_dir(trained["models"])
    seen: list[pd.DataFrame] = []

    class Spy:
        interval_coverage = bundle.interval_coverage  # the card's

        def run(self, frame):
            seen.append(frame.copy())
            return bundle.run(frame)

    sweep = Sweep("Li6PS5Cl", {"P": ["Si"]}, max_fraction=0.2, step=0.1)
    plain, _ = screen(sweep, bundle, top=5)
    glass, _ = screen(sweep, Spy(), top=5, state="glass")
    assert seen and all((f["state"] == "glass").all() for f in seen)
    # this small model (composition-v1) takes no state: the model's numbers stay, and each row says so (a
    # material measured in one state and not the other answers with its measurements in that one only)
    numbers = [c for c in plain.columns if c not in ("warning", "p_gain", "score")]
    a, b = (f[f["basis"] == "model"].set_index("formula")[[c for c in numbers if c != "formula"]] for f in (plain, glass))
    both = sorted(set(a.index) & set(b.index))
    assert len(both) >= 2 and set(plain["formula"]) == set(glass["formula"])
    pd.testing.assert_frame_equal(a.loc[both], b.loc[both])
    assert glass["warning"].str.contains("does not take the state as an input").all()
    hot, _ = screen(sweep, Spy(), top=5, temperature_c=80)
    assert (seen[-1]["temperature_C"] == 80).all()
    assert hot["log10_sigma"].iloc[0] != plain["log10_sigma"].iloc[0]
    with pytest.raises(ScreenError):
        screen(sweep, bundle, state="liquid")


def test_screen_excludes_candidates_equal_to_the_parent(trained):
    from sulfml.parse.formula import composition_key, parse_formula

    bundle = Predictor.from_dir(trained["models"])
    # swapping one S for Cl (a fifth of the S site) and the Cl for S (all of its site) gives the parent back
    sweep = Sweep("Li6PS5Cl", {"S": ["Cl"], "Cl": ["S"]}, max_fraction=1.0, step=0.2)
    parent = composition_key(parse_formula("Li6PS5Cl").composition)
    same = [t for t in sweep.candidates() if composition_key(parse_formula(t).composition) == parent]
    assert same  # not vacuous
    top, counts = screen(sweep, bundle, top=50, chunk=3, per_dopant=0)
    assert counts["predicted"] == counts["candidates"] - len(same) - counts["failed"]
    assert counts["same_as_parent"] == len(same)
    cands = top[top["role"] == "candidate"]
    assert parent not in {composition_key(parse_formula(f).composition) for f in cands["formula"]}


def test_cli_usage_errors_exit_2(trained, capsys):
    base = ["screen", "Li6PS5Cl", "--models-dir", str(trained["models"])]
    assert main([*base, "--substitute", "Zr=Si"]) == 2
    assert "not in the parent" in capsys.readouterr().err
    assert main([*base, "--substitute", "P=Qq"]) == 2
    assert main([*base, "--substitute", "P=Si", "--max-fraction", "2"]) == 2
    assert main([*base, "--substitute", "P=Si+", "--max-fraction", "2"]) == 2
    assert main([*base, "--substitute", "P=Si", "--temperature-c", "-500"]) == 2
    assert main([*base, "--substitute", "P=Si", "--per-dopant", "-1"]) == 2
    capsys.readouterr()
    assert main([*base, "--substitute", "P=Si", "--max-fraction", "0.2", "--step", "0.1", "--format", "csv",
                 "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("role,formula,substitution,basis,log10_sigma,sigma_S_cm,log10_sigma_lo,log10_sigma_hi,"
                      "measured_log10_sigma,measured_n_papers,ea_eV,p_gain,in_domain,score,warning") and len(out) == 4
    assert out[1].startswith("parent,Li6PS5Cl,,") and out[2].startswith("candidate,")


def test_cli_al_for_p_and_state_note(trained, capsys):
    code = main(["screen", "Li6PS5Cl", "--substitute", "P=Al", "--models-dir", str(trained["models"]),
                 "--format", "csv", "--state", "glass", "--per-dopant", "0"])
    captured = capsys.readouterr()
    rows = captured.out.splitlines()
    assert code == 0 and len(rows) == 1 + 1 + 10
    assert "10 candidates" in captured.err and "0 skipped" in captured.err and "P +5" in captured.err


def test_cli_empty_result_says_so_in_words(trained, capsys):
    code = main(["screen", "Li3PS4", "--substitute", "S=Cl", "--max-fraction", "1", "--step", "1",
                 "--models-dir", str(trained["models"]), "--format", "table"])
    out = capsys.readouterr().out
    assert code == 0 and "Empty DataFrame" not in out
    assert "no candidate to rank" in out and "could not be charge-balanced" in out
    assert out.splitlines()[1].split()[:2] == ["parent", "Li3PS4"]  # the baseline is still shown


def test_cli_help_states_the_ranking_rule(capsys):
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exceeds the parent's best estimate (its measured value" in text and "coverage in the models' card" in text
    assert "per dopant combination" in text and "a model input" in text


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
    assert got.loc[got["formula"] == "Li6.1P0.9Si0.1S5Cl", "substitution"].item() == "P=Si0.1"
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


class Known:
    """The known-first pipeline as the lead engineer specifies it, played on a trained model: the rows of
    `measured` (formula -> (median, papers, lo, hi)) answer with their measurements; the others say `model`."""

    def __init__(self, predictor, measured):
        self.inner, self.measured = predictor, measured
        self.interval_coverage = predictor.interval_coverage  # the card's

    def run(self, frame):
        out = self.inner.run(frame)
        cols = out.columns
        n = len(cols["input"])
        cols["basis"], cols["measured_log10_sigma"], cols["measured_n_papers"] = ["model"] * n, [math.nan] * n, [0] * n
        for i, text in enumerate(cols["input"]):
            if text in self.measured:
                median, papers, lo, hi = self.measured[text]
                cols["basis"][i], cols["measured_log10_sigma"][i], cols["measured_n_papers"][i] = "measured", median, papers
                cols["log10_sigma"][i], cols["log10_sigma_lo"][i], cols["log10_sigma_hi"][i] = median, lo, hi
        return out


def test_p_gain_compares_with_the_parents_measured_value_when_it_is_known(trained, capsys):
    from statistics import NormalDist

    bundle = Predictor.from_dir(trained["models"])
    sweep = Sweep("Li6PS5Cl", {"P": ["Si", "Ge"]}, max_fraction=0.3, step=0.1)
    plain, _ = screen(sweep, bundle, top=6, per_dopant=0)
    predicted = float(plain["log10_sigma"].iloc[0])
    measured = predicted - 1.0  # the parent measures a decade below its prediction
    known, _ = screen(sweep, Known(bundle, {"Li6PS5Cl": (measured, 4, measured - 0.4, measured + 0.4)}), top=6,
                      per_dopant=0)
    parent, cands = known.iloc[0], known.iloc[1:]
    assert parent["basis"] == "measured" and parent["measured_n_papers"] == 4
    assert parent["measured_log10_sigma"] == pytest.approx(measured) == parent["log10_sigma"]
    assert known.attrs["reference"] == pytest.approx(measured) and known.attrs["reference_basis"] == "measured"
    assert (cands["basis"] == "model").all() and cands["measured_log10_sigma"].isna().all()
    z = NormalDist().inv_cdf(0.95)
    s = (cands["log10_sigma_hi"] - cands["log10_sigma_lo"]) / 2 / z
    want = [NormalDist().cdf(v) for v in (cands["log10_sigma"] - measured) / (s**2 + (0.4 / z) ** 2) ** 0.5]
    assert list(cands["p_gain"]) == pytest.approx(want)
    # against the measured value, a decade lower, every candidate is more likely to beat the parent
    by_formula = plain.set_index("formula")["p_gain"]
    assert all(p > by_formula[f] for f, p in zip(cands["formula"], cands["p_gain"], strict=True) if f in by_formula)
    assert set(cands["formula"]) & set(by_formula.index)
    code = main(["screen", "Li6PS5Cl", "--substitute", "P=Si", "--models-dir", str(trained["models"]),
                 "--format", "csv"])
    assert code == 0 and "p_gain compares with the parent's log10 sigma" in capsys.readouterr().err


def test_z_comes_from_the_cards_coverage(trained):
    import dataclasses
    from statistics import NormalDist

    from sulfml.workflows.screen import interval_coverage

    p90 = Predictor.from_dir(trained["models"])
    p80 = Predictor.from_dir(trained["models"])
    model = p80.bundle.models["log10_sigma"]
    p80.bundle.models["log10_sigma"] = dataclasses.replace(
        model, calibration=dataclasses.replace(model.calibration, confidence=0.8))
    assert interval_coverage(p90) == 0.9 and interval_coverage(p80) == 0.8
    sweep = Sweep("Li6PS5Cl", {"P": ["Si"]}, max_fraction=0.3, step=0.1)
    # a state nothing in the mini data is measured in: every row is the model's, with the card's intervals
    a, _ = screen(sweep, p90, top=3, per_dopant=0, state="glass-ceramic")
    b, _ = screen(sweep, p80, top=3, per_dopant=0, state="glass-ceramic")
    assert (a["basis"] == "model").all() and (b["basis"] == "model").all()
    # same intervals (the quantile is the card's), read with z = 1.645 or 1.282
    assert list(a["log10_sigma_lo"]) == list(b["log10_sigma_lo"]) and b.attrs["coverage"] == 0.8
    assert b.attrs["z"] == pytest.approx(NormalDist().inv_cdf(0.9)) and a.attrs["z"] == pytest.approx(1.6448536)
    za = [NormalDist().inv_cdf(p) for p in a["p_gain"].iloc[1:]]
    zb = [NormalDist().inv_cdf(p) for p in b["p_gain"].iloc[1:]]
    ratio = NormalDist().inv_cdf(0.9) / NormalDist().inv_cdf(0.95)  # s is half-width / z: z scales with z
    assert zb == pytest.approx([v * ratio for v in za]) and any(abs(v) > 1e-3 for v in za)
    assert a["p_gain"].iloc[1:].tolist() != pytest.approx(b["p_gain"].iloc[1:].tolist())


def test_p_gain_rule():
    from statistics import NormalDist

    from sulfml.workflows.screen import p_gain

    z = NormalDist().inv_cdf(0.95)
    # candidate -2 +- 1 (s = 1/z), parent -3 +- 0.5: the difference has s = hypot(1, 0.5) / z
    assert p_gain(-2, -3, -1, -3, -3.5, -2.5) == pytest.approx(NormalDist().cdf(1 / (math.hypot(1, 0.5) / z)))
    assert p_gain(-2, -3, -1, -3) == pytest.approx(NormalDist().cdf(z))  # no parent interval: the candidate's only
    assert p_gain(-2, -3, -1, -3, coverage=0.8) == pytest.approx(0.9)  # [lo, hi] is the 80 % interval: 1 s = 1
    assert p_gain(-2, -2, -2, -3) == 1.0 and p_gain(-4, -4, -4, -3) == 0.0 and p_gain(-3, -3, -3, -3) == 0.5
    assert math.isnan(p_gain(math.nan, -3, -1, -3)) and math.isnan(p_gain(-2, -3, -1, math.nan))


def test_roughness_of_a_dopant_series():
    from sulfml.workflows.screen import roughness

    xs = [0.1, 0.2, 0.3, 0.4]
    assert roughness(xs, [-4, -3.5, -3, -2]) == pytest.approx(1.0)  # monotone
    assert roughness(xs, [-4, -3, -4, -3]) == pytest.approx(3.0)  # up, down, up: 3 decades for a net 1
    assert roughness(xs[::-1], [-3, -4, -3, -4]) == pytest.approx(3.0)  # taken in order of fraction
    assert roughness(xs, [-3, -2, -3, -3]) == pytest.approx(2.0 / 0.05)  # no net change: floored at 0.05
    assert roughness(xs, [-3, -2, -3, -3], floor=0.5) == pytest.approx(4.0)
    assert roughness(xs, [-3] * 4) == 1.0
    assert math.isnan(roughness([0.1], [-3])) and math.isnan(roughness(xs, [-3, math.nan, -3, -2]))


def test_a_parent_in_the_training_data_is_the_baseline_with_its_measurements(trained):
    """Through the real known-first pipeline: Li6PS5Cl (state unknown) is measured in the mini data."""
    bundle = Predictor.from_dir(trained["models"])
    top, _ = screen(Sweep("Li6PS5Cl", {"P": ["Si"]}, max_fraction=0.2, step=0.1), bundle, top=2)
    parent = top.iloc[0]
    assert "measured" in parent["basis"] and parent["measured_n_papers"] >= 1
    assert parent["measured_log10_sigma"] == parent["measured_log10_sigma"]  # not NaN
    assert top.attrs["reference"] == parent["log10_sigma"] and top.attrs["reference_basis"] == parent["basis"]
    lo, hi = parent["log10_sigma_lo"], parent["log10_sigma_hi"]
    assert lo <= parent["measured_log10_sigma"] <= hi


@pytest.mark.parametrize("text", ["P=Si,Ge,Sn Cl=Br,I", "P=Si,Ge,Sn; Cl=Br,I", "P = Si, Ge, Sn\nCl = Br, I",
                                  ["P=Si,Ge,Sn", "Cl=Br,I"], {"P": ["Si", "Ge", "Sn"], "Cl": ["Br", "I"]}])
def test_substitutions_are_read_by_one_rule_however_written(text):
    from sulfml.workflows.screen import parse_substitutions

    assert parse_substitutions(text) == {"P": ["Si", "Ge", "Sn"], "Cl": ["Br", "I"]}


def test_a_co_dopant_and_a_bad_substitution():
    from sulfml.errors import ScreenError
    from sulfml.workflows.screen import parse_substitutions

    assert parse_substitutions("P=Si + Ge,Sn") == {"P": ["Si+Ge", "Sn"]}
    for bad in ("P", "P=", "=Si", "P=Si+", ""):
        with pytest.raises(ScreenError, match="SITE=DOPANT|no substitution"):
            parse_substitutions(bad)
