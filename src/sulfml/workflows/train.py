"""`sulfml train` as a library call: load → clean → featurize → learn → track → export, in that order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sulfml.config import TARGETS, RunConfig, resolve_config


@dataclass(frozen=True)
class TrainResult:
    """What one target's training run produced."""

    target: str
    run_id: str
    version: str
    promoted: bool
    reason: str
    metrics: dict[str, float]
    n_train: int


def load_materials(config: RunConfig, data_dir: str | Path | None = None):
    """Load → clean → featurize: the config's materials and their features, as every run builds them.

    Returns:
        (materials, features), aligned on the index.
    """
    from sulfml.data.table import aggregate_materials, build_table, select_sources
    from sulfml.model.train import featurize_materials

    table = build_table(data_dir, extra=config.data.extra)
    meas = select_sources(table.measurements, config.data.sources)
    materials = aggregate_materials(meas, config.data.aggregation)
    temps = meas["temperature_K"].dropna()
    # the span of measured temperatures travels with the materials: cards record it for predict's warning
    materials.attrs["temperature_range_K"] = (float(temps.min()), float(temps.max())) if len(temps) else None
    materials.attrs["family_temperature_range_K"] = family_temperature_ranges(meas)
    return materials, featurize_materials(materials, config.preset)


# A family measured over a narrower span than this (LGPS: at room temperature only) has no range of its own:
# the span of every measurement applies to it, as to a family the data do not name.
MIN_FAMILY_SPAN_K = 50.0


def family_temperature_ranges(measurements) -> dict[str, tuple[float, float]]:
    """The span of measured temperatures per structural family (`sulfml.featurize.family.family_index`, the rule
    the `family_*` features use), over the measurements with a temperature and a composition; only families
    whose span is at least `MIN_FAMILY_SPAN_K`."""
    import json

    from sulfml.featurize import rules
    from sulfml.featurize.family import family_index

    rows = measurements[measurements["temperature_K"].notna() & measurements["composition"].notna()]
    if not len(rows):
        return {}
    codes = family_index([json.loads(c) for c in rows["composition"]], rows["notation"].tolist(),
                         rows["tags"].tolist(), rows["family"].tolist())
    t = rows["temperature_K"].to_numpy(float)
    spans = {rules.FAMILIES[int(c)]: (float(t[codes == c].min()), float(t[codes == c].max()))
             for c in sorted(set(codes.tolist()))}
    return {f: span for f, span in spans.items() if span[1] - span[0] >= MIN_FAMILY_SPAN_K}


def train(
    config_path: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    tracking_uri: str | None = None,
    models_dir: str | Path | None = None,
    promote: bool = False,
    export: bool = True,
    log: Callable[[str], None] = print,
    extra_data: Sequence[str | Path] = (),
) -> list[TrainResult]:
    """Train both targets from a config, log them to MLflow, register, and export the champions.

    Args:
        config_path: a run config file, or a shipped config's name (default: the shipped `default`).
        data_dir: the public datasets (see `sulfml.data.sources.resolve_data_dir`).
        tracking_uri: MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db).
        models_dir: where the champion bundle is exported (default `models/` in the current directory).
        promote: move `champion` to the new versions whatever their scores.
        export: write the champion pair to `models_dir` afterwards.
        log: where progress lines go.
        extra_data: the user's own measurement files (relative to the current directory), learnt from after
            the config's `[data] extra`; the models' cards name them with their sha256.
    """
    from sulfml.model.blend import check_neural_config
    from sulfml.model.train import fit_target, training_set
    from sulfml.tracking.bundle import default_export_dir
    from sulfml.tracking.export import download_champions
    from sulfml.tracking.registry import maybe_promote
    from sulfml.tracking.runs import log_training_run
    from sulfml.tracking.store import configure

    config_path = resolve_config(config_path)
    config = RunConfig.from_toml(config_path).with_extra(extra_data)
    check_neural_config(config, config_path.name)  # torch missing: a user error now, not after the trees' CV
    t0 = time.perf_counter()
    materials, features = load_materials(config, data_dir)
    user = f" and the user's files ({', '.join(Path(p).name for p in config.data.extra)})" if config.data.extra else ""
    log(f"data: {len(materials)} materials from {', '.join(config.data.sources)}{user}, {features.shape[1]} "
        f"features ({config.preset}) ({time.perf_counter() - t0:.1f} s)")
    uri = configure(tracking_uri)
    # Both targets are fitted and logged before either alias moves, so a run stopped halfway (killed,
    # out of memory, a store error) leaves the champion pair and the exported bundle as they were.
    logged = []
    for target in TARGETS:
        ts = training_set(materials, features, target, config)
        if target in config.neural_targets:
            log(f"{target}: trees, then the neural member ({config.cv.n_splits} folds and a final fit, each in "
                "its own process)")
        tm = replace(fit_target(ts, config, log=log), temperature_range_K=materials.attrs.get("temperature_range_K"),
                     family_temperature_range_K=materials.attrs.get("family_temperature_range_K"))
        run_id, version = log_training_run(tm, config_path)
        logged.append((tm, ts, run_id, version))
        m = tm.cv.metrics
        blended = ""
        if tm.neural is not None:
            o = tm.neural.oof_mae
            blended = (f" (blend: network weight {tm.neural.weight:g}; out-of-fold MAE trees {o['trees']:.3f}, "
                       f"network {o['network']:.3f}, blend {o['blend']:.3f})")
        log(f"{target}: n={len(ts.y)} CV MAE {m['mae']:.3f} (uncensored {m['mae_uncensored']:.3f}) RMSE {m['rmse']:.3f} R2 {m['r2']:.3f} "
            f"Spearman {m['spearman']:.3f}{blended}; run {run_id}, version {version} ({time.perf_counter() - t0:.1f} s)")
    results = []
    for tm, ts, run_id, version in logged:
        promoted, reason = maybe_promote(tm.target, version, tm.cv.metrics["mae"], ts.data_hash, force=promote)
        results.append(TrainResult(tm.target, run_id, version, promoted, reason, tm.cv.metrics, len(ts.y)))
        log(f"{tm.target}: {reason}")
    _register_served_model({tm.target: str(version) for tm, _, _, version in logged},
                           [r.promoted for r in results], log)
    if export:
        dest = Path(models_dir or default_export_dir())
        download_champions(dest)
        log(f"exported the champion pair to {dest} (tracking store {uri})")
    return results


def _register_served_model(new_pair: dict[str, str], promoted: list[bool], log: Callable[[str], None]) -> None:
    """The pyfunc model `sulfml` of the new pair, registered on every run. Its `champion` moves with the
    per-target champions: to the new pair when both moved; when only one did, to a version made of the
    champion pair as it now stands."""
    from sulfml.service.serving import PYFUNC_NAME, register_served_model
    from sulfml.tracking.registry import MODEL_NAMES, champion

    version = register_served_model(new_pair, make_champion=all(promoted))
    moved = f", now {PYFUNC_NAME}@champion" if all(promoted) else ""
    log(f"{PYFUNC_NAME}: pyfunc model of the pair registered as version {version}{moved}")
    if any(promoted) and not all(promoted):
        pair = {}
        for target, name in MODEL_NAMES.items():
            current = champion(name)
            assert current is not None  # one target was just promoted, the other kept its champion
            pair[target] = str(current.version)
        version = register_served_model(pair, make_champion=True)
        log(f"{PYFUNC_NAME}: the champion pair (mixed) registered as version {version}, now {PYFUNC_NAME}@champion")
