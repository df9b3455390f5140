"""Setting a tuning run up: checking the arguments, loading the config and the data, the grouped hold-out
split, and opening the study (checked to have been run with the same setup)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.config import TARGET_ALIASES, RunConfig, resolve_config
from sulfml.errors import TuneSetupError
from sulfml.workflows.tune.space import SEARCH_SPACE, space_digest
from sulfml.workflows.tune.study import DEFAULT_STORAGE, check_setup, mask_url, open_storage, open_study

if TYPE_CHECKING:
    import optuna

    from sulfml.model.train import TrainingSet


@dataclass(frozen=True)
class TuneSetup:
    """Everything a tuning run works from, resolved once.

    Attributes:
        target: the canonical target name.
        config, config_path: the base run config and its file.
        base_params: the config's params of the target; a trial replaces the `SEARCH_SPACE` keys.
        seed: the sampler seed asked for; sampler_seed: it offset by the trials already in the study.
        n_jobs: XGBoost threads of every fit.
        full, tuning, holdout: the training set, and its two parts split by whole groups.
        holdout_fraction: share of the groups in the hold-out.
        storage_url, study_name, study: the Optuna study; n_before: its trials before this run.
        output_config: where the tuned config goes.
    """

    target: str
    config: RunConfig
    config_path: Path
    base_params: dict[str, Any]
    seed: int
    sampler_seed: int
    n_jobs: int
    full: TrainingSet
    tuning: TrainingSet
    holdout: TrainingSet
    holdout_fraction: float
    storage_url: str
    study_name: str
    study: optuna.Study
    n_before: int
    output_config: Path


def holdout_split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into (tuning, hold-out) by whole groups; `fraction` of the groups go to the hold-out.

    Args:
        groups: one group label a row (the CV groups, i.e. source papers).
        fraction: share of the groups held out, in (0, 1).
        seed: seeds the choice of groups.
    """
    if not 0 < fraction < 1:
        raise TuneSetupError(f"the hold-out fraction must be in (0, 1), got {fraction}")
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    n_hold = max(1, round(fraction * len(uniq)))
    # a stream of its own, so the held-out groups are not the ones `grouped_folds(seed)` shuffles first
    rng = np.random.default_rng([seed, 1])
    held = uniq[rng.permutation(len(uniq))[:n_hold]]
    mask = np.isin(groups, held)
    idx = np.arange(len(groups))
    return idx[~mask], idx[mask]


def prepare(
    target: str,
    *,
    trials: int | None,
    timeout: float | None,
    storage: str | None,
    study_name: str | None,
    seed: int | None,
    config_path: str | Path | None,
    data_dir: str | Path | None,
    output_config: str | Path | None,
    holdout_fraction: float,
    n_jobs: int | None,
    log: Callable[[str], None],
) -> TuneSetup:
    """Check the arguments, load config and data, split off the hold-out, and open the study.

    The arguments are `tune`'s.

    Raises:
        TuneSetupError: bad arguments, too few groups left to tune on, or a study run with another setup.
    """
    import optuna

    from sulfml.cpus import resolve_n_jobs

    target = _check_arguments(target, trials, timeout, holdout_fraction)
    config_path = resolve_config(config_path)
    config = RunConfig.from_toml(config_path)
    seed = config.seed if seed is None else int(seed)
    storage_url = storage or DEFAULT_STORAGE
    study_name = study_name or f"sulfml-{target}-{config.name}"
    # One count for every fit. XGBoost's CPU hist trees come out the same on any number of threads,
    # so this changes trial times, never scores (`sulfml train` uses all cores and reproduces them).
    n_jobs = resolve_n_jobs(n_jobs)
    base_params = dict(config.params.get(target, {}))

    full = _load_training_set(config, target, data_dir, log)
    tune_idx, hold_idx = holdout_split(full.groups, holdout_fraction, config.seed)
    tuning, holdout = full.rows(tune_idx), full.rows(hold_idx)
    n_groups = len(np.unique(tuning.groups))
    if n_groups < config.cv.n_splits:
        raise TuneSetupError(f"the tuning part has {n_groups} groups, fewer than {config.cv.n_splits} folds; "
                             "lower the hold-out fraction")
    log(f"{target}: {len(tuning.y)} rows ({n_groups} groups) to tune on, "
        f"{len(holdout.y)} rows ({len(np.unique(holdout.groups))} groups) held out")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, sampler_seed = open_study(open_storage(storage_url), study_name, seed)
    check_setup(study, {
        "target": target, "tuning_data_hash": tuning.data_hash, "holdout_fraction": holdout_fraction,
        "config_seed": config.seed, "n_splits": config.cv.n_splits, "group_by": config.cv.group_by,
        "fixed_params": {k: v for k, v in base_params.items() if k not in SEARCH_SPACE},
        "search_space": space_digest(),
    })
    n_before = len(study.get_trials(deepcopy=False))
    log(f"study {study_name!r} in {mask_url(storage_url)}: {n_before} trials so far; sampler seed {sampler_seed}")
    return TuneSetup(
        target=target, config=config, config_path=config_path, base_params=base_params, seed=seed,
        sampler_seed=sampler_seed, n_jobs=n_jobs, full=full, tuning=tuning, holdout=holdout,
        holdout_fraction=holdout_fraction, storage_url=storage_url, study_name=study_name, study=study,
        n_before=n_before, output_config=Path(output_config or Path.cwd() / f"tuned-{target}.toml"),
    )


def _check_arguments(target: str, trials: int | None, timeout: float | None, holdout_fraction: float) -> str:
    """The canonical target name, once the arguments that need no data are known to be usable."""
    if target not in TARGET_ALIASES:
        raise TuneSetupError(f"unknown target {target!r}; use one of {sorted(TARGET_ALIASES)}")
    if trials is None and timeout is None:
        raise TuneSetupError("give a number of trials, a timeout, or both")
    if trials is not None and trials < 1:
        raise TuneSetupError(f"the number of trials must be at least 1, got {trials}")
    if not 0 < holdout_fraction < 1:
        raise TuneSetupError(f"the hold-out fraction must be in (0, 1), got {holdout_fraction}")
    return TARGET_ALIASES[target]


def _load_training_set(config: RunConfig, target: str, data_dir: str | Path | None,
                       log: Callable[[str], None]) -> TrainingSet:
    """The target's training set, built exactly as `sulfml train` builds it."""
    from sulfml.model.train import training_set
    from sulfml.workflows.train import load_materials

    t0 = time.perf_counter()
    materials, features = load_materials(config, data_dir)
    log(f"data: {len(materials)} materials, {features.shape[1]} features ({config.preset}) "
        f"({time.perf_counter() - t0:.1f} s)")
    return training_set(materials, features, target, config)
