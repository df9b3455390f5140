"""`sulfml tune`: an Optuna search over one target's XGBoost hyperparameters, scored by `sulfml train`'s grouped CV.

A grouped hold-out the study never sees guards against selection bias; the best trial becomes a run config.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.config import TARGET_ALIASES, RunConfig, resolve_config
from sulfml.errors import TuneSetupError

if TYPE_CHECKING:
    import optuna

    from sulfml.model.train import TrainingSet

DEFAULT_STORAGE = "sqlite:///./optuna.db"
EXPERIMENT = "sulfml-tune"
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 1


@dataclass(frozen=True)
class Range:
    """One searched hyperparameter: a closed interval, sampled uniformly or log-uniformly."""

    kind: type
    low: float
    high: float
    log: bool = False
    step: int | None = None


# The search space, declared once: `suggest_params` samples exactly these, nothing else.
# `n_estimators` is a searched value rather than early stopping, so that a trial's model is
# fully described by its parameters and `sulfml train` rebuilds it exactly from the written config.
# Its range and max_depth's are capped so that 100 trials of 5-fold CV on the full data fit in
# about 20 minutes on 2 cores (a depth-10 tree costs about 3 times a depth-6 one here).
SEARCH_SPACE: dict[str, Range] = {
    "n_estimators": Range(int, 100, 800, step=50),
    "learning_rate": Range(float, 0.01, 0.3, log=True),
    "max_depth": Range(int, 2, 8),
    "min_child_weight": Range(float, 0.5, 20.0, log=True),
    "subsample": Range(float, 0.5, 1.0),
    "colsample_bytree": Range(float, 0.3, 1.0),
    "gamma": Range(float, 1e-8, 1.0, log=True),
    "reg_alpha": Range(float, 1e-8, 10.0, log=True),
    "reg_lambda": Range(float, 1e-8, 10.0, log=True),
}


def describe_search_space() -> str:
    """The search space as text, one hyperparameter a line (for `--help` and the README)."""
    lines = []
    for name, r in SEARCH_SPACE.items():
        scale = "log" if r.log else (f"step {r.step}" if r.step else "uniform")
        lines.append(f"{name}: {r.kind.__name__} in [{r.low:g}, {r.high:g}] ({scale})")
    return "\n".join(lines)


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """Sample one point of `SEARCH_SPACE`.

    Args:
        trial: the Optuna trial that records the choices.

    Returns:
        XGBoost hyperparameters, as plain ints and floats.
    """
    params: dict[str, Any] = {}
    for name, r in SEARCH_SPACE.items():
        if r.kind is int:
            params[name] = trial.suggest_int(name, int(r.low), int(r.high), step=r.step or 1, log=r.log)
        else:
            params[name] = trial.suggest_float(name, r.low, r.high, log=r.log)
    return params


@dataclass(frozen=True)
class TuneResult:
    """What one `tune` call did and found.

    Attributes:
        target: `log10_sigma` or `ea_eV`.
        study_name, storage: the Optuna study (storage with any password masked).
        n_trials, n_complete, n_pruned: trials this call ran, and how they ended.
        n_study_trials: every trial of the study so far (other workers and earlier calls too).
        best_trial: number of the study's best trial.
        best_params: its full hyperparameters, as written to the config.
        best_cv_mae, base_cv_mae: grouped CV MAE on the tuning part, best and base-config params.
        holdout_mae_best, holdout_mae_base: MAE on the hold-out after fitting on the tuning part.
        all_data_cv_mae, base_all_data_cv_mae: grouped CV MAE on all data (what `sulfml train` reports).
        n_tuning, n_holdout: rows of each part.
        seconds_per_trial: mean wall time of this call's finished trials.
        wall_time: seconds for the whole call.
        sampler_seed: the TPE sampler's seed (seed + trials already in the study).
        output_config: the written config.
        parent_run_id: the MLflow parent run.
    """

    target: str
    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_pruned: int
    n_study_trials: int
    best_trial: int
    best_params: dict[str, Any]
    best_cv_mae: float
    base_cv_mae: float
    holdout_mae_best: float
    holdout_mae_base: float
    all_data_cv_mae: float
    base_all_data_cv_mae: float
    n_tuning: int
    n_holdout: int
    seconds_per_trial: float
    wall_time: float
    sampler_seed: int
    output_config: Path
    parent_run_id: str



def holdout_split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into (tuning, hold-out) by whole groups; `fraction` of the groups go to the hold-out.

    Args:
        groups: one group label a row (the CV groups, i.e. source papers).
        fraction: share of the groups held out, in (0, 1).
        seed: seeds the choice of groups.
    """
    if not 0 < fraction < 1:
        raise TuneSetupError(f"holdout fraction must be in (0, 1), got {fraction}")
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    n_hold = max(1, round(fraction * len(uniq)))
    # a stream of its own, so the held-out groups are not the ones `grouped_folds(seed)` shuffles first
    rng = np.random.default_rng([seed, 1])
    held = uniq[rng.permutation(len(uniq))[:n_hold]]
    mask = np.isin(groups, held)
    idx = np.arange(len(groups))
    return idx[~mask], idx[mask]


