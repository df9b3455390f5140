"""The model bundle: per target, XGBoost's native JSON plus a JSON card. Loading never unpickles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

MODEL_FILE = "model.json"
CARD_FILE = "card.json"
TARGET_DIRS = {"log10_sigma": "log10_sigma", "ea_eV": "ea_eV"}


def default_models_dir() -> Path:
    """`models/` of this checkout, where the committed champion bundle lives."""
    return Path(__file__).resolve().parents[3] / "models"


def save_model(regressor, card: dict, folder: str | Path) -> Path:
    """Write one target's `model.json` (XGBoost native) and `card.json` into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    regressor.get_booster().save_model(folder / MODEL_FILE)
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
    return folder


class PresetMismatchError(ValueError):
    """Features were built with another preset or in another order than the model was trained on."""


@dataclass(frozen=True)
class LoadedModel:
    """One target's booster and card."""

    booster: xgb.Booster
    card: dict

    @classmethod
    def from_dir(cls, folder: str | Path) -> LoadedModel:
        """Read `model.json` and `card.json` from `folder`."""
        folder = Path(folder)
        booster = xgb.Booster()
        booster.load_model(folder / MODEL_FILE)
        return cls(booster=booster, card=json.loads((folder / CARD_FILE).read_text()))

    @property
    def target(self) -> str:
        """`log10_sigma` or `ea_eV`."""
        return self.card["target"]

    @property
    def preset(self) -> str:
        """The feature preset the model was trained with."""
        return self.card["preset"]

    @property
    def interval_halfwidth(self) -> float:
        """Half-width of the model's symmetric prediction band."""
        return float(self.card["interval"]["halfwidth"])

    def predict(self, features: pd.DataFrame, preset: str) -> np.ndarray:
        """Predict from features built with `preset`; refuses any other preset or feature set."""
        if preset != self.preset:
            raise PresetMismatchError(f"model {self.target} needs preset {self.preset!r}, got {preset!r}")
        names = self.card["feature_names"]
        if list(features.columns) != names:
            missing = [n for n in names if n not in features.columns][:5]
            raise PresetMismatchError(f"features do not match model {self.target}: missing {missing}")
        if "knn" in self.card:  # nearest-neighbour target features from the stored reference set
            from sulfml.model.knn import neighbour_frame

            features = pd.concat([features, neighbour_frame(features, self.card["knn"])], axis=1)
            names = list(features.columns)
        dm = xgb.DMatrix(features.to_numpy(np.float32), feature_names=names, missing=np.nan)
        return self.booster.predict(dm)


@dataclass(frozen=True)
class Bundle:
    """The two target models that predictions use."""

    models: dict[str, LoadedModel]
    origin: str

    @classmethod
    def from_dir(cls, folder: str | Path | None = None) -> Bundle:
        """Load `<folder>/log10_sigma` and `<folder>/ea_eV` (default: the committed bundle)."""
        folder = Path(folder) if folder else default_models_dir()
        models = {}
        for target, sub in TARGET_DIRS.items():
            if not (folder / sub / MODEL_FILE).exists():
                raise FileNotFoundError(f"no {target} model in {folder / sub} (run `sulfml train` first)")
            models[target] = LoadedModel.from_dir(folder / sub)
        presets = {m.preset for m in models.values()}
        if len(presets) != 1:
            raise PresetMismatchError(f"the bundle's models use different presets: {sorted(presets)}")
        return cls(models=models, origin=str(folder))

    @property
    def preset(self) -> str:
        """The one feature preset both models need."""
        return next(iter(self.models.values())).preset

    @property
    def elements(self) -> set[str]:
        """Elements seen in the conductivity model's training data."""
        return set(self.models["log10_sigma"].card["domain"]["elements"])
