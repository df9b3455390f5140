"""The model bundle: per target, XGBoost's native JSON, a JSON card (metrics, interval calibration) and the
applicability domain as JSON, and, for a target with a neural member, the network's weights (`network.npz`,
NumPy arrays). Loading never unpickles: a bundle holding a pickle is refused, the card is validated against
`card.schema.json`, and `model.json`, `domain.json` (and `network.npz`) must match the sha256 checksums the
card records (written at export) before any of them is parsed; the network is read with `allow_pickle=False`."""

from __future__ import annotations

import json
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from sulfml.errors import PresetMismatchError
from sulfml.model.conformal import Calibration
from sulfml.model.domain import DomainModel
from sulfml.model.native import NativeBooster, NativeUnavailable
from sulfml.model.trees import SMALL_BATCH, Forest
from sulfml.tracking.integrity import (
    NETWORK_FILE,
    BundleError,
    checksums,
    load_json,
    read_card,
    read_verified,
    scan_for_pickles,
    validate_card,
)

if TYPE_CHECKING:  # XGBoost (and the scikit-learn it imports) is loaded when a large batch needs it
    import pandas as pd

    from sulfml.model.neural_forward import NetworkWeights

__all__ = ["Bundle", "BundleError", "LoadedModel", "PresetMismatchError", "save_model"]

MODEL_FILE = "model.json"
CARD_FILE = "card.json"
DOMAIN_FILE = "domain.json"
TARGET_DIRS = {"log10_sigma": "log10_sigma", "ea_eV": "ea_eV"}


def shipped_bundle_dir() -> Path:
    """The champion bundle that ships inside the package (what `sulfml predict` uses by default)."""
    from sulfml.shipped import shipped_path

    return shipped_path("champion")


def default_export_dir() -> Path:
    """Where `train` and `registry export` write a bundle unless told: `models/` in the current directory."""
    return Path.cwd() / "models"