def cv_mae(
    ts: TrainingSet,
    params: dict[str, Any],
    config: RunConfig,
    n_jobs: int | None = None,
    on_fold: Callable[[int, float, float], None] | None = None,
) -> tuple[float, tuple[float, ...]]:
    """The grouped CV MAE of `sulfml train` (`cross_validate`), with a hook after each fold.

    Args:
        ts: the training set.
        params: XGBoost hyperparameters.
        config: supplies folds and seed.
        n_jobs: XGBoost threads.
        on_fold: called as `on_fold(fold, fold_mae, running_mae)` after each fold; it may raise
            `optuna.TrialPruned` to stop.

    Returns:
        (CV MAE, MAE of each fold).
    """
    from sulfml.model.train import cross_validate

    cv = cross_validate(ts, params, config, n_jobs, on_fold=on_fold)
    return cv.metrics["mae"], cv.fold_mae


def holdout_mae(tuning: TrainingSet, holdout: TrainingSet, params: dict[str, Any], config: RunConfig,
                n_jobs: int | None = None) -> float:
    """Fit on the tuning part, return the MAE on the hold-out (censored rows at their substitute, as in CV)."""
    from sulfml.model.estimator import make_regressor

    model = make_regressor(params, config.seed, n_jobs)
    model.fit(tuning.X, tuning.y)
    return float(np.mean(np.abs(model.predict(holdout.X) - holdout.y)))


def mask_url(url: str) -> str:
    """A storage URL with its password replaced by `***`."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL: nothing we know how to mask
        return url


def open_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage, retried: workers starting together race to create its tables."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                # heartbeats are flagged experimental; they let a live worker fail a killed one's trials
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random() * 2**attempt)
    raise AssertionError("unreachable")


def _study(storage: optuna.storages.RDBStorage, name: str, seed: int) -> tuple[optuna.Study, int]:
    """Create or load the study; returns it with the sampler seed (seed + trials already in it)."""
    import optuna

    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                         n_warmup_steps=PRUNER_WARMUP_STEPS)
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                    pruner=pruner, load_if_exists=True)
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it in between
        study = optuna.load_study(storage=storage, study_name=name, pruner=pruner)
    # a resumed study gets a new seed, or it would propose the same parameters again
    sampler_seed = seed + len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    return study, sampler_seed


def _check_setup(study: optuna.Study, setup: dict[str, Any]) -> None:
    """Refuse to add trials scored on other data, folds or hold-out to an existing study."""
    known = study.user_attrs.get("sulfml.setup")
    if known is None:
        study.set_user_attr("sulfml.setup", setup)
    elif known != setup:
        diff = sorted(k for k in setup.keys() | known.keys() if setup.get(k) != known.get(k))
        raise TuneSetupError(f"study {study.study_name!r} was tuned with another setup (differs in "
                             f"{', '.join(diff)}); its scores are not comparable: use another --study")


def _load_training_set(config: RunConfig, target: str, data_dir: str | Path | None, log) -> TrainingSet:
    """The target's training set, built exactly as `sulfml train` builds it."""
    from sulfml.model.train import training_set
    from sulfml.workflows.train import load_materials

    t0 = time.perf_counter()
    materials, features = load_materials(config, data_dir)
    log(f"data: {len(materials)} materials, {features.shape[1]} features ({config.preset}) "
        f"({time.perf_counter() - t0:.1f} s)")
    return training_set(materials, features, target, config)


