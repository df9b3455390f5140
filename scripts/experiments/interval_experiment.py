"""Cached experiment for the σ interval calibration: nested, honest coverage and width on grouped and on
leave-one-family-out folds, for several calibration rules, without retraining per rule.

`cache` trains, per outer split, exactly what `sulfml train` trains (inner grouped CV, final model, domain) on
the split's training rows, and saves the inner out-of-fold predictions, distances and kNN features (what a
calibration is fitted on) and the held-out rows' predictions, distances and kNN features (what it is scored
on). Outer splits: the `intervals` benchmark's grouped folds (`leak_groups`, seed + 1) and the `family`
benchmark's leave-one-family-out folds. `evaluate` fits each rule on a split's inner rows and scores it on the
split's held-out rows, never on rows it was calibrated on.

    SULFML_DATA_DIR=/work/shared/datasets .venv/bin/python scripts/experiments/interval_experiment.py cache --seed 42
    .venv/bin/python scripts/experiments/interval_experiment.py evaluate --seeds 42
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path("/tmp/sulfml_interval_cache")


def _split_arrays(ts, config, test_X, test_y, test_cens, test_family, n_jobs: int = 1) -> dict:
    """Train as `fit_target` does on `ts`; the inner and held-out arrays a calibration rule needs."""
    from sulfml.model.knn import fraction_columns
    from sulfml.model.knn_features import KNN_FEATURES, neighbour_features
    from sulfml.model.train import fit_parts

    params = config.params.get(ts.target, {})
    parts = fit_parts(ts, config, n_jobs)
    cv, model, folds, domain, inner_dist = parts.cv, parts.model, parts.folds, parts.domain, parts.held_out_distance
    k = int((params.get("knn") or {}).get("k", 5))
    frac = fraction_columns(ts.X.columns)
    fx = np.nan_to_num(ts.X.to_numpy(float)[:, frac])
    inner_knn = np.empty((len(ts.y), len(KNN_FEATURES)))
    for tr, te in folds:
        inner_knn[te] = neighbour_features(fx[tr], ts.y[tr], fx[te], k)
    test_knn = model.neighbour_columns(test_X)[list(KNN_FEATURES)].to_numpy(float)
    return {
        "inner": {"pred": cv.oof, "dist": inner_dist, "knn": inner_knn, "y": ts.y, "censored": ts.censored},
        "test": {"pred": model.predict(test_X).astype(float), "dist": domain.distance(test_X)[0], "knn": test_knn,
                 "y": test_y, "censored": test_cens, "family": test_family},
        "threshold": domain.threshold,
    }


def cache(seed: int, out: Path, schemes: list[str]) -> None:
    """Train every outer split of the chosen schemes and pickle the arrays."""
    from sulfml.config import RunConfig, resolve_config
    from sulfml.data.table import aggregate_materials, build_table
    from sulfml.model.cv import grouped_folds
    from sulfml.model.train import featurize_materials, training_set
    from sulfml.workflows.benchmarks.core import (
        BenchmarkData,
        leak_groups,
        material_families,
        selected_measurements,
    )
    from sulfml.workflows.benchmarks.suites import family_splits

    config = RunConfig.from_toml(resolve_config("tuned"))
    config = replace(config, seed=seed)
    data = BenchmarkData(build_table(None), config)
    meas = selected_measurements(data)
    mats = aggregate_materials(meas, config.data.aggregation)
    feats = featurize_materials(mats, config.preset, n_jobs=1)
    ts_all = training_set(mats, feats, "log10_sigma", config)
    fam_all = material_families(ts_all.materials)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if "grouped" in schemes:
        splits = []
        outer = leak_groups(ts_all.materials)
        for k, (tr, te) in enumerate(grouped_folds(outer, config.cv.n_splits, config.seed + 1)):
            arr = _split_arrays(ts_all.rows(tr), config, ts_all.X.iloc[te], ts_all.y[te], ts_all.censored[te],
                                fam_all[te])
            splits.append(arr)
            print(f"grouped fold {k}: {time.perf_counter() - t0:.0f} s", flush=True)
        (out / f"grouped_{seed}.pkl").write_bytes(pickle.dumps(splits))
    if "family" in schemes:
        splits = []
        for name, held, train in family_splits(meas, mats):
            sel = np.flatnonzero(ts_all.materials["material_key"].isin(set(held["material_key"])).to_numpy())
            tmats = aggregate_materials(train, config.data.aggregation)
            ts = training_set(tmats, featurize_materials(tmats, config.preset, n_jobs=1), "log10_sigma", config)
            arr = _split_arrays(ts, config, ts_all.X.iloc[sel], ts_all.y[sel], ts_all.censored[sel], fam_all[sel])
            splits.append(arr)
            print(f"family {name}: {time.perf_counter() - t0:.0f} s", flush=True)
        (out / f"family_{seed}.pkl").write_bytes(pickle.dumps(splits))


# ---------------------------------------------------------------------------------------------------------
# Rules: each takes the inner arrays and returns a function (test arrays -> half-width).


def rule_shipped(inner: dict, seed: int):
    """The calibration shipped before (MAPIE `SplitConformalRegressor` + `ResidualNormalisedScore`, scale on
    (prediction, kNN distance) held flat beyond its knots, one quantile), reproduced here for comparison."""
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import SplitConformalRegressor
    from sklearn.base import BaseEstimator, RegressorMixin

    from sulfml.model.conformal import DifficultyCurves

    class Difficulty(DifficultyCurves, BaseEstimator, RegressorMixin):
        pass

    class PredictionColumn(BaseEstimator, RegressorMixin):
        def fit(self, Z, y=None):
            self.n_features_in_ = np.asarray(Z).shape[1]
            return self

        def predict(self, Z):
            return np.asarray(Z, float)[:, 0]

    use = ~inner["censored"]
    Z = np.column_stack([inner["pred"], inner["dist"]])[use]
    score = ResidualNormalisedScore(residual_estimator=Difficulty(), split_size=0.3, random_state=seed)
    mapie = SplitConformalRegressor(estimator=PredictionColumn().fit(Z), confidence_level=0.9,
                                    conformity_score=score, prefit=True)
    mapie.conformalize(Z, inner["y"][use])
    difficulty = score.residual_estimator_
    pred, bounds = mapie.predict_interval(Z)
    q = float(np.median((bounds[:, 1, 0] - pred) / np.maximum(np.exp(difficulty.predict(Z)), 1e-8)))
    return lambda t: q * np.maximum(np.exp(difficulty.predict(np.column_stack([t["pred"], t["dist"]]))), 1e-8)


def _new(**options):
    """`sulfml.model.conformal.calibrate` with `options`; `knn` feeds it the kNN feature distance."""
    def rule(inner: dict, seed: int):
        from sulfml.model.conformal import calibrate

        use_knn = options.get("knn", True)
        kw = {k: v for k, v in options.items() if k != "knn"}
        from sulfml.model.knn_features import KNN_FEATURES

        column = KNN_FEATURES.index("knn_distance_mean")
        cal = calibrate(inner["pred"], inner["dist"], inner["y"], ~inner["censored"], 0.9, seed,
                        knn_distance_mean=inner["knn"][:, column] if use_knn else None, **kw)
        return lambda t: cal.halfwidth(t["pred"], t["dist"], t["knn"][:, column] if use_knn else None)
    return rule


RULES = {
    "shipped": rule_shipped,  # MAPIE, scale on (prediction, then domain distance), held beyond the knots
    "pred_first": _new(inputs=("prediction", "knn_distance"), extend=False),  # the same without MAPIE
    "domain_dist_first": _new(knn=False),  # domain distance, then prediction; extended
    "new": _new(),  # shipped now: kNN feature distance, then prediction; extended
    "new_no_extend": _new(extend=False),
}


def evaluate(seeds: list[int], cache_dir: Path, rules: list[str]) -> pd.DataFrame:
    """Coverage and median width (uncensored held-out rows) per scheme and rule, mean over seeds."""
    from sulfml.model.conformal import coverage_and_width

    rows = []
    for seed in seeds:
        for scheme in ("grouped", "family"):
            path = cache_dir / f"{scheme}_{seed}.pkl"
            if not path.exists():
                continue
            splits = pickle.loads(path.read_bytes())
            for rule in rules:
                ys, los, his, fams = [], [], [], []
                for s in splits:
                    hw = RULES[rule](s["inner"], seed)(s["test"])
                    unc = ~s["test"]["censored"]
                    p = s["test"]["pred"][unc]
                    ys.append(s["test"]["y"][unc])
                    los.append(p - hw[unc])
                    his.append(p + hw[unc])
                    fams.append(s["test"]["family"][unc])
                y, lo, hi, fam = (np.concatenate(a) for a in (ys, los, his, fams))
                m = coverage_and_width(y, lo, hi)
                row = {"seed": seed, "scheme": scheme, "rule": rule, "coverage": m["coverage"],
                       "median_width": m["median_width"], "n": m["n"]}
                if scheme == "family":
                    for f in np.unique(fam):
                        row[f"cov_{f}"] = coverage_and_width(y[fam == f], lo[fam == f], hi[fam == f])["coverage"]
                rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache", help="train the outer splits once and save their arrays")
    c.add_argument("--seed", type=int, default=42)
    c.add_argument("--schemes", nargs="+", default=["grouped", "family"], choices=["grouped", "family"])
    c.add_argument("--out", type=Path, default=CACHE)
    e = sub.add_parser("evaluate", help="score the calibration rules on the cached arrays")
    e.add_argument("--seeds", type=int, nargs="+", default=[42])
    e.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    e.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    if args.command == "cache":
        cache(args.seed, args.out, args.schemes)
    else:
        table = evaluate(args.seeds, args.cache, args.rules)
        pd.set_option("display.width", 200)
        print(table.to_string(index=False))
        print(table.groupby(["scheme", "rule"])[["coverage", "median_width"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