def save_model(regressor, card: dict, domain: DomainModel, folder: str | Path,
               network: NetworkWeights | None = None) -> Path:
    """Write one target's `model.json` (XGBoost native), `domain.json`, the neural member's `network.npz`
    when there is one, and `card.json` (with the sha256 of the others) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    regressor.get_booster().save_model(folder / MODEL_FILE)
    (folder / DOMAIN_FILE).write_text(json.dumps(domain.to_dict(), separators=(",", ":")))
    if network is not None:
        network.save(folder / NETWORK_FILE)
    write_card(card, folder)
    return folder


def write_card(card: dict, folder: str | Path) -> Path:
    """Write `card.json` with the checksums of the `model.json` and `domain.json` already in `folder`."""
    folder = Path(folder)
    card = dict(card) | {"checksums": checksums(folder)}
    validate_card(card, str(folder))
    path = folder / CARD_FILE
    path.write_text(json.dumps(card, indent=2, sort_keys=True))
    return path



@dataclass(frozen=True)
class LoadedModel:
    """One target's booster and card.

    `booster` is a `NativeBooster` (or, without XGBoost's library at hand, an xgb.Booster); loaded from a
    directory it stays None until a batch of more than `SMALL_BATCH` rows needs it, smaller batches are walked
    in NumPy by `forest` (the same numbers).
    """

    booster: Any
    card: dict
    domain: DomainModel
    calibration: Calibration
    folder: Path | None = None
    forest: Forest | None = None
    # `model.json` as read and checked: the booster is built from these bytes when first needed, so the
    # folder may be gone by then (a registry download) and nothing is read twice
    model_bytes: bytes | None = None
    # the neural member blended with the trees (the card's `neural` section has its weight), or None
    network: NetworkWeights | None = None

    @classmethod
    def from_dir(cls, folder: str | Path) -> LoadedModel:
        """Read and check `card.json`, then `model.json` and `domain.json`, from `folder`.

        Raises:
            BundleError: a file is missing, not JSON (e.g. a pickle), fails the card schema or its checksum,
                or does not fit the card; nothing in it is used.
        """
        folder = Path(folder)
        scan_for_pickles(folder)
        where = str(folder)
        card = read_card(folder, where, "exported by an older sulfml or edited; re-export the bundle with "
                                        "`sulfml registry export` or `sulfml train`")
        model_bytes = read_verified(folder / MODEL_FILE, card, where)
        domain_bytes = read_verified(folder / DOMAIN_FILE, card, where)
        network = _read_network(folder, card, where)
        try:
            forest = Forest.from_model(load_json(model_bytes))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):  # not for the NumPy walk
            forest = None
        booster = None if forest is not None else _booster_from_bytes(model_bytes, where)
        if forest is not None:
            n_features = forest.n_features
        else:
            assert booster is not None  # read above when there is no forest (or BundleError was raised)
            n_features = booster.num_features if isinstance(booster, NativeBooster) else booster.num_features()
        expected = len(card["feature_names"]) + len(card.get("knn", {}).get("features", []))
        if n_features != expected:
            raise BundleError(f"{where}: model.json expects {n_features} features but card.json "
                              f"describes {expected}")
        if "knn" in card and not set(card["knn"]["columns"]) <= set(card["feature_names"]):
            raise BundleError(f"{where}: card.json's knn columns are not among its feature names")
        try:
            domain = DomainModel.from_dict(load_json(domain_bytes))
            calibration = Calibration.from_dict(card["interval"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BundleError(f"{where}: domain.json or the card's interval section is damaged: "
                              f"{type(exc).__name__}: {exc}") from None
        return cls(booster=booster, card=card, domain=domain, calibration=calibration, folder=folder,
                   forest=forest, model_bytes=model_bytes, network=network)

    @property
    def target(self) -> str:
        """`log10_sigma` or `ea_eV`."""
        return self.card["target"]

    @property
    def preset(self) -> str:
        """The feature preset the model was trained with."""
        return self.card["preset"]

    @property
    def network_weight(self) -> float:
        """The network's share of the prediction (0 without a neural member)."""
        return float(self.card["neural"]["weight"]) if self.network is not None else 0.0

    def network_prediction(self, compositions: Any, states: Any) -> np.ndarray:
        """The neural member's own predictions of compositions (mappings or a `CompositionBatch`) in their
        states (None: unknown).

        Raises:
            BundleError: the model has no neural member.
        """
        if self.network is None:
            raise BundleError(f"model {self.target} has no neural member")
        from sulfml.model.blend import network_predict

        return network_predict(self.network, compositions, states)

    def blend(self, trees: np.ndarray, compositions: Any, states: Any) -> np.ndarray:
        """The model's prediction from the trees' (`predict_array`): with a neural member, blended with the
        network's prediction of the same rows' compositions in their states (`sulfml.model.blend.blend`);
        without one, the trees' as they are."""
        if self.network is None:
            return np.asarray(trees, float)
        from sulfml.model.blend import blend

        return blend(trees, self.network_prediction(compositions, states), self.network_weight)

    def predict(self, features: pd.DataFrame, preset: str) -> np.ndarray:
        """Predict from features built with `preset`; refuses any other preset or feature set."""
        if preset != self.preset:
            raise PresetMismatchError(f"model {self.target} needs preset {self.preset!r}, got {preset!r}")
        names = self.card["feature_names"]
        if list(features.columns) != names:
            missing = [n for n in names if n not in features.columns][:5]
            raise PresetMismatchError(f"features do not match model {self.target}: missing {missing}")
        return self.predict_array(features.to_numpy(float))

    @property
    def input_names(self) -> list[str]:
        """The columns the booster sees: the card's `feature_names`, then its kNN target features."""
        return [*self.card["feature_names"], *self.card.get("knn", {}).get("features", [])]

    def booster_input(self, X: np.ndarray) -> np.ndarray:
        """The booster's input matrix (float32, columns `input_names`) from a matrix of the card's
        `feature_names`: the nearest-neighbour target features from the stored reference set appended."""
        return self._inputs(X)[0]

    def _inputs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(`booster_input`, the kNN target features in float64 or None without them)."""
        names = self.card["feature_names"]
        if X.ndim != 2 or X.shape[1] != len(names):
            raise PresetMismatchError(f"model {self.target} needs {len(names)} features, got shape {X.shape}")
        knn = None
        if "knn" in self.card:
            from sulfml.model.knn_features import neighbour_array

            knn = neighbour_array(X, names, self.card["knn"])
            X32 = np.empty((len(X), X.shape[1] + knn.shape[1]), np.float32)  # one copy, in XGBoost's dtype
            X32[:, :X.shape[1]] = X
            X32[:, X.shape[1]:] = knn
            X = X32
        return np.ascontiguousarray(X, np.float32), knn

    def predict_array(self, X: np.ndarray) -> np.ndarray:
        """Predict from a feature matrix whose columns are the card's `feature_names`, in order."""
        return self.predict_with_knn(X)[0]

    def predict_with_knn(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """`predict_array`, and the kNN target features it computed on the way (columns `card["knn"]
        ["features"]`, float64; None for a model without them), so the interval needs no second search."""
        X, knn = self._inputs(X)
        return self._predict_input(X), knn

    def _predict_input(self, X: np.ndarray) -> np.ndarray:
        if self.forest is not None and len(X) <= SMALL_BATCH:
            return self.forest.predict(X)
        if self.booster is None:
            with _LAZY_LOAD:  # the server predicts in several threads: one of them builds it
                if self.booster is None:
                    # only a model read from a directory (`from_dir`) leaves `booster` None, with its bytes
                    object.__setattr__(self, "booster", _booster_from_bytes(self._checked_bytes(), str(self.folder)))
        if isinstance(self.booster, NativeBooster):
            return self.booster.predict(X)
        # inplace_predict skips building a DMatrix (same numbers; columns were checked above)
        return self.booster.inplace_predict(X, missing=np.nan, validate_features=False)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """XGBoost's per-row feature contributions (`pred_contribs`, TreeSHAP) to the prediction.

        Args:
            X: rows of the card's `feature_names`, as `predict_array` takes them.

        Returns:
            An array (rows, len(input_names) + 1): one column per booster input (kNN features included),
            then the bias; each row sums to the prediction.
        """
        import xgboost as xgb

        booster = self._xgboost_booster()
        data = xgb.DMatrix(self.booster_input(X), missing=np.nan, feature_names=self.input_names)
        return booster.predict(data, pred_contribs=True, validate_features=False)

    def _checked_bytes(self) -> bytes:
        """`model.json` as checked when the model was read (read and checked again for a model without them)."""
        if self.model_bytes is not None:
            return self.model_bytes
        return read_verified(cast(Path, self.folder) / MODEL_FILE, self.card, str(self.folder))

    def _xgboost_booster(self) -> Any:
        """The xgboost package's Booster of this model (the native one and the NumPy walk have no
        contributions), read and checked once and kept."""
        import xgboost as xgb

        if isinstance(self.booster, xgb.Booster):
            return self.booster
        cached = self.__dict__.get("_xgb")
        if cached is None:
            where = str(self.folder)
            data = self._checked_bytes()
            cached = xgb.Booster()
            try:
                cached.load_model(bytearray(data))
            except xgb.core.XGBoostError as exc:
                raise BundleError(f"{where}: model.json is not an XGBoost model: "
                                  f"{str(exc).splitlines()[0]}") from None
            object.__setattr__(self, "_xgb", cached)  # frozen dataclass: a cache, not state
        return cached


_LAZY_LOAD = threading.Lock()


def _read_network(folder: Path, card: dict, where: str) -> NetworkWeights | None:
    """The target's network when its card has a `neural` section (checked against the card's checksum before
    it is parsed, read without pickles); None without one. A `network.npz` the card does not describe is
    refused: nothing in a bundle goes unchecked."""
    path = folder / NETWORK_FILE
    if "neural" not in card:
        if path.exists() or NETWORK_FILE in card["checksums"]:
            raise BundleError(f"{where}: {NETWORK_FILE} without a neural section in card.json (a network the card "
                              "does not describe is not used)")
        return None
    # imported for a network only: sulfml.model.blend brings the run configuration (sulfml.config) along
    from sulfml.model.blend import network_predict
    from sulfml.model.neural_forward import NetworkWeights

    data = read_verified(path, card, where)
    with tempfile.TemporaryDirectory(prefix="sulfml-network-") as tmp:
        # the checked bytes, not the file again: what is parsed is what was verified
        checked = Path(tmp) / NETWORK_FILE
        checked.write_bytes(data)
        try:
            network = NetworkWeights.load(checked)
        except (BundleError, zipfile.BadZipFile, EOFError) as exc:
            raise BundleError(f"{where}: {NETWORK_FILE} is not a network weights file: {exc}") from None
    try:  # one composition through it: a file missing an array or of the wrong shapes fails here, not later
        probe = network_predict(network, [{"Li": 1.0}], [None])
    except BundleError as exc:  # another context than the state one-hot
        raise BundleError(f"{where}: {NETWORK_FILE}: {exc}") from None
    except (KeyError, ValueError, IndexError) as exc:
        raise BundleError(f"{where}: {NETWORK_FILE} does not fit its own metadata: {type(exc).__name__}: {exc}"
                          ) from None
    if not np.isfinite(probe).all():
        raise BundleError(f"{where}: {NETWORK_FILE} predicts a non-finite value")
    return network


def _booster_from_bytes(data: bytes, where: str):
    """An XGBoost booster from checked model.json bytes: through XGBoost's library directly when it can be
    loaded (`sulfml.model.native`, no 1.5 s import of the xgboost package), else the xgboost package's."""
    try:
        return NativeBooster.from_bytes(data)
    except NativeUnavailable:
        pass
    except ValueError as exc:
        raise BundleError(f"{where}: model.json is not an XGBoost model: {str(exc).splitlines()[0]}") from None
    import xgboost as xgb

    try:
        booster = xgb.Booster()
        booster.load_model(bytearray(data))
    except xgb.core.XGBoostError as exc:
        raise BundleError(f"{where}: model.json is not an XGBoost model: {str(exc).splitlines()[0]}") from None
    return booster


@dataclass(frozen=True)
class Bundle:
    """The two target models that predictions use."""

    models: dict[str, LoadedModel]
    origin: str

    @classmethod
    def from_dir(cls, folder: str | Path | None = None) -> Bundle:
        """Load `<folder>/log10_sigma` and `<folder>/ea_eV` (default: the champion bundle shipped with sulfml)."""
        folder = Path(folder) if folder else shipped_bundle_dir()
        if folder.exists() and not folder.is_dir():
            raise BundleError(f"{folder} is a file, not a model bundle directory")
        models = {}
        for target, sub in TARGET_DIRS.items():
            if not (folder / sub / MODEL_FILE).exists():
                raise BundleError(f"no {target} model in {folder / sub} (a bundle holds log10_sigma/ and ea_eV/, as training exports them)")
        scan_for_pickles(folder)
        for target, sub in TARGET_DIRS.items():
            models[target] = LoadedModel.from_dir(folder / sub)
            if models[target].target != target:
                raise BundleError(f"{folder / sub}: card.json is for {models[target].target}, not {target}")
            if "domain" not in models[target].card:
                raise BundleError(f"{folder / sub}: card.json has no domain section (elements seen in training)")
        presets = {m.preset for m in models.values()}
        if len(presets) != 1:
            raise PresetMismatchError(f"the bundle's models use different presets: {sorted(presets)}")
        return cls(models=models, origin=str(folder))

    @classmethod
    def from_models(cls, target_models) -> Bundle:
        """A bundle of freshly fitted `TargetModel`s (benchmarks predict through the same path as users)."""
        models = {tm.target: LoadedModel(booster=tm.regressor.get_booster(), card=tm.card(), domain=tm.domain,
                                         calibration=tm.calibration,
                                         network=None if tm.neural is None else tm.neural.weights)
                  for tm in target_models}
        return cls(models=models, origin="in memory")

    @property
    def preset(self) -> str:
        """The one feature preset both models need."""
        return next(iter(self.models.values())).preset

    @property
    def trained_with(self) -> tuple[str, str]:
        """(name, digest) of the run config both models were trained with, from their cards.

        Raises:
            BundleError: a card names no config, or the two models name different ones.
        """
        named = {(m.card.get("config_name"), m.card.get("config_digest")) for m in self.models.values()}
        if len(named) != 1 or None in next(iter(named)):
            raise BundleError(f"{self.origin}: the cards do not name one run config for both models "
                              f"(config_name, config_digest: {sorted(named, key=str)})")
        name, digest = next(iter(named))
        return str(name), str(digest)

    @property
    def elements(self) -> set[str]:
        """Elements seen in the conductivity model's training data."""
        return set(self.models["log10_sigma"].card["domain"]["elements"])

    @property
    def uses_structure(self) -> bool:
        """Whether the preset has structure features (a CIF then adds more than its composition)."""
        return self.preset.startswith("structure")

    @property
    def temperature_range_K(self) -> tuple[float, float] | None:
        """The temperatures the training data's measurements span (where Arrhenius shifts were checked)."""
        rng = self.models["log10_sigma"].card.get("temperature_range_K")
        return (float(rng[0]), float(rng[1])) if rng else None
