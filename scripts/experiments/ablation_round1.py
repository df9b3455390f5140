"""Issue 7 ablation: each idea measured on the obelix and ea benchmarks, the way `sulfml benchmark` scores them.

    SULFML_DATA_DIR=... python scripts/experiments/ablation_round1.py                 # every variant
    SULFML_DATA_DIR=... python scripts/experiments/ablation_round1.py --only knn-k5   # one (repeatable)
    python scripts/experiments/ablation_round1.py --list

Each variant starts from a base config (`src/sulfml/configs/tuned.toml` unless it names another) and changes
one thing. Both benchmarks reproduce `sulfml.workflows.benchmarks.suites` exactly:

* obelix: the official test split; training rows sharing a composition or a paper (DOI) with a test row are
  removed (`exclude_leaks`); censored test values count as log10 = -15. XGBoost is seeded, and with
  subsampling the score moves by a few hundredths between seeds, so the obelix column is the mean over seeds
  42, 7 and 2026 (seed 42 alone is what `sulfml benchmark obelix` prints; it is in the JSON output).
* ea: grouped 5-fold CV over every material with an Ea, materials sharing a paper or composition in one
  group (`leak_groups`); folds from the config seed (as
  `sulfml benchmark ea`), XGBoost seeds as for obelix, mean reported.

Whatever a variant learns from targets (kNN neighbours, a sigma model feeding Ea) is fitted on the
benchmark's training rows only: inside each CV fold, and, for the training rows themselves, out of fold.
Results are appended as JSON lines to `--out` (default experiments/results/ablation_round1.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sulfml.config import RunConfig, resolve_config
from sulfml.data.table import aggregate_materials, build_table
from sulfml.model.cv import group_labels, grouped_folds
from sulfml.model.estimator import make_regressor
from sulfml.model.train import featurize_materials
from sulfml.workflows.benchmarks.core import OBELIX_CENSORED_LOG10, exclude_leaks, leak_groups

ROOT = Path(__file__).resolve().parents[2]
OBELIX_SEEDS = (42, 7, 2026)  # XGBoost seeds of both benchmarks


@dataclass
class Variant:
    """One ablation row: a config change, or a different way to fit (`fit`), or a training-row filter."""

    name: str
    what: str
    config: str = "base"  # "base": tuned.toml without the issue-7 changes; else a file in src/sulfml/configs
    preset: str | None = None
    params: dict = field(default_factory=dict)  # per target overrides
    censor: float | None = None
    sources: tuple[str, ...] | None = None
    aggregation: str | None = None
    fit: Callable | None = None  # fit(target, params, seed, Xtr, ytr, mats_tr, Xte) -> predictions
    benchmarks: tuple[str, ...] = ("obelix", "ea")
    measurements: Callable | None = None  # filter of the training measurements (after leak exclusion)


ISSUE7_KEYS = ("knn", "objective")


def _config(v: Variant) -> RunConfig:
    if v.config == "base":  # the pre-issue-7 tuned config: same hyperparameters, composition-v1, no dedup, no kNN
        cfg = RunConfig.from_toml(resolve_config("tuned"))
        cfg = replace(cfg, preset="composition-v1", data=replace(cfg.data, aggregation="median-log10"),
                      params={t: {k: x for k, x in p.items() if k not in ISSUE7_KEYS} for t, p in cfg.params.items()})
    else:
        cfg = RunConfig.from_toml(resolve_config(v.config))
    if v.preset:
        cfg = replace(cfg, preset=v.preset)
    if v.censor is not None:
        cfg = replace(cfg, censoring=replace(cfg.censoring, log10_value=v.censor))
    if v.sources:
        cfg = replace(cfg, data=replace(cfg.data, sources=v.sources))
    if v.aggregation:
        cfg = replace(cfg, data=replace(cfg.data, aggregation=v.aggregation))
    for target, extra in v.params.items():
        cfg = cfg.with_params(target, {**cfg.params[target], **extra})
    return cfg


def _targets(mats: pd.DataFrame, target: str, cfg: RunConfig):
    if target == "log10_sigma":
        y = mats["log10_sigma"].to_numpy(float).copy()
        y[mats["censored"].to_numpy(bool)] = cfg.censoring.log10_value
        return mats, y
    rows = mats[mats["ea_eV"].notna()]
    return rows, rows["ea_eV"].to_numpy(float)


def _fit_predict(v: Variant, cfg: RunConfig, target: str, seed: int, Xtr, ytr, mtr, Xte) -> np.ndarray:
    params = cfg.params[target]
    if v.fit is not None:
        return v.fit(target, params, seed, Xtr, ytr, mtr, Xte, cfg)
    model = make_regressor(params, seed)
    model.fit(Xtr, ytr)
    return model.predict(Xte)


def obelix(v: Variant, cfg: RunConfig, meas: pd.DataFrame, seed: int) -> dict:
    is_test = (meas["source"] == "obelix") & (meas["split"] == "test")
    test = meas[is_test].reset_index(drop=True)
    train, _ = exclude_leaks(meas[~is_test], test)
    if v.measurements is not None:
        train = v.measurements(train)
    mats, y = _targets(aggregate_materials(train, cfg.data.aggregation), "log10_sigma", cfg)
    pred = _fit_predict(v, cfg, "log10_sigma", seed, featurize_materials(mats, cfg.preset), y, mats,
                        featurize_materials(test, cfg.preset))
    cens = test["censored"].to_numpy(bool)
    y_true = np.where(cens, OBELIX_CENSORED_LOG10, test["log10_sigma"].to_numpy(float))
    err = np.abs(pred - y_true)
    return {"mae": float(err.mean()), "mae_uncensored": float(err[~cens].mean()),
            "mae_censored": float(err[cens].mean())}


def ea(v: Variant, cfg: RunConfig, meas: pd.DataFrame, seed: int = 42) -> dict:
    if v.measurements is not None:
        meas = v.measurements(meas)
    rows, y = _targets(aggregate_materials(meas, cfg.data.aggregation), "ea_eV", cfg)
    X = featurize_materials(rows, cfg.preset)
    groups = leak_groups(rows)  # as `sulfml benchmark ea` (ablation_round1.md, dated 696acd0, grouped by first paper)
    oof = np.full(len(y), np.nan)
    for tr, te in grouped_folds(groups, 5, cfg.seed):
        oof[te] = _fit_predict(v, cfg, "ea_eV", seed, X.iloc[tr], y[tr], rows.iloc[tr], X.iloc[te])
    return {"mae": float(np.mean(np.abs(oof - y))), "n": int(len(y))}


def run(v: Variant, table, out: Path) -> dict:
    cfg = _config(v)
    meas = table.measurements[table.measurements["source"].isin(cfg.data.sources)]
    t0 = time.perf_counter()
    row = {"name": v.name, "what": v.what, "config": v.config, "preset": cfg.preset}
    if "obelix" in v.benchmarks:
        per_seed = [obelix(v, cfg, meas, s) for s in OBELIX_SEEDS]
        row |= {"obelix_mae": float(np.mean([r["mae"] for r in per_seed])),
                "obelix_mae_seeds": [round(r["mae"], 4) for r in per_seed],
                "obelix_mae_uncensored": float(np.mean([r["mae_uncensored"] for r in per_seed])),
                "obelix_mae_censored": float(np.mean([r["mae_censored"] for r in per_seed]))}
    if "ea" in v.benchmarks:
        per_seed = [ea(v, cfg, meas, s)["mae"] for s in OBELIX_SEEDS]
        row |= {"ea_mae": float(np.mean(per_seed)), "ea_mae_seeds": [round(m, 4) for m in per_seed]}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(row), flush=True)
    with out.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


# ---------------------------------------------------------------- ways to fit that are not a config change


def fit_aft(distribution: str = "normal", scale: float = 1.0):
    """XGBoost's interval-censored AFT objective for sigma: a censored row is the interval (0, bound] in
    sigma (left-censored), an uncensored one the point. Needs label bounds, so it cannot be fit(X, y)."""

    def fit(target, params, seed, Xtr, ytr, mtr, Xte, cfg):
        import xgboost as xgb

        if target != "log10_sigma":
            return make_regressor(params, seed).fit(Xtr, ytr).predict(Xte)
        cens = mtr["censored"].to_numpy(bool)
        bound = mtr["log10_sigma"].to_numpy(float)
        # AFT models ln(T); with T = exp(log10 sigma) the model works in log10 units.
        lower = np.where(cens, 0.0, np.exp(bound))
        upper = np.exp(bound)
        p = {k: v for k, v in params.items() if k not in ("n_estimators", "knn")}
        booster_params = {"objective": "survival:aft", "aft_loss_distribution": distribution,
                          "aft_loss_distribution_scale": scale, "tree_method": "hist", "seed": seed,
                          "nthread": 2, "eta": p.pop("learning_rate"), **p}
        d = xgb.DMatrix(Xtr, missing=np.nan)
        d.set_float_info("label_lower_bound", lower)
        d.set_float_info("label_upper_bound", upper)
        booster = xgb.train(booster_params, d, num_boost_round=int(params["n_estimators"]))
        return np.log(booster.predict(xgb.DMatrix(Xte, missing=np.nan)))

    return fit


_SIGMA_STATE: dict = {}  # the materials and features fit_sigma_feature learns sigma from (set by main)


def fit_sigma_feature(target, params, seed, Xtr, ytr, mtr, Xte, cfg):
    """Ea with an out-of-fold predicted log10 sigma as an extra feature (joint model).

    The sigma model learns from every material except those of the Ea test fold's papers and compositions
    (so no test row's conductivity is seen); the Ea training rows get sigma predictions from an inner grouped
    5-fold CV of that sigma set, the test rows from the sigma model fitted on all of it.
    """
    if target != "ea_eV":
        return make_regressor(params, seed).fit(Xtr, ytr).predict(Xte)
    mats = _SIGMA_STATE["materials"]
    xall = _SIGMA_STATE["X"]
    ys = mats["log10_sigma"].to_numpy(float).copy()
    ys[mats["censored"].to_numpy(bool)] = cfg.censoring.log10_value
    gall = group_labels(mats, "paper")
    test_keys = set(Xte.index)
    test_papers = set(mats.loc[list(test_keys), "paper"].fillna(""))
    test_comps = set(mats.loc[list(test_keys), "composition_key"])
    keep = ~(pd.Series(gall, index=mats.index).isin(test_papers) | mats["composition_key"].isin(test_comps)
             | mats.index.isin(test_keys)).to_numpy()
    s_idx = np.where(keep)[0]
    sp = cfg.params["log10_sigma"]
    sig = pd.Series(np.nan, index=mats.index)
    for itr, ite in grouped_folds(gall[s_idx], 5, cfg.seed):
        m = make_regressor(sp, seed).fit(xall.iloc[s_idx[itr]], ys[s_idx[itr]])
        sig.iloc[s_idx[ite]] = m.predict(xall.iloc[s_idx[ite]])
    full = make_regressor(sp, seed).fit(xall.iloc[s_idx], ys[s_idx])
    tr_sig = sig.loc[Xtr.index]
    missing = tr_sig.isna().to_numpy()  # a training row whose composition is also in the test fold
    if missing.any():
        tr_sig[missing] = full.predict(xall.loc[Xtr.index[missing]])
    model = make_regressor(params, seed).fit(Xtr.assign(pred_log10_sigma=tr_sig.to_numpy()), ytr)
    return model.predict(Xte.assign(pred_log10_sigma=full.predict(xall.loc[Xte.index])))


def fit_blend(weight: float):
    """Stacking, simplest form: (1 - weight) x the model + weight x the kNN inverse-distance mean."""

    def fit(target, params, seed, Xtr, ytr, mtr, Xte, cfg):
        model = make_regressor(params, seed).fit(Xtr, ytr)
        knn = model.neighbour_columns(Xte)["knn_y_weighted_mean"].to_numpy()
        return (1 - weight) * model.predict(Xte) + weight * knn

    return fit


PROTOTYPE_SPACE = ("li_atom_fraction", "li_per_anion", "anion_frac_O", "anion_frac_S", "anion_frac_Se",
                   "anion_frac_N", "anion_frac_F", "anion_frac_Cl", "anion_frac_Br", "anion_frac_I", "anion_frac_H",
                   "anion_per_framework_cation", "framework_valence_mean", "framework_radius_mean",
                   "dopant_fraction")


def fit_prototype_knn(target, params, seed, Xtr, ytr, mtr, Xte, cfg):
    """A second set of out-of-fold kNN target features, in a 'prototype' space (standardised Li content,
    anion make-up, anion/cation ratio, framework valence and radius: Li3InCl6 near Li3ErCl6, not near
    In-containing chlorides), on top of the element-fraction kNN of the model."""
    from sulfml.model.knn import KNN_FEATURES, _out_of_fold, neighbour_features

    cols = list(PROTOTYPE_SPACE)
    a, b = Xtr[cols].to_numpy(float), Xte[cols].to_numpy(float)
    mu, sd = np.nanmean(a, 0), np.nanstd(a, 0)
    sd[sd == 0] = 1.0
    a, b = np.nan_to_num((a - mu) / sd, nan=-3.0), np.nan_to_num((b - mu) / sd, nan=-3.0)
    k = 5
    names = [f"proto_{n}" for n in KNN_FEATURES]
    xtr = pd.concat([Xtr, pd.DataFrame(_out_of_fold(a, ytr, k, 5, seed), columns=names, index=Xtr.index)], axis=1)
    xte = pd.concat([Xte, pd.DataFrame(neighbour_features(a, ytr, b, k), columns=names, index=Xte.index)], axis=1)
    return make_regressor(params, seed).fit(xtr, ytr).predict(xte)


def obelix_first(meas: pd.DataFrame) -> pd.DataFrame:
    """Deduplication rule: a material measured by OBELiX keeps only its OBELiX measurements (curated, one
    value per paper); every other material keeps all its measurements (median over them, as before). The
    OBELiX rows take the material's median Ea over all sources (OBELiX has no Ea), so no Ea is lost."""
    in_obelix = set(meas.loc[meas["source"] == "obelix", "material_key"])
    m = meas.copy()
    m["ea_eV"] = m.groupby("material_key")["ea_eV"].transform("median")
    return m[(m["source"] == "obelix") | ~m["material_key"].isin(in_obelix)]


def one_per_paper(meas: pd.DataFrame) -> pd.DataFrame:
    """Deduplication rule `sulfml.data.table.one_per_paper` (aggregation `median-log10-one-per-paper`):
    one measurement per material and paper across sources, Ea the median of the rows it stands for."""
    from sulfml.data.table import one_per_paper as rule

    return rule(meas)


KNN = {"log10_sigma": {"knn": {"k": 5}}, "ea_eV": {"knn": {"k": 5}}}

VARIANTS = [
    Variant("baseline", "tuned.toml as shipped before issue 7 (composition-v1, squared error, no kNN)"),
    Variant("abs-error", "objective reg:absoluteerror (both targets)",
            params={t: {"objective": "reg:absoluteerror"} for t in ("log10_sigma", "ea_eV")}),
    Variant("censor-18", "censored sigma trained at -18 instead of -15", censor=-18.0,
            benchmarks=("obelix",)),
    Variant("censor-12", "censored sigma trained at -12 instead of -15", censor=-12.0,
            benchmarks=("obelix",)),
    Variant("aft-normal", "XGBoost AFT objective (normal, scale 1), censored = left-censored at the bound",
            fit=fit_aft("normal", 1.0), benchmarks=("obelix",)),
    Variant("aft-logistic", "XGBoost AFT objective (logistic, scale 0.5)", fit=fit_aft("logistic", 0.5),
            benchmarks=("obelix",)),
    Variant("structure-v1", "preset structure-v1 (lattice, space group, CIF features)", preset="structure-v1"),
    Variant("element-fractions", "preset composition-v2 (v1 + 94 element fractions)", preset="composition-v2"),
    Variant("chemistry", "preset chemistry-v1 (v2 + substitution/polyanion/charge-balance descriptors)",
            preset="chemistry-v1"),
    Variant("knn-k5", "composition-v2 + out-of-fold kNN target features, k=5", preset="composition-v2",
            params=KNN),
    Variant("knn-k10", "composition-v2 + kNN target features, k=10", preset="composition-v2",
            params={t: {"knn": {"k": 10}} for t in KNN}),
    Variant("chemistry-knn-k5", "chemistry-v1 + kNN target features, k=5", preset="chemistry-v1", params=KNN),
    Variant("chemistry-knn-k5-ea-abs", "chemistry-knn-k5, Ea objective reg:absoluteerror",
            preset="chemistry-v1", params={"log10_sigma": {"knn_k": 5},
                                           "ea_eV": {"knn_k": 5, "objective": "reg:absoluteerror"}}),
    Variant("chemistry-knn-k20-ea-abs", "chemistry-knn-k5-ea-abs with k=20 for Ea",
            preset="chemistry-v1", params={"log10_sigma": {"knn_k": 5},
                                           "ea_eV": {"knn_k": 20, "objective": "reg:absoluteerror"}},
            benchmarks=("ea",)),
    Variant("chemistry-knn-k5-prototype-knn", "chemistry-knn-k5-ea-abs plus kNN features in a prototype space",
            preset="chemistry-v1", params={"log10_sigma": {"knn_k": 5},
                                           "ea_eV": {"knn_k": 5, "objective": "reg:absoluteerror"}},
            fit=fit_prototype_knn),
    Variant("knn-k5-censor-18", "knn-k5 with censored sigma trained at -18", preset="composition-v2",
            params=KNN, censor=-18.0, benchmarks=("obelix",)),
    Variant("knn-blend-0.3", "knn-k5, prediction blended 70/30 with the kNN weighted mean",
            preset="composition-v2", params=KNN, fit=fit_blend(0.3)),
    Variant("ea-sigma-feature", "Ea with out-of-fold predicted log10 sigma as a feature (composition-v1)",
            fit=fit_sigma_feature, benchmarks=("ea",)),
    Variant("dedup-obelix-first", "materials in OBELiX keep only their OBELiX measurements (Ea: median over all)",
            measurements=obelix_first),
    Variant("dedup-one-per-paper", "one measurement per material and paper across sources (Ea: group median)",
            measurements=one_per_paper),
    Variant("shipped-tuned-no-dedup", "shipped tuned.toml but aggregation median-log10 (no dedup)", config="tuned",
            aggregation="median-log10"),
    Variant("shipped-tuned", "src/sulfml/configs/tuned.toml after issue 7: chemistry-v1, sigma knn_k=5, Ea knn_k=20 "
            "+ absolute error, aggregation median-log10-one-per-paper", config="tuned"),
    Variant("shipped-default", "src/sulfml/configs/default.toml after issue 7 (same changes, hand-set "
            "hyperparameters)", config="default"),
    Variant("no-liverpool", "sources without liverpool", sources=("review", "obelix", "laskowski")),
    Variant("no-review", "sources without the review tables", sources=("obelix", "liverpool", "laskowski")),
]


def cv_checks(table) -> None:
    """Choices made without the test set: grouped 5-fold CV (by paper) over all materials, `sulfml train`'s
    CV, aggregation median-log10. (1) the censoring substitute, censored rows scored at -15 as OBELiX does
    (composition-v2, tuned sigma hyperparameters, knn_k=5); (2) knn_k and the hyperparameter set for sigma
    (chemistry-v1)."""
    from sulfml.model.train import cross_validate, training_set

    tuned = _config(Variant("x", "", config="tuned"))
    default = _config(Variant("x", "", config="default"))
    meas = table.measurements[table.measurements["source"].isin(tuned.data.sources)]
    mats = aggregate_materials(meas, "median-log10")
    cens = mats["censored"].to_numpy(bool)
    sigma = tuned.params["log10_sigma"]
    x2 = featurize_materials(mats, "composition-v2")
    for value in (-15.0, -18.0, -20.0):
        cfg = replace(tuned, censoring=replace(tuned.censoring, log10_value=value))
        ts = training_set(mats, x2, "log10_sigma", cfg)
        cv = cross_validate(ts, {**sigma, "knn_k": 5}, cfg)
        err = np.abs(cv.oof - np.where(cens, OBELIX_CENSORED_LOG10, ts.y))
        print(json.dumps({"check": "censor substitute", "value": value, "cv_mae_scored_at_-15": round(err.mean(), 4)}))
    xc = featurize_materials(mats, "chemistry-v1")
    ts = training_set(mats, xc, "log10_sigma", tuned)
    for name, params in (("tuned k=5", sigma), ("default.toml k=5", default.params["log10_sigma"]),
                         ("tuned k=3", {**sigma, "knn_k": 3}), ("tuned k=8", {**sigma, "knn_k": 8})):
        cv = cross_validate(ts, params, tuned)
        print(json.dumps({"check": "sigma knn_k / hyperparameters", "setting": name,
                          "cv_mae": round(cv.metrics["mae"], 4)}))


def markdown(jsonl: Path) -> str:
    """The ablation table (last result per variant, in `VARIANTS` order) as Markdown."""
    rows = {}
    for line in jsonl.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[r["name"]] = r
    base = rows.get("baseline", {})

    def cell(r, key, digits):
        if key not in r:
            return "–", "–"
        d = r[key] - base[key] if key in base and r is not base else None
        return f"{r[key]:.{digits}f}", ("" if d is None else f"{d:+.{digits}f}")

    out = ["| variant | what changed | obelix MAE | Δ obelix | obelix uncensored / censored | ea MAE | Δ ea | "
           "command |", "|---|---|---|---|---|---|---|---|"]
    for v in VARIANTS:
        if v.name not in rows:
            continue
        r = rows[v.name]
        o, do = cell(r, "obelix_mae", 3)
        e, de = cell(r, "ea_mae", 4)
        split = (f"{r['obelix_mae_uncensored']:.3f} / {r['obelix_mae_censored']:.2f}"
                 if "obelix_mae_uncensored" in r else "–")
        out.append(f"| {v.name} | {v.what} | {o} | {do} | {split} | {e} | {de} | "
                   f"`scripts/experiments/ablation_round1.py --only {v.name}` |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="variant name (repeatable)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop")
    ap.add_argument("--cv-checks", action="store_true", help="run the CV-only checks (no test set) and stop")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results" / "ablation_round1.jsonl"))
    args = ap.parse_args(argv)
    if args.table:
        print(markdown(Path(args.out)))
        return 0
    if args.list:
        for v in VARIANTS:
            print(f"{v.name:22s} {v.what}")
        return 0
    chosen = [v for v in VARIANTS if not args.only or v.name in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(f"unknown variant in {args.only}; see --list")
    table = build_table(os.environ.get("SULFML_DATA_DIR"))
    if args.cv_checks:
        cv_checks(table)
        return 0
    for v in chosen:
        if v.fit is fit_sigma_feature:
            cfg = _config(v)
            meas = table.measurements[table.measurements["source"].isin(cfg.data.sources)]
            mats = aggregate_materials(meas, cfg.data.aggregation)
            _SIGMA_STATE.update(materials=mats, X=featurize_materials(mats, cfg.preset))
        run(v, table, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
