"""The model registry: the registered model names, the `champion` alias predictions follow, the rule that
moves it, and the list of versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from sulfml.tracking.store import retry_locked

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

ALIAS = "champion"
MODEL_NAMES = {"log10_sigma": "sulfml-log10-sigma", "ea_eV": "sulfml-ea"}


def champion(name: str) -> ModelVersion | None:
    """The model version holding the `champion` alias, or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def maybe_promote(target: str, version: str, cv_mae: float, data_hash: str, force: bool = False) -> tuple[bool, str]:
    """Move `champion` to `version` if forced, if there is none, or if it beats the champion on the same data.

    Returns:
        (promoted, reason).
    """
    import mlflow

    name = MODEL_NAMES[target]
    client = mlflow.MlflowClient()
    current = champion(name)
    if force:
        why = "promoted: promotion was forced"
    elif current is None:
        why = "promoted: there was no champion"
    else:
        cur_hash = current.tags.get("data_hash")
        cur_mae = float(current.tags.get("cv_mae", "inf"))
        if cur_hash != data_hash:
            return False, (f"kept champion v{current.version}: it was trained on other data ({cur_hash}), "
                           "so the CV scores are not comparable; force the promotion to replace it")
        if not cv_mae < cur_mae:
            return False, f"kept champion v{current.version}: its CV MAE {cur_mae:.4f} <= {cv_mae:.4f}"
        why = f"promoted: CV MAE {cv_mae:.4f} beats champion v{current.version} ({cur_mae:.4f}) on the same data"
    retry_locked(client.set_registered_model_alias, name, ALIAS, version)
    return True, why


def promote(name: str, version: str) -> None:
    """Point `champion` of a registered model at a version."""
    import mlflow

    retry_locked(mlflow.MlflowClient().set_registered_model_alias, name, ALIAS, str(version))


def list_models(names: Mapping[str, str] = MODEL_NAMES) -> list[dict]:
    """Every version of the sulfml models with its aliases, CV MAE and data hash.

    Args:
        names: what each registered model is (a target, or e.g. "pyfunc") -> its registered name.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    out = []
    for target, name in names.items():
        try:
            versions = client.search_model_versions(f"name='{name}'")
            # search results leave aliases empty; the registered model holds them
            aliases = client.get_registered_model(name).aliases
        except MlflowException:
            continue
        for v in sorted(versions, key=lambda v: int(v.version)):
            out.append({
                "name": name, "target": target, "version": int(v.version),
                "aliases": sorted(a for a, ver in aliases.items() if str(ver) == str(v.version)),
                "cv_mae": float(v.tags["cv_mae"]) if "cv_mae" in v.tags else None,
                "data_hash": v.tags.get("data_hash"), "run_id": v.run_id or v.tags.get("source_run_id"),
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").isoformat(),
            })
    return out