def tune(
    target: str,
    *,
    trials: int | None = 100,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    tracking_uri: str | None = None,
    config_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    output_config: str | Path | None = None,
    holdout_fraction: float = 0.2,
    n_jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Tune one target's hyperparameters, write the best as a run config, and track it all in MLflow.

    The study minimizes the grouped CV MAE of `sulfml train` on the tuning part (the data without a
    grouped hold-out); trials are pruned on the running MAE after each fold. Afterwards the best and
    the base params are fitted on the tuning part and scored on the hold-out, and the best params
    are cross-validated on all data, which is the CV MAE `sulfml train --config <output>` reports.
    A trial's params are the base config's params of the target with the `SEARCH_SPACE` ones
    replaced, so any other key of the base config stays fixed and goes into the written config.

    Args:
        target: `log10_sigma` or `ea_eV` (or an alias from `TARGET_ALIASES`, e.g. `ea`).
        trials: trials this call adds to the study (None: until `timeout`).
        timeout: stop starting trials after this many seconds.
        storage: Optuna RDB URL (default `sqlite:///./optuna.db`); a shared PostgreSQL URL lets
            several workers run one study.
        study_name: default `sulfml-<target>-<config name>`; an existing study is continued.
        seed: seeds the TPE sampler, offset by the trials already in the study (default: config seed).
            Folds and hold-out always use the config seed, so every trial sees the same data.
        tracking_uri: MLflow store (default $MLFLOW_TRACKING_URI, else ./mlflow.db).
        config_path: base run config (default `experiments/configs/default.toml`).
        data_dir: the public datasets (see `sulfml.data.sources.resolve_data_dir`).
        output_config: where the best config goes (default `experiments/configs/tuned-<target>.toml`).
        holdout_fraction: share of the groups (papers) held out of the study.
        n_jobs: XGBoost threads (default: the available cores, as `sulfml train`); scores do not
            depend on it.
        log: where progress lines go.

    Raises:
        TuneSetupError: bad arguments, or the study was run with another setup.
    """
    import mlflow
    import optuna

    from sulfml.cpus import resolve_n_jobs
    from sulfml.model.train import cross_validate
    from sulfml.tracking.runs import configure

    t_start = time.perf_counter()
    if target not in TARGET_ALIASES:
        raise TuneSetupError(f"unknown target {target!r}; use one of {sorted(TARGET_ALIASES)}")
    target = TARGET_ALIASES[target]
    if trials is None and timeout is None:
        raise TuneSetupError("give a number of trials, a timeout, or both")
    if trials is not None and trials < 1:
        raise TuneSetupError(f"trials must be at least 1, got {trials}")
    if not 0 < holdout_fraction < 1:
        raise TuneSetupError(f"holdout fraction must be in (0, 1), got {holdout_fraction}")
    config_path = resolve_config(config_path)
    config = RunConfig.from_toml(config_path)
    seed = config.seed if seed is None else int(seed)
    storage_url = storage or DEFAULT_STORAGE
    study_name = study_name or f"sulfml-{target}-{config.name}"
    output_config = Path(output_config or Path.cwd() / f"tuned-{target}.toml")
    # One count for every fit. XGBoost's CPU hist trees come out the same on any number of threads,
    # so this changes trial times, never scores (`sulfml train` uses all cores and reproduces them).
    n_jobs = resolve_n_jobs(n_jobs)
    base_params = dict(config.params.get(target, {}))

    full = _load_training_set(config, target, data_dir, log)
    tune_idx, hold_idx = holdout_split(full.groups, holdout_fraction, config.seed)
    tuning, holdout = full.rows(tune_idx), full.rows(hold_idx)
    if len(np.unique(tuning.groups)) < config.cv.n_splits:
        raise TuneSetupError(f"the tuning part has {len(np.unique(tuning.groups))} groups, fewer than "
                             f"{config.cv.n_splits} folds; lower --holdout-fraction")
    log(f"{target}: {len(tuning.y)} rows ({len(np.unique(tuning.groups))} groups) to tune on, "
        f"{len(holdout.y)} rows ({len(np.unique(holdout.groups))} groups) held out")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, sampler_seed = _study(open_storage(storage_url), study_name, seed)
    _check_setup(study, {
        "target": target, "tuning_data_hash": tuning.data_hash, "holdout_fraction": holdout_fraction,
        "config_seed": config.seed, "n_splits": config.cv.n_splits, "group_by": config.cv.group_by,
        "fixed_params": {k: v for k, v in base_params.items() if k not in SEARCH_SPACE},
        "search_space": _space_digest(),
    })
    n_before = len(study.get_trials(deepcopy=False))
    log(f"study {study_name!r} in {mask_url(storage_url)}: {n_before} trials so far; sampler seed {sampler_seed}")

    configure(tracking_uri, experiment=EXPERIMENT)
    mine: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        params = {**base_params, **suggest_params(trial)}
        trial.set_user_attr("params", params)
        mine.append(trial.number)
        pruned: optuna.TrialPruned | None = None
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.set_tags({"sulfml.workflows.tune": "trial", "sulfml.workflows.tune.study": study_name,
                             "sulfml.workflows.tune.trial": str(trial.number)})
            mlflow.log_params({f"xgb.{k}": v for k, v in params.items()} | {"trial": trial.number})

            def on_fold(fold: int, fold_mae: float, running: float) -> None:
                mlflow.log_metric("fold_mae", fold_mae, step=fold)
                trial.report(running, step=fold)
                if trial.should_prune():
                    mlflow.log_metric("running_mae", running)
                    raise optuna.TrialPruned(f"running MAE {running:.4f} after fold {fold}")

            try:
                value, _ = cv_mae(tuning, params, config, n_jobs, on_fold)
            except optuna.TrialPruned as exc:
                # leave the `with` normally: a pruned trial is a finished run, not a failed one
                pruned = exc
                mlflow.set_tag("sulfml.workflows.tune.state", "PRUNED")
            except Exception:
                mlflow.set_tag("sulfml.workflows.tune.state", "FAIL")
                raise
            else:
                mlflow.log_metric("cv_mae", value)
                mlflow.set_tag("sulfml.workflows.tune.state", "COMPLETE")
        if pruned is not None:
            raise pruned
        return value

    def report(study: optuna.Study, ft: optuna.trial.FrozenTrial) -> None:
        secs = (ft.datetime_complete - ft.datetime_start).total_seconds()
        value = f"CV MAE {ft.value:.4f}" if ft.state == optuna.trial.TrialState.COMPLETE else ft.state.name
        try:
            best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no complete trial yet"
        log(f"trial {ft.number}: {value}; {best} ({secs:.1f} s)")

    with mlflow.start_run(run_name=f"tune:{study_name}") as parent:
        mlflow.set_tags({"sulfml.workflows.tune": "study", "sulfml.workflows.tune.study": study_name, "sulfml.workflows.tune.target": target})
        mlflow.log_params({
            "target": target, "study": study_name, "storage": mask_url(storage_url), "seed": seed,
            "sampler_seed": sampler_seed, "n_trials": trials if trials is not None else "until timeout",
            "timeout": timeout, "holdout_fraction": holdout_fraction, "n_jobs": n_jobs,
            "config.name": config.name, "config.digest": config.digest, "config.path": str(config_path),
            "n_tuning": len(tuning.y), "n_holdout": len(holdout.y), "trials_before": n_before,
        })
        mlflow.log_text(describe_search_space() + "\n", "search_space.txt")
        study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[report])

        all_trials = study.get_trials(deepcopy=False)
        done = [t for t in all_trials if t.number in set(mine)]
        states = optuna.trial.TrialState
        n_complete = sum(t.state == states.COMPLETE for t in done)
        n_pruned = sum(t.state == states.PRUNED for t in done)
        finished = [t for t in done if t.datetime_complete is not None]
        per_trial = float(np.mean([(t.datetime_complete - t.datetime_start).total_seconds() for t in finished])) \
            if finished else float("nan")
        try:
            best = study.best_trial
        except ValueError as exc:
            raise TuneSetupError(f"study {study_name!r} has no complete trial yet") from exc
        best_params = dict(best.user_attrs.get("params") or {**base_params, **best.params})

        log("scoring the best and the base params on the hold-out and on all data ...")
        base_cv, _ = cv_mae(tuning, base_params, config, n_jobs)
        hold_best = holdout_mae(tuning, holdout, best_params, config, n_jobs)
        hold_base = holdout_mae(tuning, holdout, base_params, config, n_jobs)
        # exactly what `sulfml train --config <output>` will compute and report
        all_best = cross_validate(full, best_params, config, n_jobs).metrics["mae"]
        all_base = cross_validate(full, base_params, config, n_jobs).metrics["mae"]

        tuned = replace(config.with_params(target, best_params), name=f"tuned-{target}")
        output_config.parent.mkdir(parents=True, exist_ok=True)
        output_config.write_text(
            f"# Written by `sulfml tune --target {target}`: study {study_name!r}, best trial {best.number} of "
            f"{len(all_trials)}.\n# CV MAE {best.value:.4f} on the tuning part, {hold_best:.4f} on the "
            f"hold-out ({holdout_fraction:g} of the papers); {all_best:.4f} on all data, as `sulfml train` "
            f"reports.\n# Base config {config_path.name} ({config.digest}): CV MAE {all_base:.4f} on all "
            f"data, {hold_base:.4f} on the hold-out.\n" + tuned.to_toml())
        if RunConfig.from_toml(output_config).params[target] != best_params:
            raise AssertionError(f"{output_config} does not round-trip the best params")

        metrics = {
            "best_trial": best.number, "best_cv_mae": best.value, "base_cv_mae": base_cv,
            "holdout_mae_best": hold_best, "holdout_mae_base": hold_base, "all_data_cv_mae": all_best,
            "base_all_data_cv_mae": all_base, "n_complete": n_complete, "n_pruned": n_pruned,
            "n_study_trials": len(all_trials), "seconds_per_trial": per_trial,
        }
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_params({f"best.{k}": v for k, v in best_params.items()})
        mlflow.log_artifact(str(output_config), artifact_path="config")
        wall = time.perf_counter() - t_start
        mlflow.log_metric("wall_time", wall)

    result = TuneResult(
        target=target, study_name=study_name, storage=mask_url(storage_url), n_trials=len(done),
        n_complete=n_complete, n_pruned=n_pruned, n_study_trials=len(all_trials), best_trial=best.number,
        best_params=best_params, best_cv_mae=float(best.value), base_cv_mae=base_cv,
        holdout_mae_best=hold_best, holdout_mae_base=hold_base, all_data_cv_mae=all_best,
        base_all_data_cv_mae=all_base, n_tuning=len(tuning.y), n_holdout=len(holdout.y),
        seconds_per_trial=per_trial, wall_time=wall, sampler_seed=sampler_seed, output_config=output_config,
        parent_run_id=parent.info.run_id,
    )
    for line in summary(result):
        log(line)
    return result


def _space_digest() -> str:
    """A short hash of `SEARCH_SPACE`: trials drawn from another space do not belong in the same study."""
    text = json.dumps({k: [r.kind.__name__, r.low, r.high, r.log, r.step] for k, r in SEARCH_SPACE.items()})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def summary(r: TuneResult) -> list[str]:
    """The lines printed at the end of `sulfml tune`."""
    return [
        f"{r.target}: {r.n_trials} trials ({r.n_complete} complete, {r.n_pruned} pruned), "
        f"{r.n_study_trials} in study {r.study_name!r}; {r.seconds_per_trial:.1f} s a trial, {r.wall_time:.0f} s in all",
        f"  CV MAE on the tuning part ({r.n_tuning} rows): base {r.base_cv_mae:.4f}, best {r.best_cv_mae:.4f} "
        f"(trial {r.best_trial})",
        f"  hold-out MAE ({r.n_holdout} rows, never seen by the study): base {r.holdout_mae_base:.4f}, "
        f"best {r.holdout_mae_best:.4f}",
        f"  CV MAE on all data (what `sulfml train` reports): base {r.base_all_data_cv_mae:.4f}, "
        f"best {r.all_data_cv_mae!r}",
        f"  wrote {r.output_config}",
    ]
