"""The Optuna study: its storage (opened with retries, shown with the password masked), creating or loading
it with the pruner and a seeded sampler, and refusing trials scored on another setup."""

from __future__ import annotations

import random
import time
import warnings
from typing import TYPE_CHECKING, Any

from sulfml.errors import TuneSetupError

if TYPE_CHECKING:
    import optuna

DEFAULT_STORAGE = "sqlite:///./optuna.db"
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 1


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


def open_study(storage: optuna.storages.RDBStorage, name: str, seed: int) -> tuple[optuna.Study, int]:
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


def check_setup(study: optuna.Study, setup: dict[str, Any]) -> None:
    """Record the setup on a new study; refuse to add trials scored on other data, folds or hold-out.

    Raises:
        TuneSetupError: the study was tuned with another setup.
    """
    known = study.user_attrs.get("sulfml.setup")
    if known is None:
        study.set_user_attr("sulfml.setup", setup)
    elif known != setup:
        diff = sorted(k for k in setup.keys() | known.keys() if setup.get(k) != known.get(k))
        raise TuneSetupError(f"study {study.study_name!r} was tuned with another setup (differs in "
                             f"{', '.join(diff)}); its scores are not comparable: use another study name")
